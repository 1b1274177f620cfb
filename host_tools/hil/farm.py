"""`edgecall hil run --farm COORDINATOR`: the HIL scenarios across a labgrid board farm.

The run reserves the pool's healthy places (`--place-tag`, `--places`, `--prio`), pairs them as
the coordinator allocates them, and runs the selected scenarios on every pair ("lane") in
parallel, each lane with its own channel server, ledger and work folder. A place's device is its
`NetworkSerialPort` (RFC 2217); the devices reach the lane's server at the address this machine
has on the route to their host. Places are released when their lane ends, and on exit whatever
happens (failure, Ctrl-C, SIGTERM).

A failed scenario (or set-up) leads to health probes of the lane's places — a transport error
(the port vanished, the exporter died) shows in many guises; a place that fails `max_failures` probes in a row is tagged
`health=bad` and its lane stops; the rest of the run goes on. The JSON report names each
device's host and place, and carries the scheduling cost (labgrid calls, reservation waits).
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools import __version__ as VERSION
from host_tools.channel.thread import ServerThread
from host_tools.farm import labgrid
from host_tools.farm.scheduler import Place, Pool, healthy_places
from host_tools.hil import fleet, report, runner, scenarios
from host_tools.hil.dut import Dut
from host_tools.netaddr import route_source

BAUD = 921600


@dataclass
class FarmConfig:
    coordinator: str
    pool: str = "edgecall"
    places: int = 0  # at most this many (0: every healthy place of the pool)
    prio: float = 0.0
    wait_s: float = 600.0  # how long to wait for allocations before going on without them
    max_failures: int = 3  # failed health probes in a row before a place is marked unhealthy


def probe(place: Place, timeout: float = 5.0) -> str | None:
    """None if the place's device answers its console; else what went wrong."""
    d = Dut(place.name, "board", place.url, BAUD, timeout=timeout)
    try:
        d.info()
        return None
    except Exception as e:  # noqa: BLE001 - any failure is the verdict
        return f"{type(e).__name__}: {e}"
    finally:
        d.close()


class Lane(runner.Run):
    """The scenarios on one pair of places."""

    def __init__(self, index: int, places: list[Place], image: Path, pool: Pool, farm: FarmConfig,
                 cfg: runner.RunConfig, log: Any) -> None:
        super().__init__(cfg, lambda m: log(f"[lane {index}] {m}"))
        self.index, self.places, self.image, self.pool, self.farm = index, places, image, pool, farm
        self.stopped: str | None = None  # why the lane stopped early
        self.result_doc: dict[str, Any] | None = None

    def setup(self) -> scenarios.Context:
        cfg = self.cfg
        assert cfg.work is not None
        cfg.work.mkdir(parents=True, exist_ok=True)
        ident = fleet.Identity.fresh()
        self.server = ServerThread(ident.app_id, ident.app_cert, host="0.0.0.0", signal_rtt_ms=runner.SIGNAL_RTT_MS,
                                   expiry_notice=8.0, seed=cfg.opts.seed)
        self.duts = [Dut(p.name, "board", p.url, BAUD) for p in self.places]
        fleet.flash_all(self.duts, self.image, self.log)
        ledger = str(cfg.work / "ledger.sqlite3")
        for p in fleet.join_all(self.duts, ledger, ident, lambda d: route_source(d.port), self.server.port,
                                codec=cfg.opts.codec):
            self.log(f"{p['device']}: {p['action']} as {p['uid']}")
        for d in self.duts:
            self.versions[d.id] = fleet.identity(d)
        return scenarios.Context(self.duts, self.server, ident, ledger, cfg.mic, None, cfg.opts, self.log, t0=self.t0)

    def teardown(self) -> None:
        fleet.stop(self.duts, None)
        if self.server is not None:
            self.server.stop()

    def _health(self, error: str) -> None:
        """After a transport failure: probe each place; mark those that keep failing."""
        for place in self.places:
            why = None
            for attempt in range(self.farm.max_failures):
                why = probe(place)
                if why is None:
                    break
                time.sleep(1.0)
            if why is not None:
                self.pool.mark_unhealthy(place, f"{self.farm.max_failures} health probes failed after {error[:120]}: "
                                                f"{why[:160]}")
                self.stopped = f"place {place.name} is unhealthy ({why[:160]})"

    def run_one(self, ctx: scenarios.Context, name: str, fn: scenarios.Scenario, devices: list[str]) -> dict[str, Any]:
        if self.stopped:
            return {"name": name, "devices": devices, "passed": False, "duration_s": 0.0, "metrics": {},
                    "error": f"TransportError: not run: {self.stopped}", "diagnostics": None, "transport": True}
        entry = super().run_one(ctx, name, fn, devices)
        self._after_failure(entry)
        return entry

    def _after_failure(self, entry: dict[str, Any]) -> None:
        """A failed step: probe the places (whatever the error said: a dead link shows in many
        guises); a transport failure is one whose words say so or whose place failed its probes."""
        if entry["passed"] or not entry.get("error"):
            return
        self._health(entry["error"])
        if _transport_text(entry["error"]) or self.stopped:
            entry["transport"] = True

    def execute(self) -> dict[str, Any]:
        result = super().execute()
        setup = next((r for r in self.results if r["name"] == "setup"), None)
        if setup is not None and not self.stopped:
            self._after_failure(setup)
        return result


_TRANSPORT_WORDS = ("TransportError", "Disconnected", "TransportTimeout", "PortNotFound", "PortBusy",
                    "ConnectionRefused", "ConnectionReset", "BrokenPipe", "port went away", "cannot open rfc2217",
                    "SMPTransportDisconnected", "Connection refused", "could not open the port", "FlashTimeout")


def _transport_text(error: str) -> bool:
    return any(w in error for w in _TRANSPORT_WORDS)


@dataclass
class FarmRun:
    farm: FarmConfig
    cfg: runner.RunConfig
    log: Any = print
    lanes: list[Lane] = field(default_factory=list)

    def execute(self) -> dict[str, Any]:
        t0 = time.time()
        cfg, farm = self.cfg, self.farm
        if cfg.work is None:
            cfg.work = runner.OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        cfg.work.mkdir(parents=True, exist_ok=True)
        client = labgrid.Client(farm.coordinator, user=f"edgecall-hil-{os.getpid()}-{int(t0) % 100000}")
        try:
            healthy = healthy_places(client, farm.pool)
        except labgrid.LabgridError:
            client.close()
            raise  # the coordinator cannot be reached: a transport error, before anything was done
        want = len(healthy) if farm.places <= 0 else min(farm.places, len(healthy))
        want -= want % 2  # lanes are pairs
        setup_error = None
        pool = Pool(client, farm.pool, want, farm.prio, self.log)
        threads: list[threading.Thread] = []
        suite = runner._select(scenarios.standard(cfg.opts), cfg.only)
        try:
            if want < 2:
                raise RuntimeError(f"the pool {farm.pool!r} at {client.coordinator} has {len(healthy)} healthy "
                                   "place(s); a farm run needs at least 2")
            image = fleet.build_image(cfg.work)
            self.log(f"farm: {client.coordinator}, pool {farm.pool}: {len(healthy)} healthy places, "
                     f"reserving {want}; image {image.name}")
            pool.start()
            deadline = time.monotonic() + farm.wait_s
            waiting: Place | None = None
            started = 0
            while started * 2 < want and time.monotonic() < deadline:
                place = pool.take()
                if place is None:
                    if pool.pending() == 0:
                        break  # nothing ready and nothing more to come (a reservation may have failed)
                    time.sleep(0.1)
                    continue
                if waiting is None:
                    waiting = place
                    continue
                lane = self._lane(len(self.lanes), [waiting, place], image, pool, suite)
                waiting = None
                self.lanes.append(lane)
                t = threading.Thread(target=self._run_lane, args=(lane,), daemon=True, name=f"lane-{lane.index}")
                threads.append(t)
                t.start()
                started += 1
            if waiting is not None:
                pool.release(waiting)
            for t in threads:
                t.join()
        except Exception as e:  # noqa: BLE001 - reported in the result
            setup_error = f"{type(e).__name__}: {e}"
            self.log(f"farm: {setup_error}")
            traceback.print_exc()
        finally:
            pool.close()
            client.close()
        return self.result(t0, client, pool, setup_error)

    def _lane(self, index: int, places: list[Place], image: Path, pool: Pool,
              suite: list[tuple[str, scenarios.Scenario]]) -> Lane:
        assert self.cfg.work is not None
        cfg = runner.RunConfig(devices=2, only=self.cfg.only, opts=self.cfg.opts, mic=self.cfg.mic,
                               work=self.cfg.work / f"lane{index}", command=self.cfg.command)
        return Lane(index, places, image, pool, self.farm, cfg, self.log)

    def _run_lane(self, lane: Lane) -> None:
        lane.log(f"places {', '.join(f'{p.name} ({p.host})' for p in lane.places)}")
        try:
            lane.result_doc = lane.execute()
        except Exception as e:  # noqa: BLE001
            lane.log(f"lane error: {e}")
        finally:
            for p in lane.places:
                lane.pool.release(p)

    def result(self, t0: float, client: labgrid.Client, pool: Pool, setup_error: str | None) -> dict[str, Any]:
        scen: list[dict[str, Any]] = []
        devices: list[dict[str, Any]] = []
        join_ms: list[float] = []
        lanes_out = []
        for lane in self.lanes:
            doc: dict[str, Any] = lane.result_doc or {"scenarios": lane.results, "devices": []}
            hosts = {p.name: p.host for p in lane.places}
            for r in doc["scenarios"]:
                scen.append({**r, "name": f"{r['name']}@lane{lane.index}", "scenario": r["name"], "lane": lane.index,
                             "devices": [p.name for p in lane.places], "hosts": [p.host for p in lane.places]})
            for p in lane.places:
                dev: dict[str, Any] = next((d for d in doc.get("devices", []) if d.get("id") == p.name), {})
                devices.append({"id": p.name, "kind": "board", "port": p.url, "uid": dev.get("uid", ""),
                                **{k: dev.get(k, "") for k in fleet.IDENTITY}, "host": p.host, "place": p.name,
                                "lane": lane.index, "acquired_at": p.acquired_at, "released_at": p.released_at})
            join_ms += list(doc.get("metrics", {}).get("join_ms", {}).get("samples", []))
            durations = [r.get("duration_s", 0.0) for r in doc["scenarios"]]
            lanes_out.append({"lane": lane.index, "places": [p.name for p in lane.places], "hosts": hosts,
                              "passed": bool(doc["scenarios"]) and all(r["passed"] for r in doc["scenarios"]),
                              "stopped": lane.stopped, "scenario_s": round(sum(durations), 2)})
        if setup_error is not None or not self.lanes:
            scen.insert(0, {"name": "farm", "passed": False, "devices": [], "duration_s": 0.0,
                            "error": setup_error or "no lane ran (no places allocated)", "metrics": {}, "diagnostics": None})
        calls_by: dict[str, list[float]] = {}
        for cmd, s in client.calls:
            calls_by.setdefault(cmd, []).append(round(s, 3))
        ran = sum(1 for r in scen if r.get("lane") is not None and r["name"].split("@")[0] != "setup")
        sched_s = sum(s for _, s in client.calls)
        return {
            "schema": report.SCHEMA, "tool": "edgecall hil", "version": VERSION,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
            "duration_s": round(time.time() - t0, 1), "command": self.cfg.command,
            "passed": bool(scen) and all(r["passed"] for r in scen),
            "devices": devices, "scenarios": scen,
            "metrics": {"join_ms": runner._percentiles(join_ms), "first_audio_ms": runner._percentiles([]),
                        "pesq_wb": {}, "stoi": {}, "netstack_pesq_wb": {}, "call_success": {}},
            "series": {"jb": {}, "heap": {}},
            "farm": {"coordinator": client.coordinator, "pool": self.farm.pool, "owner": client.user,
                     "lanes": lanes_out, "unhealthy": dict(pool.unhealthy),
                     "scheduling": {"labgrid_calls": len(client.calls), "labgrid_s": round(sched_s, 2),
                                    "per_scenario_s": round(sched_s / ran, 3) if ran else None,
                                    "calls": calls_by, **{k: [round(v, 3) for v in vs] for k, vs in pool.timings.items()}}},
        }


def run(farm: FarmConfig, cfg: runner.RunConfig, log: Any = None) -> dict[str, Any]:
    """Runs across the farm and writes the three reports; returns the result."""
    import sys

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = FarmRun(farm, cfg, log or say).execute()
    for path, write in ((cfg.json_out, report.write_json), (cfg.junit_out, report.write_junit),
                        (cfg.html_out, report.write_html)):
        path.parent.mkdir(parents=True, exist_ok=True)
        write(result, path)
    return result
