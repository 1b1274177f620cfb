"""Short, bounded libFuzzer runs of the video parsers and the JPEG encoder (tests/fuzz/video_*.c),
under ASan and UBSan, seeded with valid frames and packets made by the Python binding. Longer runs:
    build/fuzz/video_rtpjpeg -max_total_time=600 build/fuzz/video_rtpjpeg.corpus
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.paths import BUILD, NATIVE_INCLUDE, NATIVE_SRC, ROOT

FUZZ_DIR = ROOT / "tests" / "fuzz"
TARGETS = ["video_jpeg_enc", "video_rtpjpeg", "video_h264"]
SECONDS = 3
SOURCES = ["jpeg.c", "rtpjpeg.c", "rtph264.c", "rtp.c"]


def _clang() -> str:
    found = shutil.which("clang-14") or shutil.which("clang")
    assert found, "clang is installed by ./edgecall (Debian packages clang, libclang-rt-14-dev)"
    return found


def _build(name: str) -> Path:
    exe = BUILD / "fuzz" / name
    srcs = [FUZZ_DIR / f"{name}.c", *(NATIVE_SRC / s for s in SOURCES)]
    inputs = [*srcs, *NATIVE_INCLUDE.glob("ec_*.h"), *FUZZ_DIR.glob("*.h")]
    if exe.exists() and exe.stat().st_mtime >= max(p.stat().st_mtime for p in inputs):
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_clang(), "-std=c99", "-O1", "-g", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
           "-Wall", "-Wextra", "-Werror", f"-I{NATIVE_INCLUDE}", *map(str, srcs), "-o", str(exe)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0 and "libclang_rt.fuzzer" in p.stderr:
        pytest.fail("libFuzzer's runtime is missing: install the Debian package libclang-rt-14-dev")
    assert p.returncode == 0, p.stderr[-2000:]
    return exe


def _framed(packets: list[bytes]) -> bytes:
    return b"".join(len(p).to_bytes(2, "big") + p for p in packets)


def _seeds(name: str, corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    seeds: list[bytes] = []
    if name == "video_rtpjpeg":
        for q, sub, ri in ((75, "420", 0), (100, "422", 2), (20, "420", 1)):
            jpeg = nc.jpeg_encode(img, q, sub, ri)
            seeds += [jpeg, _framed(nc.RtpJpegPacketizer(5, mtu=200).packetize(jpeg, 9))]
    elif name == "video_h264":
        au = (b"\x00\x00\x00\x01\x67\x42\x00\x1e\x00\x00\x01\x68\xce\x38\x80\x00\x00\x01\x65"
              + bytes(rng.integers(1, 256, 700, dtype=np.uint8)))
        seeds += [au, _framed(nc.H264Packetizer(3, mtu=300).packetize(au, 0))]
        stap = bytes([0x80, 0xE0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 3, 0x78, 0, 4, 0x67, 0x42, 0, 0x1E, 0, 2, 0x68, 0xCE])
        seeds.append(_framed([stap]))
    else:
        for fmt in range(6):
            seeds.append(bytes([40, 0, 24, 0, fmt | (fmt % 2) << 3, 75, 0, 3, 16, 1]) + img.tobytes()[:600])
    for i, s in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(s)


def test_fuzz_video_targets_bounded_run() -> None:
    exes = {name: _build(name) for name in TARGETS}
    procs = {}
    for name, exe in exes.items():
        corpus = BUILD / "fuzz" / f"{name}.corpus"
        _seeds(name, corpus)
        procs[name] = subprocess.Popen(
            [str(exe), f"-max_total_time={SECONDS}", "-rss_limit_mb=1024", "-print_final_stats=1", str(corpus)],
            cwd=exe.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for name, p in procs.items():
        out, _ = p.communicate(timeout=SECONDS + 60)
        assert p.returncode == 0, f"{name} found a failure:\n{out[-3000:]}"
        assert "Done" in out and "runs in" in out, out[-800:]
