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


def test_mode_switch_keeps_state(testdata: Path) -> None:
    codes = low_bytes(ref_dir(testdata) / "codspw.cod")
    half = len(codes) // 2
    dec = nc.G722Decoder(64000)
    first = dec.decode(codes[:half])
    dec.set_bitrate(56000)
    second = dec.decode(codes[half:])
    ref1 = read_le16(ref_dir(testdata) / "outsp1.bin")
    assert np.array_equal(first, ref1[: 2 * half])
    assert not np.array_equal(second, ref1[2 * half :])  # mode 2 decodes differently from there on
    with pytest.raises(ValueError, match="64000, 56000, 48000"):
        dec.set_bitrate(8000)


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


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    assert exe, "ffmpeg is installed by ./edgecall (Debian package ffmpeg)"
    return exe


def _wideband_inputs(testdata: Path, tmp: Path) -> dict[str, np.ndarray]:
    """All the 16 kHz speech there is, plus the 8 kHz speech resampled by ffmpeg, plus hard signals."""
    out = {"inpsp": read_le16(ref_dir(testdata) / "inpsp.bin"), "speech_16k": read_wav(testdata / "speech" / "speech_16k.wav")[0]}
    for wav in sorted((testdata / "speech").glob("*.wav")):
        if wav.name == "speech_16k.wav":
            continue
        raw = tmp / f"{wav.stem}.raw"
        subprocess.run([_ffmpeg(), "-v", "error", "-y", "-i", str(wav), "-ar", "16000", "-f", "s16le", str(raw)], check=True, timeout=60)
        out[wav.stem] = np.fromfile(raw, dtype="<i2")
    t = np.arange(32000)
    out["square-fullscale"] = np.where((t // 20) % 2, 32767, -32768).astype(np.int16)
    out["noise-fullscale"] = np.random.default_rng(3).integers(-32768, 32768, 32000).astype(np.int16)
    out["sweep"] = (32000 * np.sin(2 * np.pi * (50 + 3.9e3 * t / 32000) * t / 16000)).astype(np.int16)
    return {k: v[: len(v) // 2 * 2] for k, v in out.items()}


def test_bit_exact_with_ffmpeg_both_ways(testdata: Path, tmp_path: Path) -> None:
    """ffmpeg's g722 encoder (no trellis) and decoder with -bits_per_codeword 8|7|6 are an
    independent peer: our codewords equal its codewords, our PCM its PCM, in all three modes."""
    ff = _ffmpeg()
    for name, pcm in _wideband_inputs(testdata, tmp_path).items():
        raw, cod = tmp_path / f"{name}.pcm", tmp_path / f"{name}.g722"
        pcm.astype("<i2").tofile(raw)
        subprocess.run([ff, "-v", "error", "-y", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", str(raw),
                        "-c:a", "g722", "-f", "g722", str(cod)], check=True, timeout=60)
        ours = nc.G722Encoder().encode(pcm)
        assert ours == cod.read_bytes(), f"{name}: encoder differs from ffmpeg"
        for bitrate, _mode, bits in MODES:
            dec = tmp_path / f"{name}.{bits}.pcm"
            subprocess.run([ff, "-v", "error", "-y", "-bits_per_codeword", str(bits), "-f", "g722", "-i", str(cod),
                            "-f", "s16le", str(dec)], check=True, timeout=60)
            assert np.array_equal(nc.G722Decoder(bitrate).decode(ours), np.fromfile(dec, dtype="<i2")), f"{name}: decoder mode {bits} differs"
