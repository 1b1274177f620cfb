"""native_codec — Python binding of EdgeCall's C codecs (cffi, API mode), numpy in and out.

    import native_codec as nc
    nc.g711_encode(pcm_int16, law="ulaw") -> bytes          # law: "ulaw" | "alaw"
    nc.g711_decode(data, law="ulaw") -> np.ndarray (int16)
    enc = nc.G722Encoder(bitrate=64000); enc.encode(pcm16k) -> bytes
    dec = nc.G722Decoder(bitrate=64000); dec.decode(data) -> np.ndarray   # 64000 | 56000 | 48000
    nc.AdpcmEncoder(layout="dvi4" | "ima-wav"), nc.AdpcmDecoder(...)
    plc = nc.Plc(sample_rate=8000 | 16000); plc.good(frame) -> frame; plc.lost() -> frame
    nc.OpusEncoder(sample_rate=16000, bitrate=24000, complexity=0, fec=True, dtx=False)
    nc.OpusDecoder(sample_rate=16000)              # libopus 1.3.1: see native_codec.opus

Bad input (wrong dtype or shape, odd or wrong sizes, bad parameters) raises ValueError saying what
was expected. The C functions behind it never touch memory outside the buffers passed to them.
The extension `native_codec._nc` is built by `./edgecall` (host_tools.native.host).
"""
from __future__ import annotations

from typing import Union

import numpy as np

try:
    from native_codec._nc import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised only before the first build
    raise ImportError(
        "native_codec's C extension is not built; run ./edgecall (it builds it) or "
        "python -m host_tools.native.host"
    ) from exc

__all__ = [
    "NativeCodecError",
    "g711_encode",
    "g711_decode",
    "G722Encoder",
    "G722Decoder",
    "AdpcmEncoder",
    "AdpcmDecoder",
    "Plc",
    "OpusEncoder",
    "OpusDecoder",
]

Bytes = Union[bytes, bytearray, memoryview]

_ERRORS = {
    -1: "bad argument",
    -2: "buffer too small",
    -3: "state not initialised",
    -4: "malformed input",
    -5: "unsupported",
}
_LAWS = {"ulaw": 0, "alaw": 1}
_G722_RATES = (64000, 56000, 48000)


class NativeCodecError(RuntimeError):
    """A C function returned an error code that the wrapper's own checks should have prevented."""


def _check(rc: int, what: str) -> int:
    if rc < 0:
        if rc == -4:
            raise ValueError(f"{what}: malformed input")
        raise NativeCodecError(f"{what}: {_ERRORS.get(rc, 'error')} ({rc})")
    return rc


def _pcm(pcm: object, name: str = "pcm") -> np.ndarray:
    if not isinstance(pcm, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of int16, got {type(pcm).__name__}")
    if pcm.dtype != np.int16:
        raise ValueError(f"{name} must have dtype int16, got {pcm.dtype}")
    if pcm.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (mono), got shape {pcm.shape}")
    return np.ascontiguousarray(pcm)


def _bytes(data: object, name: str = "data") -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{name} must be bytes, got {type(data).__name__}")
    return bytes(data)


def _in16(a: np.ndarray) -> object:
    return ffi.from_buffer("int16_t[]", a)


def _law(law: str) -> int:
    if law not in _LAWS:
        raise ValueError(f"law must be 'ulaw' or 'alaw', got {law!r}")
    return _LAWS[law]


class _Stateful:
    """Keeps the raw memory behind a cast state pointer alive."""

    def _alloc(self, ctype: str, size: int) -> object:
        self._mem = ffi.new("uint64_t[]", (size + 7) // 8)
        self._size = size
        return ffi.cast(f"{ctype} *", self._mem)


def g711_encode(pcm_int16: np.ndarray, law: str = "ulaw") -> bytes:
    """G.711 encode: one byte per sample."""
    pcm = _pcm(pcm_int16)
    n = len(pcm)
    out = ffi.new("uint8_t[]", max(n, 1))
    _check(lib.ec_g711_encode(_law(law), _in16(pcm), n, out, n), "g711_encode")
    return bytes(ffi.buffer(out, n))


def g711_decode(data: Bytes, law: str = "ulaw") -> np.ndarray:
    """G.711 decode: one int16 sample per byte."""
    raw = _bytes(data)
    n = len(raw)
    out = np.empty(n, dtype=np.int16)
    _check(lib.ec_g711_decode(_law(law), raw, n, _in16(out), n), "g711_decode")
    return out


def _g722_rate(bitrate: int) -> int:
    if bitrate not in _G722_RATES:
        raise ValueError(f"bitrate must be one of 64000, 56000, 48000, got {bitrate!r}")
    return bitrate


class G722Encoder(_Stateful):
    """G.722 encoder, 16 kHz int16 in, one codeword byte per two samples out; state carries."""

    def __init__(self, bitrate: int = 64000) -> None:
        self.bitrate = _g722_rate(bitrate)
        size = lib.ec_g722_enc_state_size()
        self._st = self._alloc("ec_g722_enc", size)
        _check(lib.ec_g722_enc_init(self._st, size, self.bitrate), "G722Encoder")

    def encode(self, pcm: np.ndarray) -> bytes:
        a = _pcm(pcm)
        if len(a) % 2:
            raise ValueError(f"G.722 encodes pairs of samples: got an odd count ({len(a)})")
        n = len(a) // 2
        out = ffi.new("uint8_t[]", max(n, 1))
        _check(lib.ec_g722_encode(self._st, _in16(a), len(a), out, n), "G722Encoder.encode")
        return bytes(ffi.buffer(out, n))


class G722Decoder(_Stateful):
    """G.722 decoder in mode 1, 2 or 3 (64, 56, 48 kbit/s): each byte gives two 16 kHz samples."""

    def __init__(self, bitrate: int = 64000) -> None:
        self.bitrate = _g722_rate(bitrate)
        size = lib.ec_g722_dec_state_size()
        self._st = self._alloc("ec_g722_dec", size)
        _check(lib.ec_g722_dec_init(self._st, size, self.bitrate), "G722Decoder")

    def set_bitrate(self, bitrate: int) -> None:
        """Switches mode mid-stream, keeping the decoder's state."""
        self.bitrate = _g722_rate(bitrate)
        _check(lib.ec_g722_dec_set_bitrate(self._st, self.bitrate), "G722Decoder.set_bitrate")

    def decode(self, data: Bytes) -> np.ndarray:
        raw = _bytes(data)
        out = np.empty(2 * len(raw), dtype=np.int16)
        _check(lib.ec_g722_decode(self._st, raw, len(raw), _in16(out), len(out)), "G722Decoder.decode")
        return out


_LAYOUTS = ("dvi4", "ima-wav")


def _layout(layout: str, block_size: int) -> None:
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'dvi4' or 'ima-wav', got {layout!r}")
    if not isinstance(block_size, int) or not 5 <= block_size <= 65536:
        raise ValueError(f"block_size must be an int from 5 to 65536 bytes, got {block_size!r}")


class AdpcmEncoder(_Stateful):
    """IMA ADPCM encoder.

    layout="dvi4": each encode(frame) returns one DVI4 RTP payload (RFC 3551 §4.5.1) for an even
    number of samples. layout="ima-wav": encode() returns the complete WAV IMA blocks of
    `block_size` bytes ((block_size - 4) * 2 + 1 samples each) that the samples so far fill;
    flush() returns the last, zero-padded block.
    """

    def __init__(self, layout: str = "dvi4", block_size: int = 256) -> None:
        _layout(layout, block_size)
        self.layout = layout
        self.block_size = block_size
        self.samples_per_block = (block_size - 4) * 2 + 1
        size = lib.ec_adpcm_state_size()
        self._st = self._alloc("ec_adpcm", size)
        _check(lib.ec_adpcm_init(self._st, size), "AdpcmEncoder")
        self._pending = np.empty(0, dtype=np.int16)

    def encode(self, pcm: np.ndarray) -> bytes:
        a = _pcm(pcm)
        if self.layout == "dvi4":
            if len(a) % 2:
                raise ValueError(f"a DVI4 payload holds an even number of samples, got {len(a)}")
            cap = 4 + len(a) // 2
            out = ffi.new("uint8_t[]", cap)
            n = _check(lib.ec_dvi4_encode(self._st, _in16(a), len(a), out, cap), "AdpcmEncoder.encode")
            return bytes(ffi.buffer(out, n))
        self._pending = np.concatenate([self._pending, a])
        spb = self.samples_per_block
        blocks = len(self._pending) // spb
        out_bytes = bytearray()
        for i in range(blocks):
            out_bytes += self._block(self._pending[i * spb : (i + 1) * spb])
        self._pending = self._pending[blocks * spb :].copy()
        return bytes(out_bytes)

    def flush(self) -> bytes:
        """ima-wav: the last block, padded with zero samples; b'' if nothing is pending."""
        if self.layout != "ima-wav" or len(self._pending) == 0:
            return b""
        block = np.zeros(self.samples_per_block, dtype=np.int16)
        block[: len(self._pending)] = self._pending
        self._pending = np.empty(0, dtype=np.int16)
        return self._block(block)

    def _block(self, samples: np.ndarray) -> bytes:
        a = np.ascontiguousarray(samples)
        out = ffi.new("uint8_t[]", self.block_size)
        _check(
            lib.ec_ima_wav_encode_block(self._st, _in16(a), len(a), out, self.block_size),
            "AdpcmEncoder.encode",
        )
        return bytes(ffi.buffer(out, self.block_size))


class AdpcmDecoder(_Stateful):
    """IMA ADPCM decoder: one DVI4 payload per decode(), or whole WAV IMA blocks."""

    def __init__(self, layout: str = "dvi4", block_size: int = 256) -> None:
        _layout(layout, block_size)
        self.layout = layout
        self.block_size = block_size
        self.samples_per_block = (block_size - 4) * 2 + 1
        size = lib.ec_adpcm_state_size()
        self._st = self._alloc("ec_adpcm", size)
        _check(lib.ec_adpcm_init(self._st, size), "AdpcmDecoder")

    def decode(self, data: Bytes) -> np.ndarray:
        raw = _bytes(data)
        if self.layout == "dvi4":
            if len(raw) < 4:
                raise ValueError(f"a DVI4 payload has a 4-byte header, got {len(raw)} bytes")
            out = np.empty((len(raw) - 4) * 2, dtype=np.int16)
            _check(lib.ec_dvi4_decode(self._st, raw, len(raw), _in16(out), len(out)), "AdpcmDecoder.decode")
            return out
        bs = self.block_size
        if len(raw) % bs:
            raise ValueError(f"ima-wav data must be whole blocks of {bs} bytes, got {len(raw)} bytes")
        out = np.empty(len(raw) // bs * self.samples_per_block, dtype=np.int16)
        for i in range(len(raw) // bs):
            chunk = out[i * self.samples_per_block : (i + 1) * self.samples_per_block]
            _check(
                lib.ec_ima_wav_decode_block(self._st, raw[i * bs : (i + 1) * bs], bs, _in16(chunk), len(chunk)),
                "AdpcmDecoder.decode",
            )
        return out


class Plc(_Stateful):
    """Packet-loss concealment on decoded PCM (G.711 Appendix I at 8 kHz; its wideband scaling at
    16 kHz). Frames are `frame_ms` long (a multiple of 10 ms); output is delayed by 3.75 ms."""

    def __init__(self, sample_rate: int = 8000, frame_ms: int = 10) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {sample_rate!r}")
        if not isinstance(frame_ms, int) or frame_ms <= 0 or frame_ms % 10:
            raise ValueError(f"frame_ms must be a positive multiple of 10, got {frame_ms!r}")
        self.sample_rate = sample_rate
        size = lib.ec_plc_state_size()
        self._st = self._alloc("ec_plc", size)
        _check(lib.ec_plc_init(self._st, size, sample_rate), "Plc")
        self._sub = lib.ec_plc_frame_size(self._st)
        self.frame_size = self._sub * frame_ms // 10

    def good(self, frame: np.ndarray) -> np.ndarray:
        a = _pcm(frame, "frame")
        if len(a) != self.frame_size:
            raise ValueError(f"frame must have {self.frame_size} samples, got {len(a)}")
        out = np.empty_like(a)
        for i in range(0, len(a), self._sub):
            src, dst = a[i : i + self._sub], out[i : i + self._sub]
            _check(lib.ec_plc_good(self._st, _in16(src), _in16(dst), self._sub), "Plc.good")
        return out

    def lost(self) -> np.ndarray:
        out = np.empty(self.frame_size, dtype=np.int16)
        for i in range(0, len(out), self._sub):
            _check(lib.ec_plc_lost(self._st, _in16(out[i : i + self._sub]), self._sub), "Plc.lost")
        return out
from native_codec.video import H264Depacketizer, H264Packetizer, JpegEncoder, RtpJpegDepacketizer, RtpJpegPacketizer, jpeg_encode, rtcp_pli  # noqa: E402
from native_codec.media import MediaReceiver, MediaSender  # noqa: E402

_OPUS_NAMES = ("OpusEncoder", "OpusDecoder", "OpusError", "opus_version")


def __getattr__(name: str) -> object:
    """nc.OpusEncoder / nc.OpusDecoder (native_codec.opus): imported on first use, so that the
    rest of native_codec works where libopus (a separate extension) is not built."""
    if name in _OPUS_NAMES:
        from native_codec import opus

        return getattr(opus, name)
    raise AttributeError(f"module 'native_codec' has no attribute {name!r}")
