"""UF2 files for an RP2040 (host_tools/firmware/uf2.py), checked block by block against the UF2
spec, directly and through `edgecall build --uf2-from BIN --json`."""
from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.firmware import uf2
from host_tools.paths import ROOT

MAGIC_START0, MAGIC_START1, MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
FLAG_FAMILY_ID_PRESENT = 0x00002000
RP2040_FAMILY_ID = 0xE48BFF56
RP2040_FLASH_BASE = 0x10000000
BLOCK, PAYLOAD, DATA_AREA = 512, 256, 476


def check_uf2(blob: bytes, binary: bytes, base: int = RP2040_FLASH_BASE) -> int:
    """Every block per the spec; returns the block count."""
    assert len(blob) % BLOCK == 0
    count = len(blob) // BLOCK
    assert count == (len(binary) + PAYLOAD - 1) // PAYLOAD
    payloads = []
    for n in range(count):
        block = blob[n * BLOCK : (n + 1) * BLOCK]
        m0, m1, flags, addr, size, number, total, family = struct.unpack_from("<8I", block, 0)
        (m_end,) = struct.unpack_from("<I", block, BLOCK - 4)
        assert (m0, m1, m_end) == (MAGIC_START0, MAGIC_START1, MAGIC_END), n
        assert flags & FLAG_FAMILY_ID_PRESENT and flags == FLAG_FAMILY_ID_PRESENT, hex(flags)
        assert family == RP2040_FAMILY_ID
        assert addr == base + n * PAYLOAD and addr % PAYLOAD == 0
        assert size == PAYLOAD and number == n and total == count
        data = block[32 : 32 + DATA_AREA]
        assert data[PAYLOAD:] == bytes(DATA_AREA - PAYLOAD)  # padding after the payload is zero
        payloads.append(data[:PAYLOAD])
    joined = b"".join(payloads)
    assert joined[: len(binary)] == binary
    assert joined[len(binary) :] == bytes(len(joined) - len(binary))  # the last block is zero-padded
    return count


@pytest.mark.parametrize("size", [1000, 70000, 256, 1])
def test_blocks_follow_the_spec(size: int) -> None:
    binary = random.Random(size).randbytes(size)
    blob = uf2.from_binary(binary)
    assert check_uf2(blob, binary) == -(-size // PAYLOAD)
    family, base, data = uf2.parse(blob)
    assert (family, base) == (RP2040_FAMILY_ID, RP2040_FLASH_BASE)
    assert data[:size] == binary


def test_other_base_and_empty_input() -> None:
    binary = random.Random(7).randbytes(600)
    blob = uf2.from_binary(binary, base=0x10010000)
    assert check_uf2(blob, binary, base=0x10010000) == 3
    with pytest.raises(ValueError):
        uf2.from_binary(b"")
    with pytest.raises(ValueError):
        uf2.parse(blob[:-1])
    bad = bytearray(blob)
    bad[BLOCK + 508] ^= 0xFF  # the second block's end magic
    with pytest.raises(ValueError):
        uf2.parse(bytes(bad))


def test_through_the_build_cli(tmp_path: Path) -> None:
    binary = random.Random(70000).randbytes(70000)
    src = tmp_path / "app.bin"
    src.write_bytes(binary)
    p = subprocess.run([sys.executable, "-m", "host_tools", "build", "--uf2-from", str(src), "--json",
                        "--out", str(tmp_path / "image.bin")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout)
    info = out["uf2"]
    assert Path(info["path"]) == src.with_suffix(".uf2")
    assert int(info["family_id"], 16) == RP2040_FAMILY_ID
    blob = Path(info["path"]).read_bytes()
    assert info["blocks"] == check_uf2(blob, binary) == 274
