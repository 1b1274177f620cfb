"""The provisioning ledger on SQLite and PostgreSQL: the state machine, idempotent steps, refusal
of a second provisioning, the hash-chained audit log (and tamper detection), and concurrent
stations that never duplicate or lose a record."""
from __future__ import annotations

import multiprocessing as mp
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.ledger.db import LedgerConnectError, redact
from host_tools.ledger.ledger import AlreadyProvisioned, Claims, Ledger, LedgerError
from host_tools.ledger.pgserver import TempPostgres

CLAIMS = Claims("970CA35de60c44645bbae8a215061b33", "room", "1001")


def h(i: int) -> str:
    return f"{i:064x}"


@pytest.fixture(scope="module")
def pg() -> Iterator[TempPostgres]:
    with TempPostgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite3")
    server: TempPostgres = request.getfixturevalue("pg")
    import psycopg

    db = f"t{random.randrange(1 << 30)}"
    with psycopg.connect(server.url, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {db}")
    return server.url.rsplit("/", 1)[0] + "/" + db


def provision(led: Ledger, dev: str, token: str, batch: str = "b1") -> None:
    led.reserve(dev, batch, CLAIMS, token, 1000, 2000)
    for state in ("written", "verified", "committed"):
        led.advance(dev, batch, state, token)


def test_state_machine_and_chain(url: str) -> None:
    led = Ledger(url, "st1")
    provision(led, "dev-a", h(1))
    rec = led.get("dev-a", "b1")
    assert rec is not None and rec.state == "committed" and rec.token_sha256 == h(1)
    # idempotent: repeating a step changes nothing and logs nothing
    n = len(led.audit())
    led.advance("dev-a", "b1", "verified", h(1))
    led.advance("dev-a", "b1", "committed", h(1))
    assert len(led.audit()) == n
    with pytest.raises(LedgerError, match="not the one reserved"):
        led.advance("dev-a", "b1", "committed", h(2))
    with pytest.raises(AlreadyProvisioned):
        led.reserve("dev-a", "b1", CLAIMS, h(3), 1000, 2000)
    led.reserve("dev-a", "b1", CLAIMS, h(3), 1000, 2000, reprovision_reason="board RMA #17")
    assert led.audit()[-1]["event"] == "reprovision" and "RMA #17" in str(led.audit()[-1]["detail"])
    with pytest.raises(LedgerError, match="cannot go from reserved to committed"):
        led.advance("dev-a", "b1", "committed", h(3))
    assert led.verify_chain() == (True, len(led.audit()), "ok")
    led.close()
    again = Ledger(url, "st2")  # migrations are applied once
    assert again.get("dev-a", "b1") is not None
    again.close()


def test_unfinished_reservation_is_replaced(url: str) -> None:
    led = Ledger(url, "st1")
    led.reserve("dev-b", "b1", CLAIMS, h(5), 1000, 2000)
    led.advance("dev-b", "b1", "written", h(5))
    led.reserve("dev-b", "b1", CLAIMS, h(6), 1000, 2000)  # the station crashed; a new token
    assert led.get("dev-b", "b1").state == "reserved"  # type: ignore[union-attr]
    assert led.audit()[-1]["event"] == "re-reserved"
    led.close()


def test_tampering_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    led = Ledger(str(path), "st1")
    for i in range(5):
        provision(led, f"dev-{i}", h(i))
    assert led.verify_chain()[0]
    led.close()
    con = sqlite3.connect(path)
    con.execute("UPDATE audit SET detail = 'tampered' WHERE seq = 7")
    con.commit()
    con.close()
    ok, n, why = Ledger(str(path), "st1").verify_chain()
    assert not ok and n == 6 and "entry 7" in why


def _station(url: str, name: str, devices: list[str], seed: int) -> None:
    led = Ledger(url, name)
    order = list(devices)
    random.Random(seed).shuffle(order)
    for dev in order:
        token = h(abs(hash((name, dev))) % (1 << 200))
        try:
            led.reserve(dev, "batch-1", CLAIMS, token, 1000, 2000)
        except AlreadyProvisioned:
            continue
        try:
            for state in ("written", "verified", "committed"):
                led.advance(dev, "batch-1", state, token)
        except LedgerError:
            continue  # another station re-reserved it; that station finishes it
    led.close()


def run_stations(url: str, stations: int, count: int) -> None:
    Ledger(url, "setup").close()
    devices = [f"dev-{i:04d}" for i in range(count)]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_station, args=(url, f"st{i}", devices, i)) for i in range(stations)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    led = Ledger(url, "check")
    recs = led.records()
    assert len(recs) == count  # zero lost, zero duplicated (primary key)
    for r in recs:  # a station that lost a race mid-way left it for another: finishing converges
        if r.state != "committed":
            for state in ("written", "verified", "committed"):
                led.advance(r.device_uid, r.batch, state, r.token_sha256)
    assert all(r.state == "committed" for r in led.records())
    assert led.verify_chain()[0]
    led.close()


def test_two_processes_share_a_sqlite_ledger(tmp_path: Path) -> None:
    run_stations(str(tmp_path / "shared.sqlite3"), stations=2, count=120)


def test_eight_stations_share_a_postgresql_ledger(pg: TempPostgres) -> None:
    run_stations(pg.url, stations=8, count=200)


def test_cli_verify_and_export(tmp_path: Path) -> None:
    import csv
    import io
    import json
    import os
    import subprocess
    import sys

    from host_tools.paths import ROOT

    path = tmp_path / "cli.sqlite3"
    led = Ledger(str(path), "st1")
    provision(led, "dev-x", h(9))
    led.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "host_tools", "ledger", *args, "--ledger", str(path)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)

    v = run("verify", "--json")
    assert v.returncode == 0 and json.loads(v.stdout) == {"ok": True, "entries": 4, "detail": "ok"}
    rows = list(csv.DictReader(io.StringIO(run("export", "--format", "csv").stdout)))
    assert [(r["device_uid"], r["state"], r["token_sha256"]) for r in rows] == [("dev-x", "committed", h(9))]
    j = json.loads(run("export", "--format", "json", "--audit").stdout)
    assert [e["event"] for e in j["audit"]] == ["reserved", "written", "verified", "committed"]
    con = sqlite3.connect(path)
    con.execute("DELETE FROM audit WHERE seq = 2")
    con.commit()
    con.close()
    bad = run("verify")
    assert bad.returncode == 1 and "BROKEN" in bad.stderr


def test_postgresql_connect_errors_say_what_failed_and_hide_the_password() -> None:
    import socket

    assert redact("postgresql://st:s3cret@db.example:5432/ledger") == "postgresql://st:***@db.example:5432/ledger"
    assert redact("postgresql://st@db.example/ledger") == "postgresql://st@db.example/ledger"
    with TempPostgres(password="right-pw") as server:
        Ledger(server.url, "st1").close()
        with pytest.raises(LedgerConnectError) as refused:
            Ledger(server.url.replace("right-pw", "wrong-pw"), "st1")
        assert refused.value.refused and "password authentication failed" in str(refused.value)
        assert "wrong-pw" not in str(refused.value) and "postgres:***@127.0.0.1" in str(refused.value)
        with pytest.raises(LedgerConnectError) as no_password:
            Ledger(server.url.replace(":right-pw", ""), "st1")
        assert no_password.value.refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(LedgerConnectError) as down:
        Ledger(f"postgresql://postgres:pw@127.0.0.1:{port}/postgres", "st1")
    assert not down.value.refused and "could not be reached" in str(down.value) and ":pw@" not in str(down.value)
