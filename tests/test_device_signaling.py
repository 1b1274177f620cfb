"""The device's call control (firmware/edgecall/signaling.py) against the real channel server:
run under CPython with a hal.net made of real non-blocking sockets, so the firmware's protocol
code is exercised end to end (join with the nonce proof, calls, renewal, refusal, reconnect)."""
from __future__ import annotations

import asyncio
import socket
import time

import tests.mpshim  # noqa: F401  (MicroPython time/asyncio functions; firmware/ on sys.path)
from edgecall.signaling import Signaling, hmac_sha256  # noqa: E402
from host_tools.channel.server import ChannelServer  # noqa: E402
from host_tools.token import accesstoken2 as at  # noqa: E402

APP = "970CA35de60c44645bbae8a215061b33"
CERT = b"5CFd2fd1755d40ecb72977518be15d3b"


class SocketNet:
    """hal.net's Tcp over a real socket, non-blocking as on the device."""

    class Tcp:
        def __init__(self, host: str, port: int) -> None:
            self._s = socket.create_connection((host, port), timeout=5)
            self._s.setblocking(False)
            self.connected = True

        def send(self, data: bytes) -> None:
            self._s.sendall(data)

        def recv(self, n: int = 1024) -> bytes | None:
            try:
                data = self._s.recv(n)
            except BlockingIOError:
                return None
            if not data:
                self.connected = False
            return data

        def close(self) -> None:
            self.connected = False
            self._s.close()


def test_hmac_matches_python() -> None:
    import hashlib
    import hmac

    for key, msg in ((b"k", b"m"), (b"x" * 100, b"nonce" * 9), (b"", b"")):
        assert hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def _device(port: int, uid: str, tokens: list[str], events: list[tuple[str, dict]]) -> Signaling:
    return Signaling(SocketNet, "127.0.0.1", port, "room", uid, lambda: tokens[-1],
                     on_event=lambda kind, info: events.append((kind, info)))


async def _until(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_two_devices_join_call_renew_and_hang_up() -> None:
    async def main() -> None:
        srv = await ChannelServer(APP, CERT, expiry_notice=3.0).start()
        now = int(time.time())
        ta = [at.build(APP, CERT, "room", "alice", 5, issue_ts=now)]  # the notice is due at now + 2
        tb = [at.build(APP, CERT, "room", "bob", 600)]
        ea: list = []
        eb: list = []
        a, b = _device(srv.port, "alice", ta, ea), _device(srv.port, "bob", tb, eb)
        tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        try:
            await _until(lambda: a.state == b.state == "joined")
            ta.append(at.build(APP, CERT, "room", "alice", 600))  # the station renewed the stored token
            assert a.invite("bob", "call-1")
            await _until(lambda: b.call_state == "ringing")
            b.accept()
            await _until(lambda: a.call_state == b.call_state == "in-call")
            assert a.codec == b.codec == "g722"
            await _until(lambda: a.stats["renewals"] == 1, timeout=10)
            assert a.expires_at >= now + 600
            await asyncio.sleep(max(0.0, now + 5.5 - time.time()))
            assert a.state == "joined"  # still in after the first token's expiry
            a.hangup()
            await _until(lambda: a.call_state == b.call_state == "idle")
            assert ("ended", {"call": "call-1", "reason": "hung up by alice"}) in eb
            assert a.join_ms and a.stats["answered"] == 1
        finally:
            for t in tasks:
                t.cancel()
            await srv.stop()

    asyncio.run(main())


def test_forged_token_is_refused_and_server_loss_reconnects() -> None:
    async def main() -> None:
        srv = await ChannelServer(APP, CERT).start()
        port = srv.port
        forged = [at.build(APP, b"0" * 32, "room", "eve", 600)]
        ev: list = []
        eve = _device(port, "eve", forged, ev)
        good: list = []
        dev = _device(port, "dan", [at.build(APP, CERT, "room", "dan", 600)], good)
        tasks = [asyncio.create_task(eve.run()), asyncio.create_task(dev.run())]
        try:
            await _until(lambda: eve.state == "refused" and dev.state == "joined")
            assert ev[0] == ("refused", {"reason": "bad signature (wrong app certificate, or the token was altered)"})
            await srv.stop()  # the server goes away: the device notices and retries with back-off
            await _until(lambda: dev.state in ("lost", "offline") or dev.stats["reconnects"] > 0, timeout=15)
            srv2 = await ChannelServer(APP, CERT, port=port).start()
            await _until(lambda: dev.state == "joined" and dev.stats["joins"] == 2, timeout=20)
            await srv2.stop()
        finally:
            for t in tasks:
                t.cancel()

    asyncio.run(main())


def test_a_hang_up_the_server_never_confirms_times_out_to_idle() -> None:
    async def main() -> None:
        srv = await ChannelServer(APP, CERT).start()
        ea: list = []
        a = _device(srv.port, "alice", [at.build(APP, CERT, "room", "alice", 600)], ea)
        b = _device(srv.port, "bob", [at.build(APP, CERT, "room", "bob", 600)], [])
        tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        try:
            await _until(lambda: a.state == b.state == "joined")
            assert a.invite("bob", "c1")
            await _until(lambda: b.call_state == "ringing")
            b.accept()
            await _until(lambda: a.call_state == "in-call")
            srv.outage("alice", 8.0)  # alice's network drops: her hang-up goes nowhere
            t0 = time.monotonic()
            a.hangup()
            assert a.call_state == "ending"
            await _until(lambda: a.call_state == "idle", timeout=8)
            assert 4.5 <= time.monotonic() - t0 <= 7.5
            assert ("ended", {"call": "c1", "reason": "timeout while ending"}) in ea
        finally:
            for t in tasks:
                t.cancel()
            await srv.stop()

    asyncio.run(main())
