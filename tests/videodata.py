"""Video inputs the video tests share: synthetic images JPEG codes well, RGB565 conversion, RTP/JPEG
streams made on the host with the device's expected display, and malformed packets."""
from __future__ import annotations

import struct

import numpy as np

import native_codec as nc


def smooth_image(w: int, h: int, phase: float) -> np.ndarray:
    """A smooth synthetic RGB image (gradients and a soft disc) that JPEG codes well."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / w * 3 + phase)
    g = 128 + 100 * np.cos(y / h * 4 - phase)
    d = np.hypot(x - w / 2, y - h / 2) / (0.3 * min(w, h))
    b = 40 + 180 / (1 + d**4)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def to_rgb565(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.uint16) for i in range(3))
    return ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)


def host_streams() -> dict[str, tuple[list[bytes], list[tuple[int, bytes]]]]:
    """name -> (packets, [(rtp ts, JFIF) of the frames that must be displayed, in order])."""
    out = {}
    a = nc.jpeg_encode(smooth_image(160, 120, 0.0), quality=75)
    b = nc.jpeg_encode(smooth_image(320, 240, 1.0), quality=90, subsampling="422", restart_interval=4)
    c = nc.jpeg_encode(smooth_image(160, 120, 2.0), quality=100)  # q 255: tables in-band
    p = nc.RtpJpegPacketizer(0xCAFE0001, mtu=600, seq=65533)
    pkts = p.packetize(a, 1000) + p.packetize(b, 4000) + p.packetize(c, 0xFFFFFFF0)
    out["good"] = (pkts, [(1000, a), (4000, b), (0xFFFFFFF0, c)])
    # the second of three frames loses a packet in its middle
    p = nc.RtpJpegPacketizer(0xCAFE0002, mtu=400)
    f1, f2, f3 = p.packetize(a, 10), p.packetize(b, 3010), p.packetize(c, 6010)
    assert len(f2) >= 3
    out["drop"] = (f1 + f2[:1] + f2[2:] + f3, [(10, a), (6010, c)])
    return out


def bad_packets() -> list[bytes]:
    rtp = b"\x80\x1a\x00\x01" + struct.pack(">II", 5, 0xBAD)
    jh = lambda off, typ, q, w, h: struct.pack(">I", off)[1:].rjust(4, b"\x00") + bytes([typ, q, w, h])  # noqa: E731
    return [
        b"", b"\x80", bytes(12), rtp, rtp + b"\x00\x00\x00",  # too short for the JPEG header
        rtp + jh(0, 1, 0, 20, 15) + b"data",  # Q = 0
        rtp + jh(0, 1, 50, 0, 15) + b"data",  # width 0
        rtp + jh(0, 1, 128, 20, 15) + b"\x00\x00",  # Q table header cut short
        rtp + jh(0, 1, 128, 20, 15) + b"\x00\x00\x00\x40" + bytes(64),  # 64-byte tables
        rtp + jh(0, 65, 50, 20, 15) + b"\x00",  # restart header cut short
        rtp + jh(0, 7, 50, 20, 15) + b"data",  # type 7: unsupported
        b"\xff" * 64, bytes(range(256)),
    ]


# ---- fixtures -------------------------------------------------------------------------------
