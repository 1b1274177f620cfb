"""Packet-loss concealment: G.711 Appendix I bit-exact at 8 kHz; sane wideband concealment at 16 kHz."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.audiofiles import read_le16
from tests.vector_digests import plc8_output


@pytest.mark.parametrize("pattern,ref", [("fe10.g192", "f2_10.raw"), ("fe10_2.g192", "f2_10_2.raw")])
def test_g711_appendix_i_bit_exact(testdata: Path, pattern: str, ref: str) -> None:
    ours = plc8_output(testdata, pattern)
    reference = read_le16(testdata / "itu-stl" / "g711iplc" / ref)
    assert len(ours) == len(reference)
    assert np.array_equal(ours, reference)


def test_no_loss_is_a_pure_delay(testdata: Path) -> None:
    x = read_le16(testdata / "itu-stl" / "g711iplc" / "f2.le")[:8000]
    plc = nc.Plc(8000, frame_ms=20)
    y = np.concatenate([plc.good(x[i : i + 160]) for i in range(0, len(x), 160)])
    assert np.array_equal(y[30:], x[:-30])
    assert not y[:30].any()


def _lost_frame_snr(x: np.ndarray, y: np.ndarray, lost: list[int], frame: int, delay: int) -> float:
    num = den = 0.0
    for k in lost:
        ref = x[k * frame : (k + 1) * frame].astype(np.float64)
        got = y[k * frame + delay : (k + 1) * frame + delay].astype(np.float64)
        num += float((ref**2).sum())
        den += float(((ref - got) ** 2).sum())
    return 10 * np.log10(num / den)


def test_wideband_concealment_beats_zero_fill(testdata: Path) -> None:
    x = read_le16(testdata / "itu-stl" / "g722" / "inpsp.bin")
    rng = np.random.default_rng(5)
    n = len(x) // 160
    lost = sorted(int(k) for k in rng.choice(np.arange(5, n - 1), size=n // 10, replace=False))
    plc, out = nc.Plc(16000), []
    for k in range(n):
        out.append(plc.lost() if k in lost else plc.good(x[k * 160 : (k + 1) * 160]))
    y = np.concatenate(out)
    assert int(np.abs(y).max()) <= int(np.abs(x).max())  # no overshoot from the concealment
    assert _lost_frame_snr(x, y, lost, 160, 60) > 0.5  # zero-fill scores exactly 0 dB


def test_long_loss_fades_to_silence() -> None:
    t = np.arange(1600)
    x = (8000 * np.sin(2 * np.pi * 200 * t / 8000)).astype(np.int16)
    plc = nc.Plc(8000)
    for i in range(0, 1600, 80):
        plc.good(x[i : i + 80])
    energies = [float(np.abs(plc.lost()).max()) for _ in range(8)]
    assert energies[0] > 4000  # the first 10 ms repeats the pitch period at full level
    assert energies[-1] == 0  # silent after 60 ms
    assert all(a >= b for a, b in zip(energies[1:], energies[2:]))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="8000 or 16000"):
        nc.Plc(44100)
    with pytest.raises(ValueError, match="multiple of 10"):
        nc.Plc(8000, frame_ms=15)
    with pytest.raises(ValueError, match="80 samples"):
        nc.Plc(8000).good(np.zeros(81, np.int16))
    with pytest.raises(ValueError, match="dtype int16"):
        nc.Plc(16000).good(np.zeros(160, np.float32))
