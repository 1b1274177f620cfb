# selftest.py — runs each codec of hal.codec on a known vector and returns SHA-256 digests of the
# outputs. The vector is made here and on the host by the same generator (a 32-bit LCG giving
# speech-like noise shaped by a slow envelope), so the host compares the digests with its own
# build of native_codec: host_tools/device/selftest.py.
import hashlib
import struct


def vector(n, seed=1):
    """n int16 samples (little-endian bytes) from the shared generator."""
    out = bytearray(2 * n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        noise = ((x >> 16) & 0xFFFF) - 32768
        env = (i * 7) % 4000
        env = env if env < 2000 else 4000 - env  # triangle 0..2000
        struct.pack_into("<h", out, 2 * i, (noise * env) // 2000)
    return bytes(out)


def _d(b):
    return hashlib.sha256(b).hexdigest()


def run(codec):
    pcm8 = vector(1600)  # 200 ms at 8 kHz
    pcm16 = vector(3200, seed=7)  # 200 ms at 16 kHz
    d = {}
    d["g711-ulaw-enc"] = _d(codec.g711_encode(pcm8, "ulaw"))
    d["g711-alaw-dec"] = _d(codec.g711_decode(codec.g711_encode(pcm8, "alaw"), "alaw"))
    g = codec.G722Encoder(64000).encode(pcm16)
    d["g722-enc"] = _d(g)
    d["g722-dec-56"] = _d(codec.G722Decoder(56000).decode(g))
    a = codec.AdpcmEncoder("dvi4")
    pay = b"".join(a.encode(pcm8[i : i + 320]) for i in range(0, len(pcm8), 320))
    d["dvi4-enc"] = _d(pay)
    plc = codec.Plc(8000)
    out = []
    for k in range(20):
        frame = pcm8[k * 160 : (k + 1) * 160]
        out.append(plc.lost() if k % 5 == 3 else plc.good(frame))
    d["plc8"] = _d(b"".join(out))
    return d
