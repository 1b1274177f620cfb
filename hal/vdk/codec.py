"""The C codecs of native_codec (its wasm32 build, loaded by the devkit on first use).

PCM is bytes-like little-endian int16. Results are bytes. Errors raise ValueError (TypeError for
an argument that is not bytes-like). Each codec object holds its state in the codec library's
memory until close() (or `with`): there is no finaliser in this MicroPython build, so an object
that is dropped without close() keeps its state (a few KiB at most) until the next reset.

MediaSender / MediaReceiver are the media stack (ec_media.h: codec + RTP + RED/FEC + NACK + RTCP
+ adaptive jitter buffer + concealment), the same C code as the host's native_codec.media. They
live in hal/vdk/_media.py, imported on first use (their code costs ~14 KiB of heap).
"""
from _vdkhal import (
    codec_dvi4_dec, codec_dvi4_enc, codec_free, codec_g711_dec, codec_g711_enc, codec_g722_dec,
    codec_g722_enc, codec_heap, codec_ima_dec, codec_ima_enc, codec_new, codec_plc, codec_plc_frame,
)

from hal.vdk._buf import nbytes

_LAWS = {"ulaw": 0, "alaw": 1}
_ERRORS = {
    -1: "bad argument", -2: "buffer too small", -3: "state not initialised",
    -4: "malformed input", -5: "unsupported", -100: "a bytes-like object is required",
    -101: "codec is closed", -102: "codec library not available (see the device log)",
}
_G722_ENC, _G722_DEC, _ADPCM, _PLC = 1, 2, 3, 4


def _check(rc: int, what: str) -> int:
    if rc < 0:
        if rc == -100:
            raise TypeError(what + ": a bytes-like object is required")
        raise ValueError("%s: %s (%d)" % (what, _ERRORS.get(rc, "error"), rc))
    return rc


def library_bytes() -> int:
    """Memory the codec library holds for states and buffers (in use or free for reuse)."""
    return codec_heap()


def _law(law: str) -> int:
    if law not in _LAWS:
        raise ValueError("law must be 'ulaw' or 'alaw', got %r" % (law,))
    return _LAWS[law]


def g711_encode(pcm, law: str = "ulaw") -> bytes:
    """G.711: one byte per sample."""
    code = _law(law)
    n = nbytes(pcm)
    if n & 1:
        raise ValueError("g711_encode: PCM must be whole int16 samples")
    out = bytes(n // 2)
    if n:
        _check(codec_g711_enc(code, id(pcm), id(out)), "g711_encode")
    return out


def g711_decode(data, law: str = "ulaw") -> bytes:
    """G.711: one int16 sample per byte."""
    code = _law(law)
    n = nbytes(data)
    out = bytes(2 * n)
    if n:
        _check(codec_g711_dec(code, id(data), id(out)), "g711_decode")
    return out


class _Codec:
    _h = 0

    def _new(self, kind: int, param: int, what: str) -> None:
        self._h = _check(codec_new(kind, param), what)

    def close(self) -> None:
        """Gives the state back to the codec library's free list."""
        if self._h:
            codec_free(self._h)
            self._h = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class G722Encoder(_Codec):
    """G.722 at 16 kHz: every two samples give one codeword byte; state carries over."""

    def __init__(self, bitrate: int = 64000) -> None:
        self.bitrate = bitrate
        self._new(_G722_ENC, bitrate, "G722Encoder")

    def encode(self, pcm) -> bytes:
        n = nbytes(pcm)
        if n & 3:
            raise ValueError("G722Encoder.encode: an even number of samples is required")
        out = bytes(n // 4)
        if n:
            _check(codec_g722_enc(self._h, id(pcm), id(out)), "G722Encoder.encode")
        return out


class G722Decoder(_Codec):
    """G.722 decoder in mode 1, 2 or 3 (64000, 56000, 48000): each byte gives two samples."""

    def __init__(self, bitrate: int = 64000) -> None:
        self.bitrate = bitrate
        self._new(_G722_DEC, bitrate, "G722Decoder")

    def decode(self, data) -> bytes:
        n = nbytes(data)
        out = bytes(4 * n)
        if n:
            _check(codec_g722_dec(self._h, id(data), id(out)), "G722Decoder.decode")
        return out


def _layout(layout: str, block_size: int) -> int:
    if layout not in ("dvi4", "ima-wav"):
        raise ValueError("layout must be 'dvi4' or 'ima-wav', got %r" % (layout,))
    if not 5 <= block_size <= 65536:
        raise ValueError("block_size must be 5 to 65536 bytes")
    return (block_size - 4) * 2 + 1


class AdpcmEncoder(_Codec):
    """IMA ADPCM. "dvi4": encode(pcm) gives one DVI4 RTP payload (RFC 3551) for an even number of
    samples. "ima-wav": encode() gives the whole WAV IMA blocks of block_size bytes that the
    samples so far fill; flush() the last one, zero-padded."""

    def __init__(self, layout: str = "dvi4", block_size: int = 256) -> None:
        self.samples_per_block = _layout(layout, block_size)
        self.layout = layout
        self.block_size = block_size
        self._pending = bytearray()
        self._new(_ADPCM, 0, "AdpcmEncoder")

    def encode(self, pcm) -> bytes:
        n = nbytes(pcm)
        if n & 1:
            raise ValueError("AdpcmEncoder.encode: PCM must be whole int16 samples")
        if self.layout == "dvi4":
            if n & 3:
                raise ValueError("AdpcmEncoder.encode: DVI4 needs an even number of samples")
            out = bytes(4 + n // 4)
            _check(codec_dvi4_enc(self._h, id(pcm), id(out)), "AdpcmEncoder.encode")
            return out
        self._pending.extend(pcm)
        blk = 2 * self.samples_per_block
        count = len(self._pending) // blk
        out = bytearray(count * self.block_size)
        src, dst = memoryview(self._pending), memoryview(out)
        for i in range(count):
            _check(codec_ima_enc(self._h, id(src[i * blk:(i + 1) * blk]),
                                 id(dst[i * self.block_size:(i + 1) * self.block_size])),
                   "AdpcmEncoder.encode")
        self._pending = self._pending[count * blk:]
        return bytes(out)

    def flush(self) -> bytes:
        """ima-wav: the last block, padded with zero samples; b"" if nothing is pending."""
        if self.layout != "ima-wav" or not self._pending:
            return b""
        self._pending.extend(bytes(2 * self.samples_per_block - len(self._pending)))
        out = bytes(self.block_size)
        _check(codec_ima_enc(self._h, id(self._pending), id(out)), "AdpcmEncoder.flush")
        self._pending = bytearray()
        return out


class AdpcmDecoder(_Codec):
    """IMA ADPCM: one DVI4 payload per decode() (its header resets the state), or whole WAV
    IMA blocks."""

    def __init__(self, layout: str = "dvi4", block_size: int = 256) -> None:
        self.samples_per_block = _layout(layout, block_size)
        self.layout = layout
        self.block_size = block_size
        self._new(_ADPCM, 0, "AdpcmDecoder")

    def decode(self, payload) -> bytes:
        n = nbytes(payload)
        if self.layout == "dvi4":
            if n < 4:
                raise ValueError("AdpcmDecoder.decode: a DVI4 payload has a 4-byte header")
            out = bytes(4 * (n - 4))
            _check(codec_dvi4_dec(self._h, id(payload), id(out)), "AdpcmDecoder.decode")
            return out
        bs = self.block_size
        if n % bs:
            raise ValueError("AdpcmDecoder.decode: ima-wav data must be whole blocks")
        blk = 2 * self.samples_per_block
        out = bytearray(n // bs * blk)
        src, dst = memoryview(payload), memoryview(out)
        for i in range(n // bs):
            _check(codec_ima_dec(self._h, id(src[i * bs:(i + 1) * bs]), id(dst[i * blk:(i + 1) * blk])),
                   "AdpcmDecoder.decode")
        return bytes(out)


class Plc(_Codec):
    """Packet-loss concealment on decoded PCM (G.711 Appendix I at 8 kHz, its wideband scaling
    at 16 kHz). Frames are frame_ms long (a multiple of 10 ms); the output lags by 3.75 ms."""

    def __init__(self, rate: int = 8000, frame_ms: int = 10) -> None:
        if rate not in (8000, 16000):
            raise ValueError("rate must be 8000 or 16000")
        if frame_ms <= 0 or frame_ms % 10:
            raise ValueError("frame_ms must be a positive multiple of 10")
        self.rate = rate
        self._new(_PLC, rate, "Plc")
        self.frame_size = codec_plc_frame(self._h) * frame_ms // 10
        self._frame_bytes = 2 * self.frame_size

    def good(self, frame) -> bytes:
        """A received frame in, the (delayed, smoothed) frame out."""
        if nbytes(frame) != self._frame_bytes:
            raise ValueError("Plc.good: a frame is %d bytes" % self._frame_bytes)
        out = bytes(self._frame_bytes)
        _check(codec_plc(self._h, id(frame), id(out)), "Plc.good")
        return out

    def lost(self) -> bytes:
        """A concealed frame for a lost one."""
        out = bytes(self._frame_bytes)
        _check(codec_plc(self._h, 0, id(out)), "Plc.lost")
        return out


def __getattr__(name):
    """MediaSender, MediaReceiver (and CODECS) from hal.vdk._media, loaded when first asked for;
    OPUS: whether the codec library has Opus (for calls to offer it)."""
    if name == "OPUS":
        from _vdkhal import codec_has_opus
        return codec_has_opus() == 1
    if name in ("MediaSender", "MediaReceiver", "CODECS"):
        from hal.vdk import _media
        return getattr(_media, name)
    raise AttributeError(name)
