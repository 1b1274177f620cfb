"""Opus through libopus 1.3.1 from Debian's source package (native_codec.opus, host_tools/native/opus.py):
our packets decode with an independent decoder (Debian's libopus0, a float build, through ctypes)
and theirs with ours; the host, Cortex-M4 (QEMU) and wasm32 builds produce identical packets and
decodings; concealment and in-band FEC work; bad input is a ValueError."""
from __future__ import annotations

import configparser
import ctypes
import ctypes.util
from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.audiofiles import fnv1a64, read_wav
from host_tools.native import cortexm, opus, wasm
from host_tools.paths import ROOT

FRAME = 320  # 20 ms at 16 kHz
# The same list as CONFIGS in tests/c/opus_harness.c: complexity, bitrate, fec, loss %, dtx.
CONFIGS = [(0, 24000, 1, 0, 0), (5, 24000, 1, 10, 0), (3, 16000, 1, 20, 1)]
LOSS_EVERY, LOSS_AT = 5, 2


@pytest.fixture(scope="module")
def speech(testdata: Path) -> np.ndarray:
    pcm, rate = read_wav(testdata / "speech" / "speech_16k.wav")
    assert rate == 16000
    return pcm[: len(pcm) // FRAME * FRAME]


def frames(pcm: np.ndarray) -> list[np.ndarray]:
    return [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]


def encode(pcm: np.ndarray, complexity: int = 0, bitrate: int = 24000, fec: bool = True, loss: int = 0,
           dtx: bool = False) -> list[bytes]:
    enc = nc.OpusEncoder(16000, bitrate, complexity, fec, dtx)
    enc.set_packet_loss_perc(loss)
    return [enc.encode(f) for f in frames(pcm)]


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    ref, x = ref.astype(np.float64), x.astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - x) ** 2), 1e-9)))


# ---- Debian's libopus0 (float build) as the independent peer ----

class SystemOpus:
    def __init__(self) -> None:
        name = ctypes.util.find_library("opus")
        if name is None:
            pytest.fail("Debian's libopus0 is not installed (./edgecall installs it)")
        self.lib = ctypes.CDLL(name)
        self.lib.opus_decoder_create.restype = ctypes.c_void_p
        self.lib.opus_encoder_create.restype = ctypes.c_void_p
        self.lib.opus_get_version_string.restype = ctypes.c_char_p

    def decode_all(self, packets: list[bytes]) -> np.ndarray:
        err = ctypes.c_int()
        st = ctypes.c_void_p(self.lib.opus_decoder_create(16000, 1, ctypes.byref(err)))
        assert err.value == 0
        out = []
        pcm = (ctypes.c_int16 * 1920)()
        try:
            for p in packets:
                n = self.lib.opus_decode(st, p, len(p), pcm, 1920, 0)
                assert n > 0, n
                out.append(np.frombuffer(bytes(pcm)[: 2 * n], dtype=np.int16))
        finally:
            self.lib.opus_decoder_destroy(st)
        return np.concatenate(out)

    def encode_all(self, pcm: np.ndarray, bitrate: int = 24000) -> list[bytes]:
        err = ctypes.c_int()
        st = ctypes.c_void_p(self.lib.opus_encoder_create(16000, 1, 2048, ctypes.byref(err)))  # VOIP
        assert err.value == 0
        assert self.lib.opus_encoder_ctl(st, 4002, ctypes.c_int32(bitrate)) == 0  # OPUS_SET_BITRATE
        out = []
        buf = (ctypes.c_ubyte * 4000)()
        try:
            for f in frames(pcm):
                a = np.ascontiguousarray(f)
                n = self.lib.opus_encode(st, a.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), FRAME, buf, 4000)
                assert n > 0, n
                out.append(bytes(buf[:n]))
        finally:
            self.lib.opus_encoder_destroy(st)
        return out


@pytest.fixture(scope="module")
def system_opus() -> SystemOpus:
    return SystemOpus()


def test_version_and_caller_owned_states() -> None:
    assert nc.opus_version() == "libopus 1.3.1-fixed"
    enc, dec = nc.OpusEncoder(), nc.OpusDecoder()
    assert 20_000 < enc.state_bytes < 30_000 and 15_000 < dec.state_bytes < 20_000
    assert enc.lookahead > 0


def test_our_packets_decode_with_debian_libopus(speech: np.ndarray, system_opus: SystemOpus) -> None:
    packets = encode(speech)
    assert 20_000 < sum(map(len, packets)) * 8 / (len(packets) * 0.02) < 28_000  # ~24 kbit/s
    dec = nc.OpusDecoder()
    ours = np.concatenate([dec.decode(p) for p in packets])
    theirs = system_opus.decode_all(packets)
    assert len(theirs) == len(ours) == len(speech)
    assert snr_db(theirs, ours) > 30  # a float and a fixed-point decoder of the same stream
    delay = nc.OpusEncoder().lookahead
    assert np.corrcoef(speech[: -delay], theirs[delay:])[0, 1] > 0.9


def test_debian_libopus_packets_decode_with_ours(speech: np.ndarray, system_opus: SystemOpus) -> None:
    packets = system_opus.encode_all(speech)
    dec = nc.OpusDecoder()
    ours = np.concatenate([dec.decode(p) for p in packets])
    theirs = system_opus.decode_all(packets)
    assert len(ours) == len(speech)
    assert snr_db(theirs, ours) > 30


# ---- identical on every target ----

def expected_lines(speech: np.ndarray) -> list[str]:
    """What tests/c/opus_harness.c prints for `vectors`, computed with the host build."""
    lines = []
    for c, br, fec, loss, dtx in CONFIGS:
        name = f"c{c}-{br}-fec{fec}-loss{loss}-dtx{dtx}"
        packets = encode(speech, c, br, bool(fec), loss, bool(dtx))
        blob = b"".join(len(p).to_bytes(2, "little") + p for p in packets)
        lines.append(f"opus-enc-{name} {len(packets)} {fnv1a64(blob)}")
        for what in ("dec", "plc", "fec"):
            d = nc.OpusDecoder()
            out = []
            for i, p in enumerate(packets):
                if what != "dec" and i % LOSS_EVERY == LOSS_AT:
                    out.append(d.decode_fec(packets[i + 1]) if what == "fec" and i + 1 < len(packets) else d.decode(None))
                else:
                    out.append(d.decode(p))
            pcm = np.concatenate(out)
            lines.append(f"opus-{what}-{name} {len(pcm)} {fnv1a64(pcm.astype('<i2').tobytes())}")
    return lines


TARGETS = ["mps2-an386-opus", "mps2-an386-opus-c", "wasm32"]


@pytest.mark.parametrize("target", TARGETS)
def test_targets_produce_the_hosts_packets(target: str, speech: np.ndarray) -> None:
    if target == "wasm32":
        code, out = wasm.run_harness(opus.build_wasm_harness(), "vectors ../shared/testdata", timeout=600)
    else:
        code, out = cortexm.run(cortexm.build(target, "opus_harness"), cortexm.machine(target),
                                "vectors ../shared/testdata", timeout=600)
    assert code == 0, out
    assert out.splitlines()[0].startswith("# opus harness on ") and "(libopus 1.3.1-fixed)" in out.splitlines()[0]
    assert [ln for ln in out.splitlines() if not ln.startswith("#")] == expected_lines(speech)


def test_platformio_flags_match_the_host_and_wasm_build() -> None:
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "platformio.ini")
    flags = ini["opus"]["flags"].replace('\\"', '"').split()
    assert [f for f in flags if f.startswith("-D")] == opus.DEFINES
    sources = ini["env:mps2-an386-opus"]["custom_lib_sources"].split()
    assert sources == [f"{mk}:{var}" for mk, var in opus.SOURCE_LISTS]


# ---- concealment and in-band FEC ----

def has_lbrr(packet: bytes) -> bool:
    """A SILK-only one-frame mono packet (RFC 6716 §3.1 TOC) whose LBRR flag is set (§4.2.3: the
    second header bit, after the VAD flag)."""
    return packet[0] >> 3 < 12 and packet[0] & 3 == 0 and bool(packet[1] >> 6 & 1)


def test_concealment_and_fec_recovery(speech: np.ndarray) -> None:
    packets = encode(speech, complexity=5, loss=20)
    assert sum(map(has_lbrr, packets)) > len(packets) // 2  # speech: most packets carry FEC
    ref_dec = nc.OpusDecoder()
    ref = [ref_dec.decode(p) for p in packets]  # every packet arrives
    fec_better = 0
    lost_frames = [k for k in range(20, len(packets) - 1, 7) if has_lbrr(packets[k + 1])]
    assert len(lost_frames) >= 10
    for k in lost_frames:
        plc, fec = nc.OpusDecoder(), nc.OpusDecoder()
        for p in packets[:k]:
            plc.decode(p)
            fec.decode(p)
        concealed = plc.decode(None)
        recovered = fec.decode_fec(packets[k + 1])
        assert len(concealed) == len(recovered) == FRAME
        assert not np.array_equal(concealed, recovered)  # the FEC path used the LBRR data
        if snr_db(ref[k], recovered) > snr_db(ref[k], concealed):
            fec_better += 1
        # both decoders go on with the next packet
        assert len(plc.decode(packets[k + 1])) == len(fec.decode(packets[k + 1])) == FRAME
    assert fec_better >= 0.8 * len(lost_frames)


def test_fec_needs_expected_loss(speech: np.ndarray) -> None:
    """libopus codes LBRR only when told to expect loss: without it decode_fec() conceals."""
    packets = encode(speech[: 40 * FRAME], complexity=5, loss=0)
    assert not any(map(has_lbrr, packets))
    plc, fec = nc.OpusDecoder(), nc.OpusDecoder()
    for p in packets[:30]:
        plc.decode(p)
        fec.decode(p)
    assert np.array_equal(plc.decode(None), fec.decode_fec(packets[31]))


# ---- errors ----

def test_malformed_packets_are_value_errors() -> None:
    dec = nc.OpusDecoder()
    for bad in (b"\xff\xff\xff", b"\x03", b"\x0b" + bytes(10)):
        with pytest.raises(ValueError, match="corrupted stream|invalid"):
            dec.decode(bad)
    with pytest.raises(ValueError, match="1 to"):
        dec.decode(b"")
    with pytest.raises(ValueError, match="bytes"):
        dec.decode("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        dec.decode_fec(b"")
    assert len(dec.decode(None)) == FRAME  # the decoder still works


@pytest.mark.parametrize(
    "kwargs",
    [{"sample_rate": 44100}, {"bitrate": 1000}, {"bitrate": 24000.0}, {"complexity": 11}, {"complexity": -1},
     {"fec": 1}, {"dtx": "no"}],
)
def test_bad_encoder_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        nc.OpusEncoder(**kwargs)  # type: ignore[arg-type]


def test_bad_frames_and_settings() -> None:
    enc = nc.OpusEncoder()
    with pytest.raises(ValueError, match="320"):
        enc.encode(np.zeros(321, dtype=np.int16))
    with pytest.raises(ValueError, match="int16"):
        enc.encode(np.zeros(320, dtype=np.float32))
    with pytest.raises(ValueError, match="int16"):
        enc.encode(np.zeros((2, 160), dtype=np.int16))
    with pytest.raises(ValueError):
        enc.set_packet_loss_perc(101)
    with pytest.raises(ValueError):
        enc.set_bitrate(600000)
    with pytest.raises(ValueError):
        nc.OpusDecoder(sample_rate=22050)
    enc.set_bitrate(16000)
    assert len(enc.encode(np.zeros(160, dtype=np.int16))) >= 1  # 10 ms frames are fine too
