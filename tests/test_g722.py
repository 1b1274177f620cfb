"""G.722: bit-exact with the ITU-T reference vectors and with ffmpeg as an independent peer."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.audiofiles import low_bytes, read_le16, read_wav

MODES = [(64000, 1, 8), (56000, 2, 7), (48000, 3, 6)]


def ref_dir(testdata: Path) -> Path:
    return testdata / "itu-stl" / "g722"


def test_encoder_reproduces_reference(testdata: Path) -> None:
    pcm = read_le16(ref_dir(testdata) / "inpsp.bin")
    assert nc.G722Encoder().encode(pcm) == low_bytes(ref_dir(testdata) / "codspw.cod")


def test_codsp_is_the_byte_swapped_form(testdata: Path) -> None:
    words = ref_dir(testdata) / "codspw.cod"
    packed = np.fromfile(ref_dir(testdata) / "codsp.cod", dtype=np.uint8)  # one byte a codeword
    assert packed.reshape(-1, 2)[:, ::-1].tobytes() == low_bytes(words)  # each pair swapped


@pytest.mark.parametrize("bitrate,mode,_bits", MODES)
def test_decoder_reproduces_reference(testdata: Path, bitrate: int, mode: int, _bits: int) -> None:
    codes = low_bytes(ref_dir(testdata) / "codspw.cod")
    out = nc.G722Decoder(bitrate).decode(codes)
    assert np.array_equal(out, read_le16(ref_dir(testdata) / f"outsp{mode}.bin"))


def test_state_carries_across_calls(testdata: Path) -> None:
    pcm = read_le16(ref_dir(testdata) / "inpsp.bin")
    rng = np.random.default_rng(7)
    enc, chunks, pos = nc.G722Encoder(), [], 0
    while pos < len(pcm):
        n = int(rng.integers(1, 400)) * 2
        chunks.append(enc.encode(pcm[pos : pos + n]))
        pos += n
    whole = b"".join(chunks)
    assert whole == low_bytes(ref_dir(testdata) / "codspw.cod")
    dec, outs, pos = nc.G722Decoder(56000), [], 0
    while pos < len(whole):
        n = int(rng.integers(0, 300))
        outs.append(dec.decode(whole[pos : pos + n]))
        pos += n
    assert np.array_equal(np.concatenate(outs), read_le16(ref_dir(testdata) / "outsp2.bin"))


def test_lower_modes_clear_the_auxiliary_bits(testdata: Path) -> None:
    pcm = read_le16(ref_dir(testdata) / "inpsp.bin")
    full = np.frombuffer(nc.G722Encoder(64000).encode(pcm), np.uint8)
    for bitrate, mask in ((56000, 0xFE), (48000, 0xFC)):
        assert np.array_equal(np.frombuffer(nc.G722Encoder(bitrate).encode(pcm), np.uint8), full & mask)


def test_decoder_survives_any_bytes() -> None:
    rng = np.random.default_rng(1)
    for bitrate, _, _ in MODES:
        out = nc.G722Decoder(bitrate).decode(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
        assert out.dtype == np.int16 and len(out) == 40000


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="64000, 56000, 48000"):
        nc.G722Encoder(32000)
    with pytest.raises(ValueError, match="odd count"):
        nc.G722Encoder().encode(np.zeros(3, np.int16))
    with pytest.raises(ValueError, match="dtype int16"):
        nc.G722Encoder().encode(np.zeros(4, np.float64))
    with pytest.raises(ValueError, match="bytes"):
        nc.G722Decoder().decode(np.zeros(4, np.uint8))  # type: ignore[arg-type]
