# signaling.py — call control on the device: the channel server's protocol (version 1; see
# host_tools/channel/protocol.py) over hal.net TCP, on asyncio.
#
# States: idle → calling (invite sent) | ringing (invite received) → in-call → ending → idle.
# Keep-alive: a ping every second; no message for 4 s → "reconnecting", for 10 s → "lost", then
# rejoin with back-off (0.5 s doubling to 8 s); a join unanswered for 5 s starts over the same
# way. On "will-expire" the client renews with the token the station stored last (edgecall
# provision renew). Statistics go to the console (status()).
#
# Relay binding: the joined answer carries a relay key; the media path proves its UDP address to
# the relay with binding datagrams (relay_binding; the format is host_tools/channel/binding.py's:
# 0xEC 'B', kind, member id, a counter that only grows, HMAC-SHA256 truncated to 16 bytes). A new
# join brings a new key and starts the counter again.
import asyncio
import hashlib
import struct
import time

from edgecall import cbor, log

VERSION = 1
PING_MS, SILENT_MS, LOST_MS = 1000, 4000, 10000
JOIN_TIMEOUT_MS = 5000  # no joined/refused this long after connecting: start over
# A call state the server should have moved on from by now (its ring timeout is 30 s).
CALL_TIMEOUT_MS = {"calling": 35000, "ringing": 35000, "ending": 5000}


def hmac_sha256(key, msg):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + b"\x00" * (64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + msg).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).digest()


BIND_MAGIC = b"\xecB"
BIND, BIND_ACK = 1, 2
BIND_MAC = 16


def relay_binding(key, uid, counter, kind=BIND):
    """The binding datagram for member `uid` with this counter (64 bits, big-endian)."""
    mid = uid.encode()
    head = BIND_MAGIC + bytes((kind, len(mid))) + mid + struct.pack(">II", counter >> 32, counter & 0xFFFFFFFF)
    return head + hmac_sha256(key, head)[:BIND_MAC]


def proof(token, nonce):
    return hmac_sha256(hashlib.sha256(token.encode()).digest(), nonce)


def frame(msg):
    msg["v"] = VERSION
    body = cbor.encode(msg)
    return struct.pack(">H", len(body)) + body


class Signaling:
    def __init__(self, net, host, port, channel, uid, token_source, codecs=("g722", "pcmu"), on_event=None):
        self.net, self.host, self.port = net, host, port
        self.channel, self.uid = channel, uid
        self.token_source = token_source  # () -> the current token
        self.codecs = list(codecs)
        self.on_event = on_event
        self.conn = None
        self.buf = b""
        self.state = "offline"  # offline | joining | joined | reconnecting | lost
        self.call_state = "idle"  # idle | calling | ringing | in-call | ending
        self.call_id = None
        self.peer = None
        self.codec = None
        self.relay_port = None
        self.relay_key = None
        self._bind_n = 0
        self.expires_at = 0
        self.last_rx = time.ticks_ms()
        self.stats = {"joins": 0, "refused": 0, "reconnects": 0, "calls": 0, "answered": 0, "renewals": 0}  # type: dict[str, int]
        self.join_ms = []  # type: list[int]
        self.setup_ms = []  # type: list[int]
        self._nonce = None
        self._stopped = False
        self._invite_t0 = None
        self._join_t0 = self._connect_t0 = self._call_t = time.ticks_ms()
        self._seq = 0

    # ---- connection ----
    def _send(self, msg):
        if self.conn is not None and self.conn.connected:
            self._seq += 1
            msg["id"] = self._seq
            self.conn.send(frame(msg))

    def close(self):
        """Leaves the channel now and ends run()."""
        self._stopped = True
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.state, self.call_state, self.call_id = "offline", "idle", None

    stop = close

    def status(self):
        return {"state": self.state, "call_state": self.call_state, "call": self.call_id, "peer": self.peer,
                "codec": self.codec, "channel": self.channel, "uid": self.uid, "expires_at": self.expires_at,
                "stats": self.stats, "join_ms": self.join_ms, "setup_ms": self.setup_ms}

    def _connect(self):
        self.conn = self.net.Tcp(self.host, self.port)
        self.buf = b""
        self._nonce = None
        self.state = "joining"
        self.last_rx = self._connect_t0 = time.ticks_ms()

    def _messages(self):
        data = self.conn.recv(2048) if self.conn is not None else None
        if data is None:
            return ()  # (the empty tuple is a constant: nothing allocated while nothing arrives)
        if data == b"":
            raise OSError("connection closed")
        self.last_rx = time.ticks_ms()
        if self.state == "reconnecting":
            self.state = "joined"
            log.info("signalling: link back")
            self._event("joined", relay_port=self.relay_port)
        self.buf += data
        out = []
        while len(self.buf) >= 2:
            n = self.buf[0] << 8 | self.buf[1]
            if len(self.buf) < 2 + n:
                break
            out.append(cbor.decode(self.buf[2 : 2 + n]))
            self.buf = self.buf[2 + n :]
        return out

    def _event(self, kind, **info):
        if self.on_event is not None:
            self.on_event(kind, info)

    def handle(self, m):
        t = m.get("t")
        if t == "hello":
            self._nonce = m["nonce"]
            token = self.token_source()
            self._join_t0 = time.ticks_ms()
            self._send({"t": "join", "token": token, "channel": self.channel, "uid": self.uid, "nonce": self._nonce,
                        "proof": proof(token, self._nonce), "codecs": self.codecs})
        elif t == "joined":
            self.state = "joined"
            self.relay_port = m["relay_port"]
            self.relay_key = m.get("relay_key")
            self._bind_n = 0
            self.expires_at = m["expires_at"]
            self.stats["joins"] += 1
            self.join_ms.append(time.ticks_diff(time.ticks_ms(), self._join_t0))
            self.join_ms = self.join_ms[-20:]
            log.info("joined %s as %s" % (self.channel, self.uid))
            self._event("joined", relay_port=self.relay_port)
        elif t == "refused":
            self.stats["refused"] += 1
            log.warn("refused: %s" % m.get("reason"))
            self.state = "refused"
            self._event("refused", reason=m.get("reason"))
        elif t == "ring":
            if self.call_state != "idle":
                self._send({"t": "reject", "call": m["call"]})
                return
            self.call_state, self.call_id, self.peer, self.codec = "ringing", m["call"], m["from"], m.get("codec")
            self._call_t = time.ticks_ms()
            self._event("ring", call=self.call_id, peer=self.peer)
        elif t == "call-state":
            if m.get("call") != self.call_id:
                return
            st = m.get("state")
            if st == "in-call":
                self.call_state, self.codec = "in-call", m.get("codec", self.codec)
                self.stats["answered"] += 1
                if self._invite_t0:
                    self.setup_ms.append(time.ticks_diff(time.ticks_ms(), self._invite_t0))
                    self.setup_ms = self.setup_ms[-20:]
                    self._invite_t0 = None
                self._event("in-call", call=self.call_id, codec=self.codec)
            elif st == "ended":
                self._event("ended", call=self.call_id, reason=m.get("reason"))
                self.call_state, self.call_id, self.peer = "idle", None, None
        elif t == "will-expire":
            token = self.token_source()
            self._send({"t": "renew", "token": token})
        elif t == "renewed":
            self.expires_at = m["expires_at"]
            self.stats["renewals"] += 1
            self._event("renewed", expires_at=self.expires_at)

    # ---- relay binding ----
    def binding(self):
        """The next binding datagram for the relay (a fresh counter), or None before a join."""
        if self.relay_key is None:
            return None
        self._bind_n += 1
        return relay_binding(self.relay_key, self.uid, self._bind_n)

    def is_ack(self, data):
        """True when `data` is the relay's acknowledgement of our latest binding."""
        if self.relay_key is None or data[:2] != BIND_MAGIC or len(data) < 4 + BIND_MAC or data[2] != BIND_ACK:
            return False
        want = relay_binding(self.relay_key, self.uid, self._bind_n, BIND_ACK)
        return bytes(data) == want

    # ---- call control ----
    def invite(self, to, call_id):
        if self.state != "joined" or self.call_state != "idle":
            return False
        self.call_state, self.call_id, self.peer = "calling", call_id, to
        self._call_t = time.ticks_ms()
        self.stats["calls"] += 1
        self._invite_t0 = time.ticks_ms()
        self._send({"t": "invite", "to": to, "call": call_id})
        return True

    def accept(self):
        if self.call_state == "ringing":
            self._send({"t": "accept", "call": self.call_id})

    def hangup(self):
        if self.call_id is not None:
            kind = "cancel" if self.call_state == "calling" else "hangup"
            self.call_state = "ending"
            self._call_t = time.ticks_ms()
            self._send({"t": kind, "call": self.call_id})

    # ---- the task ----
    async def run(self, beat=None):
        backoff = 500
        last_ping = time.ticks_ms()
        while not self._stopped:
            if beat is not None:
                beat()
            try:
                if self.conn is None or not self.conn.connected:
                    self._connect()
                for m in self._messages():
                    self.handle(m)
                now = time.ticks_ms()
                if time.ticks_diff(now, last_ping) >= PING_MS:
                    self._send({"t": "ping"})
                    last_ping = now
                silent = time.ticks_diff(now, self.last_rx)
                if silent > LOST_MS:
                    raise OSError("connection lost")
                if self.state == "joining" and time.ticks_diff(now, self._connect_t0) > JOIN_TIMEOUT_MS:
                    raise OSError("no answer to the join")
                if silent > SILENT_MS and self.state == "joined":
                    self.state = "reconnecting"
                    self._event("reconnecting")
                if self.state == "joined":
                    backoff = 500
                limit = CALL_TIMEOUT_MS.get(self.call_state)
                if limit is not None and time.ticks_diff(now, self._call_t) > limit:
                    log.warn("call %s: no answer while %s; ending it" % (self.call_id, self.call_state))
                    self._event("ended", call=self.call_id, reason="timeout while " + self.call_state)
                    self.call_state, self.call_id, self.peer = "idle", None, None
            except (OSError, ValueError) as e:
                if self._stopped:
                    break
                log.warn("signalling: %s; rejoin in %d ms" % (e, backoff))
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                self.state = "lost"
                self.stats["reconnects"] += 1
                self._event("lost", reason=str(e))
                self.call_state, self.call_id = "idle", None
                await asyncio.sleep_ms(backoff)
                backoff = min(backoff * 2, 8000)
                continue
            await asyncio.sleep_ms(20)
