"""Shared by the channel security tests: a real channel server on loopback, members joined with
real tokens, raw signalling connections for messages a client library would never send."""
from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import cbor2

from host_tools.channel import protocol
from host_tools.channel.client import ChannelClient
from host_tools.channel.server import ChannelServer
from host_tools.token import accesstoken2 as at

APP = "970CA35de60c44645bbae8a215061b33"
CERT = b"5CFd2fd1755d40ecb72977518be15d3b"


def tok(uid: str, channel: str = "room", ttl: int = 600) -> str:
    return at.build(APP, CERT, channel, uid, ttl)


def run(body: Callable[[ChannelServer], Awaitable[None]], timeout: float = 60.0, **kw: Any) -> None:
    """body(server) against a fresh server, bounded in time."""
    async def main() -> None:
        srv = await ChannelServer(APP, CERT, **kw).start()
        try:
            await asyncio.wait_for(body(srv), timeout)
        finally:
            await srv.stop()

    asyncio.run(main())


async def member(srv: ChannelServer, uid: str) -> ChannelClient:
    c = ChannelClient()
    await c.connect("127.0.0.1", srv.port)
    await c.join(tok(uid), "room", uid)
    return c


async def in_call(a: ChannelClient, b: ChannelClient, call: str) -> None:
    """a calls b, b answers."""
    r = await a.request({"t": "invite", "to": b.joined["member"], "call": call})
    assert r["state"] == "ringing", r
    await b.wait_event("ring", call=call)
    b.send({"t": "accept", "call": call})
    await a.wait_event("call-state", call=call, state="in-call")
    await b.wait_event("call-state", call=call, state="in-call")


async def received(c: ChannelClient, wait: float = 0.3) -> list[bytes]:
    """The media datagrams c has received, after waiting `wait` seconds for more."""
    await asyncio.sleep(wait)
    assert c.media is not None
    out = []
    while not c.media.queue.empty():
        out.append(c.media.queue.get_nowait()[1])
    return out


def udp_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def drain(s: socket.socket) -> list[bytes]:
    out = []
    for _ in range(10_000):
        try:
            out.append(s.recv(4096))
        except BlockingIOError:
            break
    return out


def frame(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


class Raw:
    """A signalling connection that sends whatever bytes it is given."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, nonce: bytes) -> None:
        self.reader, self.writer, self.nonce = reader, writer, nonce
        self.rd = protocol.Reader()
        self.backlog: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self = cls(reader, writer, b"")
        hello = await self.next(5.0)
        assert hello is not None and hello["t"] == "hello"
        self.nonce = hello["nonce"]
        return self

    def send(self, msg: dict[str, Any]) -> None:
        self.writer.write(frame(cbor2.dumps({"v": 1, **msg})))

    def send_body(self, body: bytes) -> None:
        self.writer.write(frame(body))

    async def next(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next message, None if the server closed the connection (or nothing came in time)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.backlog:
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                data = await asyncio.wait_for(self.reader.read(4096), left)
            except asyncio.TimeoutError:
                return None
            if not data:
                return None
            self.backlog += [m for m in self.rd.feed(data) if isinstance(m, dict)]
        return self.backlog.pop(0)

    async def answer(self, rid: int | None = None, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next message that is not a presence notice (and answers `rid`, when given)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (left := deadline - loop.time()) > 0:
            m = await self.next(left)
            if m is None:
                return None
            if m.get("t") != "presence" and (rid is None or m.get("re") == rid or m.get("t") == "error"):
                return m
        return None

    async def must(self, rid: int | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """answer(), which must come."""
        m = await self.answer(rid, timeout)
        assert m is not None, f"no answer (to request {rid}) within {timeout} s"
        return m

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
