"""The channel server (asyncio): signalling over TCP and an SFU-style UDP media relay.

Join: the hello's nonce, the token (AccessToken2) verified against the app certificate and
checked for channel, uid, the join privilege and expiry, and the proof of the nonce; refused
with a reason otherwise. Tokens are verified on a worker thread (bounded parsing, see
host_tools/token/accesstoken2.py), so a connection that sends costly tokens cannot stall the
others. Calls: invite → ring → accept | reject | cancel | timeout, then hang-up. Presence goes to
the channel. A "will-expire" notice precedes a token's expiry; "renew" replaces the token in
place; a member whose token expires is dropped. Keep-alive: a member silent for
`keepalive_timeout` seconds is dropped.

Robustness: every message's fields are checked (schema) before a handler changes any state; what
a handler still raises becomes an error reply on that connection (counted in
stats.internal_errors), never the end of the connection (only a frame that is not CBOR ends it,
after an error reply the peer gets to read); sending never raises (an answer that
cannot be encoded is counted in stats.send_errors and replaced by a short error); a call's state
is cleared before anyone is notified of its end.

Media: each member gets its own relay UDP port and a random relay key (in `joined`). Its media
address is bound by an authenticated binding datagram (relay, binding); everything else arriving
there is dropped and counted (relay_stats). Packets from the bound address go to its call peer
when both are in the call; outside a call, to every other member of the channel not in a call;
each through the impairment of that (sender → receiver) link, from the receiver's relay port.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from host_tools.channel import binding, protocol, schema
from host_tools.channel.impair import Impairment, Link
from host_tools.channel.relay import RelayProtocol, RelayStats, consent_fresh
from host_tools.token import accesstoken2 as at

JOIN = at.PRIVILEGES["join"]
LINGER_S, LINGER_BYTES = 1.0, 65536  # after a fatal protocol error (Connection._last_word)
MAX_LISTED_MEMBERS = 24  # the joined answer lists at most this many (members_total has the count)
log = logging.getLogger("edgecall.channel")


@dataclass
class Member:
    uid: str
    channel: str
    conn: Connection
    token: str
    expires_at: int
    codecs: list[str]
    relay_key: bytes = field(default_factory=lambda: os.urandom(binding.KEY_BYTES), repr=False)
    relay: asyncio.DatagramTransport | None = None
    remote: tuple[str, int] | None = None  # the bound media address
    bind_counter: int = 0  # the last binding counter accepted
    consent_at: float = 0.0  # loop time of the last accepted binding
    call: str | None = None
    relay_port: int = 0
    packets_in: int = 0


@dataclass
class Call:
    id: str
    caller: Member
    callee: Member
    codec: str
    state: str = "ringing"  # ringing | in-call | ended
    timer: asyncio.TimerHandle | None = None


@dataclass
class Stats:
    joins: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    answered: int = 0
    forwarded: int = 0
    bad_messages: int = 0  # whole frames that were not acceptable messages (answered with an error)
    internal_errors: int = 0  # exceptions a handler raised (answered with an error)
    send_errors: int = 0  # answers or notifications that could not be encoded


class ChannelServer:
    def __init__(self, app_id: str, app_cert: bytes, host: str = "127.0.0.1", port: int = 0,
                 impairment: Impairment | None = None, seed: int = 1, signal_rtt_ms: float = 0.0,
                 ring_timeout: float = 30.0, expiry_notice: float = 30.0, keepalive_timeout: float = 10.0,
                 codecs: tuple[str, ...] = ("opus", "g722", "pcmu", "pcma"), consent_timeout: float = 30.0) -> None:
        self.app_id, self._cert = app_id, app_cert
        self.host, self.port = host, port
        self.impairment = impairment or Impairment()
        self.link_impairment: dict[tuple[str, str], Impairment] = {}
        self.seed = seed
        self.signal_delay = signal_rtt_ms / 2000.0
        self.ring_timeout, self.expiry_notice, self.keepalive_timeout = ring_timeout, expiry_notice, keepalive_timeout
        self.consent_timeout = consent_timeout
        self.codecs = codecs
        self.members: dict[tuple[str, str], Member] = {}
        self.calls: dict[str, Call] = {}
        self.links: dict[tuple[str, str], Link] = {}
        self.stats = Stats()
        self.relay_stats = RelayStats()
        self.outages: dict[str, float] = {}  # uid -> monotonic end of its link outage
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[Connection] = set()
        self._verifier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgecall-token-verify")

    async def start(self) -> ChannelServer:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for c in list(self._conns):
            c.close()
        for m in list(self.members.values()):
            if m.relay:
                m.relay.close()
        if self._server:
            self._server.close()
            await self._server.wait_closed()
        self._verifier.shutdown(wait=False, cancel_futures=True)

    async def verify(self, token: str, **claims: Any) -> at.Verdict:
        """at.verify on the server's worker thread (the event loop goes on meanwhile)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._verifier, functools.partial(at.verify, token, self._cert, **claims))

    def set_impairment(self, imp: Impairment, seed: int | None = None) -> None:
        """Impairment for every link from now on (per-link overrides stay); links restart their
        random streams, so a profile's run is reproducible from its seed."""
        self.impairment = imp
        if seed is not None:
            self.seed = seed
        self.links.clear()

    def outage(self, uid: str, seconds: float) -> None:
        """Cuts a member's network for `seconds`: its signalling and media, both ways, are dropped
        (as when a Wi-Fi link drops: the TCP connection stays open but nothing passes)."""
        self.outages[uid] = time.monotonic() + seconds

    def cut_off(self, uid: str | None) -> bool:
        end = self.outages.get(uid or "")
        if end is None:
            return False
        if time.monotonic() < end:
            return True
        del self.outages[uid or ""]
        return False

    def refuse(self, reason: str) -> None:
        self.stats.refused[reason] = self.stats.refused.get(reason, 0) + 1

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)

    # ---- members ----
    def channel_members(self, channel: str) -> list[Member]:
        return [m for (ch, _), m in self.members.items() if ch == channel]

    def presence(self, member: Member, state: str) -> None:
        for m in self.channel_members(member.channel):
            if m is not member:
                m.conn.send({"t": "presence", "uid": member.uid, "state": state})

    async def add_member(self, m: Member) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: RelayProtocol(self, m), local_addr=(self.host, 0))
        m.relay = transport
        m.relay_port = transport.get_extra_info("sockname")[1]
        old = self.members.get((m.channel, m.uid))
        if old is not None:  # a rejoin after a lost connection replaces the stale session
            self.remove_member(old, "replaced by a new session")
        self.members[(m.channel, m.uid)] = m
        self.stats.joins += 1
        self.presence(m, "online")

    def remove_member(self, m: Member, reason: str) -> None:
        if self.members.get((m.channel, m.uid)) is not m:
            return
        del self.members[(m.channel, m.uid)]
        if m.call and m.call in self.calls:
            self.end_call(self.calls[m.call], f"peer left: {reason}")
        if m.relay:
            m.relay.close()
        self.presence(m, "offline")

    # ---- calls ----
    def end_call(self, call: Call, reason: str) -> None:
        """Clears the call everywhere first, then tells both parties."""
        if call.state == "ended":
            return
        call.state = "ended"
        if call.timer:
            call.timer.cancel()
        if self.calls.get(call.id) is call:
            del self.calls[call.id]
        for m in (call.caller, call.callee):
            if m.call == call.id:
                m.call = None
        for m in (call.caller, call.callee):
            m.conn.send({"t": "call-state", "call": call.id, "state": "ended", "reason": reason})

    def ring_timed_out(self, call: Call) -> None:
        if call.state == "ringing":
            self.end_call(call, "timeout")

    # ---- media ----
    def link(self, src: Member, dst: Member) -> Link:
        key = (src.uid, dst.uid)
        link = self.links.get(key)
        if link is None:
            imp = self.link_impairment.get(key, self.impairment)
            link = Link(imp, seed=zlib.crc32(f"{self.seed}:{src.uid}->{dst.uid}".encode()))
            self.links[key] = link
        return link

    def media_peers(self, src: Member) -> list[Member]:
        """Who gets src's media: its peer when both are in the same answered call; outside calls,
        the channel's other members that are not in a call (ringing or answered) either."""
        if src.call is not None:
            c = self.calls.get(src.call)
            if c is None or c.state != "in-call" or src not in (c.caller, c.callee):
                return []
            return [c.callee if c.caller is src else c.caller]
        return [m for m in self.channel_members(src.channel) if m is not src and m.call is None]

    def forward(self, src: Member, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time() * 1000.0
        for dst in self.media_peers(src):
            if dst.remote is None or dst.relay is None:
                continue
            for t in self.link(src, dst).schedule(now, len(data)):
                delay = max(0.0, (t - now) / 1000.0)
                if delay <= 0:
                    self._send_media(dst, data)
                else:
                    loop.call_later(delay, self._send_media, dst, data)

    def _send_media(self, dst: Member, data: bytes) -> None:
        if self.cut_off(dst.uid) or dst.relay is None or dst.relay.is_closing():
            return
        if dst.remote is not None and consent_fresh(dst, asyncio.get_running_loop().time(), self.consent_timeout):
            dst.relay.sendto(data, dst.remote)
            self.stats.forwarded += 1


class Connection:
    def __init__(self, server: ChannelServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.nonce = os.urandom(16)
        self.member: Member | None = None
        self.last_seen = time.monotonic()
        self._timers: list[asyncio.TimerHandle] = []
        self._eof = False

    def send(self, msg: dict[str, Any]) -> None:
        """Queues a message; never raises (what cannot be encoded is counted and replaced)."""
        if self.writer.is_closing() or self.server.cut_off(self.member.uid if self.member else None):
            return
        try:
            data = protocol.encode(msg)
        except Exception as exc:  # noqa: BLE001 - too large, or a value CBOR cannot carry
            self.server.stats.send_errors += 1
            log.warning("signalling: a %r message could not be sent (%s)", msg.get("t"), type(exc).__name__)
            if msg.get("t") == "error":
                return
            short = {"t": "error", "reason": f"the {msg.get('t')!s:.20} message could not be encoded"}
            if isinstance(msg.get("re"), int):
                short["re"] = msg["re"]
            data = protocol.encode(short)
        if self.server.signal_delay > 0:
            asyncio.get_running_loop().call_later(self.server.signal_delay, self._write, data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        if not self.writer.is_closing() and not self._eof:
            self.writer.write(data)

    def close(self) -> None:
        for t in self._timers:
            t.cancel()
        if not self.writer.is_closing():
            self.writer.close()

    async def run(self) -> None:
        rd = protocol.Reader()
        self.send({"t": "hello", "nonce": self.nonce, "server": "edgecall", "rtt_ms": round(self.server.signal_delay * 2000)})
        watchdog = asyncio.create_task(self._keepalive())
        try:
            while True:
                data = await self.reader.read(4096)
                if not data:
                    break
                if self.server.cut_off(self.member.uid if self.member else None):
                    continue  # lost on the way
                self.last_seen = time.monotonic()
                try:
                    msgs = rd.feed(data)
                except protocol.ProtocolError as exc:
                    await self._last_word({"t": "error", "reason": str(exc)})
                    break
                for msg in msgs:
                    if self.server.signal_delay > 0:
                        await asyncio.sleep(self.server.signal_delay)
                    if isinstance(msg, protocol.BadMessage):
                        self.server.stats.bad_messages += 1
                        self.send({"t": "error", "reason": f"message refused: {msg.reason}"})
                    else:
                        await self.dispatch(msg)
        except (ConnectionError, OSError):
            pass
        finally:
            watchdog.cancel()
            if self.member is not None:
                self.server.remove_member(self.member, "connection closed")
            self.close()

    async def _last_word(self, msg: dict[str, Any]) -> None:
        """Sends msg at once and ends the sending side; what the peer still sends is read and
        discarded for a moment (at most LINGER_S, LINGER_BYTES), so that closing does not reset
        the connection before the peer has read msg."""
        if self.writer.is_closing():
            return
        self._write(protocol.encode(msg))
        if not self.writer.can_write_eof():
            return
        self.writer.write_eof()
        self._eof = True  # answers still delayed by the emulated round trip are dropped
        loop = asyncio.get_running_loop()
        deadline, left = loop.time() + LINGER_S, LINGER_BYTES
        while left > 0 and (wait := deadline - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(self.reader.read(4096), wait)
            except asyncio.TimeoutError:
                return
            if not data:
                return
            left -= len(data)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.server.keepalive_timeout / 4))
            if time.monotonic() - self.last_seen > self.server.keepalive_timeout:
                self.close()
                return

    def reply(self, msg: dict[str, Any], req: dict[str, Any], t: str, **fields: Any) -> None:
        self.send({"t": t, **({"re": req["id"]} if "id" in req else {}), **fields})

    async def dispatch(self, msg: dict[str, Any]) -> None:
        """handle(msg); what it raises is answered on this connection and counted."""
        try:
            await self.handle(msg)
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as exc:  # noqa: BLE001 - the safety net: one bad message costs one error reply
            self.server.stats.internal_errors += 1
            log.error("signalling: handling %r failed: %s", str(msg.get("t"))[:20], type(exc).__name__)
            log.debug("signalling: handler traceback", exc_info=True)
            self.reply(msg, msg, "error", reason=f"internal error ({type(exc).__name__})")

    async def handle(self, msg: dict[str, Any]) -> None:
        t = msg["t"]
        if t == "ping":
            self.reply(msg, msg, "pong")
        elif t == "join":
            await self.join(msg)
        elif self.member is None:
            self.reply(msg, msg, "error", reason="join first")
        elif t == "leave":
            self.server.remove_member(self.member, "left")
            self.member = None
            self.reply(msg, msg, "left")
        elif t == "renew":
            await self.renew(msg)
        elif t in ("invite", "accept", "reject", "cancel", "hangup"):
            self.call_msg(t, msg)
        else:
            self.reply(msg, msg, "error", reason=f"unknown message type {t[:32]!r}")

    async def join(self, msg: dict[str, Any]) -> None:
        srv = self.server
        uid = msg.get("uid")
        if isinstance(uid, str) and srv.cut_off(uid):
            return  # its network is down: the join never arrived
        bad = schema.join(msg)
        if bad is not None:
            srv.refuse("malformed")
            self.reply(msg, msg, "refused", reason=f"malformed join: {bad}")
            return
        if self.member is not None:
            self.reply(msg, msg, "refused", reason=f"already joined as {self.member.uid!r}; leave first")
            return
        token: str = msg["token"]
        channel: str = msg["channel"]
        uid = msg["uid"]
        if msg["nonce"] != self.nonce or msg["proof"] != protocol.proof(token, self.nonce):
            srv.refuse("replayed")
            self.reply(msg, msg, "refused", reason="replayed or unauthenticated join (nonce)")
            return
        v = await srv.verify(token, app_id=srv.app_id, channel=channel, uid=uid, privilege=JOIN)
        if not v.valid or v.token is None:
            srv.refuse(v.reason)
            self.reply(msg, msg, "refused", reason=v.reason)
            return
        if self.member is not None or self.writer.is_closing():
            return  # joined, or gone, while the token was being verified
        codecs = [c for c in msg.get("codecs", ["g722"]) if c in srv.codecs]
        member = Member(uid, channel, self, token, v.token.expires_at(), codecs or ["pcmu"])
        await srv.add_member(member)
        self.member = member
        self._schedule_expiry()
        others = [m.uid for m in srv.channel_members(channel) if m is not member]
        self.reply(msg, msg, "joined", member=uid, relay_port=member.relay_port, relay_key=member.relay_key,
                   expires_at=member.expires_at, members=others[:MAX_LISTED_MEMBERS], members_total=len(others),
                   codec=member.codecs[0])

    def _schedule_expiry(self) -> None:
        for t in self._timers:
            t.cancel()
        m = self.member
        assert m is not None
        loop = asyncio.get_running_loop()
        left = m.expires_at - time.time()
        self._timers = [loop.call_later(max(0.0, left - self.server.expiry_notice), self._notice, m.expires_at),
                        loop.call_later(max(0.0, left), self._expired, m.expires_at)]

    def _notice(self, expires_at: int) -> None:
        if self.member and self.member.expires_at == expires_at:
            self.send({"t": "will-expire", "expires_at": expires_at})

    def _expired(self, expires_at: int) -> None:
        if self.member and self.member.expires_at == expires_at:
            self.send({"t": "refused", "reason": "token expired"})
            self.server.remove_member(self.member, "token expired")
            self.member = None
            self.close()

    async def renew(self, msg: dict[str, Any]) -> None:
        m = self.member
        assert m is not None
        bad = schema.token(msg)
        if bad is not None:
            self.reply(msg, msg, "error", reason=f"renewal refused: {bad}")
            return
        token = msg["token"]
        v = await self.server.verify(token, app_id=self.server.app_id, channel=m.channel, uid=m.uid, privilege=JOIN)
        if not v.valid or v.token is None:
            self.reply(msg, msg, "error", reason=f"renewal refused: {v.reason}")
            return
        if self.member is not m:
            return  # left while the token was being verified
        m.token, m.expires_at = token, v.token.expires_at()
        self._schedule_expiry()
        self.reply(msg, msg, "renewed", expires_at=m.expires_at)

    def call_msg(self, t: str, msg: dict[str, Any]) -> None:
        srv, me = self.server, self.member
        assert me is not None
        bad = schema.call(t, msg)
        if bad is not None:
            self.reply(msg, msg, "error", reason=f"{t} refused: {bad}")
            return
        call_id = msg["call"]
        if t == "invite":
            peer = srv.members.get((me.channel, msg["to"]))
            if peer is None:
                self.reply(msg, msg, "call-state", call=call_id, state="ended", reason="callee not online")
                return
            if peer is me or me.call or peer.call or call_id in srv.calls:
                self.reply(msg, msg, "call-state", call=call_id, state="ended", reason="busy")
                return
            common = [c for c in me.codecs if c in peer.codecs] or ["pcmu"]
            call = Call(call_id, me, peer, common[0])
            call.timer = asyncio.get_running_loop().call_later(srv.ring_timeout, srv.ring_timed_out, call)
            srv.calls[call_id] = call
            srv.stats.calls += 1
            me.call = peer.call = call_id
            peer.conn.send({"t": "ring", "call": call_id, "from": me.uid, "codec": call.codec})
            self.reply(msg, msg, "call-state", call=call_id, state="ringing", codec=call.codec)
            return
        found = srv.calls.get(call_id)
        if found is None or me not in (found.caller, found.callee):
            self.reply(msg, msg, "error", reason="no such call")
            return
        call = found
        if t == "accept" and me is call.callee and call.state == "ringing":
            call.state = "in-call"
            if call.timer:
                call.timer.cancel()
            srv.stats.answered += 1
            for m in (call.caller, call.callee):
                m.conn.send({"t": "call-state", "call": call_id, "state": "in-call", "codec": call.codec})
        elif t == "reject" and me is call.callee and call.state == "ringing":
            srv.end_call(call, "rejected")
        elif t == "cancel" and me is call.caller and call.state == "ringing":
            srv.end_call(call, "cancelled")
        elif t == "hangup":
            srv.end_call(call, f"hung up by {me.uid}")
        else:
            self.reply(msg, msg, "error", reason=f"{t} not allowed while {call.state}")
