"""pytest plugin (entry point `pytest11`: edgecall) for writing your own HIL tests, the way
pytest-embedded does for its boards:

    def test_call(dut_pair, channel_server):
        a, b = dut_pair
        r = calls.call(a, b, hold_s=2)
        assert r.ok, r.error

    @pytest.mark.impairment("wifi-busy")
    def test_call_on_busy_wifi(dut_pair): ...

Fixtures:
  channel_server  the channel server (its own thread), with the test's impairment profile applied
                  (mark `impairment(NAME or JSON)`, default clean); .host, .port, .ident,
                  .outage(uid, s), .snapshot()
  dut             one device under test (host_tools.hil.dut.Dut), provisioned, configured for the
                  channel server, joined and idle
  dut_pair        two of them
Devices are virtual devkits (started once per session, the factory image in their primary slot) unless
`--port P` is given (repeat for two boards), which uses real boards already running the firmware,
or `--edgecall-farm COORDINATOR` (with `--edgecall-place-tag POOL`), which reserves and acquires
places of a labgrid farm for the session (boards running the firmware, reached over RFC 2217) and
releases them at its end.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("edgecall", "EdgeCall hardware-in-the-loop")
    g.addoption("--port", action="append", default=None, metavar="P",
                help="serial port of a real board running the EdgeCall firmware (repeat for a pair)")
    g.addoption("--edgecall-farm", default=None, metavar="COORDINATOR",
                help="take the devices from this labgrid coordinator's places (HOST[:PORT])")
    g.addoption("--edgecall-place-tag", default="edgecall", metavar="POOL",
                help="with --edgecall-farm: places tagged pool=POOL and health=ok (default edgecall)")
    g.addoption("--edgecall-baud", type=int, default=115200, help="baud rate of --port boards (default 115200)")
    g.addoption("--edgecall-mic", default=None, metavar="WAV",
                help="16 kHz mono WAV the devkits' microphones play (default ../shared speech)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "impairment(profile): the channel server's link impairment for this test "
                                       "(a profile name such as wifi-busy, or JSON)")


@dataclass
class _Session:
    server: Any
    ident: Any
    ledger: str
    duts: list[Any]
    sim_root: Path | None
    tmp: Path
    pool: Any = None  # the labgrid places held (--edgecall-farm)


def _start(config: pytest.Config, count: int) -> _Session:
    from host_tools.channel.thread import ServerThread
    from host_tools.hil import fleet
    from host_tools.paths import TESTDATA

    tmp = Path(tempfile.mkdtemp(prefix="edgecall-hil-"))
    ident = fleet.Identity.fresh()
    farm = config.getoption("--edgecall-farm")
    # on a farm the devices reach the server over their hosts' links: listen on every address
    s = _Session(ServerThread(ident.app_id, ident.app_cert, **({"host": "0.0.0.0"} if farm else {})), ident,
                 str(tmp / "ledger.sqlite3"), [], None, tmp)
    ports = config.getoption("--port") or []
    try:
        if farm:
            from host_tools.farm import labgrid, scheduler
            from host_tools.hil.dut import Dut
            from host_tools.hil.farm import BAUD
            from host_tools.netaddr import route_source

            client = labgrid.Client(farm, user=f"edgecall-pytest-{os.getpid()}")
            s.pool, places = scheduler.acquire(client, config.getoption("--edgecall-place-tag"), count)
            s.duts = [Dut(p.name, "board", p.url, BAUD) for p in places]
            fleet.join_all(s.duts, s.ledger, ident, lambda d: route_source(d.port), s.server.port)
            return s
        if ports:
            if len(ports) < count:
                raise pytest.UsageError(f"this test needs {count} boards: give --port {count} times")
            s.duts = fleet.boards(ports, baud=config.getoption("--edgecall-baud"))
        else:
            s.sim_root = tmp / "sim"
            mic = Path(config.getoption("--edgecall-mic") or TESTDATA / "speech" / "speech_16k.wav")
            s.duts = fleet.start_virtual(count, s.sim_root, mic, prefix="dut", firmware=True)
        host = s.server.host
        fleet.join_all(s.duts, s.ledger, ident, lambda d: fleet.server_address(d, host), s.server.port)
    except BaseException:
        _stop(s)
        raise
    return s


def _stop(s: _Session) -> None:
    from host_tools.hil import fleet

    fleet.stop(s.duts, s.sim_root)
    if s.pool is not None:
        s.pool.close()  # the places go back to the farm
        s.pool.client.close()
    s.server.stop()
    shutil.rmtree(s.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def _edgecall_session(request: pytest.FixtureRequest) -> Iterator[_Session]:
    s = _start(request.config, 2 if not request.config.getoption("--port") else len(request.config.getoption("--port")))
    yield s
    _stop(s)


@pytest.fixture
def channel_server(_edgecall_session: _Session, request: pytest.FixtureRequest) -> Iterator[Any]:
    from host_tools.channel import profiles

    mark = request.node.get_closest_marker("impairment")
    name = mark.args[0] if mark and mark.args else "clean"
    srv = _edgecall_session.server
    srv.set_impairment(profiles.load(name), seed=1)
    srv.ident = _edgecall_session.ident
    srv.ledger = _edgecall_session.ledger
    srv.profile = name
    yield srv
    srv.set_impairment(profiles.load("clean"))


def _ready(duts: list[Any]) -> list[Any]:
    from host_tools.hil import calls

    for d in duts:
        st = d.call_status()
        if st.get("call_state") not in ("idle", None):
            d.call("hangup")
        if st.get("state") != "joined":
            d.call("join")
    calls.wait_joined(duts, timeout=20)
    return duts


@pytest.fixture
def dut(_edgecall_session: _Session, channel_server: Any) -> Any:
    return _ready(_edgecall_session.duts[:1])[0]


@pytest.fixture
def dut_pair(_edgecall_session: _Session, channel_server: Any) -> tuple[Any, Any]:
    if len(_edgecall_session.duts) < 2:
        pytest.skip("dut_pair needs a second board: only one --port was given")
    a, b = _ready(_edgecall_session.duts[:2])
    return a, b
