"""The device console on a virtual devkit running the firmware (installed as from the factory):
`edgecall device info | selftest | log | reboot`, settings that survive a reboot, and a port
flooded with garbage, truncated and corrupt frames, oversize lengths and unknown commands — every
request that has a readable header gets an error frame, and the device keeps running."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.device.console import DeviceConsole
from tests.devkits import devkits
from host_tools.device.resolve import resolve
from host_tools.paths import ROOT
from host_tools.smp.client import SmpClient, SmpError
from host_tools.smp.serial import START, Header, encode_frames
from host_tools.transport import SerialTransport, open_port

DEVICE = "console1"


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with devkits(tmp_path_factory.mktemp("sim"), [DEVICE]) as root:
        yield root


@pytest.fixture()
def port(sim_root: Path) -> Iterator[SerialTransport]:
    t = resolve(None, DEVICE)
    with open_port(t.port, ignore_pids=t.allowed_holders) as tr:
        DeviceConsole(tr).wait_ready(20)
        yield tr


def edgecall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "host_tools", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_info_and_selftest_through_the_cli(sim_root: Path) -> None:
    p = edgecall("device", "info", "--device", DEVICE, "--json")
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["version"] == "0.1.0" and info["platform"] == "qemu" and info["backend"] == "devkit"
    assert "Cortex-M4" in info["machine"] and info["micropython"].startswith("v1.27.0 on ")
    assert len(info["uid"]) == 16 and info["slot"] == "primary"
    assert abs(info["heap_total"] - 192 * 1024) < 8192 and 0 < info["heap_used"] < info["heap_total"]
    s = edgecall("device", "selftest", "--device", DEVICE, "--json")
    assert s.returncode == 0, s.stdout + s.stderr
    result = json.loads(s.stdout)
    assert result["passed"] and all(v["equal"] for v in result["vectors"].values()) and len(result["vectors"]) == 6
    log = json.loads(edgecall("device", "log", "--device", DEVICE, "--json").stdout)
    assert any(e[3] == "app start" for e in log["entries"])
    r = edgecall("device", "reboot", "--device", DEVICE, "--wait", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["info"]["uptime_ms"] < 30000  # a fresh boot


def test_settings_survive_a_reboot(port: SerialTransport) -> None:
    dev = DeviceConsole(port)
    dev.setting_set("wifi/ssid", b"lab-5g")
    assert dev.setting_get("wifi/ssid") == b"lab-5g"
    with pytest.raises(SmpError, match="no such entry"):
        dev.setting_get("missing")
    with pytest.raises(SmpError, match="invalid argument"):
        dev.setting_set("../escape", b"x")
    assert dev.reboot(30)["uptime_ms"] < 20000
    assert dev.setting_get("wifi/ssid") == b"lab-5g"
    dev.setting_delete("wifi/ssid")
    with pytest.raises(SmpError):
        dev.setting_get("wifi/ssid")


def _raw_request(port: SerialTransport, hdr: Header, payload: bytes) -> dict:
    """Sends a hand-made packet and returns the decoded response map."""
    client = SmpClient(port, timeout=5)
    for f in encode_frames(hdr.pack() + payload):
        port.write(f)
    while True:
        for body in client.decoder.feed(port.read(4096, 5)):
            h = Header.unpack(body)
            if h.seq == hdr.seq:
                return cbor2.loads(body[8:])


def test_error_frames(port: SerialTransport) -> None:
    assert _raw_request(port, Header(0, 0, 1, 64, 201, 99), b"\xa0")["err"]["rc"] == 8  # unknown command: ENOTSUP
    assert _raw_request(port, Header(0, 0, 2, 64, 202, 0), b"\xff\xff")["err"]["rc"] == 3  # bad CBOR: EINVAL
    assert _raw_request(port, Header(0, 0, 50, 64, 203, 0), b"\xa0")["err"]["rc"] == 7  # length mismatch: EMSGSIZE
    assert _raw_request(port, Header(0, 0, 1, 0, 204, 0), b"\xa0")["err"]["rc"] == 3  # echo without "d": EINVAL


# What reaches the console is what the UART demux routes to it: lines that start with the SMP
# start or continuation bytes. (Other bytes are REPL input on the shared port — see
# test_repl_input_does_not_disturb_the_console.)
body = st.binary(max_size=150).filter(lambda b: 10 not in b and 3 not in b)
garbage = st.one_of(
    st.builds(lambda b: b"\n" + START + b + b"\n", body),  # random frame contents
    st.builds(lambda b: b"\n\x04\x14" + b + b"\n", body),  # continuation without a start
    st.builds(lambda n: b"\n" + encode_frames(b"\x00" * n)[0][:-5] + b"\n", st.integers(100, 400)),  # truncated
    st.builds(lambda b: b"\n\x06\x09" + __import__("base64").b64encode(b"\xff\xff" + b) + b"\n", st.binary(max_size=60)),  # oversize length
    st.builds(lambda f: b"\n" + f[:-3] + (b"A" if f[-3:-2] != b"A" else b"B") + f[-2:], st.just(encode_frames(b"\x00" * 20)[0])),  # bad CRC
    st.builds(lambda h: b"\n" + b"".join(encode_frames(h.pack() + b"\xa0")),  # valid frames, unknown commands
              st.builds(Header, st.just(0), st.just(0), st.just(1), st.integers(64, 70), st.integers(0, 255), st.integers(20, 255))),
)


def test_repl_input_does_not_disturb_the_console(port: SerialTransport) -> None:
    dev = DeviceConsole(port, timeout=5)
    port.write(b"x = 1 + 1\r\nnot python at all\r\n \r\n")
    assert dev.echo("after repl input") == "after repl input"


@given(st.lists(garbage, min_size=1, max_size=8))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_garbage_never_stops_the_device(port: SerialTransport, noise: list[bytes]) -> None:
    for chunk in noise:
        port.write(chunk)
    dev = DeviceConsole(port, timeout=15)  # generous: a tolerance for a loaded machine, not a measurement
    assert dev.echo("still here") == "still here"
