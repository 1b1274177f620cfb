"""Hypothesis over signalling messages against a running channel server (issue 17): messages of
every type with fields of any type, size and nesting, CBOR the protocol does not use (tags, value
sharing with cycles, indefinite lengths, floats, bignums, deep nesting) and frames that are not
CBOR at all. Whatever comes in, the server raises nothing unhandled (no handler exception, no
unencodable answer, nothing reaching the event loop's exception handler), every connection is
answered (an error before any close), and a legitimate client still joins within its normal
latency afterwards. Loops are bounded in count (examples, frames, reads) and time (socket
timeouts, hypothesis deadline)."""
from __future__ import annotations

import asyncio
import itertools
import socket
import statistics
import struct
import time
from typing import Any

import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tools.channel import protocol
from host_tools.channel.thread import ServerThread
from tests.security.channel_util import APP, CERT, tok

TYPES = ["ping", "join", "leave", "invite", "accept", "reject", "cancel", "hangup", "renew", "hello", "pong", "ring"]
FIELDS = ["token", "channel", "uid", "nonce", "proof", "codecs", "to", "call", "id", "re"]
PROBE_ID = 4_242_424
EXAMPLES = 300

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
           | st.text(max_size=40) | st.binary(max_size=40)
           | st.builds(lambda n, c: c * n, st.integers(200, 3000), st.sampled_from(["x", "é", "7", "\x00"])))
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=5)
                      | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), kids, max_size=5), max_leaves=30)
messages = st.fixed_dictionaries({"v": st.just(1) | values, "t": st.sampled_from(TYPES) | values},
                                 optional={f: values for f in FIELDS})

_HEAD = b"\xa3" + cbor2.dumps("v") + b"\x01" + cbor2.dumps("t") + cbor2.dumps("ping")
odd_cbor = st.sampled_from([
    _HEAD + cbor2.dumps("id") + b"\xd8\x1c\x81\xd8\x1d\x00",  # a list that contains itself
    b"\xa3" + cbor2.dumps("v") + b"\x01" + cbor2.dumps("t") + cbor2.dumps("join") + cbor2.dumps("codecs")
    + b"\xd8\x1c\xa1\x00\xd8\x1d\x00",  # a map that contains itself
    _HEAD + cbor2.dumps("id") + b"\x81" * 200 + b"\x00",  # nested 200 deep
    _HEAD + cbor2.dumps("id") + b"\x9f" * 100 + b"\xff" * 100,  # indefinite lengths
    _HEAD + cbor2.dumps("id") + b"\xd8\x23" + cbor2.dumps("(a+)+$"),  # tag 35: a regular expression
    _HEAD + cbor2.dumps("id") + b"\xd9\x01\x02\x80",  # tag 258: a set
    _HEAD + cbor2.dumps("id") + b"\xc1\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",  # tag 1: an infinite date
    _HEAD + cbor2.dumps("id") + b"\xc2\x59\x10\x00" + b"\xff" * 4096,  # a 32768-bit bignum
    b"\xbf" + cbor2.dumps("t") + cbor2.dumps("ping") + b"\xff",  # an indefinite map
    b"\x9b" + b"\xff" * 8,  # an array claiming 2**64 - 1 items
    b"\x7b" + b"\xff" * 8,  # a text claiming 2**64 - 1 bytes
])
frames = st.lists(
    st.one_of(messages.map(lambda m: cbor2.dumps(m, value_sharing=False)), odd_cbor, st.binary(min_size=1, max_size=64)),
    min_size=1, max_size=4)


class Conn:
    """A blocking signalling connection with bounded reads."""

    def __init__(self, port: int) -> None:
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.rd = protocol.Reader()
        self.seen: list[dict[str, Any]] = []
        self.closed = False
        hello = self.until(lambda m: m.get("t") == "hello")
        assert hello is not None
        self.nonce: bytes = hello["nonce"]

    def send_body(self, body: bytes) -> None:
        try:
            self.s.sendall(struct.pack(">H", len(body) & 0xFFFF) + body)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def until(self, pred: Any, timeout: float = 5.0) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        for m in self.seen:
            if pred(m):
                return m
        while not self.closed and time.monotonic() < deadline:
            self.s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                break
            new = [m for m in self.rd.feed(data) if isinstance(m, dict)]
            self.seen += new
            for m in new:
                if pred(m):
                    return m
        return None

    def join(self, uid: str) -> None:
        t = tok(uid)
        body = cbor2.dumps({"v": 1, "t": "join", "token": t, "channel": "room", "uid": uid, "nonce": self.nonce,
                            "proof": protocol.proof(t, self.nonce), "id": 1})
        self.send_body(body)
        assert self.until(lambda m: m.get("re") == 1) is not None

    def close(self) -> None:
        self.s.close()


async def _join_once(port: int, uid: str) -> float:
    from host_tools.channel.client import ChannelClient

    c = ChannelClient()
    t0 = time.perf_counter()
    await asyncio.wait_for(c.connect("127.0.0.1", port), 5)
    await asyncio.wait_for(c.join(tok(uid), "room", uid, refresh=0), 5)
    ms = (time.perf_counter() - t0) * 1000.0
    await c.close()
    return ms


def _join_median(port: int, prefix: str) -> float:
    return statistics.median(asyncio.run(_join_once(port, f"{prefix}{i}")) for i in range(7))


def test_fuzzed_signalling_never_breaks_the_server() -> None:
    with ServerThread(APP, CERT, keepalive_timeout=60.0) as srv:
        loop_errors: list[str] = []
        srv.run(lambda s: asyncio.get_running_loop().set_exception_handler(
            lambda loop, ctx: loop_errors.append(str(ctx.get("exception") or ctx.get("message")))))
        before = _join_median(srv.port, "before")
        peer = Conn(srv.port)  # someone to invite
        peer.join("peer")
        uids = itertools.count()

        @settings(max_examples=EXAMPLES, deadline=10_000, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(bodies=frames, joined=st.booleans())
        def one(bodies: list[bytes], joined: bool) -> None:
            c = Conn(srv.port)
            try:
                if joined:
                    c.join(f"f{next(uids)}")
                for body in bodies:
                    c.send_body(body)
                c.send_body(cbor2.dumps({"v": 1, "t": "ping", "id": PROBE_ID}))
                pong = c.until(lambda m: m.get("re") == PROBE_ID)
                if pong is None:  # only a frame that is not CBOR may end a connection, after an error
                    c.until(lambda m: False, timeout=1.0)
                    assert c.closed, "no answer to a ping within 5 s, and the connection is still open"
                    assert any(m.get("t") == "error" for m in c.seen), "the connection was closed without an error"
                else:
                    assert pong["t"] == "pong"
            finally:
                c.close()
            peer.until(lambda m: False, timeout=0.0)
            peer.seen.clear()
            stats = srv.snapshot()
            assert (stats["internal_errors"], stats["send_errors"], loop_errors) == (0, 0, [])

        one()
        assert not peer.closed  # the other member was never disturbed
        peer.close()
        after = _join_median(srv.port, "after")
        assert after < max(100.0, 3 * before), f"legitimate join median {after:.1f} ms after fuzzing, {before:.1f} ms before"
        assert srv.snapshot()["bad_messages"] > 0  # the odd frames did reach the server
