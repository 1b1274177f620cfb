"""UF2 files (Microsoft's USB flashing format) for RP2040 boards: a raw binary cut into 256-byte
payloads, one 512-byte block each: magic 0x0A324655 0x9E5D5157, flags (0x2000: family id
present), target address, payload size, block number, block count, family id
(RP2040 0xe48bff56), 476 data bytes (payload + zero padding), final magic 0x0AB16F30."""
from __future__ import annotations

import struct

MAGIC_START0, MAGIC_START1, MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
FLAG_FAMILY_ID = 0x00002000
RP2040_FAMILY = 0xE48BFF56
RP2040_FLASH = 0x10000000
PAYLOAD = 256


def from_binary(data: bytes, base: int = RP2040_FLASH, family: int = RP2040_FAMILY) -> bytes:
    if not data:
        raise ValueError("empty firmware binary")
    blocks = [data[i : i + PAYLOAD] for i in range(0, len(data), PAYLOAD)]
    out = bytearray()
    for n, chunk in enumerate(blocks):
        head = struct.pack("<8I", MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID, base + n * PAYLOAD,
                           PAYLOAD, n, len(blocks), family)
        out += head + chunk.ljust(476, b"\0") + struct.pack("<I", MAGIC_END)
    return bytes(out)


def parse(data: bytes) -> tuple[int, int, bytes]:
    """(family, base address, binary) of a UF2 file with contiguous blocks."""
    if len(data) % 512:
        raise ValueError("UF2 size is not a multiple of 512")
    chunks, family, base = [], 0, None
    for off in range(0, len(data), 512):
        m0, m1, _flags, addr, size, _n, _count, fam = struct.unpack_from("<8I", data, off)
        if (m0, m1) != (MAGIC_START0, MAGIC_START1) or struct.unpack_from("<I", data, off + 508)[0] != MAGIC_END:
            raise ValueError(f"bad UF2 magic in block {off // 512}")
        base = addr if base is None else base
        family = fam
        chunks.append(data[off + 32 : off + 32 + size])
    return family, base or 0, b"".join(chunks)
