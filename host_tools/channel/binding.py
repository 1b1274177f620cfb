"""Relay bindings: how a member proves, over UDP, that a media address is its own (after TURN's
permissions, RFC 8656 §9, and ICE consent freshness, RFC 7675).

The joined answer gives each member a random `relay_key`. A binding datagram is

    MAGIC (2: 0xEC 'B') | kind (1: 1 bind, 2 ack) | id length (1) | member id (1..255, UTF-8)
    | counter (8, big-endian) | mac (16: HMAC-SHA256(relay_key, everything before it), truncated)

Its first byte, 0xEC, is outside the ranges RFC 7983 gives RTP/RTCP (128-191), STUN (0-3), DTLS
(20-63) and TURN channels (64-79), so it is never taken for media. The relay binds the member's
media address to the sender of a bind whose MAC is right and whose counter is above every counter
it accepted before for that member (a replayed bind is refused), and answers with an ack of the
same counter. The device side is firmware/edgecall/signaling.py (relay_binding).
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

MAGIC = b"\xecB"
BIND, ACK = 1, 2
MAC_BYTES = 16
KEY_BYTES = 32
MAX_COUNTER = 2**64 - 1
MIN_SIZE = len(MAGIC) + 2 + 1 + 8 + MAC_BYTES
MAX_SIZE = len(MAGIC) + 2 + 255 + 8 + MAC_BYTES


@dataclass(frozen=True)
class Binding:
    kind: int
    member: str
    counter: int


def is_binding(data: bytes) -> bool:
    """True when a datagram claims to be a binding (by its magic), whether or not it is valid."""
    return data[:2] == MAGIC


def encode(key: bytes, member: str, counter: int, kind: int = BIND) -> bytes:
    mid = member.encode()
    if not 1 <= len(mid) <= 255:
        raise ValueError("member id must be 1 to 255 bytes")
    if not 0 <= counter <= MAX_COUNTER:
        raise ValueError("counter must fit in 64 bits")
    head = MAGIC + bytes((kind, len(mid))) + mid + struct.pack(">Q", counter)
    return head + hmac.new(key, head, hashlib.sha256).digest()[:MAC_BYTES]


def decode(key: bytes, data: bytes) -> Binding | None:
    """The binding in `data` if it is well formed and its MAC is right under `key`; else None."""
    if not MIN_SIZE <= len(data) <= MAX_SIZE or not is_binding(data):
        return None
    kind, n = data[2], data[3]
    if kind not in (BIND, ACK) or len(data) != len(MAGIC) + 2 + n + 8 + MAC_BYTES or n == 0:
        return None
    head, mac = data[:-MAC_BYTES], data[-MAC_BYTES:]
    if not hmac.compare_digest(hmac.new(key, head, hashlib.sha256).digest()[:MAC_BYTES], mac):
        return None
    try:
        member = data[4 : 4 + n].decode()
    except UnicodeDecodeError:
        return None
    (counter,) = struct.unpack(">Q", data[4 + n : 4 + n + 8])
    return Binding(kind, member, counter)
