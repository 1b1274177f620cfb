"""A whole farm on one machine, for tests and `bench farm`: a labgrid coordinator here, and hosts
in network namespaces (`netns.Lab`), each running `edgecall sim export` with its virtual devkits
registered as places. Everything it starts ends with `close()`.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.farm import labgrid, netns
from host_tools.netaddr import free_port
from host_tools.paths import ROOT


@dataclass
class Exporter:
    host: netns.Host
    name: str
    proc: subprocess.Popen[str]
    info: dict[str, Any]  # export.json: exporter_pid, devices (id, pty, place)

    @property
    def places(self) -> list[str]:
        return [str(d["place"]) for d in self.info["devices"]]

    def kill(self) -> None:
        """SIGKILL to the labgrid exporter and its ser2net (its process group): the exporter dies
        mid-run the way a crashed daemon does; the devices stay powered."""
        os.killpg(int(self.info["exporter_pid"]), signal.SIGKILL)


class FarmLab:
    def __init__(self, hosts: int, work: Path, pool: str = "edgecall") -> None:
        self.work = work
        self.pool = pool
        self.lab = netns.Lab(hosts)
        self.port = free_port()
        self.coordinator: subprocess.Popen[bytes] | None = None
        self.exporters: dict[int, Exporter] = {}
        self._client: labgrid.Client | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FarmLab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.lab.start()
        cdir = self.work / "coordinator"
        cdir.mkdir(parents=True, exist_ok=True)
        # all addresses: here on loopback, and each host reaches it at its own gateway address
        self.coordinator = subprocess.Popen([str(labgrid.tool("labgrid-coordinator")), "-l", f"0.0.0.0:{self.port}"],
                                            cwd=cdir, stdout=open(cdir / "coordinator.log", "wb"),
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.coordinator.poll() is not None:
                    raise RuntimeError(f"labgrid-coordinator did not start (see {cdir / 'coordinator.log'})")
                time.sleep(0.2)

    def export(self, index: int, count: int, timeout: float = 120.0, **options: str) -> Exporter:
        """Starts host `index`'s exporter with `count` devkits; returns once its places exist."""
        host = self.lab.hosts[index]
        name = f"h{index}"
        sim = self.work / name
        sim.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT), EDGECALL_SIM_DIR=str(sim))
        cmd = [sys.executable, "-m", "host_tools", "sim", "export", "--count", str(count), "--coordinator",
               f"{host.gateway}:{self.port}", "--name", name, "--hostname", host.addr, "--pool", self.pool,
               "--prefix", "vdk", "--json", *[x for k, v in options.items() for x in (f"--{k}", v)]]
        proc = host.popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=open(sim / "export.err", "w"),
                          text=True, start_new_session=True)
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        if not line:
            raise RuntimeError(f"exporter {name} did not come up: {(sim / 'export.err').read_text()[-2000:]}")
        ex = Exporter(host, name, proc, json.loads(line))
        self.exporters[index] = ex
        return ex

    def client(self) -> labgrid.Client:
        """The lab's own labgrid client (one session, kept until close)."""
        if self._client is None:
            self._client = labgrid.Client(self.address, user="edgecall-lab")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        for ex in self.exporters.values():
            if ex.proc.poll() is None:
                ex.proc.send_signal(signal.SIGTERM)
        for ex in self.exporters.values():
            try:
                ex.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(ex.proc.pid, signal.SIGKILL)
        if self.coordinator is not None and self.coordinator.poll() is None:
            os.killpg(self.coordinator.pid, signal.SIGTERM)
            try:
                self.coordinator.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.coordinator.pid, signal.SIGKILL)
        self.lab.stop()  # also ends whatever was left inside the hosts
        for ex in self.exporters.values():
            shutil.rmtree(self.work / ex.name, ignore_errors=True)  # devkit flash: MBs each
