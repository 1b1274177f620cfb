# selftest.py — runs each codec of hal.codec on a known vector and returns SHA-256 digests of the
# outputs. The vector is made here and on the host by the same generator (a 16-bit LCG giving
# noise shaped by a slow triangle envelope), so the host compares the digests with its own build
# of native_codec: host_tools/device/selftest.py. Every intermediate stays a small int (< 2**30),
# so the loop allocates nothing: the virtual devkit's VM cannot collect garbage inside a loop.
import asyncio
import binascii
import hashlib
import struct


def vector(n, seed=1):
    """n int16 samples (little-endian bytes) from the shared generator."""
    out = bytearray(2 * n)
    x = seed
    for i in range(n):
        x = (x * 1103 + 12345) & 0xFFFF
        noise = x - 32768
        env = (i * 7) % 4000
        env = env if env < 2000 else 4000 - env  # triangle 0..2000
        struct.pack_into("<h", out, 2 * i, (noise * env) // 2000)
    return bytes(out)


def _d(b):
    return binascii.hexlify(hashlib.sha256(b).digest()).decode()


async def run(codec):
    """Each codec on the vectors; yields to the event loop between codecs (garbage collection)."""
    d = {}
    pcm8 = vector(800)  # 100 ms at 8 kHz
    d["g711-ulaw-enc"] = _d(codec.g711_encode(pcm8, "ulaw"))
    d["g711-alaw-dec"] = _d(codec.g711_decode(codec.g711_encode(pcm8, "alaw"), "alaw"))
    await asyncio.sleep_ms(0)
    a = codec.AdpcmEncoder("dvi4")
    d["dvi4-enc"] = _d(b"".join(a.encode(pcm8[i : i + 320]) for i in range(0, len(pcm8), 320)))
    await asyncio.sleep_ms(0)
    plc = codec.Plc(8000)
    h = hashlib.sha256()
    for k in range(10):
        h.update(plc.lost() if k % 5 == 3 else plc.good(pcm8[k * 160 : (k + 1) * 160]))
    d["plc8"] = binascii.hexlify(h.digest()).decode()
    for obj in (a, plc):
        _close(obj)
    pcm8 = None
    await asyncio.sleep_ms(0)
    enc = codec.G722Encoder(64000)
    g = enc.encode(vector(1600, seed=7))  # 100 ms at 16 kHz
    d["g722-enc"] = _d(g)
    await asyncio.sleep_ms(0)
    dec = codec.G722Decoder(56000)
    d["g722-dec-56"] = _d(dec.decode(g))
    for obj in (enc, dec):
        _close(obj)
    return d


def _close(obj):
    close = getattr(obj, "close", None)
    if close is not None:
        close()
