"""What a device's selftest must report: the same generator and codec calls as
firmware/edgecall/selftest.py, run through the host build of native_codec."""
from __future__ import annotations

import hashlib

import numpy as np

import native_codec as nc


def vector(n: int, seed: int = 1) -> np.ndarray:
    out = np.empty(n, dtype=np.int16)
    x = seed
    for i in range(n):
        x = (x * 1103 + 12345) & 0xFFFF
        noise = x - 32768
        env = (i * 7) % 4000
        env = env if env < 2000 else 4000 - env
        out[i] = (noise * env) // 2000  # floor division, as on the device
    return out


def _d(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def expected() -> dict[str, str]:
    pcm8, pcm16 = vector(800), vector(1600, seed=7)
    d = {"g711-ulaw-enc": _d(nc.g711_encode(pcm8, "ulaw")),
         "g711-alaw-dec": _d(nc.g711_decode(nc.g711_encode(pcm8, "alaw"), "alaw").tobytes())}
    a = nc.AdpcmEncoder("dvi4")
    d["dvi4-enc"] = _d(b"".join(a.encode(pcm8[i : i + 160]) for i in range(0, 800, 160)))
    plc, out = nc.Plc(8000), []
    for k in range(10):
        out.append(plc.lost() if k % 5 == 3 else plc.good(pcm8[k * 80 : (k + 1) * 80]))
    d["plc8"] = _d(np.concatenate(out).tobytes())
    g = nc.G722Encoder(64000).encode(pcm16)
    d["g722-enc"] = _d(g)
    d["g722-dec-56"] = _d(nc.G722Decoder(56000).decode(g).tobytes())
    return d
