"""HIL scale benchmark (`edgecall bench hil`): how many virtual devkits can be in simultaneous
calls on this machine while their media stays in real time.

For N = 2, 4, 8, ... devkits (the factory image in their primary slot, provisioned by the station, joined to
one channel server with the clean profile), N/2 pairs call each other at once and hold the call
for HOLD_S seconds. Per step:
- late_pct: packets the receivers' jitter buffers got after their playout time, over packets
  received (all devices) — the real-time criterion (< 1 %);
- concealed_pct: 10 ms blocks played out concealed (loss, lateness or starvation);
- mic_overruns: microphone frames a device read too late (its loop fell behind real time);
- packets_per_device_s: media packets received per device per second (50 at 20 ms: real time);
- playout_delay_ms: the receivers' jitter-buffer delay (it grows when arrivals get irregular);
- cpu_per_device_pct: utime+stime of the devkit processes over the hold, per device, in % of
  one core; plus the channel server's CPU (this process's threads).
The answer is the largest N that stays real-time: every call set up, late_pct < 1 %, and — since
the adaptive jitter buffer absorbs lateness by raising its delay, so late packets stay near 0
even on a starved machine — concealed_pct < 1 % and no microphone overruns. Steps stop after
the first that fails (or after the last of STEPS). CPU per device is quoted from the largest
step that left the machine below 75 % busy (above it, the devices share what is left and the
per-device figure only falls).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from host_tools.bench.sim import CLK_TCK, _cpu_ticks, _group_pids
from host_tools.channel.thread import ServerThread
from host_tools.hil import fleet
from host_tools.hil.dut import Dut
from host_tools.paths import TESTDATA
from host_tools.sim import manager

HOLD_S = 15.0
STEPS = (2, 4, 8, 12, 16, 20, 24, 32, 40, 48)
LATE_LIMIT_PCT = 1.0
CONCEALED_LIMIT_PCT = 1.0


def _step(root: Path, n: int, hold_s: float) -> dict[str, Any]:
    mic = TESTDATA / "speech" / "speech_16k.wav"
    ident = fleet.Identity.fresh()
    server = ServerThread(ident.app_id, ident.app_cert)
    sim = root / f"n{n}"
    duts: list[Dut] = []
    try:
        duts = fleet.start_virtual(n, sim, mic, prefix="b", firmware=True)
        fleet.join_all(duts, str(sim / "ledger.sqlite3"), ident, lambda d: fleet.server_address(d, server.host),
                       server.port)
        pairs = [(duts[i], duts[i + 1]) for i in range(0, n - 1, 2)]
        for a, b in pairs:
            a.call("invite", to=b.uid)
        set_up = 0
        for a, b in pairs:
            try:
                for d in (a, b):
                    d.wait_status(lambda s: (s.get("media") or {}).get("first_audio_ms") is not None, 10,
                                  "in a call with audio")
                set_up += 1
            except TimeoutError:
                pass
        pids = [p for info in manager.list_devices(sim) if info.pid for p in _group_pids(info.pid)]
        c0, s0, t0 = _cpu_ticks(pids), os.times(), time.monotonic()
        before = {d.id: (d.call_status().get("media") or {}) for d in duts}
        time.sleep(hold_s)
        after = {d.id: (d.call_status().get("media") or {}) for d in duts}
        wall = time.monotonic() - t0
        cpu = (_cpu_ticks(pids) - c0) / CLK_TCK
        s1 = os.times()
        server_cpu = (s1.user + s1.system - s0.user - s0.system)

        def delta(key: str, side: str = "rx") -> int:
            return sum(int(after[d][side][key]) - int(before[d][side][key])
                       for d in after if after[d] and before[d] and side in after[d])

        received, late = delta("received"), delta("late")
        delays = [int(after[d]["rx"]["delay_ms"]) for d in after if after[d] and "rx" in after[d]]
        played, concealed = delta("played"), delta("concealed")
        overruns = sum(int(after[d].get("mic_overruns", 0)) - int(before[d].get("mic_overruns", 0))
                       for d in after if after[d] and before[d])
        for a, _ in pairs:
            try:
                a.call("hangup")
            except (OSError, RuntimeError, TimeoutError):
                pass
        return {"devices": n, "calls": len(pairs), "calls_set_up": set_up, "hold_s": round(wall, 2),
                "packets_received": received, "late_pct": round(100.0 * late / received, 3) if received else None,
                "concealed_pct": round(100.0 * concealed / played, 2) if played else None,
                "mic_overruns": overruns, "packets_per_device_s": round(received / n / wall, 1),
                "playout_delay_ms_median": sorted(delays)[len(delays) // 2] if delays else None,
                "playout_delay_ms_max": max(delays) if delays else None,
                "cpu_per_device_pct": round(100.0 * cpu / wall / n, 1),
                "server_cpu_pct": round(100.0 * server_cpu / wall, 1)}
    finally:
        fleet.stop(duts, sim)
        server.stop()


def run(json_out: bool, quick: bool = False) -> int:
    steps = (2, 4) if quick else STEPS
    hold = 5.0 if quick else HOLD_S
    rows: list[dict[str, Any]] = []
    best = 0
    with tempfile.TemporaryDirectory(prefix="edgecall-bench-hil-") as tmp:
        for n in steps:
            r = _step(Path(tmp), n, hold)
            r["ok"] = (r["calls_set_up"] == r["calls"] and r["late_pct"] is not None and r["late_pct"] < LATE_LIMIT_PCT
                       and r["concealed_pct"] is not None and r["concealed_pct"] < CONCEALED_LIMIT_PCT
                       and r["mic_overruns"] == 0)
            rows.append(r)
            if not json_out:
                print(json.dumps(r), flush=True)
            if not r["ok"]:
                break
            best = n
    cores = os.cpu_count() or 1
    unsaturated = [r for r in rows if r["devices"] * r["cpu_per_device_pct"] < 75.0 * cores]
    result = {"schema": 1, "bench": "hil", "cores": cores, "late_limit_pct": LATE_LIMIT_PCT,
              "concealed_limit_pct": CONCEALED_LIMIT_PCT, "max_devices_in_calls": best, "target": 16,
              "target_met": best >= 16, "steps": rows,
              "cpu_per_device_pct": unsaturated[-1]["cpu_per_device_pct"] if unsaturated else None,
              "cpu_per_device_pct_measured_at": unsaturated[-1]["devices"] if unsaturated else None}
    print(json.dumps(result, indent=2))
    return 0
