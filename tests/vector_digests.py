"""What the C harness (tests/c/vectors.c) must print for each vector, computed independently:
from the ITU reference files where they exist, otherwise from the Python binding (whose own tests
check it against the references and peers). Every target's output is compared with this."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import native_codec as nc
from host_tools.audiofiles import fnv1a64, low_bytes, read_le16, read_wav

CHUNK = 160


def _line(name: str, count: int, data: bytes) -> str:
    return f"{name} {count} {fnv1a64(data)}"


def _pcm_bytes(a: np.ndarray) -> bytes:
    return a.astype("<i2").tobytes()


def g711_lines(td: Path) -> list[str]:
    d = td / "itu-stl" / "g711"
    out = []
    for law, tag in (("ulaw", "u"), ("alaw", "a")):
        out.append(_line(f"g711-{law}-enc", 65536, low_bytes(d / f"sweep-r.{tag}")))
        out.append(_line(f"g711-{law}-dec", 65536, (d / f"sweep-r.{tag}-{tag}").read_bytes()))
        out.append(_line(f"g711-{law}-encdec", 65536, (d / f"sweep-r.re{tag}").read_bytes()))
    return out


def g722_lines(td: Path) -> list[str]:
    d = td / "itu-stl" / "g722"
    codes = low_bytes(d / "codspw.cod")
    out = [_line("g722-enc", len(codes), codes)]
    for mode, kbit in ((1, 64), (2, 56), (3, 48)):
        ref = (d / f"outsp{mode}.bin").read_bytes()
        out.append(_line(f"g722-dec-{kbit}", len(ref) // 2, ref))
    return out


def adpcm_lines(td: Path) -> list[str]:
    pcm, _ = read_wav(td / "speech" / "or105.wav")
    enc, dec = nc.AdpcmEncoder("dvi4"), nc.AdpcmDecoder("dvi4")
    pay, back = b"", b""
    for i in range(0, len(pcm), CHUNK):
        chunk = pcm[i : i + CHUNK]
        chunk = chunk[: len(chunk) // 2 * 2]
        p = enc.encode(chunk)
        pay += p
        back += _pcm_bytes(dec.decode(p))
    wenc = nc.AdpcmEncoder("ima-wav", block_size=164)
    blocks = wenc.encode(pcm)  # complete blocks only, as the harness does
    wback = nc.AdpcmDecoder("ima-wav", block_size=164).decode(blocks)
    return [
        _line("adpcm-dvi4-enc", len(pay), pay),
        _line("adpcm-dvi4-dec", len(back) // 2, back),
        _line("adpcm-imawav-enc", len(blocks), blocks),
        _line("adpcm-imawav-dec", len(wback), _pcm_bytes(wback)),
    ]


def plc8_output(td: Path, pattern: str) -> np.ndarray:
    """f2.le concealed under a G.192 erasure pattern (repeated over the file), time-aligned as
    the ITU reference output is: the first 3.75 ms of output dropped, the tail flushed."""
    d = td / "itu-stl" / "g711iplc"
    x = read_le16(d / "f2.le")
    pat = np.fromfile(d / pattern, dtype="<u2")
    plc = nc.Plc(8000)
    frames = []
    for k in range(len(x) // 80):
        lost = pat[k % len(pat)] == 0x6B20
        frames.append(plc.lost() if lost else plc.good(x[k * 80 : (k + 1) * 80]))
    frames.append(plc.good(np.zeros(80, np.int16))[:30])
    return np.concatenate(frames)[30:]


def plc16_output(td: Path) -> np.ndarray:
    x = read_le16(td / "itu-stl" / "g722" / "inpsp.bin")
    plc, lcg, frames = nc.Plc(16000), 12345, []
    for k in range(len(x) // 160):
        lcg = (lcg * 1103515245 + 12345) & 0xFFFFFFFF
        lost = ((lcg >> 16) % 10) == 0
        frames.append(plc.lost() if lost else plc.good(x[k * 160 : (k + 1) * 160]))
    return np.concatenate(frames)


def plc_lines(td: Path) -> list[str]:
    out = []
    d = td / "itu-stl" / "g711iplc"
    for ref, name in (("f2_10.raw", "plc8-f2-fe10"), ("f2_10_2.raw", "plc8-f2-fe10_2")):
        data = (d / ref).read_bytes()  # our concealment is bit-exact with the ITU reference
        out.append(_line(name, len(data) // 2, data))
    y = plc16_output(td)
    out.append(_line("plc16-inpsp-lcg10", len(y), _pcm_bytes(y)))
    return out


def expected(td: Path) -> list[str]:
    return g711_lines(td) + g722_lines(td) + adpcm_lines(td) + plc_lines(td)


def result_lines(output: str) -> list[str]:
    """The harness output without its header comment."""
    return [ln for ln in output.splitlines() if ln and not ln.startswith("#")]
