"""`edgecall hil run`: the whole job. Start the devices (virtual devkits, or boards by --port),
build and flash the firmware, provision tokens through the station (SQLite ledger in the run's
folder, build/hil/runs/<time>-<pid>), start the channel server (100 ms signalling round trip,
impairment per scenario), run the scenarios, write the JSON, JUnit and HTML reports, stop
everything. Exit 0 only if every scenario passed.

The microphones play the speech corpus (host_tools/hil/mics.py; its clips are written into the
run's folder, mic/) unless a --mic file is given.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from host_tools.channel.thread import ServerThread
from host_tools import netaddr
from host_tools.hil import fleet, report, scenarios
from host_tools.hil.cli import OUT
from host_tools.hil.dut import Dut
from host_tools import __version__ as VERSION

SIGNAL_RTT_MS = 100.0


@dataclass
class RunConfig:
    devices: int = 2
    ports: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)  # scenario globs; empty: the standard suite
    opts: scenarios.Options = field(default_factory=scenarios.Options)
    mic: Path | None = None  # what both microphones play; None: the speech corpus (scenarios, mics.py)
    json_out: Path = OUT / "report.json"
    html_out: Path = OUT / "report.html"
    junit_out: Path = OUT / "report.xml"
    work: Path | None = None  # default: build/hil/runs/<time>-<pid> (runs may go on side by side)
    server_host: str | None = None  # boards by --port: the address they reach this machine by
    command: str = "edgecall hil run"


def _select(suite: list[tuple[str, scenarios.Scenario]], globs: list[str]) -> list[tuple[str, scenarios.Scenario]]:
    if not globs:
        return suite
    names = [n for n, _ in suite]
    unknown = [g for g in globs if not fnmatch.filter(names, g)]
    if unknown:
        raise ValueError(f"no scenario matches {', '.join(unknown)}; the scenarios are: {', '.join(names)}")
    return [(n, f) for n, f in suite if any(fnmatch.fnmatch(n, g) for g in globs)]


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"p50": None, "p95": None, "samples": []}
    a = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1),
            "samples": [round(v, 1) for v in values]}


class Run:
    def __init__(self, cfg: RunConfig, log: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.log = log
        self.duts: list[Dut] = []
        self.server: ServerThread | None = None
        self.sim_root: Path | None = None
        self.results: list[dict[str, Any]] = []
        self.heap: dict[str, dict[float, int]] = {}
        self.versions: dict[str, dict[str, str]] = {}  # per device: firmware version, machine, MicroPython build
        self.t0 = time.time()

    # ---- set-up and tear-down ----
    def setup(self) -> scenarios.Context:
        cfg = self.cfg
        if cfg.mic is not None and not cfg.mic.is_file():
            raise FileNotFoundError(f"microphone file {cfg.mic} not found")
        if cfg.work is None:
            cfg.work = OUT / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        cfg.work.mkdir(parents=True, exist_ok=True)
        ident = fleet.Identity.fresh()
        # Boards reach the server over their network: it listens on every address of this machine.
        self.server = ServerThread(ident.app_id, ident.app_cert, host="0.0.0.0" if cfg.ports else "127.0.0.1",
                                   signal_rtt_ms=SIGNAL_RTT_MS, expiry_notice=8.0, seed=cfg.opts.seed)
        self.log(f"channel server on {self.server.host}:{self.server.port} (signalling RTT {SIGNAL_RTT_MS:.0f} ms)")
        if cfg.ports:
            self.duts = fleet.boards(cfg.ports)
        else:
            self.sim_root = cfg.work / "sim"
            if self.sim_root.exists():
                fleet.manager.stop_all(self.sim_root)
                shutil.rmtree(self.sim_root)
            self.duts = fleet.start_virtual(cfg.devices, self.sim_root, mic=cfg.mic)
            self.log(f"started {len(self.duts)} virtual devkits: {', '.join(d.id for d in self.duts)}")
        img = fleet.build_image(cfg.work)
        self.log(f"built {img.name}")
        fleet.flash_all(self.duts, img, self.log, fresh=not cfg.ports)
        ledger = str(cfg.work / "ledger.sqlite3")
        host = self.server.host if not cfg.ports else cfg.server_host or netaddr.default_address()
        for p in fleet.join_all(self.duts, ledger, ident, lambda d: fleet.server_address(d, host), self.server.port,
                                codec=cfg.opts.codec):
            self.log(f"{p['device']}: {p['action']} as {p['uid']}")
        for d in self.duts:
            self.versions[d.id] = fleet.identity(d)
        return scenarios.Context(self.duts, self.server, ident, ledger, cfg.mic, self.sim_root, cfg.opts, self.log,
                                 t0=self.t0, mic_folder=cfg.work / "mic")

    def teardown(self) -> None:
        fleet.stop(self.duts, self.sim_root)
        if self.sim_root is not None:
            shutil.rmtree(self.sim_root, ignore_errors=True)  # flash images and recordings: MBs a run
        if self.cfg.work is not None:
            shutil.rmtree(self.cfg.work / "mic", ignore_errors=True)  # copies of the corpus's clips
        if self.server is not None:
            self.server.stop()

    # ---- scenarios ----
    def _collect_heap(self) -> None:
        for d in self.duts:
            try:
                now = time.time()
                info = d.info()
                hist = d.request("stats").get("heap_history", [])
            except (OSError, RuntimeError, TimeoutError):
                continue
            up = int(info["uptime_ms"])
            series = self.heap.setdefault(d.id, {})
            for t_ms, used in hist:
                series[round(now - (up - int(t_ms)) / 1000.0 - self.t0, 1)] = int(used)

    def run_one(self, ctx: scenarios.Context, name: str, fn: scenarios.Scenario, devices: list[str]) -> dict[str, Any]:
        self.log(f"▶ {name}")
        t = time.monotonic()
        entry: dict[str, Any] = {"name": name, "devices": devices, "passed": False, "error": None, "metrics": {},
                                 "diagnostics": None}
        try:
            entry["metrics"] = fn(ctx)
            entry["passed"] = True
        except scenarios.ScenarioSkipped as e:
            entry["passed"], entry["skipped"] = True, str(e)
        except Exception as e:  # noqa: BLE001 - every failure is reported, with its bundle
            entry["error"] = f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e)
            if isinstance(e, scenarios.ScenarioFailed):
                entry["metrics"] = e.metrics  # what was measured before the verdict
            entry["traceback"] = traceback.format_exc(limit=6)
            entry["diagnostics"] = {d.id: d.bundle() for d in self.duts}
        entry["duration_s"] = round(time.monotonic() - t, 2)
        self._collect_heap()
        verdict = "skipped" if entry.get("skipped") else "passed" if entry["passed"] else "FAILED"
        self.log(f"  {verdict} in {entry['duration_s']:.1f} s"
                 + (f": {entry['error'] or entry.get('skipped')}" if entry["error"] or entry.get("skipped") else ""))
        return entry

    def execute(self) -> dict[str, Any]:
        suite = _select(scenarios.standard(self.cfg.opts), self.cfg.only)
        ctx: scenarios.Context | None = None
        try:
            t = time.monotonic()
            try:
                ctx = self.setup()
                self.results.append({"name": "setup", "passed": True, "devices": [d.id for d in self.duts],
                                     "duration_s": round(time.monotonic() - t, 2), "error": None, "metrics": {},
                                     "diagnostics": None})
            except Exception as e:  # noqa: BLE001
                self.results.append({"name": "setup", "passed": False, "devices": [d.id for d in self.duts],
                                     "duration_s": round(time.monotonic() - t, 2), "error": f"{type(e).__name__}: {e}",
                                     "traceback": traceback.format_exc(limit=8), "metrics": {},
                                     "diagnostics": {d.id: d.bundle() for d in self.duts} if self.duts else None})
                self.log(f"set-up FAILED: {e}")
            if ctx is not None:
                for name, fn in suite:
                    needs = [d.id for d in self.duts[:1]] if name == "serial-stress" else [d.id for d in self.duts[:2]]
                    self.results.append(self.run_one(ctx, name, fn, needs))
        finally:
            self.teardown()
        return self.result(ctx)

    def result(self, ctx: scenarios.Context | None) -> dict[str, Any]:
        metrics: dict[str, Any] = {"join_ms": _percentiles([]), "first_audio_ms": _percentiles([]), "pesq_wb": {},
                                   "stoi": {}, "netstack_pesq_wb": {}, "call_success": {}}
        series: dict[str, Any] = {"jb": {}, "heap": {}}
        if ctx is not None:
            metrics.update({"join_ms": _percentiles(ctx.join_ms), "first_audio_ms": _percentiles(ctx.first_audio_ms),
                            "pesq_wb": ctx.pesq_wb, "stoi": ctx.stoi, "netstack_pesq_wb": ctx.netstack_pesq_wb,
                            "call_success": ctx.call_success, "codec": ctx.codec, "speech": ctx.speech,
                            "signal_rtt_ms": SIGNAL_RTT_MS,
                            **ctx.extra})
            series["jb"] = ctx.jb_series
        series["heap"] = {dev: [[t, v] for t, v in sorted(pts.items())] for dev, pts in self.heap.items()}
        devices = []
        for d in self.duts:
            devices.append({"id": d.id, "kind": d.kind, "arch": d.arch, "port": d.port, "uid": d.uid,
                            **self.versions.get(d.id, {})})
        return {
            "schema": report.SCHEMA, "tool": "edgecall hil", "version": VERSION,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.t0)),
            "duration_s": round(time.time() - self.t0, 1), "command": self.cfg.command,
            "passed": bool(self.results) and all(r["passed"] for r in self.results),
            "devices": devices, "scenarios": self.results, "metrics": metrics, "series": series,
        }


def run(cfg: RunConfig, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Runs and writes the three reports; returns the result."""
    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    result = Run(cfg, log or say).execute()
    for path, write in ((cfg.json_out, report.write_json), (cfg.junit_out, report.write_junit),
                        (cfg.html_out, report.write_html)):
        path.parent.mkdir(parents=True, exist_ok=True)
        write(result, path)
    return result
