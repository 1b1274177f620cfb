"""Provisioning virtual devkits end to end: the CLI, the SQLite/PostgreSQL ledger and the device's
storage agree after every kind of interruption — the station killed after each step, the serial
link dropped, the device's power cut mid-provisioning — and re-running converges to exactly one
committed, valid token per device. The app certificate never shows in output, ledger or logs."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.device.console import DeviceConsole
from tests.devkits import device_token as read_token, devkits
from host_tools.device.resolve import resolve
from host_tools.ledger.ledger import Ledger
from host_tools.ledger.pgserver import TempPostgres
from host_tools.paths import ROOT
from host_tools.sim import manager
from host_tools.token import accesstoken2 as at
from host_tools.transport import open_port

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
DEVICES = ["prov1", "prov2", "prov3", "prov4"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("sim")
    work = tmp_path_factory.mktemp("station")
    cert = work / "cert"
    cert.write_text(CERT)
    e = {**os.environ, "PYTHONPATH": str(ROOT), "EDGECALL_SIM_DIR": str(root), "EDGECALL_APP_ID": APP,
         "CERT_FILE": str(cert), "LEDGER": str(work / "ledger.sqlite3")}
    e.pop("EDGECALL_APP_CERT", None)
    with devkits(root, DEVICES):
        yield e


def provision(env: dict[str, str], device: str, *extra: str, failpoint: str = "", ledger: str | None = None,
              batch: str = "b1") -> subprocess.CompletedProcess[str]:
    e = {**env, "EDGECALL_FAILPOINT": failpoint}
    cmd = [sys.executable, "-m", "host_tools", "provision", "--device", device, "--channel", "room", "--uid-from-serial",
           "--ttl", "3600", "--batch", batch, "--app-cert-file", env["CERT_FILE"], "--ledger", ledger or env["LEDGER"], "--json", *extra]
    return subprocess.run(cmd, cwd=ROOT, env=e, capture_output=True, text=True, timeout=120)


def device_token(device: str) -> str | None:
    return read_token(resolve(None, device).port)


def wait_app(device: str) -> DeviceConsole:
    t = resolve(None, device)
    tr = open_port(t.port, ignore_pids=t.allowed_holders)
    dev = DeviceConsole(tr)
    dev.wait_ready(30)
    return dev


def agree(env: dict[str, str], device: str, ledger: str | None = None) -> None:
    """Exactly one committed record for the device; the device holds that very token; it verifies."""
    dev = wait_app(device)
    try:
        uid = dev.info()["uid"]
        held = dev.provisioning()
    finally:
        dev.smp.transport.close()  # type: ignore[attr-defined]
    led = Ledger(ledger or env["LEDGER"], "check")
    try:
        committed = [r for r in led.committed(uid)]
        assert led.verify_chain()[0]
    finally:
        led.close()
    assert len(committed) == 1, committed
    assert held["state"] == "provisioned" and held["digest"] == committed[0].token_sha256
    token = device_token(device)
    assert token is not None and at.token_hash(token) == committed[0].token_sha256
    assert at.verify(token, CERT.encode(), channel="room", uid=f"dev-{uid}").valid


def test_provision_is_idempotent_and_refuses_a_second_batch(env: dict[str, str]) -> None:
    p = provision(env, "prov1")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["results"][0]["action"] == "provisioned"
    agree(env, "prov1")
    again = provision(env, "prov1")
    assert again.returncode == 0 and json.loads(again.stdout)["results"][0]["action"] == "already"
    other = provision(env, "prov1", batch="b2")
    assert other.returncode == 1 and "already holds a token" in json.loads(other.stdout)["results"][0]["error"]
    re = provision(env, "prov1", "--reprovision", "RMA 42: board swapped", batch="b1")
    assert re.returncode == 0, re.stdout + re.stderr
    led = Ledger(env["LEDGER"], "check")
    assert any("RMA 42" in str(e["detail"]) for e in led.audit())
    led.close()
    agree(env, "prov1")
    status = subprocess.run([sys.executable, "-m", "host_tools", "provision", "status", "--device", "prov1", "--ledger",
                             env["LEDGER"], "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and json.loads(status.stdout)["agree"]


@pytest.mark.parametrize("step", ["reserved", "written", "verified"])
def test_station_killed_after_each_step_converges(env: dict[str, str], step: str) -> None:
    device = {"reserved": "prov2", "written": "prov3", "verified": "prov4"}[step]
    killed = provision(env, device, failpoint=f"kill:{step}")
    assert killed.returncode == 137
    rerun = provision(env, device)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    action = json.loads(rerun.stdout)["results"][0]["action"]
    assert action == ("provisioned" if step == "reserved" else "resumed")
    agree(env, device)


def test_dropped_link_then_rerun_converges(env: dict[str, str]) -> None:
    dropped = provision(env, "prov2", failpoint="disconnect:store", batch="link")
    assert dropped.returncode in (1, 3)
    rerun = provision(env, "prov2", "--reprovision", "rerun after a dropped link", batch="link")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    led = Ledger(env["LEDGER"], "check")
    uid = [r.device_uid for r in led.records() if r.batch == "link"][0]
    led.close()
    dev = wait_app("prov2")
    try:
        assert dev.provisioning()["digest"] == [r for r in Ledger(env["LEDGER"], "c").records() if r.batch == "link"][0].token_sha256
    finally:
        dev.smp.transport.close()  # type: ignore[attr-defined]
    assert uid


def test_power_cut_mid_provisioning_converges(env: dict[str, str], tmp_path: Path) -> None:
    ledger = str(tmp_path / "cuts.sqlite3")
    rng = random.Random(7)
    for i in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "host_tools", "provision", "--device", "prov3", "--channel", "room",
                                 "--uid-from-serial", "--ttl", "3600", "--batch", f"cut{i}", "--reprovision", "power-cut test",
                                 "--app-cert-file", env["CERT_FILE"], "--ledger", ledger, "--json"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.05, 0.6))
        manager.power_cut("prov3")
        proc.communicate(timeout=60)
        manager.start(ids=["prov3"])
        rerun = provision(env, "prov3", "--reprovision", "power-cut test", ledger=ledger, batch=f"cut{i}")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        dev = wait_app("prov3")
        try:
            held = dev.provisioning()["digest"]
        finally:
            dev.smp.transport.close()  # type: ignore[attr-defined]
        led = Ledger(ledger, "c")
        rec = led.get([r.device_uid for r in led.records()][0], f"cut{i}")
        led.close()
        assert rec is not None and rec.state == "committed" and rec.token_sha256 == held


def test_stations_in_parallel_share_a_postgresql_ledger(env: dict[str, str]) -> None:
    with TempPostgres() as pg:
        procs = [subprocess.Popen([sys.executable, "-m", "host_tools", "provision", "--device", d, "--channel", "room",
                                   "--uid-from-serial", "--ttl", "3600", "--batch", "pg", "--reprovision", "pg station test",
                                   "--app-cert-file", env["CERT_FILE"], "--ledger", pg.url, "--json"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for d in DEVICES]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, out + err
        for d in DEVICES:
            agree(env, d, ledger=pg.url)


def test_certificate_appears_nowhere(env: dict[str, str]) -> None:
    p = provision(env, "prov1")
    bad = subprocess.run([sys.executable, "-m", "host_tools", "provision", "--device", "nosuch", "--channel", "room",
                          "--uid-from-serial", "--ttl", "60", "--app-cert-file", env["CERT_FILE"], "--ledger", env["LEDGER"]],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    export = subprocess.run([sys.executable, "-m", "host_tools", "ledger", "export", "--format", "json", "--audit",
                             "--ledger", env["LEDGER"]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    dev = wait_app("prov1")
    try:
        log = json.dumps(dev.log())
    finally:
        dev.smp.transport.close()  # type: ignore[attr-defined]
    haystacks = [p.stdout, p.stderr, bad.stdout, bad.stderr, export.stdout, log, Path(env["LEDGER"]).read_bytes().decode("latin-1")]
    sim_logs = [f.read_text(errors="replace") for f in Path(env["EDGECALL_SIM_DIR"]).rglob("*.log")]
    for text in haystacks + sim_logs:
        assert CERT not in text
