"""The video harness (tests/c/video.c) prints the same lines on the host, Cortex-M0/M3/M4 (QEMU) and
wasm32 (Node): JPEG streams, RTP/JPEG and H.264 RTP packets, depacketized frames and error codes are
byte-identical everywhere; the M0 (16 KB of RAM) streams small images, the others QVGA frames too.
The Cortex-M4 encodes a QVGA 4:2:0 frame from RGB565 within the instruction budget."""
from __future__ import annotations

import re

import pytest

from tests import targets
from tests.targets import CPU, TARGETS

QVGA_M4_BUDGET = 15_000_000  # instructions per QVGA 4:2:0 frame on the Cortex-M4


def run_on(target: str, cmdline: str) -> tuple[int, str]:
    return targets.run_on(target, "video", cmdline)


def lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln and not ln.startswith("#")]


@pytest.fixture(scope="module")
def host_out() -> dict[str, str]:
    res = {}
    for cmd in ("vectors small", "vectors large", "errors"):
        code, out = run_on("host", cmd)  # ASan + UBSan build
        assert code == 0, out
        assert not any(ln.startswith("FAIL") for ln in out.splitlines()), out
        res[cmd] = out
    return res


def test_host_harness_cases(host_out: dict[str, str]) -> None:
    small = lines(host_out["vectors small"])
    assert sum(ln.startswith("jpeg-") for ln in small) == 13
    assert sum(ln.startswith("rtpjpeg-") for ln in small) == 6
    assert "h264-depack delivered=1 failures=0" in small
    assert len(lines(host_out["vectors large"])) == 8
    assert all(ln.startswith("err ") for ln in lines(host_out["errors"]))


@pytest.mark.parametrize("target", TARGETS)
def test_video_identical_to_host(target: str, host_out: dict[str, str]) -> None:
    cmds = ["vectors small", "errors"] + ([] if target == "microbit" else ["vectors large"])
    for cmd in cmds:
        code, out = run_on(target, cmd)
        assert code == 0, f"{cmd}: {out[-1500:]}"
        assert out.splitlines()[0] == f"# native_codec video harness on {CPU[target]}"
        assert lines(out) == lines(host_out[cmd]), cmd


def test_m4_qvga_frame_instructions() -> None:
    code, out = run_on("mps2-an386", "bench")
    assert code == 0, out
    bench = {m.group(1): int(m.group(2)) for m in re.finditer(r"^bench (\S+) frames=1 mean=(\d+)", out, re.M)}
    print("\nCortex-M4 instructions per QVGA frame:", bench)
    assert 1_000_000 < bench["jpeg-qvga-rgb565-420-q75"] <= QVGA_M4_BUDGET
    assert 1_000_000 < bench["jpeg-qvga-i420-q75"] <= QVGA_M4_BUDGET
