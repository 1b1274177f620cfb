"""The board farm, for real: a labgrid coordinator here, three hosts in network namespaces each
exporting four virtual devkits (`edgecall sim export`: labgrid exporter + ser2net, RFC 2217), and
`edgecall hil run --farm` across them — a full run, an exporter killed mid-run, two runs at once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools.farm import labgrid
from host_tools.farm.export import exporter_config, ser2net_config
from host_tools.hil import report
from host_tools.netaddr import free_port
from host_tools.paths import ROOT
from host_tools.transport.serial import url_options

HOSTS, PER_HOST = 3, 4

SHOW: dict[str, Any] = {  # the labgrid session's answer to `show` (lgbridge.py)
    "name": "h0-vdk1", "tags": {"exporter": "h0", "health": "ok", "pool": "edgecall"},
    "acquired": "edgecall-hil-1/root", "reservation": "PO3T6P2NL2", "comment": "", "matches": ["h0/h0-vdk1/*"],
    "resources": [{"acquired": "h0-vdk1", "avail": True, "cls": "NetworkSerialPort",
                   "params": {"extra": {"path": "/dev/pts/3", "proxy": "localhost", "proxy_required": False},
                              "host": "10.231.7.2", "port": 32987, "speed": 921600},
                   "path": "h0/h0-vdk1/NetworkSerialPort/RawSerialPort"}],
}


# ---- units ------------------------------------------------------------------------------------

def test_a_places_tags_matches_and_serial_url() -> None:
    info = labgrid.PlaceInfo.from_session(SHOW)
    assert info.name == "h0-vdk1"
    assert info.tags == {"exporter": "h0", "health": "ok", "pool": "edgecall"}
    assert info.matches == ["h0/h0-vdk1/*"]
    assert info.acquired == "edgecall-hil-1/root" and info.reservation == "PO3T6P2NL2"
    assert info.serial_url() == "rfc2217://10.231.7.2:32987"
    assert info.exporter() == "h0" and info.available


def test_a_place_not_served_has_no_url() -> None:
    released = json.loads(json.dumps(SHOW))
    released["acquired"] = None
    released["resources"][0]["params"]["port"] = None  # ser2net serves a port only while it is held
    with pytest.raises(labgrid.LabgridError, match="no NetworkSerialPort served"):
        labgrid.PlaceInfo.from_session(released).serial_url()
    with pytest.raises(labgrid.LabgridError, match="unexpected answer to `show`"):
        labgrid.PlaceInfo.from_session("garbage")


def test_configs_and_urls() -> None:
    cfg = exporter_config([("h0-vdk0", "/dev/pts/4")], 921600)
    assert "#" not in cfg  # labgrid reads it as a Jinja template
    assert "h0-vdk0:\n  RawSerialPort:\n    port: /dev/pts/4\n    speed: 921600" in cfg
    s2n = ser2net_config([("a", "/dev/pts/1"), ("b", "/dev/pts/2")], 115200, 4000, "127.0.0.1")
    assert "telnet(rfc2217,mode=server),tcp,127.0.0.1,4001" in s2n and "/dev/pts/2,115200n81" in s2n
    assert url_options("rfc2217://h:1") == ("rfc2217://h:1?ign_set_control", {})
    assert url_options("rfc2217://h:1?logging=debug")[0] == "rfc2217://h:1?logging=debug&ign_set_control"
    assert url_options("/dev/ttyACM0")[1] == {"write_timeout": 10}
    assert labgrid.coordinator_address("lab") == "lab:20408" and labgrid.coordinator_address("lab:1") == "lab:1"


# ---- RFC 2217 without labgrid ----------------------------------------------------------------

def _edgecall(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "host_tools", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env or dict(os.environ, PYTHONPATH=str(ROOT)))


def test_ser2net_export_serves_the_console_and_a_vanished_server_is_a_transport_error(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), EDGECALL_SIM_DIR=str(tmp_path / "sim"))
    base = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "sim", "export", "--count", "1", "--name", "desk",
                             "--bind", "127.0.0.1", "--base-port", str(base), "--baud", "115200", "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        info = json.loads(line)
        url = info["devices"][0]["url"]
        assert url == f"rfc2217://127.0.0.1:{base}?ign_set_control" and info["devices"][0]["id"] == "desk-vdk0"
        r = _edgecall("device", "info", "--port", url, "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["backend"] == "devkit"
        # the server goes away: a clear transport error, exit 3
        os.killpg(int(info["exporter_pid"]), signal.SIGKILL)
        r = _edgecall("device", "info", "--port", url)
        assert r.returncode == 3, r.stdout + r.stderr
        assert url in r.stderr
        assert proc.wait(30) == 3  # the export noticed and stopped its devices
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


# ---- the farm ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if os.geteuid() != 0:
        pytest.skip("network namespaces (the farm's hosts) need root")
    from concurrent.futures import ThreadPoolExecutor

    from host_tools.farm.testlab import FarmLab

    with FarmLab(HOSTS, tmp_path_factory.mktemp("farm")) as lab:
        with ThreadPoolExecutor(HOSTS) as ex:
            list(ex.map(lambda i: lab.export(i, PER_HOST), range(HOSTS)))
        yield lab


def farm_run(lab: Any, out: Path, *args: str, on_line: Any = None) -> tuple[int, dict[str, Any], str]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "host_tools", "hil", "run", "--farm", lab.address, "--json", str(out / "r.json"),
           "--html", str(out / "r.html"), "--junit", str(out / "r.xml"), *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    err: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append(line)
            if on_line is not None:
                on_line(line)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    proc.wait(600)
    t.join(10)
    stderr = "".join(err)
    assert (out / "r.json").exists(), stderr[-4000:]
    result = json.loads((out / "r.json").read_text())
    assert report.validate(result) == []
    return proc.returncode, result, stderr


def test_farm_run_over_three_hosts_names_each_devices_host_and_place(farm: Any, tmp_path: Path) -> None:
    rc, result, err = farm_run(farm, tmp_path, "--scenario", "join")
    assert rc == 0, err[-5000:]
    assert result["passed"]
    devices = result["devices"]
    assert len(devices) == HOSTS * PER_HOST
    assert {d["host"] for d in devices} == {"h0", "h1", "h2"}
    for d in devices:
        assert d["place"] == d["id"] and d["id"].startswith(d["host"] + "-")
        assert d["port"].startswith("rfc2217://10.231.")
        assert d["version"] and d["uid"]
    assert len({d["uid"] for d in devices}) == len(devices)  # one channel identity per device
    joins = [s for s in result["scenarios"] if s.get("scenario") == "join"]
    assert len(joins) == HOSTS * PER_HOST // 2 and all(s["passed"] for s in joins)
    sched = result["farm"]["scheduling"]
    assert sched["labgrid_calls"] > 0 and len(sched["acquire"]) == len(devices)
    # every place released: nothing is acquired any more
    client = farm.client()
    assert all(client.show(p).acquired is None for p in client.places())


def test_killed_exporter_fails_its_devices_marks_them_unhealthy_and_the_next_runs_skip_them(
        farm: Any, tmp_path: Path) -> None:
    victim = farm.exporters[2]
    killed = threading.Event()

    def on_line(line: str) -> None:
        if "▶ join" in line and not killed.is_set():  # the first pair has begun; the others may still set up
            killed.set()
            victim.kill()

    rc, result, err = farm_run(farm, tmp_path / "kill", "--scenario", "join", "--scenario", "serial-stress",
                               "--stress", "4", "--reboots", "2", on_line=on_line)
    assert killed.is_set(), err[-3000:]
    assert rc == 1
    lanes = result["farm"]["lanes"]
    for lane in lanes:
        on_victim = any(h == victim.name for h in lane["hosts"].values())
        assert lane["passed"] == (not on_victim), lane
    failed = [s for s in result["scenarios"] if not s["passed"]]
    assert failed and all(victim.name in s["hosts"] for s in failed)
    assert all(s.get("transport") for s in failed), [s["error"] for s in failed]
    assert set(result["farm"]["unhealthy"]) == set(victim.places)
    client = farm.client()
    for p in victim.places:
        assert client.show(p).tags["health"] == "bad"
    for ex in (farm.exporters[0], farm.exporters[1]):
        for p in ex.places:
            assert client.show(p).tags["health"] == "ok"

    # the next runs: two at once, sharing the 8 healthy places, never one device twice at a time
    results: dict[str, tuple[int, dict[str, Any], str]] = {}

    def go(name: str) -> None:
        results[name] = farm_run(farm, tmp_path / name, "--scenario", "join")

    threads = [threading.Thread(target=go, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for name, (rc, res, err) in results.items():
        assert rc == 0, err[-4000:]
        hosts = {d["host"] for d in res["devices"]}
        assert victim.name not in hosts  # the unhealthy places are not scheduled
        for d in res["devices"]:
            spans.setdefault(d["place"], []).append((d["acquired_at"], d["released_at"], name))
    used = set(spans)
    assert used <= {p for ex in (farm.exporters[0], farm.exporters[1]) for p in ex.places}
    assert sum(len(v) for v in spans.values()) == 2 * 8  # each run had every healthy place once
    for place, s in spans.items():
        s.sort()
        for (a0, a1, ra), (b0, b1, rb) in zip(s, s[1:]):
            assert a1 <= b0, f"{place} used by runs {ra} and {rb} at the same time"


PLUGIN_TESTS = '''
from host_tools.hil import calls


def test_a_call_between_two_farm_places(dut_pair):
    a, b = dut_pair
    assert a.port.startswith("rfc2217://") and b.port.startswith("rfc2217://")
    r = calls.call(a, b, hold_s=1.0)
    assert r.ok, r.error
'''


def test_pytest_plugin_takes_labgrid_places_and_gives_them_back(farm: Any, tmp_path: Path) -> None:
    (tmp_path / "test_on_farm.py").write_text(PLUGIN_TESTS)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path),
                        "--edgecall-farm", farm.address, "--edgecall-place-tag", farm.pool],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert "1 passed" in p.stdout, (p.stdout + p.stderr)[-4000:]
    client = farm.client()
    assert all(client.show(pl).acquired is None for pl in client.places())


def test_health_check_brings_a_repaired_place_back(farm: Any) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    place = "h2-vdk0"
    assert farm.client().show(place).tags["health"] == "bad"  # left so by the killed exporter
    r = _edgecall("farm", "health", place, "--coordinator", farm.address, "--json", env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # its exporter is still down
    assert json.loads(r.stdout)[0]["healthy"] is False
    farm.export(2, PER_HOST)  # the host's exporter is back; the verdict stays until a check
    assert farm.client().show(place).tags["health"] == "bad"
    r = _edgecall("farm", "health", place, "--coordinator", farm.address, "--json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _edgecall("farm", "places", "--coordinator", farm.address, "--json", env=env)
    rows = {row["place"]: row for row in json.loads(r.stdout)}
    assert rows[place]["health"] == "ok" and rows[place]["host"] == "h2" and rows[place]["acquired"] is None
    assert rows["h2-vdk1"]["health"] == "bad" and rows["h0-vdk0"]["health"] == "ok"


def test_interrupted_farm_run_releases_its_places(farm: Any, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "host_tools", "hil", "run", "--farm", farm.address, "--scenario", "join",
           "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"), "--junit", str(tmp_path / "r.xml")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "farm: acquired" in line:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            break
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode != 0, "".join(seen) + rest
    client = farm.client()
    held = [p for p in client.places() if client.show(p).acquired is not None]
    assert held == [], "".join(seen) + rest
    # none of the run's reservations still waits for or holds a place
    mine = [r for r in client.reservations() if f"edgecall-hil-{proc.pid}-" in r["owner"]]
    assert not [r for r in mine if r["state"] in ("waiting", "allocated", "acquired")], mine


def test_unreachable_coordinator_is_a_transport_error(tmp_path: Path) -> None:
    addr = f"127.0.0.1:{free_port()}"  # nothing listens there
    r = _edgecall("hil", "run", "--farm", addr, "--scenario", "join", "--json", str(tmp_path / "r.json"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert addr in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r.json").exists()
    r = _edgecall("hil", "run", "--farm", addr, "--port", "/dev/null")
    assert r.returncode == 2 and "--port" in r.stderr
