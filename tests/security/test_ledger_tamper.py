"""Issue 17, item 7: `edgecall ledger verify` catches every edit of a ledger, on SQLite and on
PostgreSQL — an audit entry rewritten with its chain recomputed (without the ledger key), a
provisioning row changed, added or deleted behind the chain's back, the audit log's tail cut off
together with the rows it described (caught against the head a station run or an export printed
before), a database sealed with another key. A `--ledger` path that does not exist is an error
(nothing is created); a file that is not a database is a one-line error. Real databases, the real
CLI, and one real station run on a virtual devkit for the anchor it writes."""
from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools.ledger.key import LedgerKeyError
from host_tools.ledger.ledger import GENESIS, Claims, Ledger
from host_tools.ledger.pgserver import TempPostgres
from host_tools.paths import ROOT

CLAIMS = Claims("970CA35de60c44645bbae8a215061b33", "room", "1001")
Sql = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


def h(i: int) -> str:
    return f"{i:064x}"


@pytest.fixture(scope="module")
def pg() -> Iterator[TempPostgres]:
    with TempPostgres() as server:
        yield server


@pytest.fixture()
def keyenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A key file of this test's own (created on first use by the ledger)."""
    monkeypatch.delenv("EDGECALL_LEDGER_KEY", raising=False)
    monkeypatch.setenv("EDGECALL_LEDGER_KEY_FILE", str(tmp_path / "ledger.key"))
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, keyenv: dict[str, str]) -> tuple[str, Sql]:
    """A ledger URL with three devices provisioned, and a way to run SQL on it behind its back."""
    if request.param == "sqlite":
        url = str(tmp_path / "ledger.sqlite3")

        def sql(stmt: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
            con = sqlite3.connect(url)
            try:
                rows = con.execute(stmt, params).fetchall()
                con.commit()
                return rows
            finally:
                con.close()
    else:
        import psycopg

        server: TempPostgres = request.getfixturevalue("pg")
        db = f"t{random.randrange(1 << 30)}"
        with psycopg.connect(server.url, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {db}")
        url = server.url.rsplit("/", 1)[0] + "/" + db

        def sql(stmt: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
            with psycopg.connect(url, autocommit=True) as c:
                cur = c.execute(stmt.replace("?", "%s"), params)  # type: ignore[arg-type]
                return [tuple(r) for r in cur.fetchall()] if cur.description else []
    led = Ledger(url, "st1")
    for i in range(3):
        led.reserve(f"dev-{i}", "b1", CLAIMS, h(i), 1000, 2000)
        for state in ("written", "verified", "committed"):
            led.advance(f"dev-{i}", "b1", state, h(i))
    led.log_failure("dev-9", "b1", "write", "the device refused the record")
    led.close()
    return url, sql


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "host_tools", "ledger", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def verify(env: dict[str, str], url: str, *extra: str) -> tuple[int, dict[str, Any]]:
    p = cli(env, "verify", "--ledger", url, "--json", *extra)
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else {"stderr": p.stderr}


def body(row: tuple[Any, ...]) -> str:
    seq, ts, station, dev, batch, event, detail, row_json = row
    entry = {"seq": seq, "ts": ts, "station": station, "device_uid": dev, "batch": batch, "event": event,
             "detail": detail, "row": row_json}
    return json.dumps(entry, sort_keys=True, separators=(",", ":"))


def test_an_intact_ledger_verifies(ledger: tuple[str, Sql], keyenv: dict[str, str]) -> None:
    url, _ = ledger
    rc, out = verify(keyenv, url)
    assert (rc, out) == (0, {"ok": True, "entries": 13, "detail": "ok"})


def test_an_entry_rewritten_with_its_chain_recomputed_is_caught(ledger: tuple[str, Sql], keyenv: dict[str, str]) -> None:
    url, sql = ledger
    rows = sql("SELECT seq, ts, station, device_uid, batch, event, detail, row_json FROM audit ORDER BY seq", ())
    forged = dict(json.loads(rows[4][7]), token_sha256=h(77))  # entry 5 (dev-1 reserved): another token
    sql("UPDATE provisioning SET token_sha256 = ? WHERE device_uid = 'dev-1'", (h(77),))
    prev = GENESIS
    for i, r in enumerate(rows):  # the whole chain recomputed, as the unkeyed chain allowed
        if i == 4:
            r = (*r[:6], f"token {h(77)}", json.dumps(forged, sort_keys=True, separators=(",", ":")))
        digest = hashlib.sha256((prev + body(r)).encode()).hexdigest()
        sql("UPDATE audit SET detail = ?, row_json = ?, prev_hash = ?, hash = ? WHERE seq = ?", (r[6], r[7], prev, digest, r[0]))
        prev = digest
    rc, out = verify(keyenv, url)
    assert rc == 1 and not out["ok"] and out["entries"] == 0 and "entry 1" in out["detail"], out


@pytest.mark.parametrize("edit", ["update", "insert", "delete"])
def test_a_row_changed_behind_the_chain_is_reported(ledger: tuple[str, Sql], keyenv: dict[str, str], edit: str) -> None:
    url, sql = ledger
    if edit == "update":
        sql("UPDATE provisioning SET state = 'reserved', uid = 'intruder' WHERE device_uid = 'dev-2'", ())
        want = "row dev-2/b1 differs from the audit chain: state is 'reserved' in the table, 'committed' in the chain"
    elif edit == "insert":
        sql("INSERT INTO provisioning (device_uid, batch, state, app_id, channel, uid, token_sha256, issued_at, expires_at, "
            "station, updated_at) VALUES ('dev-x', 'b1', 'committed', 'a', 'room', '5', ?, 1, 2, 'st1', 3)", (h(5),))
        want = "row dev-x/b1: in the table but not in the audit chain"
    else:
        sql("DELETE FROM provisioning WHERE device_uid = 'dev-0'", ())
        want = "row dev-0/b1: in the audit chain but missing from the table"
    rc, out = verify(keyenv, url)
    assert rc == 1 and out["entries"] == 13 and any(p.startswith(want) for p in out["problems"]), out
    human = cli(keyenv, "verify", "--ledger", url)
    assert human.returncode == 1 and "BROKEN" in human.stderr and want[:20] in human.stderr


def test_a_tail_cut_off_with_its_rows_is_caught_by_the_anchor(ledger: tuple[str, Sql], keyenv: dict[str, str],
                                                              tmp_path: Path) -> None:
    url, sql = ledger
    anchor = tmp_path / "anchor.jsonl"
    exported = cli(keyenv, "export", "--ledger", url, "--format", "json", "--anchor", str(anchor))
    assert exported.returncode == 0, exported.stderr
    head = json.loads(exported.stdout)["head"]
    assert head["entries"] == 13 and len(head["hash"]) == 64
    assert json.loads(anchor.read_text().splitlines()[-1])["hash"] == head["hash"]
    # dev-2's provisioning (entries 9-12) and the failure after it (13) go, with dev-2's row
    sql("DELETE FROM audit WHERE seq >= 9", ())
    sql("DELETE FROM provisioning WHERE device_uid = 'dev-2'", ())
    assert verify(keyenv, url)[0] == 0  # consistent in itself: only a head kept elsewhere tells
    rc, out = verify(keyenv, url, "--head", f"{head['entries']}:{head['hash']}")
    assert rc == 1 and "does not reach the anchored head" in out["detail"], out
    rc, out = verify(keyenv, url, "--anchor", str(anchor))
    assert rc == 1 and "does not reach the anchored head" in out["detail"], out
    rc, out = verify(keyenv, url, "--head", "00" * 32)
    assert rc == 1


def test_another_key_is_refused_and_a_lost_key_is_not_recreated(ledger: tuple[str, Sql], keyenv: dict[str, str],
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, sql = ledger
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    p = cli({**keyenv, "EDGECALL_LEDGER_KEY_FILE": str(other)}, "verify", "--ledger", url)
    assert p.returncode == 2 and "sealed with another key" in p.stderr and "Traceback" not in p.stderr
    entries = sql("SELECT COUNT(*) FROM audit", ())
    monkeypatch.setenv("EDGECALL_LEDGER_KEY_FILE", str(other))  # a station with that key writes nothing
    with pytest.raises(LedgerKeyError, match="sealed with another key"):
        Ledger(url, "st2")
    assert sql("SELECT COUNT(*) FROM audit", ()) == entries
    missing = tmp_path / "gone.key"
    p = cli({**keyenv, "EDGECALL_LEDGER_KEY_FILE": str(missing)}, "verify", "--ledger", url)
    assert p.returncode == 2 and "no ledger key" in p.stderr and not missing.exists()


def test_bad_ledger_paths_are_one_line_errors_and_nothing_is_created(tmp_path: Path, keyenv: dict[str, str]) -> None:
    missing = tmp_path / "typo" / "ledgr.sqlite3"
    for cmd in (["verify"], ["export"], ["verify", "--json"]):
        p = cli(keyenv, *cmd, "--ledger", str(missing))
        assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not missing.exists() and not missing.parent.exists()
    junk = tmp_path / "notes.txt"
    junk.write_text("this is not a database\n" * 50)
    before = junk.read_bytes()
    for cmd in (["verify"], ["export", "--format", "json"]):
        p = cli(keyenv, *cmd, "--ledger", str(junk))
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "not a ledger" in p.stderr, p.stderr
    assert junk.read_bytes() == before
    other = tmp_path / "other.sqlite3"  # a database, but not a ledger: left as it is
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    p = cli(keyenv, "verify", "--ledger", str(other))
    assert p.returncode == 2 and "no EdgeCall ledger" in p.stderr
    con = sqlite3.connect(other)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["t"]
    con.close()


def test_a_station_run_prints_and_anchors_the_head(tmp_path: Path, keyenv: dict[str, str]) -> None:
    """A real station run on a virtual devkit: its JSON carries the head, its anchor file gets it,
    and cutting that run's entries and row off the ledger is caught against the anchor."""
    from tests.devkits import devkits

    cert = tmp_path / "cert"
    cert.write_text("5CFd2fd1755d40ecb72977518be15d3b")
    url, anchor = str(tmp_path / "station.sqlite3"), tmp_path / "station.anchor"
    env = {**keyenv, "EDGECALL_SIM_DIR": str(tmp_path / "sim"), "EDGECALL_APP_ID": CLAIMS.app_id}
    env.pop("EDGECALL_APP_CERT", None)
    with devkits(tmp_path / "sim", ["anchor1"]):
        def station(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "host_tools", "provision", "--device", "anchor1", "--channel", "room",
                                   "--uid-from-serial", "--ttl", "3600", "--app-cert-file", str(cert), "--ledger", url,
                                   "--anchor", str(anchor), *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=120)

        first = station("--json")
        assert first.returncode == 0, first.stdout + first.stderr
        head = json.loads(first.stdout)["ledger_head"]
        assert head["entries"] == 4 and json.loads(anchor.read_text().splitlines()[-1])["hash"] == head["hash"]
        again = station("--reprovision", "RMA 7")  # human output: the head on stderr
        assert again.returncode == 0, again.stdout + again.stderr
    lines = anchor.read_text().splitlines()
    assert len(lines) == 2 and f"ledger head: 8 entries, hash {json.loads(lines[-1])['hash']}" in again.stderr
    assert verify(keyenv, url, "--anchor", str(anchor)) == (0, {"ok": True, "entries": 8, "detail": "ok"})
    con = sqlite3.connect(url)  # the re-provisioning undone behind the chain's back: entries and row restored
    first_row = con.execute("SELECT row_json FROM audit WHERE seq = 4").fetchone()[0]
    con.execute("DELETE FROM audit WHERE seq > 4")
    cols = json.loads(first_row)
    con.execute(f"UPDATE provisioning SET {', '.join(f'{c} = ?' for c in cols)}", tuple(cols.values()))
    con.commit()
    con.close()
    assert verify(keyenv, url)[0] == 0
    rc, out = verify(keyenv, url, "--anchor", str(anchor))
    assert rc == 1 and "does not reach the anchored head (entry 8" in out["detail"], out
