"""Audio test-data files: raw little-endian PCM, WAV, WAV IMA ADPCM, and the harness digest (FNV-1a 64)."""
from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np


def read_le16(path: Path) -> np.ndarray:
    return np.fromfile(path, dtype="<i2").astype(np.int16)


def low_bytes(path: Path) -> bytes:
    """Files holding one code per 16-bit little-endian word: the codes."""
    return bytes(np.fromfile(path, dtype="<u2").astype(np.uint8))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16), w.getframerate()


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    """A 16-bit mono WAV, written under a temporary name and renamed into place (a reader never
    sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm).astype("<i2").tobytes())
    os.replace(tmp, path)


def write_ima_wav(path: Path, blocks: bytes, block_size: int, rate: int) -> None:
    """A mono WAVE_FORMAT_IMA_ADPCM file (fmt with wSamplesPerBlock, fact chunk)."""
    spb = (block_size - 4) * 2 + 1
    n_blocks = len(blocks) // block_size
    fmt = struct.pack("<HHIIHHHH", 0x11, 1, rate, rate * block_size // spb, block_size, 4, 2, spb)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<II", 4, n_blocks * spb)
    body += b"data" + struct.pack("<I", len(blocks)) + blocks
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def wav_data_chunk(path: Path) -> bytes:
    data = path.read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        tag, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if tag == b"data":
            return data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def fnv1a64(data: bytes) -> str:
    """The digest the C harness prints (tests/c/vectors.c)."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"
