"""IMA ADPCM: bit-exact with audioop (state carried across calls) and with sox for WAV IMA."""
from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.audiofiles import read_wav, wav_data_chunk, write_ima_wav

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SPEECH = ["or105.wav", "or109.wav", "or114.wav"]


def speech(testdata: Path, name: str) -> np.ndarray:
    pcm, rate = read_wav(testdata / "speech" / name)
    assert rate == 8000
    return pcm


@pytest.mark.parametrize("name", SPEECH)
def test_dvi4_matches_audioop_with_state_carried(testdata: Path, name: str) -> None:
    pcm = speech(testdata, name)
    pcm = pcm[: len(pcm) // 160 * 160]
    enc, dec = nc.AdpcmEncoder("dvi4"), nc.AdpcmDecoder("dvi4")
    state = None
    decoded, nibbles = [], []
    for i in range(0, len(pcm), 160):
        frame = pcm[i : i + 160]
        payload = enc.encode(frame)
        assert len(payload) == 4 + 80
        # header: the encoder state before this frame (audioop's state after the last one)
        pred, index = (0, 0) if state is None else state
        assert int.from_bytes(payload[0:2], "big", signed=True) == pred
        assert payload[2] == index and payload[3] == 0
        ref, state = audioop.lin2adpcm(frame.tobytes(), 2, state)
        assert payload[4:] == ref
        nibbles.append(payload[4:])
        decoded.append(dec.decode(payload))
    ref_dec, _ = audioop.adpcm2lin(b"".join(nibbles), 2, None)
    assert np.concatenate(decoded).tobytes() == ref_dec


def test_dvi4_header_resyncs_after_loss(testdata: Path) -> None:
    pcm = speech(testdata, "or105.wav")[:1600]
    enc = nc.AdpcmEncoder("dvi4")
    payloads = [enc.encode(pcm[i : i + 160]) for i in range(0, 1600, 160)]
    full = nc.AdpcmDecoder("dvi4")
    all_frames = [full.decode(p) for p in payloads]
    lossy = nc.AdpcmDecoder("dvi4")
    for i, p in enumerate(payloads):
        if i == 3:
            continue  # lost
        out = lossy.decode(p)
        assert np.array_equal(out, all_frames[i])


def test_ima_wav_blocks_decode_like_sox(testdata: Path, tmp_path: Path) -> None:
    sox = shutil.which("sox")
    assert sox, "sox is installed by ./edgecall (Debian package sox)"
    pcm = speech(testdata, "or109.wav")
    enc = nc.AdpcmEncoder("ima-wav", block_size=256)
    blocks = enc.encode(pcm) + enc.flush()
    assert len(blocks) % 256 == 0
    ours = tmp_path / "ours.wav"
    write_ima_wav(ours, blocks, 256, 8000)
    sox_dec = tmp_path / "sox.raw"
    subprocess.run([sox, str(ours), "-t", "raw", "-e", "signed", "-b", "16", str(sox_dec)], check=True, timeout=60)
    ref = np.fromfile(sox_dec, dtype="<i2")
    ours_dec = nc.AdpcmDecoder("ima-wav", block_size=256).decode(blocks)
    assert np.array_equal(ours_dec, ref)
    # and the first samples of each block are the input verbatim
    assert np.array_equal(ours_dec[:: enc.samples_per_block][: len(pcm) // enc.samples_per_block], pcm[:: 505][: len(pcm) // 505])


def test_ima_wav_decodes_sox_encoding_like_sox(testdata: Path, tmp_path: Path) -> None:
    sox = shutil.which("sox")
    assert sox
    src = testdata / "speech" / "or114.wav"
    theirs = tmp_path / "sox_ima.wav"
    subprocess.run([sox, str(src), "-e", "ima-adpcm", str(theirs)], check=True, timeout=60)
    ref_raw = tmp_path / "sox_dec.raw"
    subprocess.run([sox, str(theirs), "-t", "raw", "-e", "signed", "-b", "16", str(ref_raw)], check=True, timeout=60)
    data = wav_data_chunk(theirs)
    block = 256
    usable = len(data) // block * block
    ours = nc.AdpcmDecoder("ima-wav", block_size=block).decode(data[:usable])
    ref = np.fromfile(ref_raw, dtype="<i2")
    assert len(ours) > 0
    assert np.array_equal(ours, ref[: len(ours)])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="'dvi4' or 'ima-wav'"):
        nc.AdpcmEncoder("g726")
    with pytest.raises(ValueError, match="even number"):
        nc.AdpcmEncoder("dvi4").encode(np.zeros(3, np.int16))
    with pytest.raises(ValueError, match="4-byte header"):
        nc.AdpcmDecoder("dvi4").decode(b"\x00\x00")
    with pytest.raises(ValueError, match="malformed"):
        nc.AdpcmDecoder("dvi4").decode(b"\x00\x00\x59\x00\x11")  # step index 89
    with pytest.raises(ValueError, match="whole blocks of 256"):
        nc.AdpcmDecoder("ima-wav").decode(b"\x00" * 300)
    with pytest.raises(ValueError, match="block_size"):
        nc.AdpcmEncoder("ima-wav", block_size=4)
