"""Virtual devkit benchmark (`edgecall bench sim`): boot time to REPL, idle CPU and memory per
device (MicroPython on QEMU mps2-an386), for 1 and 16 devices.

- boot: from `start` to the first raw-REPL answer over the pty (median of several boots; blank
  devices, which boot the base firmware).
- idle CPU: utime+stime of the device's processes (supervisor + QEMU) over an idle
  window, as a percentage of one core.
- memory: RSS of the device's processes.
- `--micropython-suite`: MicroPython's own whole default test suite (tests/run-tests.py) against
  an ARM devkit's pty, its counts (performed, passed, failed, skipped) and failures in the JSON;
  any failure fails the run.
- ARM devkits in calls (host_tools/bench/simcalls.py, whose docstring has the method):
  `instructions_per_frame`, the whole device's instructions per 20 ms frame (QEMU -icount shift=0
  and an instruction-counting TCG plugin) joined and idle and in a call per codec (G.722, Opus);
  `calls_real_time`, steps of k calls between 2k devkits at once until one does not hold real
  time (every call concealed < 1 %, no microphone overruns): `devkits_real_time` against the goal
  of 16 devkits. Below the goal the run fails (exit 1) and says by how much. --quick: 1 pair and
  short windows (it cannot reach the goal).
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import serial
from rich.console import Console
from rich.table import Table

from host_tools.sim import manager, mptests, state

BOOTS = 5
IDLE_SECONDS = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _group_pids(leader: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == leader:  # pgrp
                pids.append(int(entry.name))
    return pids


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
    return total


def _repl_answers(port: str, timeout: float = 10.0) -> None:
    with serial.Serial(port, 115200, timeout=timeout) as s:
        s.write(b"\r\x03\x01")
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"raw REPL; CTRL-B to exit\r\n>"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no raw REPL on {port}")
            data += s.read(1)
        s.write(b"print(7*6)\x04")
        data = b""
        while b"42" not in data:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer on {port}")
            data += s.read(1)
        s.write(b"\x02")


def _boot_times(root: Path, count: int, boots: int) -> list[float]:
    ids = [f"b{i}" for i in range(count)]
    times = []
    for _ in range(boots):
        t0 = time.monotonic()
        devices = manager.start(ids=ids, root=root, timeout=120, blank=True)
        for d in devices:
            _repl_answers(d.port or "")
        times.append((time.monotonic() - t0) / 1.0)
        for device_id in ids:
            manager.power_cut(device_id, root)
    return times


def _idle(root: Path, count: int, seconds: float) -> tuple[float, int]:
    ids = [f"i{i}" for i in range(count)]
    devices = manager.start(ids=ids, root=root, timeout=120, blank=True)
    try:
        time.sleep(1.0)  # let the boot settle
        groups = [_group_pids(d.pid or 0) for d in devices]
        before = sum(_cpu_ticks(g) for g in groups)
        time.sleep(seconds)
        after = sum(_cpu_ticks(g) for g in groups)
        rss = sum(_rss(g) for g in groups)
    finally:
        for device_id in ids:
            manager.power_cut(device_id, root)
    cpu_percent = 100.0 * (after - before) / CLK_TCK / seconds / count
    return cpu_percent, rss // count


def _suite(root: Path) -> dict[str, object]:
    (dev,) = manager.start(ids=["suite"], root=root, timeout=120, blank=True, baud=921600)
    try:
        result = mptests.run(dev.port or "", [], 921600)
    finally:
        manager.power_cut("suite", root)
    return result.as_dict()


def run(json_out: bool, quick: bool = False, micropython_suite: bool = False) -> int:
    counts = (1, 4) if quick else (1, 16)
    results: dict[str, object] = {"schema": 4, "counts": list(counts)}
    with tempfile.TemporaryDirectory(prefix="edgecall-bench-sim-") as tmp:
        root = Path(tmp)
        per_count: dict[str, object] = {}
        for count in counts:
            boots = _boot_times(root, count, (2 if quick else BOOTS) if count == 1 else (1 if quick else 3))
            cpu, rss = _idle(root, count, 3.0 if quick else IDLE_SECONDS)
            per_count[f"devices_{count}"] = {
                "boot_to_repl_s_median": round(statistics.median(boots), 3),
                "boot_to_repl_s_all": [round(b, 3) for b in boots],
                "idle_cpu_percent_per_device": round(cpu, 2),
                "rss_mib_per_device": round(rss / 2**20, 1),
            }
        results["devkit"] = per_count
        if micropython_suite:
            results["micropython_suite"] = _suite(root)
        results.update(_arm_calls(root, quick))
    results["boot_target_s"] = 1.0
    boot_ok = per_count["devices_1"]["boot_to_repl_s_median"] <= 1.0  # type: ignore[index]
    results["boot_target_met"] = boot_ok
    suite = results.get("micropython_suite")
    suite_ok = suite is None or (isinstance(suite, dict) and suite["failed"] == 0 and suite["passed"] > 0)
    calls = results.get("calls_real_time")
    calls_ok = calls is None or (isinstance(calls, dict) and bool(calls.get("goal_met")))
    insns = results.get("instructions_per_frame")
    insns_ok = insns is None or (isinstance(insns, dict) and "error" not in insns)
    if json_out:
        print(json.dumps(results, indent=2))
    else:
        t = Table(title="virtual devkits")
        for col in ("devices", "boot to REPL (median, all devices)", "idle CPU / device", "RSS / device"):
            t.add_column(col)
        for count in counts:
            r = per_count[f"devices_{count}"]  # type: ignore[assignment]
            t.add_row(str(count), f"{r['boot_to_repl_s_median']:.3f} s",  # type: ignore[index]
                      f"{r['idle_cpu_percent_per_device']:.2f} %", f"{r['rss_mib_per_device']:.1f} MiB")  # type: ignore[index]
        Console().print(t)
        if isinstance(suite, dict):
            Console().print(f"MicroPython's test suite on a devkit: {suite['passed']} passed, "
                            f"{suite['failed']} failed, {suite['skipped']} skipped ({suite['seconds']} s)")
        if isinstance(insns, dict) and isinstance(calls, dict):
            _print_calls(insns, calls)
    if not boot_ok:
        print("bench sim: boot to REPL above the 1 s target (see boot_to_repl_s_median)", file=sys.stderr)
    if isinstance(insns, dict) and "error" in insns:
        print(f"bench sim: instructions per frame not measured: {insns['error']}", file=sys.stderr)
    if isinstance(calls, dict) and not calls.get("goal_met"):
        print(f"bench sim: {calls['devkits_real_time']} ARM devkits held calls in real time on this machine; "
              f"the goal is {calls['goal']}: {calls['short_of_goal']} short ({calls['stopped']})", file=sys.stderr)
    return 0 if boot_ok and suite_ok and calls_ok and insns_ok else 1


def _progress(msg: str) -> None:
    print(f"bench sim: {msg}", file=sys.stderr, flush=True)


def _arm_calls(root: Path, quick: bool) -> dict[str, object]:
    """ARM devkits in calls: instructions per frame and how many hold calls in real time."""
    from host_tools.bench import simcalls

    out: dict[str, object] = {}
    try:
        out["instructions_per_frame"] = simcalls.instructions_per_frame(
            root / "insns", simcalls.CODECS, 5.0 if quick else 15.0, log=_progress)
    except (simcalls.BenchError, simcalls.insncount.CounterError) as e:
        out["instructions_per_frame"] = {"error": str(e)}
    out["calls_real_time"] = simcalls.calls_real_time(
        root / "calls", max_pairs=1 if quick else simcalls.MAX_PAIRS, hold_s=10.0 if quick else simcalls.HOLD_S,
        log=_progress)
    return out


def _print_calls(insns: dict[str, Any], calls: dict[str, Any]) -> None:
    con = Console()
    if "error" not in insns:
        t = Table(title=f"ARM devkit: instructions per 20 ms frame, whole device (-icount shift={insns['icount_shift']})")
        for col in ("state", "instructions / frame", "per device"):
            t.add_column(col)
        rows = [("joined, idle", insns["idle"])] + [(f"in a {c} call", v) for c, v in insns["in_call"].items()]
        for name, r in rows:
            t.add_row(name, f"{r['instructions_per_frame']:,}",
                      ", ".join(f"{d['device']} {d['instructions_per_frame']:,}" for d in r["devices"]))
        con.print(t)
    t = Table(title=f"ARM devkits holding calls in real time (goal {calls['goal']})")
    for col in ("devkits", "calls set up", "concealed max", "mic overruns", "CPU / devkit", "machine busy", "real time"):
        t.add_column(col)
    for r in calls["steps"]:
        if "error" in r:
            t.add_row(str(r["devkits"]), "-", "-", "-", "-", "-", f"no: {r['error'][:60]}")
            continue
        t.add_row(str(r["devkits"]), f"{r['calls_set_up']}/{r['pairs']}", f"{r['concealed_pct_max']} %",
                  str(r["mic_overruns"]), f"{r['cpu_per_devkit_pct']} %", f"{r['machine_busy_pct']} %",
                  "yes" if r["real_time"] else "no")
    con.print(t)
    con.print(f"devkits in calls in real time: {calls['devkits_real_time']} (goal {calls['goal']})")
