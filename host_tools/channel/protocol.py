"""Signalling protocol, version 1: each message is a frame of a big-endian u16 length and a CBOR
map with "v" (1), "t" (type) and, for requests, "id" (the sender's request number, an unsigned
integer, echoed in the reply as "re"). Types:

client → server: hello-ack is implicit; join {token, channel, uid, nonce, proof, codecs}; leave;
  invite {to, call}; accept {call}; reject {call}; cancel {call}; hangup {call}; renew {token};
  ping
server → client: hello {nonce, server, rtt_ms}; joined {member, relay_port, relay_key, members,
  expires_at, codec}; refused {reason}; presence {uid, state}; ring {call, from, codec};
  call-state {call, state, reason}; will-expire {expires_at}; renewed {expires_at};
  error {reason}; pong

Values are integers, text, bytes, lists and maps only (and false/true/null): no floats, no tags,
definite lengths (the devices' CBOR has no more). A frame is checked against that subset before
it is decoded, with at most MAX_DEPTH levels of nesting and MAX_ITEMS items: a frame that is not
CBOR ends the connection (ProtocolError); a well-formed frame outside the subset, or without the
version, type or a proper id, is a BadMessage the server answers with an error, and the
connection goes on.

`proof` = HMAC-SHA256(key=SHA-256(token), msg=nonce): a join replayed from another connection
carries another connection's nonce and is refused. (The token stays a bearer credential: this
stops message replay, not a stolen token.)

Relay bindings (the media side, see `binding`) use the `relay_key` of the joined answer.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Any

import cbor2

VERSION = 1
MAX_FRAME = 8192
MAX_DEPTH = 8
MAX_ITEMS = 512
MAX_ID = 2**53


class ProtocolError(ValueError):
    pass


class BadMessage(Exception):
    """A frame that arrived whole but is not a message this protocol accepts."""

    @property
    def reason(self) -> str:
        return str(self)


def encode(msg: dict[str, Any]) -> bytes:
    body = cbor2.dumps({"v": VERSION, **msg})
    if len(body) > MAX_FRAME:
        raise ProtocolError("message too large")
    return struct.pack(">H", len(body)) + body


def proof(token: str, nonce: bytes) -> bytes:
    return hmac.new(hashlib.sha256(token.encode()).digest(), nonce, hashlib.sha256).digest()


class _Scan:
    """Walks one CBOR item of the protocol's subset without building it."""

    def __init__(self, body: bytes) -> None:
        self.body, self.pos, self.items = body, 0, 0

    def arg(self, info: int) -> int:
        if info < 24:
            return info
        size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if size is None:
            raise BadMessage("indefinite lengths and reserved CBOR encodings are not accepted")
        if self.pos + size > len(self.body):
            raise ProtocolError("frame is not CBOR: truncated")
        v = int.from_bytes(self.body[self.pos : self.pos + size], "big")
        self.pos += size
        return v

    def item(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise BadMessage(f"nested deeper than {MAX_DEPTH} levels")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise BadMessage(f"more than {MAX_ITEMS} values in one message")
        if self.pos >= len(self.body):
            raise ProtocolError("frame is not CBOR: truncated")
        ib = self.body[self.pos]
        self.pos += 1
        major, info = ib >> 5, ib & 0x1F
        if major == 6:
            raise BadMessage("CBOR tags are not accepted")
        if major == 7:
            if info not in (20, 21, 22):
                raise BadMessage("only false, true and null are accepted among CBOR simple values (no floats)")
            return
        n = self.arg(info)
        if major in (2, 3):
            if self.pos + n > len(self.body):
                raise ProtocolError("frame is not CBOR: truncated")
            self.pos += n
        elif major in (4, 5):
            for _ in range(n * (2 if major == 5 else 1)):
                self.item(depth + 1)


def check(body: bytes) -> None:
    """Raises ProtocolError (not CBOR) or BadMessage (outside the subset) for a frame's body."""
    scan = _Scan(body)
    scan.item(0)
    if scan.pos != len(body):
        raise ProtocolError(f"frame is not CBOR: {len(body) - scan.pos} bytes after the message")


def _message(body: bytes) -> dict[str, Any] | BadMessage:
    try:
        check(body)
    except BadMessage as bad:
        return bad
    try:
        msg = cbor2.loads(body)
    except Exception as exc:  # noqa: BLE001 - any decoding failure (e.g. text that is not UTF-8)
        raise ProtocolError(f"frame is not CBOR: {exc}") from None
    if not isinstance(msg, dict) or msg.get("v") != VERSION or not isinstance(msg.get("t"), str):
        return BadMessage("not a version-1 message")
    rid = msg.get("id")
    if "id" in msg and (isinstance(rid, bool) or not isinstance(rid, int) or not 0 <= rid <= MAX_ID):
        return BadMessage(f"a request id must be an integer 0..{MAX_ID}")
    return msg


class Reader:
    """Bytes in, messages out. A frame that breaks the framing or is not CBOR raises
    ProtocolError (the connection ends); a whole frame that is not an acceptable message comes out
    as a BadMessage in its place."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any] | BadMessage]:
        self.buf += data
        out: list[dict[str, Any] | BadMessage] = []
        while len(self.buf) >= 2:
            n = struct.unpack(">H", self.buf[:2])[0]
            if n == 0 or n > MAX_FRAME:
                raise ProtocolError(f"bad frame length {n}")
            if len(self.buf) < 2 + n:
                break
            body, self.buf = bytes(self.buf[2 : 2 + n]), self.buf[2 + n :]
            out.append(_message(body))
        return out
