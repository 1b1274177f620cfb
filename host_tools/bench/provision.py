"""`edgecall bench provision`: devices provisioned per minute by one station on virtual devkits
(edgecall provision --all-sims, SQLite ledger), and the ledger's commit latency (one write
transaction: a reservation or a state step, with its audit entry) p50/p95 on SQLite and on a
PostgreSQL server started for the run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host_tools.ledger.ledger import Claims, Ledger
from host_tools.ledger.pgserver import TempPostgres
from host_tools.paths import ROOT
from host_tools.sim import manager

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"  # a bench-only certificate, not a secret


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def ledger_latency(url: str, n: int) -> dict[str, float]:
    led = Ledger(url, "bench")
    times: list[float] = []
    try:
        for i in range(n):
            dev, tok = f"bench-{os.getpid()}-{i}", f"{i:064x}"
            t0 = time.perf_counter()
            led.reserve(dev, "bench", Claims(APP, "room", "1"), tok, 0, 3600)
            times.append(time.perf_counter() - t0)
            for state in ("written", "verified", "committed"):
                t0 = time.perf_counter()
                led.advance(dev, "bench", state, tok)
                times.append(time.perf_counter() - t0)
    finally:
        led.close()
    return {"transactions": len(times), "p50_ms": round(_pct(times, 50) * 1000, 2), "p95_ms": round(_pct(times, 95) * 1000, 2)}


def station_rate(devices: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="edgecall-bench-prov-"))
    root = work / "sim"
    cert = work / "cert"
    cert.write_text(CERT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGECALL_SIM_DIR": str(root), "EDGECALL_APP_ID": APP}
    ids = [f"bp{i}" for i in range(devices)]
    manager.start(ids=ids, root=root, blank=True, factory_image=manager.factory_image())
    try:
        cmd = [sys.executable, "-m", "host_tools", "provision", "--all-sims", "--channel", "room", "--uid-from-serial",
               "--ttl", "3600", "--app-cert-file", str(cert), "--ledger", str(work / "ledger.sqlite3"), "--json"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - t0
    finally:
        manager.stop_all(root)
    results = json.loads(p.stdout)["results"] if p.stdout.strip() else []
    ok = sum(1 for r in results if r.get("ok"))
    return {"devices": devices, "provisioned": ok, "seconds": round(elapsed, 2),
            "devices_per_minute": round(ok / elapsed * 60, 1), "includes": "process start, ledger open, per device: info, state, store, read back"}


def run(json_out: bool, quick: bool = False) -> int:
    n_dev, n_tx = (4, 50) if quick else (12, 200)
    rate = station_rate(n_dev)
    with tempfile.TemporaryDirectory() as d:
        lite = ledger_latency(str(Path(d) / "l.sqlite3"), n_tx)
    with TempPostgres() as pg:
        pgl = ledger_latency(pg.url, n_tx)
    result = {"schema": 1, "bench": "provision", "station": rate, "ledger_commit": {"sqlite": lite, "postgresql": pgl},
              "targets": [{"name": "devices_per_minute_one_station", "value": rate["devices_per_minute"], "target": 60,
                           "met": rate["devices_per_minute"] >= 60}]}
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        from rich.console import Console

        c = Console()
        c.print(f"one station: {rate['provisioned']}/{rate['devices']} devices in {rate['seconds']} s = {rate['devices_per_minute']} per minute")
        for name, v in result["ledger_commit"].items():
            c.print(f"ledger commit on {name}: p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms ({v['transactions']} transactions)")
    return 0
