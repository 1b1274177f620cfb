"""Signalling protocol, version 1: each message is a frame of a big-endian u16 length and a CBOR
map with "v" (1), "t" (type) and, for requests, "id" (the sender's request number, echoed in the
reply as "re"). Types:

client → server: hello-ack is implicit; join {token, channel, uid, nonce, proof, codecs}; leave;
  invite {to, call}; accept {call}; reject {call}; cancel {call}; hangup {call}; renew {token};
  ping
server → client: hello {nonce, server, rtt_ms}; joined {member, relay_port, members,
  expires_at, codec}; refused {reason}; presence {uid, state}; ring {call, from, codec};
  call-state {call, state, reason}; will-expire {expires_at}; renewed {expires_at};
  error {reason}; pong

Values are integers, text, bytes, lists and maps only: no floats (the devices' CBOR has none).

`proof` = HMAC-SHA256(key=SHA-256(token), msg=nonce): a join replayed from another connection
carries another connection's nonce and is refused. (The token stays a bearer credential: this
stops message replay, not a stolen token.)
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Any

import cbor2

VERSION = 1
MAX_FRAME = 8192


class ProtocolError(ValueError):
    pass


def encode(msg: dict[str, Any]) -> bytes:
    body = cbor2.dumps({"v": VERSION, **msg})
    if len(body) > MAX_FRAME:
        raise ProtocolError("message too large")
    return struct.pack(">H", len(body)) + body


def proof(token: str, nonce: bytes) -> bytes:
    return hmac.new(hashlib.sha256(token.encode()).digest(), nonce, hashlib.sha256).digest()


class Reader:
    """Bytes in, messages out; a malformed frame raises ProtocolError (the connection ends)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self.buf += data
        out = []
        while len(self.buf) >= 2:
            n = struct.unpack(">H", self.buf[:2])[0]
            if n == 0 or n > MAX_FRAME:
                raise ProtocolError(f"bad frame length {n}")
            if len(self.buf) < 2 + n:
                break
            body, self.buf = bytes(self.buf[2 : 2 + n]), self.buf[2 + n :]
            try:
                msg = cbor2.loads(body)
            except Exception as exc:  # noqa: BLE001 - any decoding failure
                raise ProtocolError(f"frame is not CBOR: {exc}") from None
            if not isinstance(msg, dict) or msg.get("v") != VERSION or not isinstance(msg.get("t"), str):
                raise ProtocolError("not a version-1 message")
            out.append(msg)
        return out
