"""Provisioning stations on three hosts against one PostgreSQL ledger, end to end and unmocked.

Each host is a network namespace (host_tools.farm.netns.Lab) with its own virtual devkits, started
inside it, and its own station process (`edgecall provision --all-sims`) that reaches the ledger
only through the host's link: PostgreSQL runs in this namespace, listens on loopback and the
lab's gateway addresses, and its pg_hba.conf lets in exactly the lab's /30s, with a password
(SCRAM). The stations run at the same time. Afterwards every device holds exactly one committed
token that the ledger knows, named after the station of its own host, the audit chain verifies,
and the tokens read back from the devices verify and carry the uid the ledger recorded. A station
whose ledger is unreachable, or that has the wrong password, says so, exits with the documented
code and leaves its devices as they were.

The database password reaches the stations through PGPASSWORD and the app certificate through
a file: neither is on a command line. Needs root (network namespaces); skipped otherwise.
"""
from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the hosts are Linux network namespaces (ip netns)")

from host_tools.device.console import DeviceConsole  # noqa: E402
from host_tools.device.resolve import resolve  # noqa: E402
from host_tools.farm.netns import Host, Lab  # noqa: E402
from host_tools.ledger.ledger import Ledger, Record  # noqa: E402
from host_tools.ledger.pgserver import TempPostgres  # noqa: E402
from host_tools.netaddr import free_port  # noqa: E402
from host_tools.paths import ROOT  # noqa: E402
from host_tools.sim import manager, state  # noqa: E402
from host_tools.token import accesstoken2 as at  # noqa: E402
from host_tools.transport import open_port  # noqa: E402
from tests.devkits import device_token as read_token  # noqa: E402

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
HOSTS = 3
PER_HOST = 3
BATCH = "netns"
CHANNEL = "room"
LEDGER_DB = "stations"  # the shared ledger's database, created empty for the concurrent run


@dataclass(frozen=True)
class Site:
    """One host of the lab with its devkits (their state folder) and its station's name."""

    host: Host
    sim_root: Path
    devices: tuple[str, ...]

    @property
    def station(self) -> str:
        return f"station-{self.host.name}"


@dataclass(frozen=True)
class Env:
    lab: Lab
    pg: TempPostgres
    sites: tuple[Site, ...]
    cert_file: Path
    base_env: dict[str, str]

    def ledger_url(self, host: Host, port: int | None = None, password: str | None = None, db: str = "postgres") -> str:
        """The ledger as `host` reaches it: through its gateway; the password goes in PGPASSWORD."""
        cred = "postgres" if password is None else f"postgres:{password}"
        return f"postgresql://{cred}@{host.gateway}:{port or self.pg.port}/{db}"

    def station_env(self, site: Site, password: str | None) -> dict[str, str]:
        e = {**self.base_env, "EDGECALL_SIM_DIR": str(site.sim_root)}
        if password is not None:
            e["PGPASSWORD"] = password
        return e


def _base_env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "EDGECALL_"))}
    e.update(PYTHONPATH=str(ROOT), EDGECALL_APP_ID=APP)
    return e


def _edgecall(*args: str) -> list[str]:
    return [sys.executable, "-m", "host_tools", *args]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(HOSTS) as lab:
        yield lab


@pytest.fixture(scope="module")
def pg(lab: Lab) -> Iterator[TempPostgres]:
    nets = [str(ipaddress.ip_interface(f"{h.gateway}/30").network) for h in lab.hosts]
    server = TempPostgres(listen=[h.gateway for h in lab.hosts], allow=nets, password=secrets.token_urlsafe(18))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def env(lab: Lab, pg: TempPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from host_tools.firmware import keys
    from host_tools.sim import manager

    # built once here, so the three `sim start`s below find them up to date
    keys.dev_key()
    manager.factory_image()
    work = tmp_path_factory.mktemp("netns")
    cert = work / "app-cert"
    cert.write_text(CERT)
    cert.chmod(0o600)
    sites = tuple(Site(h, work / f"sim-{h.name}", tuple(f"{h.name}d{j}" for j in range(PER_HOST))) for h in lab.hosts)
    e = Env(lab, pg, sites, cert, _base_env())
    try:
        starts = []
        for s in sites:
            ids = [a for d in s.devices for a in ("--id", d)]
            starts.append(s.host.popen(_edgecall("sim", "start", *ids, "--json"), cwd=ROOT, env=e.station_env(s, None),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for s, p in zip(sites, starts):
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, f"sim start on {s.host.name}: {out}{err}"
            assert sorted(d["id"] for d in json.loads(out)) == sorted(s.devices)
        for s in sites:  # the devkits live inside their host's namespace
            inside = set(subprocess.run(["ip", "netns", "pids", s.host.name], capture_output=True, text=True).stdout.split())
            for d in manager.list_devices(s.sim_root):
                assert str(d.pid) in inside, f"{d.id} runs outside {s.host.name}"
        yield e
    finally:
        for s in sites:
            try:
                manager.stop_all(s.sim_root)
            except Exception:  # noqa: BLE001 - the lab's teardown kills what is left in the namespace
                pass


def station(e: Env, site: Site, password: str | None, *extra: str, port: int | None = None,
            db: str = "postgres") -> subprocess.Popen[str]:
    """`edgecall provision --all-sims` run inside the site's host."""
    cmd = _edgecall("provision", "--all-sims", "--channel", CHANNEL, "--uid-from-serial", "--ttl", "3600",
                    "--batch", BATCH, "--station", site.station, "--app-cert-file", str(e.cert_file),
                    "--ledger", e.ledger_url(site.host, port=port, db=db), "--json", *extra)
    return site.host.popen(cmd, cwd=ROOT, env=e.station_env(site, password), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)


def on_device(site: Site, device: str) -> dict[str, Any]:
    """The device's provisioning record, through its console."""
    t = resolve(None, device, sim_root=site.sim_root)
    with open_port(t.port, ignore_pids=t.allowed_holders) as tr:
        dev = DeviceConsole(tr)
        dev.wait_ready(30)
        return dev.provisioning()


def device_token(site: Site, device: str) -> str | None:
    return read_token(resolve(None, device, sim_root=site.sim_root).port)


def ledger_rows(e: Env, db: str = "postgres") -> tuple[list[Record], list[dict[str, object]]]:
    led = Ledger(e.pg.url.rpartition("/")[0] + "/" + db, "check")
    try:
        return [r for r in led.records() if r.batch == BATCH], led.audit()
    finally:
        led.close()


def create_database(e: Env, name: str) -> None:
    import psycopg

    with psycopg.connect(e.pg.url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')


def test_unreachable_ledger_fails_cleanly_and_touches_nothing(env: Env) -> None:
    site = env.sites[1]
    before = {d: on_device(site, d) for d in site.devices}
    wrong = free_port(site.host.gateway)
    assert wrong != env.pg.port
    t0 = time.monotonic()
    p = station(env, site, env.pg.password, port=wrong)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3, out + err  # transport error: the ledger was not reached
    assert time.monotonic() - t0 < 30
    assert "could not be reached" in err and f"{site.host.gateway}:{wrong}" in err and "Traceback" not in err
    assert env.pg.password and env.pg.password not in out + err
    assert {d: on_device(site, d) for d in site.devices} == before
    rows, audit = ledger_rows(env)
    assert not [r for r in rows if r.station == site.station] and not [a for a in audit if a["station"] == site.station]


@pytest.mark.parametrize("where", ["PGPASSWORD", "url"])
def test_wrong_password_is_refused_without_printing_it(env: Env, where: str) -> None:
    site = env.sites[2]
    before = {d: on_device(site, d) for d in site.devices}
    bad = "wrong-" + secrets.token_hex(8)
    if where == "url":  # a password in the URL is masked in the message
        cmd = _edgecall("provision", "--all-sims", "--channel", CHANNEL, "--uid-from-serial", "--ttl", "3600",
                        "--batch", BATCH, "--station", site.station, "--app-cert-file", str(env.cert_file),
                        "--ledger", env.ledger_url(site.host, password=bad), "--json")
        p = site.host.popen(cmd, cwd=ROOT, env=env.station_env(site, None), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    else:
        p = station(env, site, bad)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2, out + err  # the server answered and refused the login: fix the credentials
    assert "refused the connection" in err and "password authentication failed" in err and "Traceback" not in err
    assert bad not in out + err and str(env.pg.password) not in out + err
    if where == "url":
        assert "postgres:***@" in err
    assert {d: on_device(site, d) for d in site.devices} == before
    rows, audit = ledger_rows(env)
    assert not [r for r in rows if r.station == site.station] and not [a for a in audit if a["station"] == site.station]


def test_three_stations_on_three_hosts_share_one_postgresql_ledger(env: Env) -> None:
    for site in env.sites:
        for d in site.devices:
            assert on_device(site, d).get("state") != "provisioned", f"{d} was provisioned before the stations ran"
    create_database(env, LEDGER_DB)  # empty: the stations also race to create the schema
    procs = [station(env, s, env.pg.password, db=LEDGER_DB) for s in env.sites]  # all three at once
    outcomes: dict[str, dict[str, Any]] = {}
    for s, p in zip(env.sites, procs):
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, f"station on {s.host.name}: {out}{err}"
        assert str(env.pg.password) not in out + err and CERT not in out + err
        res = json.loads(out)
        assert res["ok"] and sorted(r["device"] for r in res["results"]) == sorted(s.devices)
        for r in res["results"]:
            assert r["ok"] and r["action"] == "provisioned", r
            outcomes[r["device"]] = r

    # the ledger: one committed row per device, each named after the station of the device's host
    rows, audit = ledger_rows(env, LEDGER_DB)
    site_of = {state.unique_id(d): s for s in env.sites for d in s.devices}
    name_of = {state.unique_id(d): d for s in env.sites for d in s.devices}
    assert len(rows) == HOSTS * PER_HOST and {r.device_uid for r in rows} == set(site_of)
    assert len({r.uid for r in rows}) == len(rows) and len({r.token_sha256 for r in rows}) == len(rows)
    for r in rows:
        assert r.state == "committed" and r.station == site_of[r.device_uid].station, r
        assert r.uid == f"dev-{r.device_uid}" and r.channel == CHANNEL and r.app_id == APP
        assert outcomes[name_of[r.device_uid]]["token_sha256"] == r.token_sha256
    # the audit log: each device went reserved → written → verified → committed once, by its own station
    for uid, s in site_of.items():
        mine = [a for a in audit if a["device_uid"] == uid and a["batch"] == BATCH]
        assert [a["event"] for a in mine] == ["reserved", "written", "verified", "committed"], mine
        assert {a["station"] for a in mine} == {s.station}
    assert [a["seq"] for a in audit] == list(range(1, len(audit) + 1))

    # the audit chain verifies, checked by the CLI from one of the hosts, through its link
    h0 = env.sites[0]
    v = h0.host.run(_edgecall("ledger", "verify", "--json", "--ledger", env.ledger_url(h0.host, db=LEDGER_DB)), cwd=ROOT,
                    env=env.station_env(h0, env.pg.password), capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stdout + v.stderr
    assert json.loads(v.stdout) == {"ok": True, "entries": len(audit), "detail": "ok"}

    # the devices: each holds the committed token; it verifies and carries the uid the ledger has
    by_uid = {r.device_uid: r for r in rows}
    jobs = [(s, d) for s in env.sites for d in s.devices]
    with ThreadPoolExecutor(len(jobs)) as pool:
        held = list(pool.map(lambda sd: on_device(*sd), jobs))
        tokens = list(pool.map(lambda sd: device_token(*sd), jobs))
    for (s, d), rec_dev, token in zip(jobs, held, tokens):
        rec = by_uid[state.unique_id(d)]
        assert rec_dev["state"] == "provisioned" and rec_dev["digest"] == rec.token_sha256, (d, rec_dev)
        assert token is not None and at.token_hash(token) == rec.token_sha256, d
        assert at.verify(token, CERT.encode(), app_id=APP, channel=CHANNEL, uid=rec.uid).valid, d
        assert [svc.uid for svc in at.parse(token).services] == [rec.uid]
    first, rec0 = tokens[0], by_uid[state.unique_id(jobs[0][1])]  # and the CLI agrees, for one of them
    assert first is not None
    tv = subprocess.run(_edgecall("token", "verify", first, "--app-cert-file", str(env.cert_file), "--app-id", APP,
                                  "--channel", CHANNEL, "--uid", rec0.uid, "--json"),
                        cwd=ROOT, env=env.base_env, capture_output=True, text=True, timeout=60)
    assert tv.returncode == 0, tv.stdout + tv.stderr

    # a second round is idempotent on every host: nothing new is issued
    again = [station(env, s, env.pg.password, db=LEDGER_DB) for s in env.sites]
    for p in again:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, out + err
        assert {r["action"] for r in json.loads(out)["results"]} == {"already"}
    rows2, audit2 = ledger_rows(env, LEDGER_DB)
    assert rows2 == rows and len(audit2) == len(audit)


def test_a_host_outside_the_lab_is_refused_by_pg_hba(env: Env) -> None:
    """pg_hba.conf admits the lab's /30s only: a host on another link that can reach the server's
    address is turned away (the station's error says so; exit 2, nothing provisioned)."""
    with Lab(1) as other:
        outsider = other.hosts[0]
        site = Site(outsider, env.sites[0].sim_root, env.sites[0].devices)
        before = {d: on_device(site, d) for d in site.devices}
        cmd = _edgecall("provision", "--all-sims", "--channel", CHANNEL, "--uid-from-serial", "--ttl", "3600",
                        "--batch", BATCH, "--station", "outsider", "--app-cert-file", str(env.cert_file),
                        "--ledger", env.ledger_url(env.sites[0].host), "--json")
        p = outsider.run(cmd, cwd=ROOT, env=env.station_env(site, env.pg.password), capture_output=True, text=True,
                         timeout=60)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no pg_hba.conf entry" in p.stderr and outsider.addr in p.stderr
    assert str(env.pg.password) not in p.stdout + p.stderr
    assert {d: on_device(site, d) for d in site.devices} == before
    rows, audit = ledger_rows(env)
    assert not [a for a in audit if a["station"] == "outsider"]
