"""native_codec.video — the video part of EdgeCall's C stack, from Python (cffi, numpy).

    import native_codec as nc
    nc.jpeg_encode(rgb, quality=75, subsampling="420", restart_interval=0) -> bytes   # JFIF
    enc = nc.JpegEncoder(width, height, format="rgb565le", quality=75, subsampling="420")
    enc.encode(image) -> bytes;  enc.chunks(image, size) -> iterator of bytes slices (streaming)
    nc.RtpJpegPacketizer(ssrc, payload_type=26, mtu=1200).packetize(jpeg, timestamp) -> list[bytes]
    nc.RtpJpegDepacketizer().push(packet) -> bytes | None        # a complete JFIF frame
    nc.H264Packetizer(ssrc, payload_type=96, mtu=1200).packetize(annexb_au, timestamp) -> list[bytes]
    d = nc.H264Depacketizer(); d.push(packet) -> bytes | None    # an Annex B access unit
    d.needs_keyframe -> bool; d.pli(sender_ssrc) -> bytes          # RTCP PLI (RFC 4585)
    nc.rtcp_pli(sender_ssrc, media_ssrc) -> bytes

Image formats for JpegEncoder: "rgb888" (h, w, 3) uint8; "rgb565le" / "rgb565be" (h, w) uint16
(native values; the byte order is what the C encoder reads from the bytes); "yuyv" (h, 2*ceil(w/2)*2)
uint8 rows of Y0 Cb Y1 Cr; "i420" / "i422" a tuple (y, cb, cr) of uint8 planes. Bad arguments
raise ValueError saying what was expected; the depacketizers ignore packets that do not parse
(they count them in `errors`) since those come from the network.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Union

import numpy as np

from native_codec._nc import ffi, lib

__all__ = [
    "jpeg_encode",
    "JpegEncoder",
    "RtpJpegPacketizer",
    "RtpJpegDepacketizer",
    "H264Packetizer",
    "H264Depacketizer",
    "rtcp_pli",
]

Bytes = Union[bytes, bytearray, memoryview]

_FORMATS = {"rgb888": 0, "rgb565le": 1, "rgb565be": 2, "yuyv": 3, "i420": 4, "i422": 5}
_SUBSAMPLING = {"420": 0, "422": 1}
_ERR = {-1: "bad argument", -2: "buffer too small", -3: "state not initialised", -4: "malformed input", -5: "unsupported"}
_CHUNK = 1 << 18
_RTPJPEG_MIN_MTU = 192  # EC_RTPJPEG_MIN_MTU


class NativeVideoError(RuntimeError):
    """A C function failed in a way the wrapper's own checks should have prevented."""


def _check(rc: int, what: str) -> int:
    if rc < 0:
        if rc == -4:
            raise ValueError(f"{what}: malformed input")
        if rc == -5:
            raise ValueError(f"{what}: unsupported input")
        raise NativeVideoError(f"{what}: {_ERR.get(rc, 'error')} ({rc})")
    return rc


def _int(value: object, name: str, lo: int, hi: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be an int from {lo} to {hi}, got {value!r}")
    return int(value)


def _bytes(data: object, name: str) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{name} must be bytes, got {type(data).__name__}")
    return bytes(data)


def _state(ctype: str, size: int) -> tuple[Any, Any]:
    mem = ffi.new("uint64_t[]", (size + 7) // 8)
    return mem, ffi.cast(f"{ctype} *", mem)


def _u8(a: object, name: str, ndim: int) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy array of uint8, got {type(a).__name__}")
    if a.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    return np.ascontiguousarray(a)


class JpegEncoder:
    """Baseline JPEG encoder for frames of one size and format (the C encoder, ec_jpeg.h).

    `scan_only=True` produces only the entropy-coded segment (what RTP/JPEG carries)."""

    def __init__(self, width: int, height: int, format: str = "rgb888", quality: int = 75,
                 subsampling: str = "420", restart_interval: int = 0, scan_only: bool = False) -> None:
        self.width = _int(width, "width", 1, 65535)
        self.height = _int(height, "height", 1, 65535)
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
        if subsampling not in _SUBSAMPLING:
            raise ValueError(f"subsampling must be '420' or '422', got {subsampling!r}")
        if format == "i420" and subsampling != "420":
            raise ValueError("i420 input can only be coded with subsampling='420'")
        self.format = format
        self.quality = _int(quality, "quality", 1, 100)
        self.subsampling = subsampling
        self.restart_interval = _int(restart_interval, "restart_interval", 0, 65535)
        self.scan_only = bool(scan_only)
        self._params = ffi.new("ec_jpeg_params *", {
            "width": self.width, "height": self.height, "format": _FORMATS[format],
            "subsampling": _SUBSAMPLING[subsampling], "quality": self.quality,
            "flags": 1 if self.scan_only else 0, "restart_interval": self.restart_interval,
        })
        size = lib.ec_jpeg_enc_state_size()
        self._mem, self._st = _state("ec_jpeg_enc", size)
        _check(lib.ec_jpeg_enc_init(self._st, size, self._params), "JpegEncoder")

    def _rows(self, image: object) -> tuple[object, list[object]]:
        """The ec_jpeg_rows of a whole frame, and the objects that keep its buffers alive."""
        w, h, fmt = self.width, self.height, self.format
        rows = ffi.new("ec_jpeg_rows *")
        keep: list[object] = []
        if fmt in ("i420", "i422"):
            if not isinstance(image, (tuple, list)) or len(image) != 3:
                raise ValueError(f"{fmt} input must be a tuple (y, cb, cr) of uint8 planes")
            cw, ch = (w + 1) // 2, (h + 1) // 2 if fmt == "i420" else h
            shapes = [(h, w), (ch, cw), (ch, cw)]
            for i, (plane, shape) in enumerate(zip(image, shapes)):
                a = _u8(plane, f"plane {i}", 2)
                if a.shape != shape:
                    raise ValueError(f"{fmt} plane {i} must have shape {shape}, got {a.shape}")
                buf = ffi.from_buffer("uint8_t[]", a)
                keep += [a, buf]
                rows.plane[i] = buf
                rows.stride[i] = shape[1]
            return rows, keep
        if fmt == "rgb888":
            a = _u8(image, "image", 3)
            if a.shape != (h, w, 3):
                raise ValueError(f"rgb888 image must have shape ({h}, {w}, 3), got {a.shape}")
            stride = 3 * w
        elif fmt == "yuyv":
            a = _u8(image, "image", 2)
            need = (h, 4 * ((w + 1) // 2))
            if a.shape != need:
                raise ValueError(f"yuyv image must have shape {need} (bytes Y0 Cb Y1 Cr), got {a.shape}")
            stride = need[1]
        else:
            if not isinstance(image, np.ndarray) or image.dtype != np.uint16 or image.shape != (h, w):
                got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
                raise ValueError(f"{fmt} image must be a uint16 array of shape ({h}, {w}), got {got}")
            order = "<u2" if fmt == "rgb565le" else ">u2"
            a = np.ascontiguousarray(image.astype(order, copy=False)).view(np.uint8)
            stride = 2 * w
        buf = ffi.from_buffer("uint8_t[]", a)
        keep += [a, buf]
        rows.plane[0] = buf
        rows.stride[0] = stride
        return rows, keep

    def chunks(self, image: object, size: int = 1400) -> Iterator[bytes]:
        """Encodes one frame, yielding the stream in slices of at most `size` bytes (streaming)."""
        size = _int(size, "size", 1, 1 << 30)
        rows, keep = self._rows(image)
        _check(lib.ec_jpeg_enc_new_frame(self._st), "JpegEncoder")
        out = ffi.new("uint8_t[]", size)
        while not lib.ec_jpeg_enc_done(self._st):
            n = _check(lib.ec_jpeg_enc_frame(self._st, rows, out, size), "JpegEncoder.encode")
            if n:
                yield bytes(ffi.buffer(out, n))
        del keep

    def encode(self, image: object) -> bytes:
        """Encodes one frame into a JFIF stream (or the bare scan with scan_only)."""
        rows, keep = self._rows(image)
        _check(lib.ec_jpeg_enc_new_frame(self._st), "JpegEncoder")
        cap = min(_CHUNK, max(4096, self.width * self.height * 2 + 1024))
        out = ffi.new("uint8_t[]", cap)
        parts = []
        while not lib.ec_jpeg_enc_done(self._st):
            n = _check(lib.ec_jpeg_enc_frame(self._st, rows, out, cap), "JpegEncoder.encode")
            parts.append(ffi.buffer(out, n)[:])
        del keep
        return b"".join(parts)


def jpeg_encode(rgb: np.ndarray, quality: int = 75, subsampling: str = "420", restart_interval: int = 0) -> bytes:
    """Baseline JFIF of an (h, w, 3) uint8 RGB image (quality 1..100, IJG scale)."""
    a = _u8(rgb, "rgb", 3)
    if a.shape[2] != 3:
        raise ValueError(f"rgb must have shape (h, w, 3), got {a.shape}")
    h, w = a.shape[:2]
    if not (1 <= h <= 65535 and 1 <= w <= 65535):
        raise ValueError(f"image size must be 1..65535 in each dimension, got {w}x{h}")
    enc = JpegEncoder(w, h, "rgb888", quality, subsampling, restart_interval)
    return enc.encode(a)


def _collect(next_packet: Callable[..., int], st: Any, mtu: int) -> list[bytes]:
    pkt = ffi.new("uint8_t[]", mtu)
    out: list[bytes] = []
    while True:
        n = _check(next_packet(st, pkt, mtu), "packetize")
        if n == 0:
            return out
        out.append(bytes(ffi.buffer(pkt, n)))


class RtpJpegPacketizer:
    """RFC 2435 packetizer: a JFIF frame (or a bare scan with its description) -> RTP packets."""

    def __init__(self, ssrc: int, payload_type: int = 26, mtu: int = 1200, seq: int = 0) -> None:
        self.ssrc = _int(ssrc, "ssrc", 0, 0xFFFFFFFF)
        self.payload_type = _int(payload_type, "payload_type", 0, 127)
        self.mtu = _int(mtu, "mtu", _RTPJPEG_MIN_MTU, 65535)
        size = lib.ec_rtpjpeg_pack_state_size()
        self._mem, self._st = _state("ec_rtpjpeg_pack", size)
        _check(lib.ec_rtpjpeg_pack_init(self._st, size, self.ssrc, self.payload_type, self.mtu,
                                        _int(seq, "seq", 0, 65535)), "RtpJpegPacketizer")

    def packetize(self, jpeg: Bytes, timestamp: int, *, width: int | None = None, height: int | None = None,
                  subsampling: str = "420", quality: int = 75, restart_interval: int = 0) -> list[bytes]:
        """Packets of one frame. `jpeg` is a baseline JFIF stream, or (with width and height) the
        bare entropy-coded scan of a frame coded with the given subsampling, quality, interval."""
        data = _bytes(jpeg, "jpeg")
        ts = _int(timestamp, "timestamp", 0, 0xFFFFFFFF)
        fr = ffi.new("ec_rtpjpeg_frame *")
        if data[:2] == b"\xff\xd8":
            off, ln = ffi.new("size_t *"), ffi.new("size_t *")
            rc = lib.ec_rtpjpeg_parse_jfif(data, len(data), fr, off, ln)
            if rc == -5:
                raise ValueError("jpeg: RFC 2435 cannot carry it (it needs baseline 4:2:0 or 4:2:2 YCbCr, "
                                 "standard Huffman tables, 8-bit tables, at most 2040x2040)")
            _check(rc, "jpeg")
            scan = data[off[0]:off[0] + ln[0]]
        else:
            if width is None or height is None:
                raise ValueError("jpeg does not start with SOI: give width and height to send it as a bare scan")
            if subsampling not in _SUBSAMPLING:
                raise ValueError(f"subsampling must be '420' or '422', got {subsampling!r}")
            _check(lib.ec_rtpjpeg_frame_for(_int(width, "width", 1, 2040), _int(height, "height", 1, 2040),
                                            _SUBSAMPLING[subsampling], _int(quality, "quality", 1, 100),
                                            _int(restart_interval, "restart_interval", 0, 65535), fr), "frame")
            scan = data
        if not scan or len(scan) > 0xFFFFFF:
            raise ValueError(f"the scan must be 1..16777215 bytes, got {len(scan)}")
        _check(lib.ec_rtpjpeg_pack_frame(self._st, fr, scan, len(scan), ts), "RtpJpegPacketizer.packetize")
        return _collect(lib.ec_rtpjpeg_pack_next, self._st, self.mtu)


class RtpJpegDepacketizer:
    """RFC 2435 depacketizer: push packets, get complete JFIF frames."""

    def __init__(self, max_frame_bytes: int = 2 << 20) -> None:
        self.max_frame_bytes = _int(max_frame_bytes, "max_frame_bytes", 1024, 1 << 28)
        size = lib.ec_rtpjpeg_depack_state_size()
        self._mem, self._st = _state("ec_rtpjpeg_depack", size)
        _check(lib.ec_rtpjpeg_depack_init(self._st, size), "RtpJpegDepacketizer")
        self._buf = ffi.new("uint8_t[]", self.max_frame_bytes)
        self.errors = 0

    @property
    def frames(self) -> int:
        return int(self._st.frames)

    @property
    def dropped(self) -> int:
        return int(self._st.dropped)

    def push(self, packet: Bytes) -> bytes | None:
        data = _bytes(packet, "packet")
        n = lib.ec_rtpjpeg_depack_push(self._st, data, len(data), self._buf, self.max_frame_bytes)
        if n < 0:
            self.errors += 1
            return None
        return bytes(ffi.buffer(self._buf, n)) if n else None


class H264Packetizer:
    """RFC 6184 packetizer (Single NAL Unit and FU-A): an Annex B access unit -> RTP packets."""

    def __init__(self, ssrc: int, payload_type: int = 96, mtu: int = 1200, seq: int = 0) -> None:
        self.ssrc = _int(ssrc, "ssrc", 0, 0xFFFFFFFF)
        self.payload_type = _int(payload_type, "payload_type", 0, 127)
        self.mtu = _int(mtu, "mtu", 32, 65535)
        size = lib.ec_rtph264_pack_state_size()
        self._mem, self._st = _state("ec_rtph264_pack", size)
        _check(lib.ec_rtph264_pack_init(self._st, size, self.ssrc, self.payload_type, self.mtu,
                                        _int(seq, "seq", 0, 65535)), "H264Packetizer")

    def packetize(self, annexb_access_unit: Bytes, timestamp: int) -> list[bytes]:
        data = _bytes(annexb_access_unit, "annexb_access_unit")
        ts = _int(timestamp, "timestamp", 0, 0xFFFFFFFF)
        if not data:
            raise ValueError("annexb_access_unit is empty")
        rc = lib.ec_rtph264_pack_au(self._st, data, len(data), ts)
        if rc == -4:
            raise ValueError("annexb_access_unit must be Annex B: NAL units each after a 00 00 01 start code")
        if rc == -5:
            raise ValueError("annexb_access_unit holds a NAL unit of type 0 or 24..31, which RTP cannot carry")
        _check(rc, "H264Packetizer.packetize")
        self._keep = data  # the C state points into it until the last packet
        return _collect(lib.ec_rtph264_pack_next, self._st, self.mtu)


def rtcp_pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """RTCP Picture Loss Indication (RFC 4585 §6.3.1), 12 bytes."""
    out = ffi.new("uint8_t[]", 12)
    _check(lib.ec_rtph264_pli(_int(sender_ssrc, "sender_ssrc", 0, 0xFFFFFFFF),
                           _int(media_ssrc, "media_ssrc", 0, 0xFFFFFFFF), out, 12), "rtcp_pli")
    return bytes(ffi.buffer(out, 12))


class H264Depacketizer:
    """RFC 6184 depacketizer (Single NAL Unit, STAP-A, FU-A): push packets, get Annex B access units;
    after a loss `needs_keyframe` stays True until an IDR access unit arrives whole."""

    def __init__(self, max_au_bytes: int = 2 << 20) -> None:
        self.max_au_bytes = _int(max_au_bytes, "max_au_bytes", 64, 1 << 28)
        size = lib.ec_rtph264_depack_state_size()
        self._mem, self._st = _state("ec_rtph264_depack", size)
        _check(lib.ec_rtph264_depack_init(self._st, size), "H264Depacketizer")
        self._buf = ffi.new("uint8_t[]", self.max_au_bytes)
        self.errors = 0

    def push(self, packet: Bytes) -> bytes | None:
        data = _bytes(packet, "packet")
        n = lib.ec_rtph264_depack_push(self._st, data, len(data), self._buf, self.max_au_bytes)
        if n < 0:
            self.errors += 1
            return None
        return bytes(ffi.buffer(self._buf, n)) if n else None

    @property
    def needs_keyframe(self) -> bool:
        return bool(lib.ec_rtph264_needs_keyframe(self._st))

    @property
    def stats(self) -> dict[str, int]:
        s = self._st
        return {"delivered": int(s.delivered), "dropped": int(s.dropped), "lost": int(s.lost),
                "unsupported": int(s.unsupported), "errors": self.errors}

    def pli(self, sender_ssrc: int, media_ssrc: int | None = None) -> bytes:
        """A PLI for the media source of the last packet (or `media_ssrc`)."""
        return rtcp_pli(sender_ssrc, int(self._st.ssrc) if media_ssrc is None else media_ssrc)
