"""native_codec.opus — Opus (RFC 6716) through libopus 1.3.1, fixed point, states in caller memory.

    enc = OpusEncoder(sample_rate=16000, bitrate=24000, complexity=0, fec=True, dtx=False)
    enc.set_packet_loss_perc(10)      # in-band FEC is coded only when the expected loss is > 0
    packet = enc.encode(pcm)          # 20 ms of int16 mono (320 samples at 16 kHz) -> bytes
    dec = OpusDecoder(sample_rate=16000)
    pcm = dec.decode(packet)          # -> np.ndarray int16
    pcm = dec.decode(None)            # the next frame concealed (packet lost)
    pcm = dec.decode_fec(next_packet) # the lost frame rebuilt from the FEC in the packet after it

libopus is Debian's source package, built by host_tools.native.opus with the configuration every
target uses (host, Cortex-M, wasm32 give identical packets); the extension is native_codec._opus.
The encoder uses OPUS_APPLICATION_VOIP. Bad arguments and malformed packets raise ValueError with
libopus's own description of the error.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

try:
    from native_codec._opus import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised only before the first build
    raise ImportError(
        "native_codec's Opus extension is not built; run ./edgecall (it fetches libopus from Debian's "
        "source package and builds it) or python -m host_tools.native.opus"
    ) from exc

__all__ = ["OpusEncoder", "OpusDecoder", "OpusError", "opus_version", "SAMPLE_RATES", "MAX_PACKET"]

Bytes = Union[bytes, bytearray, memoryview]

SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)
FRAME_MS = (2.5, 5, 10, 20, 40, 60)
MAX_PACKET = 1275 * 3 + 7  # RFC 6716 §3.2.5: at most 1275 bytes a frame, three 20 ms frames in 60 ms
MAX_FRAME_MS = 120


class OpusError(RuntimeError):
    """libopus failed where the wrapper's own checks should have made that impossible."""


def opus_version() -> str:
    """libopus's version string, e.g. 'libopus 1.3.1-fixed'."""
    return ffi.string(lib.opus_get_version_string()).decode()


def _text(rc: int) -> str:
    return f"{ffi.string(lib.opus_strerror(rc)).decode()} ({rc})"


def _check(rc: int, what: str) -> int:
    if rc < 0:
        if rc in (lib.OPUS_BAD_ARG, lib.OPUS_INVALID_PACKET, lib.OPUS_BUFFER_TOO_SMALL):
            raise ValueError(f"{what}: {_text(rc)}")
        raise OpusError(f"{what}: {_text(rc)}")
    return rc


def _rate(sample_rate: object) -> int:
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        raise ValueError(f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}, got {sample_rate!r}")
    return int(sample_rate)  # type: ignore[call-overload]


def _int_in(name: str, v: object, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
        raise ValueError(f"{name} must be an int from {lo} to {hi}, got {v!r}")
    return int(v)


def _i32(v: int) -> object:
    return ffi.cast("opus_int32", v)


class _State:
    """Caller-owned state memory (8-byte aligned) behind a cast libopus state pointer."""

    def _alloc(self, ctype: str, size: int) -> object:
        self._mem = ffi.new("uint64_t[]", (size + 7) // 8)
        self.state_bytes = size
        return ffi.cast(f"{ctype} *", self._mem)


class OpusEncoder(_State):
    """Mono Opus encoder (OPUS_APPLICATION_VOIP). encode() takes one frame of 2.5, 5, 10, 20, 40
    or 60 ms (20 ms is the usual: 320 samples at 16 kHz) and returns one packet."""

    def __init__(self, sample_rate: int = 16000, bitrate: int = 24000, complexity: int = 0,
                 fec: bool = True, dtx: bool = False) -> None:
        self.sample_rate = _rate(sample_rate)
        self.complexity = _int_in("complexity", complexity, 0, 10)
        if not isinstance(fec, bool) or not isinstance(dtx, bool):
            raise ValueError(f"fec and dtx must be bool, got fec={fec!r} dtx={dtx!r}")
        self.fec, self.dtx = fec, dtx
        size = lib.opus_encoder_get_size(1)
        self._st = self._alloc("OpusEncoder", size)
        _check(lib.opus_encoder_init(self._st, self.sample_rate, 1, lib.OPUS_APPLICATION_VOIP), "OpusEncoder")
        self.set_bitrate(bitrate)
        self._ctl(lib.OPUS_SET_COMPLEXITY_REQUEST, self.complexity, "complexity")
        self._ctl(lib.OPUS_SET_INBAND_FEC_REQUEST, int(fec), "fec")
        self._ctl(lib.OPUS_SET_DTX_REQUEST, int(dtx), "dtx")
        self.packet_loss_perc = 0
        self._sizes = {int(self.sample_rate * ms / 1000) for ms in FRAME_MS}

    def _ctl(self, request: int, value: int, what: str) -> None:
        _check(lib.opus_encoder_ctl(self._st, request, _i32(value)), f"OpusEncoder {what}")

    def set_bitrate(self, bitrate: int) -> None:
        """Target bitrate in bit/s, 6000 to 510000."""
        self.bitrate = _int_in("bitrate", bitrate, 6000, 510000)
        self._ctl(lib.OPUS_SET_BITRATE_REQUEST, self.bitrate, "bitrate")

    def set_packet_loss_perc(self, perc: int) -> None:
        """Expected packet loss in percent (0 to 100): with fec=True, libopus codes in-band FEC
        (SILK's LBRR) only when this is above 0, and spends more of the bitrate on it as it rises."""
        self.packet_loss_perc = _int_in("packet_loss_perc", perc, 0, 100)
        self._ctl(lib.OPUS_SET_PACKET_LOSS_PERC_REQUEST, self.packet_loss_perc, "packet_loss_perc")

    @property
    def lookahead(self) -> int:
        """The encoder's delay in samples at sample_rate."""
        v = ffi.new("opus_int32 *")
        _check(lib.opus_encoder_ctl(self._st, lib.OPUS_GET_LOOKAHEAD_REQUEST, v), "OpusEncoder lookahead")
        return int(v[0])

    def encode(self, pcm: np.ndarray) -> bytes:
        if not isinstance(pcm, np.ndarray) or pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"pcm must be a one-dimensional numpy array of int16, got "
                             f"{getattr(pcm, 'dtype', type(pcm).__name__)} {getattr(pcm, 'shape', '')}")
        if len(pcm) not in self._sizes:
            raise ValueError(f"pcm must hold one frame of 2.5, 5, 10, 20, 40 or 60 ms "
                             f"({', '.join(map(str, sorted(self._sizes)))} samples at {self.sample_rate} Hz), "
                             f"got {len(pcm)} samples")
        a = np.ascontiguousarray(pcm)
        out = ffi.new("unsigned char[]", MAX_PACKET)
        n = _check(lib.opus_encode(self._st, ffi.from_buffer("opus_int16[]", a), len(a), out, MAX_PACKET),
                   "OpusEncoder.encode")
        return bytes(ffi.buffer(out, n))


class OpusDecoder(_State):
    """Mono Opus decoder: any Opus packet in (whatever rate or mode it was coded at), int16 PCM at
    sample_rate out."""

    def __init__(self, sample_rate: int = 16000) -> None:
        self.sample_rate = _rate(sample_rate)
        size = lib.opus_decoder_get_size(1)
        self._st = self._alloc("OpusDecoder", size)
        _check(lib.opus_decoder_init(self._st, self.sample_rate, 1), "OpusDecoder")
        self._max = self.sample_rate * MAX_FRAME_MS // 1000
        self._last = self.sample_rate // 50  # 20 ms until a packet says otherwise

    def _run(self, packet: Optional[Bytes], frame_size: int, fec: int, what: str) -> np.ndarray:
        out = np.empty(frame_size, dtype=np.int16)
        data, n = (ffi.NULL, 0) if packet is None else (packet, len(packet))
        got = _check(lib.opus_decode(self._st, data, n, ffi.from_buffer("opus_int16[]", out), frame_size, fec), what)
        return out[:got]

    @staticmethod
    def _packet(packet: object, what: str) -> bytes:
        if not isinstance(packet, (bytes, bytearray, memoryview)):
            raise ValueError(f"{what}: packet must be bytes, got {type(packet).__name__}")
        raw = bytes(packet)
        if not 1 <= len(raw) <= MAX_PACKET:
            raise ValueError(f"{what}: an Opus packet has 1 to {MAX_PACKET} bytes, got {len(raw)} "
                             "(pass None for a lost packet)")
        return raw

    def decode(self, packet: Optional[Bytes]) -> np.ndarray:
        """Decodes one packet; None conceals one lost packet (as long as the last one decoded)."""
        if packet is None:
            return self._run(None, self._last, 0, "OpusDecoder.decode(None)")
        raw = self._packet(packet, "OpusDecoder.decode")
        pcm = self._run(raw, self._max, 0, "OpusDecoder.decode")
        self._last = len(pcm)
        return pcm

    def decode_fec(self, next_packet: Bytes) -> np.ndarray:
        """Rebuilds the lost frame before `next_packet` from the in-band FEC it carries (libopus
        conceals it when it carries none); decode next_packet itself afterwards as usual."""
        raw = self._packet(next_packet, "OpusDecoder.decode_fec")
        return self._run(raw, self._last, 1, "OpusDecoder.decode_fec")
