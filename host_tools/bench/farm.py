"""Board-farm scheduling benchmark (`edgecall bench farm`): what the labgrid farm costs per
scenario, and how scenario throughput grows as hosts are added.

One `FarmLab` (a labgrid coordinator here, hosts in network namespaces, virtual devkits exported
as labgrid places) with the largest host count; hosts are exported one after another. After each
new host: one untimed warm-up farm run (it flashes the new devkits; its per-lane set-up time is
reported separately), then `rounds` timed farm runs (`hil run --farm`'s code, in process) over
every place; the median round is reported. At one host it also measures, on the same devkits:
- a farm run limited to one lane (two places), and
- the peer: the same lane code (set-up, scenarios, tear-down) on one pair of the same places
  held once through labgrid outside the timing, reached directly at their RFC 2217 URLs, with no
  reservation, acquisition or release in the loop.
Their ratio is the farm's own overhead for a lane.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from host_tools.bench import emit, table

DEFAULT_SCENARIOS = ["join", "serial-stress"]
STRESS_S = 3.0
REBOOTS = 2

METHOD = (
    "One FarmLab (labgrid coordinator on this machine, hosts in network namespaces, virtual devkits exported "
    "as labgrid places over RFC 2217). Hosts are exported cumulatively (1, then 2, ...). After each new host one "
    "untimed warm-up farm run over every place flashes the new devkits; its lane set-up times are in `warmup` "
    "(lanes with a freshly exported devkit include the flash). Then `rounds` timed farm runs (host_tools.hil.farm."
    "FarmRun, as `hil run --farm`) over every place; per host count the median over rounds of each figure is "
    "reported. wall_s runs from the moment the run files its first reservation to the last release (the image "
    "build before it is excluded). throughput_per_min = passed scenarios / wall_s * 60 (lane set-up is not a "
    "scenario). Overhead per scenario, two figures: labgrid_s_per_scenario = time spent in the run's labgrid "
    "session calls (reserve, poll, acquire, show, release, cancel; lanes wait on them in parallel, so this is a "
    "sum of latencies, not wall) / "
    "scenarios; lane_overhead_s_per_scenario = sum over lanes of (lane span from the first reservation to the "
    "release of its last place - lane set-up - its scenarios) / scenarios: the wall time lanes spend reserving, "
    "waiting for allocation and a partner, acquiring, tearing down and releasing. speedup = throughput / the "
    "1-host throughput of the same run. Peer (at 1 host): two places of host h0 acquired once through labgrid "
    "outside the timing (ser2net serves a port only while its place is held), then the farm's own Lane code "
    "(set-up with flash check, provisioning and join; the scenarios; tear-down) run on their RFC 2217 URLs "
    "directly, without reservation/acquire/release; compared with a farm run limited to one lane (places=2) "
    "measured the same way: overhead_ratio = farm one-lane wall / direct wall (medians over rounds)."
)


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


class _Log:
    """The farm run's log into a file; remembers when the run filed its reservations."""

    def __init__(self, path: Path, echo: bool) -> None:
        self.path = path
        self.echo = echo
        self.reserving_at: float | None = None
        self._lock = threading.Lock()
        self._f = open(path, "a", encoding="utf-8")

    def __call__(self, msg: str) -> None:
        now = time.time()
        if self.reserving_at is None and msg.startswith("farm: ") and ", reserving " in msg:
            self.reserving_at = now  # logged right before Pool.start() files the reservations
        with self._lock:
            self._f.write(f"{now:.3f} {msg}\n")
            self._f.flush()
        if self.echo:
            print(f"  {msg}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._f.close()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.path.read_text(encoding="utf-8").splitlines()[-n:])


def _progress(msg: str) -> None:
    print(f"[bench farm] {msg}", file=sys.stderr, flush=True)


def _analyse(result: dict[str, Any], reserving_at: float) -> dict[str, Any]:
    """One farm run's figures (see METHOD)."""
    scen = [s for s in result["scenarios"] if s.get("lane") is not None]
    setups = {s["lane"]: float(s["duration_s"]) for s in scen if s["scenario"] == "setup"}
    work = [s for s in scen if s["scenario"] != "setup"]
    passed = [s for s in work if s["passed"]]
    released = [float(d["released_at"]) for d in result["devices"] if d.get("released_at")]
    end = max(released) if released else reserving_at + float(result["duration_s"])
    wall = max(end - reserving_at, 1e-6)
    overhead = 0.0
    lanes = []
    for lane in result["farm"]["lanes"]:
        idx = lane["lane"]
        rel = [float(d["released_at"]) for d in result["devices"] if d["lane"] == idx and d.get("released_at")]
        span = (max(rel) if rel else end) - reserving_at
        setup = setups.get(idx, 0.0)
        scen_s = sum(float(s["duration_s"]) for s in work if s["lane"] == idx)
        outside = max(span - setup - scen_s, 0.0)
        overhead += outside
        lanes.append({"lane": idx, "places": lane["places"], "hosts": sorted(set(lane["hosts"].values())),
                      "span_s": round(span, 2), "setup_s": round(setup, 2), "scenarios_s": round(scen_s, 2),
                      "outside_s": round(outside, 2), "passed": lane["passed"]})
    sched = result["farm"]["scheduling"]
    n = len(work)
    return {
        "passed": bool(result["passed"]), "places": len(result["devices"]), "lanes": len(lanes),
        "scenarios": n, "scenarios_passed": len(passed), "wall_s": round(wall, 2),
        "run_s": float(result["duration_s"]),
        "throughput_per_min": round(len(passed) / wall * 60.0, 2),
        "labgrid_calls": int(sched["labgrid_calls"]), "labgrid_s": float(sched["labgrid_s"]),
        "labgrid_s_per_scenario": round(float(sched["labgrid_s"]) / n, 3) if n else None,
        "lane_overhead_s_per_scenario": round(overhead / n, 3) if n else None,
        "acquire_s": _median(list(sched.get("acquire", []))),
        "release_s": _median(list(sched.get("release", []))),
        "reserve_to_allocated_s": _median(list(sched.get("reserve_to_allocated", []))),
        "lane_setup_s": _median(list(setups.values())),
        "scenario_s": _median([float(s["duration_s"]) for s in work]),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "lane_detail": lanes,
        "errors": [f"{s['name']}: {str(s.get('error'))[:200]}" for s in result["scenarios"] if not s["passed"]],
    }


class _Bench:
    def __init__(self, root: Path, coordinator: str, pool: str, only: list[str], opts: Any, echo: bool) -> None:
        self.root, self.coordinator, self.pool, self.only, self.opts, self.echo = root, coordinator, pool, only, opts, echo
        self.count = 0

    def _dir(self, label: str) -> Path:
        self.count += 1
        d = self.root / f"{self.count:02d}-{label}"
        d.mkdir(parents=True)
        return d

    def farm_run(self, label: str, places: int = 0) -> dict[str, Any]:
        from host_tools.hil import farm, runner

        work = self._dir(label)
        log = _Log(work / "run.log", self.echo)
        t = time.time()
        try:
            result = farm.FarmRun(farm.FarmConfig(coordinator=self.coordinator, pool=self.pool, places=places),
                                  runner.RunConfig(only=list(self.only), opts=self.opts, work=work / "run",
                                                   command=f"edgecall bench farm ({label})"), log).execute()
        finally:
            log.close()
        out = _analyse(result, log.reserving_at or t)
        if not out["passed"]:
            _progress(f"{label}: FAILED: {out['errors'][:3]}\n{log.tail()}")
        return out

    def direct_run(self, label: str, places: list[Any], image: Path, client: Any) -> dict[str, Any]:
        """The peer: the farm's Lane code on two held places, by their URLs, without labgrid."""
        from host_tools.farm.scheduler import Pool
        from host_tools.hil import farm, runner

        work = self._dir(label)
        log = _Log(work / "run.log", self.echo)
        cfg = runner.RunConfig(devices=2, only=list(self.only), opts=self.opts, work=work / "lane0",
                               command=f"edgecall bench farm ({label})")
        lane = farm.Lane(0, places, image, Pool(client, self.pool, 0, log=log), farm.FarmConfig(self.coordinator),
                         cfg, log)
        t = time.monotonic()
        try:
            doc = lane.execute()
        finally:
            log.close()
        wall = time.monotonic() - t
        setup = sum(float(s["duration_s"]) for s in doc["scenarios"] if s["name"] == "setup")
        work_s = [s for s in doc["scenarios"] if s["name"] != "setup"]
        passed = [s for s in work_s if s["passed"]]
        scen_s = sum(float(s["duration_s"]) for s in work_s)
        out: dict[str, Any] = {"passed": bool(doc["passed"]), "places": len(places), "lanes": 1, "scenarios": len(work_s),
               "scenarios_passed": len(passed), "wall_s": round(wall, 2),
               "throughput_per_min": round(len(passed) / wall * 60.0, 2),
               "lane_setup_s": round(setup, 2), "scenario_s": _median([float(s["duration_s"]) for s in work_s]),
               "lane_overhead_s_per_scenario": round(max(wall - setup - scen_s, 0.0) / len(work_s), 3)
               if work_s else None,
               "errors": [f"{s['name']}: {str(s.get('error'))[:200]}" for s in doc["scenarios"] if not s["passed"]]}
        if not out["passed"]:
            _progress(f"{label}: FAILED: {out['errors'][:3]}\n{log.tail()}")
        return out


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over rounds of every numeric figure; the rounds themselves kept (without lane detail)."""
    keys = ["wall_s", "run_s", "throughput_per_min", "labgrid_calls", "labgrid_s", "labgrid_s_per_scenario",
            "lane_overhead_s_per_scenario", "acquire_s", "release_s", "reserve_to_allocated_s", "lane_setup_s",
            "scenario_s", "loadavg_1m"]
    out: dict[str, Any] = {"places": rounds[0]["places"], "lanes": rounds[0]["lanes"],
                           "scenarios": rounds[0]["scenarios"], "all_passed": all(r["passed"] for r in rounds)}
    for k in keys:
        vals = [float(r[k]) for r in rounds if r.get(k) is not None]
        out[k] = _median(vals)
    out["labgrid_calls"] = int(out["labgrid_calls"]) if out["labgrid_calls"] is not None else None
    out["rounds"] = [{k: v for k, v in r.items() if k != "lane_detail"} for r in rounds]
    return out


def _hold(client: Any, names: list[str]) -> list[Any]:
    """Acquires these places (untimed) and returns them as scheduler Places with their URLs."""
    from host_tools.farm import labgrid
    from host_tools.farm.scheduler import Place

    out = []
    for name in names:
        client.acquire(name)
        deadline = time.monotonic() + 20
        while True:
            info = client.show(name)
            try:
                out.append(Place(name, info.serial_url(), info.exporter(), token=""))
                break
            except labgrid.LabgridError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    return out


def run(json_out: bool, quick: bool = False, hosts: int = 3, per_host: int = 4, scenario: list[str] | None = None,
        rounds: int = 3) -> int:
    from host_tools.hil import fleet, runner, scenarios

    if os.geteuid() != 0:
        print("edgecall bench farm: needs root (the farm's hosts are network namespaces)", file=sys.stderr)
        return 2
    if quick:
        hosts, per_host, rounds = min(hosts, 2), min(per_host, 2), 1
    if hosts < 1 or per_host < 1 or rounds < 1 or hosts * per_host < 2:
        print("edgecall bench farm: --hosts, --per-host and --rounds must be >= 1, with at least 2 devkits",
              file=sys.stderr)
        return 2
    only = list(scenario or DEFAULT_SCENARIOS)
    opts = scenarios.Options(stress_s=STRESS_S, reboots=REBOOTS)
    try:
        runner._select(scenarios.standard(opts), only)
    except ValueError as e:
        print(f"edgecall bench farm: {e}", file=sys.stderr)
        return 2
    from host_tools.farm.testlab import FarmLab

    cores = os.cpu_count() or 1
    t_start = time.monotonic()
    steps: list[dict[str, Any]] = []
    warmups: list[dict[str, Any]] = []
    peer: dict[str, Any] = {}
    echo = os.environ.get("EDGECALL_BENCH_VERBOSE") == "1"
    with tempfile.TemporaryDirectory(prefix="edgecall-bench-farm-") as tmp:
        root = Path(tmp)
        with FarmLab(hosts, root / "lab") as lab:
            bench = _Bench(root / "runs", lab.address, lab.pool, only, opts, echo)
            for n in range(1, hosts + 1):
                t = time.monotonic()
                ex = lab.export(n - 1, per_host)
                export_s = time.monotonic() - t
                _progress(f"host h{n - 1} exported ({len(ex.places)} places in {export_s:.1f} s); warm-up run")
                w = bench.farm_run(f"warmup-{n}")
                fresh = set(ex.places)
                warmups.append({"hosts": n, "export_s": round(export_s, 1), "wall_s": w["wall_s"],
                                "passed": w["passed"],
                                "lanes": [{**{k: ln[k] for k in ("lane", "places", "hosts", "setup_s")},
                                           "fresh": bool(fresh & set(ln["places"]))} for ln in w["lane_detail"]]})
                rs = []
                for r in range(rounds):
                    rs.append(bench.farm_run(f"hosts{n}-round{r + 1}"))
                    _progress(f"{n} host(s), round {r + 1}: {rs[-1]['scenarios_passed']}/{rs[-1]['scenarios']} "
                              f"scenarios in {rs[-1]['wall_s']:.1f} s ({rs[-1]['throughput_per_min']:.1f}/min)")
                steps.append({"hosts": n, **_summary(rs)})
                if n == 1:
                    # the 1-host runs already are one lane when the host has 2 places: not run twice
                    one = rs if rs[0]["places"] == 2 else [bench.farm_run(f"one-lane-round{r + 1}", places=2)
                                                           for r in range(rounds)]
                    client = lab.client()
                    names = sorted(ex.places)[:2]
                    held = _hold(client, names)
                    try:
                        image = fleet.build_image(root / "runs" / "peer-image")
                        direct = [bench.direct_run(f"direct-round{r + 1}", held, image, client)
                                  for r in range(rounds)]
                    finally:
                        for p in names:
                            try:
                                client.release(p)
                            except Exception as e:  # noqa: BLE001 - the lab is torn down anyway
                                _progress(f"releasing {p}: {e}")
                    fw = _median([r["wall_s"] for r in one])
                    dw = _median([r["wall_s"] for r in direct])
                    peer = {"places": names, "urls": [p.url for p in held],
                            "farm_one_lane": _summary(one),
                            "direct": {"all_passed": all(r["passed"] for r in direct),
                                       **{k: _median([float(r[k]) for r in direct if r.get(k) is not None])
                                          for k in ("wall_s", "throughput_per_min", "lane_setup_s", "scenario_s",
                                                    "lane_overhead_s_per_scenario")},
                                       "scenarios": direct[0]["scenarios"], "rounds": direct},
                            "overhead_ratio": round(fw / dw, 3) if fw and dw else None,
                            "overhead_s_per_scenario": round((fw - dw) / direct[0]["scenarios"], 3)
                            if fw and dw and direct[0]["scenarios"] else None}
                    _progress(f"peer: farm one lane {fw} s, direct {dw} s")
    base = steps[0]["throughput_per_min"] if steps else None
    for s in steps:
        s["speedup"] = round(s["throughput_per_min"] / base, 3) if base and s["throughput_per_min"] else None
        s["scaling_efficiency"] = round(s["speedup"] / s["hosts"], 3) if s["speedup"] else None
    result: dict[str, Any] = {
        "schema": 1, "bench": "farm", "cores": cores, "hosts": hosts, "per_host": per_host, "rounds": rounds,
        "scenarios": only, "options": {"stress_s": STRESS_S, "reboots": REBOOTS},
        "steps": steps, "warmup": warmups, "peer": peer,
        "all_passed": all(s["all_passed"] for s in steps) and bool(peer) and peer["farm_one_lane"]["all_passed"]
        and peer["direct"]["all_passed"],
        "bench_s": round(time.monotonic() - t_start, 1),
        "method": METHOD,
        "note": (f"This machine has {cores} core(s): every host's devkits, ser2net and exporter, the coordinator and "
                 "all lanes' host-side code share them, so throughput cannot grow linearly with hosts here; "
                 "speedup and scaling_efficiency show how far it does (loadavg_1m is sampled after each run). On a "
                 "real farm each host brings its own CPU and boards, and only the coordinator and this runner are "
                 "shared."),
    }
    emit(result, json_out, _human)
    return 0 if result["all_passed"] else 1


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _human(r: dict[str, Any]) -> None:
    from rich.console import Console

    t = table(f"bench farm: {', '.join(r['scenarios'])}, median of {r['rounds']} round(s), {r['cores']} cores",
              ["hosts", "places", "lanes", "scen.", "wall s", "scen./min", "× 1 host", "labgrid s/scen.",
               "lane overhead s/scen.", "acquire s", "release s", "reserve→alloc s", "lane set-up s", "load 1m"])
    for s in r["steps"]:
        t.add_row(*(_fmt(s[k]) for k in ("hosts", "places", "lanes", "scenarios", "wall_s", "throughput_per_min",
                                         "speedup", "labgrid_s_per_scenario", "lane_overhead_s_per_scenario",
                                         "acquire_s", "release_s", "reserve_to_allocated_s", "lane_setup_s",
                                         "loadavg_1m")))
    c = Console()
    c.print(t)
    p = r["peer"]
    if p:
        c.print(f"peer (one lane, {', '.join(p['places'])}): farm {_fmt(p['farm_one_lane']['wall_s'])} s, direct "
                f"{_fmt(p['direct']['wall_s'])} s → ratio {_fmt(p['overhead_ratio'])}, "
                f"{_fmt(p['overhead_s_per_scenario'])} s per scenario")
    for w in r["warmup"]:
        fresh = [ln["setup_s"] for ln in w["lanes"] if ln["fresh"]]
        c.print(f"warm-up after host {w['hosts']}: export {w['export_s']} s; lane set-up with fresh devkits "
                f"(flash): {fresh} s")
    c.print(r["note"])
    if not r["all_passed"]:
        c.print("[red]some runs failed: see steps[].rounds[].errors in --json[/red]")
