"""SMP over a serial console (mcumgr's console transport), host side.

packet = u16 big-endian length (body + 2) + body + CRC-16/XMODEM(body), base64-encoded and cut
into frames of at most 127 bytes: the first starts with 06 09, the others with 04 14, each ends
with a newline and carries whole base64 quads. The body is the 8-byte SMP header plus CBOR.
"""
from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

START, CONT = b"\x06\x09", b"\x04\x14"
MAX_FRAME = 127
RAW_PER_FRAME = (MAX_FRAME - 3) // 4 * 3
MAX_PACKET = 65535
OP_READ, OP_READ_RSP, OP_WRITE, OP_WRITE_RSP = 0, 1, 2, 3


def crc16_xmodem(data: bytes, crc: int = 0) -> int:
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


@dataclass(frozen=True)
class Header:
    op: int
    flags: int
    length: int
    group: int
    seq: int
    id: int
    version: int = 1

    def pack(self) -> bytes:
        return struct.pack(">BBHHBB", ((self.version & 3) << 3) | (self.op & 7), self.flags, self.length,
                           self.group, self.seq, self.id)

    @staticmethod
    def unpack(b: bytes) -> Header:
        if len(b) < 8:
            raise ValueError("SMP header shorter than 8 bytes")
        v, flags, length, group, seq, cid = struct.unpack(">BBHHBB", b[:8])
        return Header(v & 7, flags, length, group, seq, cid, (v >> 3) & 3)


def encode_frames(body: bytes, max_frame: int = MAX_FRAME) -> list[bytes]:
    raw_per_frame = (max_frame - 3) // 4 * 3
    if len(body) + 2 > MAX_PACKET:
        raise ValueError(f"SMP packet of {len(body)} bytes is too large")
    raw = struct.pack(">H", len(body) + 2) + body + struct.pack(">H", crc16_xmodem(body))
    return [(START if i == 0 else CONT) + base64.b64encode(raw[i : i + raw_per_frame]) + b"\n"
            for i in range(0, len(raw), raw_per_frame)]


class FrameDecoder:
    """Bytes from the port in, complete packet bodies out; text between frames is kept in
    `text` (the device's log and REPL output, for transcripts); bad frames are counted."""

    def __init__(self) -> None:
        self._line = bytearray()
        self._raw: bytearray | None = None
        self.errors: list[str] = []
        self.text = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        out = []
        for b in data:
            if b != 0x0A:
                self._line.append(b)
                continue
            line, self._line = bytes(self._line), bytearray()
            body = self._frame(line)
            if body is not None:
                out.append(body)
        return out

    def _fail(self, why: str) -> None:
        self.errors.append(why)
        self._raw = None

    def _frame(self, line: bytes) -> bytes | None:
        # The device's own output (a REPL prompt, a log line) may precede a frame on its line.
        at = min((i for i in (line.find(START), line.find(CONT)) if i >= 0), default=-1)
        if at < 0:
            self.text += line + b"\n"
            return None
        self.text += line[:at]
        line = line[at:]
        if line.startswith(START):
            self._raw = bytearray()
        elif self._raw is None:
            self._fail("continuation frame without a start frame")
            return None
        try:
            self._raw += base64.b64decode(line[2:], validate=True)
        except (binascii.Error, ValueError):
            self._fail("frame is not base64")
            return None
        if len(self._raw) < 2:
            return None
        n = struct.unpack(">H", self._raw[:2])[0]
        if n < 2:
            self._fail("packet length below 2")
            return None
        if len(self._raw) - 2 < n:
            return None
        raw, self._raw = bytes(self._raw), None
        if len(raw) - 2 > n:
            self.errors.append("packet longer than its length field")
            return None
        body, crc = raw[2:n], struct.unpack(">H", raw[n : n + 2])[0]
        if crc16_xmodem(body) != crc:
            self.errors.append("packet CRC mismatch")
            return None
        return body
