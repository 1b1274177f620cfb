"""An asyncio client of the channel server (for the HIL runner's host-side peers, the tests and
the benchmarks): requests with replies matched by id, an event queue for everything unsolicited,
keep-alive, and a UDP socket to the member's relay port, bound with the relay key of the joined
answer (binding datagrams: host_tools/channel/binding.py) and refreshed every `refresh` seconds."""
from __future__ import annotations

import asyncio
import itertools
from typing import Any

from host_tools.channel import binding, protocol

BIND_RETRY_S = 0.2  # a bind not acked this soon is sent again (with a fresh counter)
BIND_TRIES = 10


class Refused(RuntimeError):
    pass


class MediaSocket(asyncio.DatagramProtocol):
    """Media datagrams into `queue`; the relay's binding acks are kept apart (`acks`)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self.acks: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if binding.is_binding(data):
            self.acks.put_nowait(data)
        else:
            self.queue.put_nowait((asyncio.get_running_loop().time(), data))


class ChannelClient:
    def __init__(self) -> None:
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.nonce = b""
        self.joined: dict[str, Any] = {}
        self.media: MediaSocket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.host = ""
        self.uid = ""
        self.relay_key = b""
        self._bind_counter = 0
        self.bound = 0  # binds the relay acknowledged

    async def connect(self, host: str, port: int, keepalive: float = 1.0) -> None:
        self.host = host
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self._rd = protocol.Reader()
        hello = await self._next_message()
        if hello.get("t") != "hello":
            raise protocol.ProtocolError(f"expected hello, got {hello.get('t')}")
        self.nonce = hello["nonce"]
        self._tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._ping(keepalive))]

    def _feed(self, data: bytes) -> list[dict[str, Any]]:
        return [m if isinstance(m, dict) else {"t": "bad-message", "reason": m.reason} for m in self._rd.feed(data)]

    async def _next_message(self) -> dict[str, Any]:
        while True:
            data = await self.reader.read(4096)
            if not data:
                raise ConnectionError("server closed the connection")
            msgs = self._feed(data)
            if msgs:
                for extra in msgs[1:]:
                    self.events.put_nowait(extra)
                return msgs[0]

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.reader.read(4096)
                if not data:
                    break
                for msg in self._feed(data):
                    fut = self._pending.pop(msg.get("re", -1), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                    else:
                        self.events.put_nowait(msg)
        finally:
            self.events.put_nowait({"t": "closed"})
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    async def _ping(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.send({"t": "ping"})

    def send(self, msg: dict[str, Any]) -> None:
        self.writer.write(protocol.encode(msg))

    async def request(self, msg: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self.send({**msg, "id": rid})
        return await asyncio.wait_for(fut, timeout)

    async def join(self, token: str, channel: str, uid: str, codecs: list[str] | None = None,
                   refresh: float = 5.0) -> dict[str, Any]:
        """Joins, opens the media socket and binds it at the relay (waits for the ack); the
        binding is refreshed every `refresh` seconds (0: never)."""
        rsp = await self.request({"t": "join", "token": token, "channel": channel, "uid": uid, "nonce": self.nonce,
                                  "proof": protocol.proof(token, self.nonce), "codecs": codecs or ["g722", "pcmu"]})
        if rsp["t"] != "joined":
            raise Refused(rsp.get("reason", rsp["t"]))
        self.joined, self.uid, self.relay_key, self._bind_counter = rsp, uid, rsp["relay_key"], 0
        await self.open_media()
        if refresh > 0:
            self._tasks.append(asyncio.create_task(self._refresh(refresh)))
        return rsp

    async def open_media(self) -> None:
        """A new media socket (a new local port, as after a NAT rebinding), bound at the relay."""
        if self.media is not None and self.media.transport is not None:
            self.media.transport.close()
        loop = asyncio.get_running_loop()
        _, self.media = await loop.create_datagram_endpoint(MediaSocket, remote_addr=(self.host, self.joined["relay_port"]))
        await self.bind()

    def binding(self) -> bytes:
        """The next binding datagram (a fresh counter)."""
        self._bind_counter += 1
        return binding.encode(self.relay_key, self.uid, self._bind_counter)

    async def bind(self, tries: int = BIND_TRIES) -> None:
        """Binds the media socket's address at the relay; ConnectionError if no ack comes."""
        assert self.media is not None
        for _ in range(tries):
            counter = self._bind_counter + 1
            self.send_media(self.binding())
            deadline = asyncio.get_running_loop().time() + BIND_RETRY_S
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    ack = await asyncio.wait_for(self.media.acks.get(), left)
                except asyncio.TimeoutError:
                    break
                b = binding.decode(self.relay_key, ack)
                if b is not None and b.kind == binding.ACK and b.counter == counter:
                    self.bound += 1
                    return
        raise ConnectionError("the relay did not acknowledge the media binding")

    async def _refresh(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            if self.media is not None and self.media.transport is not None:
                self.send_media(self.binding())  # consent refresh; its ack is not waited for

    def send_media(self, data: bytes) -> None:
        assert self.media is not None and self.media.transport is not None
        self.media.transport.sendto(data)

    async def wait_event(self, t: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                ev = await self.events.get()
                if ev.get("t") == t and all(ev.get(k) == v for k, v in match.items()):
                    return ev

        return await asyncio.wait_for(find(), timeout)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.media and self.media.transport:
            self.media.transport.close()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
