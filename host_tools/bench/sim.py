"""Virtual devkit benchmark (`edgecall bench sim`): boot time to REPL, idle CPU and memory per
device, for 1 and 16 devices, for each kind of devkit in the same run (ARM: MicroPython on QEMU
mps2-an386; wasm: MicroPython's WebAssembly build in Node), with the ARM/wasm ratios.

- boot: from `start` to the first raw-REPL answer over the pty (median of several boots; blank
  devices: ARM devkits boot the base firmware).
- idle CPU: utime+stime of the device's processes (supervisor + QEMU or Node) over an idle
  window, as a percentage of one core.
- memory: RSS of the device's processes.
- `--micropython-suite`: MicroPython's own whole default test suite (tests/run-tests.py) against
  an ARM devkit's pty, its counts (performed, passed, failed, skipped) and failures in the JSON;
  any failure fails the run.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


def _boot_times(root: Path, count: int, boots: int, kind: str) -> list[float]:
    ids = [f"b{i}" for i in range(count)]
    times = []
    for _ in range(boots):
        t0 = time.monotonic()
        devices = manager.start(ids=ids, root=root, timeout=120, kind=kind, blank=kind == state.KIND_ARM)
        for d in devices:
            _repl_answers(d.port or "")
        times.append((time.monotonic() - t0) / 1.0)
        for device_id in ids:
            manager.power_cut(device_id, root)
    return times


def _idle(root: Path, count: int, seconds: float, kind: str) -> tuple[float, int]:
    ids = [f"i{i}" for i in range(count)]
    devices = manager.start(ids=ids, root=root, timeout=120, kind=kind, blank=kind == state.KIND_ARM)
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
    (dev,) = manager.start(ids=["suite"], root=root, timeout=120, kind=state.KIND_ARM, blank=True, baud=921600)
    try:
        result = mptests.run(dev.port or "", [], 921600)
    finally:
        manager.power_cut("suite", root)
    return result.as_dict()


def run(json_out: bool, quick: bool = False, kind: str = "both", micropython_suite: bool = False) -> int:
    kinds = list(state.KINDS) if kind == "both" else [kind]
    counts = (1, 4) if quick else (1, 16)
    results: dict[str, object] = {"schema": 2, "counts": list(counts)}
    with tempfile.TemporaryDirectory(prefix="edgecall-bench-sim-") as tmp:
        root = Path(tmp)
        for k in kinds:
            per_kind: dict[str, object] = {}
            for count in counts:
                boots = _boot_times(root, count, (2 if quick else BOOTS) if count == 1 else (1 if quick else 3), k)
                cpu, rss = _idle(root, count, 3.0 if quick else IDLE_SECONDS, k)
                per_kind[f"devices_{count}"] = {
                    "boot_to_repl_s_median": round(statistics.median(boots), 3),
                    "boot_to_repl_s_all": [round(b, 3) for b in boots],
                    "idle_cpu_percent_per_device": round(cpu, 2),
                    "rss_mib_per_device": round(rss / 2**20, 1),
                }
            results[k] = per_kind
        if len(kinds) == 2:
            arm, wasm = results[state.KIND_ARM], results[state.KIND_WASM]
            assert isinstance(arm, dict) and isinstance(wasm, dict)
            results["arm_over_wasm"] = {
                f"devices_{c}": {m: round(arm[f"devices_{c}"][m] / wasm[f"devices_{c}"][m], 2)
                                 if wasm[f"devices_{c}"][m] else None
                                 for m in ("boot_to_repl_s_median", "idle_cpu_percent_per_device", "rss_mib_per_device")}
                for c in counts}
        if micropython_suite:
            results["micropython_suite"] = _suite(root)
    results["boot_target_s"] = 1.0
    boot_ok = all(r["devices_1"]["boot_to_repl_s_median"] <= 1.0 for k in kinds  # type: ignore[index]
                  for r in [results[k]])
    results["boot_target_met"] = boot_ok
    suite = results.get("micropython_suite")
    suite_ok = suite is None or (isinstance(suite, dict) and suite["failed"] == 0 and suite["passed"] > 0)
    if json_out:
        print(json.dumps(results, indent=2))
    else:
        t = Table(title="virtual devkits")
        for col in ("kind", "devices", "boot to REPL (median, all devices)", "idle CPU / device", "RSS / device"):
            t.add_column(col)
        for k in kinds:
            per = results[k]
            assert isinstance(per, dict)
            for count in counts:
                r = per[f"devices_{count}"]
                t.add_row(k, str(count), f"{r['boot_to_repl_s_median']:.3f} s",
                          f"{r['idle_cpu_percent_per_device']:.2f} %", f"{r['rss_mib_per_device']:.1f} MiB")
        Console().print(t)
        if isinstance(suite, dict):
            Console().print(f"MicroPython's test suite on an ARM devkit: {suite['passed']} passed, "
                            f"{suite['failed']} failed, {suite['skipped']} skipped ({suite['seconds']} s)")
    if not boot_ok:
        print("bench sim: boot to REPL above the 1 s target (see boot_to_repl_s_median)", file=sys.stderr)
    return 0 if boot_ok and suite_ok else 1
