"""Virtual devkit benchmark (`edgecall bench sim`): boot time to REPL, idle CPU and memory per
device, for 1 and 16 devices.

- boot: from `start` to the first raw-REPL answer over the pty (median of several boots).
- idle CPU: utime+stime of the device's processes (supervisor + Node) over an idle window, as a
  percentage of one core.
- memory: RSS of the device's processes.
"""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import serial
from rich.console import Console
from rich.table import Table

from host_tools.sim import manager

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
        devices = manager.start(ids=ids, root=root, timeout=120)
        for d in devices:
            _repl_answers(d.port or "")
        times.append((time.monotonic() - t0) / 1.0)
        for device_id in ids:
            manager.power_cut(device_id, root)
    return times


def _idle(root: Path, count: int, seconds: float) -> tuple[float, int]:
    ids = [f"i{i}" for i in range(count)]
    devices = manager.start(ids=ids, root=root, timeout=120)
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


def run(json_out: bool) -> int:
    results: dict[str, object] = {"schema": 1}
    with tempfile.TemporaryDirectory(prefix="edgecall-bench-sim-") as tmp:
        root = Path(tmp)
        for count in (1, 16):
            boots = _boot_times(root, count, BOOTS if count == 1 else 3)
            cpu, rss = _idle(root, count, IDLE_SECONDS)
            results[f"devices_{count}"] = {
                "boot_to_repl_s_median": round(statistics.median(boots), 3),
                "boot_to_repl_s_all": [round(b, 3) for b in boots],
                "idle_cpu_percent_per_device": round(cpu, 2),
                "rss_mib_per_device": round(rss / 2**20, 1),
            }
    results["boot_target_s"] = 1.0
    ok = results["devices_1"]["boot_to_repl_s_median"] <= 1.0  # type: ignore[index]
    results["boot_target_met"] = ok
    if json_out:
        print(json.dumps(results, indent=2))
    else:
        t = Table(title="virtual devkits")
        for col in ("devices", "boot to REPL (median, all devices)", "idle CPU / device", "RSS / device"):
            t.add_column(col)
        for count in (1, 16):
            r = results[f"devices_{count}"]
            assert isinstance(r, dict)
            t.add_row(str(count), f"{r['boot_to_repl_s_median']:.3f} s",
                      f"{r['idle_cpu_percent_per_device']:.2f} %", f"{r['rss_mib_per_device']:.1f} MiB")
        Console().print(t)
    return 0 if ok else 1
