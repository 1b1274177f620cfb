"""The video functions of _nc (jpeg_* and rtpjpeg_*, native_codec/mpy/mod_nc.c; hal/stubs/_nc.pyi) on
a real MicroPython: the armv7emsp _nc.mpy, exactly as built, and "builtin", the user C module form
of the same binding (MicroPython's stock ports/qemu on QEMU mps2-an500, host_tools/native/mpqemu.py).

- JPEG of every packed input format, sizes that are not whole MCUs, restart intervals, quality 100,
  scan only or JFIF: byte for byte the host build's (native_codec.video, the same C code).
- RTP/JPEG packets of a scan in memory (pack_frame + pack_next / pack_next_into) and of a frame
  encoded into its packets (pack_stream + pack_encode_into) are the host's; the depacketizer
  rebuilds the host's JFIF from packets in any order.
- Bad arguments raise TypeError / ValueError naming what is wrong; states of another kind, closed
  ones, a mixed-up frame or encoder, a scan resized under the packetizer are refused.
- Nothing is allocated per packet (the heap is locked), long-int timestamps included in the
  builtin form.
- The armv6m and armv7m modules leave video out (NC_VIDEO=0), and hal.board.video says so with
  OSError(ENODEV); with video it says what the board lacks instead (a camera driver, a display)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from native_codec._nc import ffi, lib
from host_tools.native import mpqemu, natmod
from tests.devkits import frame_file, unframe
from tests.natmods import board, builtin_board, hal_mpy_files  # noqa: F401
from tests.videodata import smooth_image, to_rgb565

VIDEO_ARCHS = ("armv7emsp",)
TARGETS = [*VIDEO_ARCHS, "builtin"]
FORMATS = {"rgb888": 0, "rgb565le": 1, "rgb565be": 2, "yuyv": 3}
SUB = {"420": 0, "422": 1}
# (width, height, format, subsampling, quality, scan_only, restart_interval)
JPEG_CASES = [
    (40, 24, "rgb888", "420", 75, False, 0),
    (40, 24, "rgb565le", "422", 30, False, 2),
    (37, 21, "rgb565be", "420", 90, True, 0),
    (38, 16, "yuyv", "422", 100, False, 1),
    (16, 16, "rgb888", "422", 1, True, 3),
]

# The frames: byte i of a packed frame is PIXEL(i), on both sides.
DEVICE_CODE = r'''
import _nc, micropython, gc

def frame_bytes(n):
    b = bytearray(n)
    for i in range(n):
        b[i] = (i * 13 + (i // 97) * 5) & 255
    return b

def line_bytes(w, fmt):
    return 3 * w if fmt == 0 else 4 * ((w + 1) // 2) if fmt == 3 else 2 * w

def jpegs(cases, out):
    for i, (w, h, fmt, sub, q, scan_only, ri) in enumerate(cases):
        f = frame_bytes(line_bytes(w, fmt) * h)
        enc = _nc.jpeg_enc_new(w, h, fmt, sub, q, scan_only, ri)
        a = _nc.jpeg_encode(enc, f)
        into = bytearray(len(a) + 7)
        n = _nc.jpeg_encode_into(enc, f, into)
        assert n == len(a) and into[:n] == a and _nc.jpeg_encode(enc, f) == a
        try:
            _nc.jpeg_encode_into(enc, f, bytearray(len(a) - 1))
            raise AssertionError("no error")
        except ValueError:
            pass
        assert _nc.jpeg_encode(enc, f) == a  # the state recovers from a frame that did not fit
        sh_write(out + '/jpeg%d.bin' % i, a)

def packets(raw, out, w, h, sub, q, ri, ssrc, pt, mtu, seq, ts):
    enc = _nc.jpeg_enc_new(w, h, 1, sub, q, True, ri)
    scan = _nc.jpeg_encode(enc, raw)
    # a scan given whole, in a larger buffer with n
    big = bytearray(len(scan) + 50)
    big[:len(scan)] = scan
    p = _nc.rtpjpeg_pack_new(w, h, sub, q, ri, ssrc, pt, mtu, seq)
    _nc.rtpjpeg_pack_frame(p, big, ts, len(scan))
    f = ShFile(out + '/whole.pk')
    buf = bytearray(mtu)
    k = 0
    while True:
        if k % 2:
            n = _nc.rtpjpeg_pack_next_into(p, buf)
            pkt = buf[:n]
        else:
            pkt = _nc.rtpjpeg_pack_next(p)
            n = 0 if pkt is None else len(pkt)
        if not n:
            break
        f.write(n.to_bytes(2, 'little'))
        f.write(pkt)
        k += 1
    f.close()
    assert _nc.rtpjpeg_pack_next(p) is None and _nc.rtpjpeg_pack_next_into(p, buf) == 0
    assert _nc.rtpjpeg_pack_sent(p) == len(scan)
    # the same frame encoded into its packets
    s = _nc.rtpjpeg_pack_new(w, h, sub, q, ri, ssrc, pt, mtu, seq)
    _nc.rtpjpeg_pack_stream(s, enc, ts)
    f = ShFile(out + '/stream.pk')
    n = _nc.rtpjpeg_pack_encode_into(s, enc, raw, buf)
    while n:
        f.write(n.to_bytes(2, 'little'))
        f.write(buf[:n])
        n = _nc.rtpjpeg_pack_encode_into(s, enc, raw, buf)
    f.close()
    assert _nc.rtpjpeg_pack_sent(s) == len(scan)
    return len(scan)

def depack(src, out, cap):
    pkts = []
    data = sh_read(src)
    i = 0
    while i < len(data):
        n = data[i] | data[i + 1] << 8
        pkts.append(data[i + 2:i + 2 + n])
        i += 2 + n
    d = _nc.rtpjpeg_depack_new()
    frame = bytearray(cap)
    res = []
    for j, pkt in enumerate(pkts):
        n = _nc.rtpjpeg_depack_push(d, pkt, frame)
        res.append(n)
        if n > 0:
            sh_write(out + '/frame%d.jpg' % j, frame[:n])
    return res, _nc.rtpjpeg_depack_stats(d)
'''


@pytest.fixture(scope="module")
def hal_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hal_mpy_files(tmp_path_factory.mktemp("hal"), "video")


def target(request: pytest.FixtureRequest, name: str, hal_files: dict[str, Path]) -> mpqemu.Board:
    """A fresh heap with hal's board backend (and, for an arch, its _nc.mpy) at /nc, DEVICE_CODE run."""
    b: mpqemu.Board = request.getfixturevalue("builtin_board" if name == "builtin" else "board")
    b.soft_reset()
    files = dict(hal_files) if name == "builtin" else {"_nc.mpy": natmod.path(name), **hal_files}
    b.load("/nc", files)
    want = "None" if name == "builtin" else "/nc/_nc.mpy"
    assert b.exec("import _nc\nprint(getattr(_nc, '__file__', None))").strip() == want
    b.exec(DEVICE_CODE)
    return b


def streamed_packets(raw565: np.ndarray, quality: int, subsampling: str, restart_interval: int, ssrc: int, pt: int,
                     mtu: int, seq: int, ts: int) -> list[bytes]:
    """The packets of one frame encoded while packetized (ec_rtpjpeg_pack_stream: the encoder
    writes each payload after the packet's headers), by the host build of the same C code."""
    h, w = raw565.shape
    params = ffi.new("ec_jpeg_params *", {"width": w, "height": h, "format": 1, "subsampling": SUB[subsampling],
                                          "quality": quality, "flags": 1, "restart_interval": restart_interval})
    enc = ffi.new("uint64_t[]", (lib.ec_jpeg_enc_state_size() + 7) // 8)
    st = ffi.cast("ec_jpeg_enc *", enc)
    assert lib.ec_jpeg_enc_init(st, lib.ec_jpeg_enc_state_size(), params) == 0
    fr = ffi.new("ec_rtpjpeg_frame *")
    assert lib.ec_rtpjpeg_frame_for(w, h, SUB[subsampling], quality, restart_interval, fr) == 0
    mem = ffi.new("uint64_t[]", (lib.ec_rtpjpeg_pack_state_size() + 7) // 8)
    pk = ffi.cast("ec_rtpjpeg_pack *", mem)
    assert lib.ec_rtpjpeg_pack_init(pk, lib.ec_rtpjpeg_pack_state_size(), ssrc, pt, mtu, seq) == 0
    assert lib.ec_rtpjpeg_pack_stream(pk, fr, ts) == 0
    data = np.ascontiguousarray(raw565.astype("<u2")).tobytes()
    src = ffi.from_buffer("uint8_t[]", data)
    rows = ffi.new("ec_jpeg_rows *")
    rows.plane[0] = src
    rows.stride[0] = 2 * w
    pkt = ffi.new("uint8_t[]", mtu)
    out = []
    while True:
        hl = lib.ec_rtpjpeg_pack_header(pk, pkt, mtu)
        n = lib.ec_jpeg_enc_frame(st, rows, pkt + hl, mtu - hl)
        done = lib.ec_jpeg_enc_done(st)
        size = lib.ec_rtpjpeg_pack_commit(pk, pkt, n, done)
        assert hl > 0 and n > 0 and size == hl + n
        out.append(bytes(ffi.buffer(pkt, size)))
        if done:
            return out


def pixels(n: int) -> np.ndarray:
    i = np.arange(n, dtype=np.int64)
    return ((i * 13 + (i // 97) * 5) & 255).astype(np.uint8)


def host_image(w: int, h: int, fmt: str) -> np.ndarray:
    if fmt == "rgb888":
        return pixels(3 * w * h).reshape(h, w, 3)
    if fmt == "yuyv":
        return pixels(4 * ((w + 1) // 2) * h).reshape(h, 4 * ((w + 1) // 2))
    raw = pixels(2 * w * h).tobytes()
    return np.frombuffer(raw, "<u2" if fmt == "rgb565le" else ">u2").reshape(h, w).astype(np.uint16)


@pytest.mark.parametrize("name", TARGETS)
def test_jpeg_equals_host(request: pytest.FixtureRequest, name: str, hal_files: dict[str, Path],
                          tmp_path: Path) -> None:
    b = target(request, name, hal_files)
    cases = [(w, h, FORMATS[f], SUB[s], q, so, ri) for w, h, f, s, q, so, ri in JPEG_CASES]
    b.exec(f"jpegs({cases!r}, {mpqemu.host_path(tmp_path)!r})", timeout=300)
    for i, (w, h, f, s, q, so, ri) in enumerate(JPEG_CASES):
        want = nc.JpegEncoder(w, h, f, q, s, ri, scan_only=so).encode(host_image(w, h, f))
        assert (tmp_path / f"jpeg{i}.bin").read_bytes() == want, JPEG_CASES[i]
        assert want.startswith(b"\xff\xd8") != so


@pytest.mark.parametrize("name", TARGETS)
def test_rtpjpeg_equals_host(request: pytest.FixtureRequest, name: str, hal_files: dict[str, Path],
                             tmp_path: Path) -> None:
    b = target(request, name, hal_files)
    w, h, q, ri, ssrc, pt, mtu, seq, ts = 64, 48, 60, 1, 0xABCDEF01, 26, 200, 65533, 0xFFFFFFF0
    noise = np.random.default_rng(15).integers(-40, 41, (h, w, 3))
    img = to_rgb565(np.clip(smooth_image(w, h, 0.7).astype(np.int16) + noise, 0, 255).astype(np.uint8))
    raw = img.astype("<u2").tobytes()
    (tmp_path / "raw.bin").write_bytes(raw)
    scan_len = int(b.exec(f"print(packets(sh_read({mpqemu.host_path(tmp_path / 'raw.bin')!r}), "
                          f"{mpqemu.host_path(tmp_path)!r}, {w}, {h}, 0, {q}, {ri}, {ssrc}, {pt}, {mtu}, {seq}, {ts}))",
                          timeout=300).strip())
    scan = nc.JpegEncoder(w, h, "rgb565le", q, "420", ri, scan_only=True).encode(img)
    assert scan_len == len(scan)
    whole = nc.RtpJpegPacketizer(ssrc, pt, mtu, seq).packetize(scan, ts, width=w, height=h, quality=q,
                                                                 restart_interval=ri)
    got = unframe((tmp_path / "whole.pk").read_bytes())
    assert got == whole and len(got) >= 6 and int.from_bytes(got[-1][2:4], "big") < seq  # seq wrapped
    stream = unframe((tmp_path / "stream.pk").read_bytes())
    assert stream == streamed_packets(img, q, "420", ri, ssrc, pt, mtu, seq, ts)
    jfif = nc.JpegEncoder(w, h, "rgb565le", q, "420", ri).encode(img)
    for pk in (whole, stream):
        dp = nc.RtpJpegDepacketizer()
        assert [f for f in map(dp.push, pk) if f is not None] == [jfif]
    # the depacketizer: the whole-scan packets reversed, a frame that loses a packet, a late
    # duplicate of the first frame, a frame with its tables in-band (quality 100)
    lossy = nc.RtpJpegPacketizer(7, mtu=300).packetize(nc.jpeg_encode(smooth_image(160, 120, 2.0), quality=90), 90)
    q100 = nc.jpeg_encode(smooth_image(48, 32, 1.0), quality=100)
    last = nc.RtpJpegPacketizer(8, mtu=250).packetize(q100, 180)
    assert len(lossy) >= 3
    feed = whole[::-1] + lossy[:1] + lossy[2:] + [whole[0]] + last
    (tmp_path / "feed.pk").write_bytes(frame_file(feed))
    res, stats = eval(b.exec(  # noqa: S307 - a tuple of ints and a dict of ints from our device
        f"print(depack({mpqemu.host_path(tmp_path / 'feed.pk')!r}, {mpqemu.host_path(tmp_path)!r}, 16384))").strip())
    done = [j for j, n in enumerate(res) if n > 0]
    assert done == [len(whole) - 1, len(feed) - 1] and min(res) == 0
    assert (tmp_path / f"frame{done[0]}.jpg").read_bytes() == jfif
    assert (tmp_path / f"frame{done[1]}.jpg").read_bytes() == q100
    assert stats == {"frames": 2, "dropped": 1}  # the frame with the lost packet


# Calls with bad arguments: each must raise the error named, and nothing else may happen.
BAD_CALLS = [
    ("ValueError", "_nc.jpeg_enc_new(0, 24, 1, 0, 50, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 65536, 1, 0, 50, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, 4, 0, 50, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, -1, 0, 50, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, 1, 2, 50, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, 1, 0, 0, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, 1, 0, 101, True, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, 1, 0, 50, 2, 0)"),
    ("ValueError", "_nc.jpeg_enc_new(40, 24, 1, 0, 50, True, 65536)"),
    ("ValueError", "_nc.jpeg_enc_new(40.0, 24, 1, 0, 50, True, 0)"),
    ("TypeError", "_nc.jpeg_enc_new(40, 24, 1, 0, 50, True)"),
    ("ValueError", "_nc.jpeg_encode(j, bytes(10))"),
    ("ValueError", "_nc.jpeg_encode(j, bytes(1921))"),
    ("TypeError", "_nc.jpeg_encode(j, 'x' * 1920)"),
    ("ValueError", "_nc.jpeg_encode_into(j, f, bytearray(10))"),
    ("ValueError", "_nc.jpeg_encode_into(j, f, bytes(4000))"),
    ("ValueError", "_nc.jpeg_encode(p, f)"),
    ("TypeError", "_nc.jpeg_encode(b'state', f)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(0, 24, 0, 50, 0, 1, 26, 1200, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(2048, 24, 0, 50, 0, 1, 26, 1200, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 2 ** 32, 26, 1200, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 1, 128, 1200, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 1, 26, 191, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 1, 26, 1200, 65536)"),
    ("ValueError", "_nc.rtpjpeg_pack_new(40, 24, 0, 101, 0, 1, 26, 1200, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_frame(p, b'', 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_frame(p, bytes(10), 0, 11)"),
    ("ValueError", "_nc.rtpjpeg_pack_frame(p, bytes(10), 0, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_frame(p, bytes(10), -1)"),
    ("ValueError", "_nc.rtpjpeg_pack_frame(p, bytes(10), 2 ** 32)"),
    ("TypeError", "_nc.rtpjpeg_pack_frame(p, 'scan', 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_next_into(p, bytearray(1199))"),
    ("ValueError", "_nc.rtpjpeg_pack_next_into(p, bytes(1200))"),
    ("ValueError", "_nc.rtpjpeg_pack_stream(p, j422, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_stream(p, jfull, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_stream(p, d, 0)"),
    ("ValueError", "_nc.rtpjpeg_pack_encode_into(p, j, bytes(10), bytearray(1200))"),
    ("ValueError", "_nc.rtpjpeg_pack_encode_into(p, j, f, bytearray(1000))"),
    ("ValueError", "_nc.rtpjpeg_pack_sent(j)"),
    ("ValueError", "_nc.rtpjpeg_depack_push(d, b'x', bytearray(631))"),
    ("ValueError", "_nc.rtpjpeg_depack_push(d, b'x', bytes(2000))"),
    ("TypeError", "_nc.rtpjpeg_depack_push(d, None, bytearray(2000))"),
    ("ValueError", "_nc.rtpjpeg_depack_push(p, b'x', bytearray(2000))"),
    ("ValueError", "_nc.rtpjpeg_depack_stats(p)"),
]


@pytest.mark.parametrize("name", TARGETS)
def test_bad_arguments_raise_and_nothing_breaks(request: pytest.FixtureRequest, name: str,
                                                hal_files: dict[str, Path]) -> None:
    b = target(request, name, hal_files)
    b.exec(
        "f = frame_bytes(1920)\nj = _nc.jpeg_enc_new(40, 24, 1, 0, 50, True, 0)\n"
        "j422 = _nc.jpeg_enc_new(40, 24, 1, 1, 50, True, 0)\njfull = _nc.jpeg_enc_new(40, 24, 1, 0, 50, False, 0)\n"
        "p = _nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 1, 26, 1200, 0)\nd = _nc.rtpjpeg_depack_new()\n"
        "def err(src):\n"
        "    try:\n        eval(src)\n    except Exception as x:\n        return type(x).__name__\n    return '-'\n"
        "def msg(src):\n"
        "    try:\n        eval(src)\n    except Exception as x:\n        return str(x)\n    return '-'\n")
    got = b.exec(f"print([err(s) for s in {[c for _e, c in BAD_CALLS]!r}])").strip()
    assert got == repr([e for e, _c in BAD_CALLS]), [c for (e, c), g in zip(BAD_CALLS, eval(got)) if e != g]  # noqa: S307
    msgs = b.exec(
        "for s in ('_nc.jpeg_encode(j, bytes(10))', '_nc.jpeg_encode_into(j, f, bytearray(10))',\n"
        "          '_nc.rtpjpeg_pack_stream(p, j422, 0)', '_nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 1, 26, 191, 0)'):\n"
        "    print(msg(s))").strip().splitlines()
    assert msgs == [
        "frame must be 1920 bytes (one frame of the encoder's size and format), got 10",
        "jpeg_encode_into: the coded frame does not fit out (10 bytes)",
        "rtpjpeg_pack_stream: the encoder must be scan_only with the packetizer's size, subsampling, quality and "
        "restart_interval",
        "mtu must be from 192 to 65535, got 191",
    ]
    # mixed-up frames and encoders, a resized scan, closed states: ValueError, and the states go on
    out = b.exec(
        "buf = bytearray(1200)\n"
        "_nc.rtpjpeg_pack_stream(p, j, 5)\n"
        "r1 = err('_nc.rtpjpeg_pack_next_into(p, buf)')\n"
        "n = _nc.rtpjpeg_pack_encode_into(p, j, f, buf)\n"
        "print(r1, n > 20, _nc.rtpjpeg_pack_encode_into(p, j, f, buf))\n"
        "p2 = _nc.rtpjpeg_pack_new(40, 24, 0, 50, 0, 1, 26, 192, 0)\n"
        "_nc.rtpjpeg_pack_stream(p2, j, 6)\n"
        "_nc.rtpjpeg_pack_encode_into(p2, j, f, buf)\n"
        "_nc.jpeg_encode(j, f)\n"
        "print(msg('_nc.rtpjpeg_pack_encode_into(p2, j, f, buf)'))\n"
        "scan = bytearray(_nc.jpeg_encode(j, f))\n"
        "_nc.rtpjpeg_pack_frame(p2, scan, 7)\n"
        "print(err('_nc.rtpjpeg_pack_encode_into(p2, j, f, buf)'), _nc.rtpjpeg_pack_next_into(p2, buf) > 0)\n"
        "scan[:] = b''\n"
        "print(msg('_nc.rtpjpeg_pack_next_into(p2, buf)'))\n"
        "print(_nc.rtpjpeg_pack_next(p2), _nc.rtpjpeg_pack_next_into(p2, buf))\n"
        "_nc.media_free(j)\n_nc.media_free(p)\n_nc.media_free(d)\n"
        "print(err('_nc.jpeg_encode(j, f)'), err('_nc.rtpjpeg_pack_sent(p)'), err('_nc.rtpjpeg_depack_stats(d)'))\n"
        "print(len(_nc.jpeg_encode(j422, f)) > 100)\n").strip().splitlines()
    assert out == [
        "ValueError True 0",
        "rtpjpeg_pack_encode_into: the encoder has no more of this frame (was it restarted?)",
        "ValueError True",
        "rtpjpeg_pack_next_into: the scan given to rtpjpeg_pack_frame was resized: the frame is abandoned",
        "None 0",
        "ValueError ValueError ValueError",
        "True",
    ]


@pytest.mark.parametrize("name", TARGETS)
def test_packet_path_allocates_nothing(request: pytest.FixtureRequest, name: str, hal_files: dict[str, Path]) -> None:
    """30 frames encoded into packets and reassembled with the heap locked; the builtin form
    takes RTP timestamps past 2**30 (long ints) without allocating too."""
    b = target(request, name, hal_files)
    ts0 = 0x7FFFFF00 if name == "builtin" else 0x100
    out = b.exec(
        "f = frame_bytes(64 * 48 * 2)\n"
        "j = _nc.jpeg_enc_new(64, 48, 1, 0, 50, True, 0)\n"
        "p = _nc.rtpjpeg_pack_new(64, 48, 0, 50, 0, 9, 26, 300, 0)\n"
        "d = _nc.rtpjpeg_depack_new()\n"
        "buf = bytearray(300)\nmv = memoryview(buf)\nframe = bytearray(8192)\n"
        f"tss = [{ts0} + 3000 * i for i in range(30)]\n"
        "views = [mv[:k] for k in range(301)]\n"
        "done = 0\npackets = 0\n"
        "gc.collect()\n"
        "micropython.heap_lock()\n"
        "try:\n"
        "    for i in range(30):\n"
        "        _nc.rtpjpeg_pack_stream(p, j, tss[i])\n"
        "        n = _nc.rtpjpeg_pack_encode_into(p, j, f, buf)\n"
        "        while n:\n"
        "            packets += 1\n"
        "            if _nc.rtpjpeg_depack_push(d, views[n], frame) > 0:\n"
        "                done += 1\n"
        "            n = _nc.rtpjpeg_pack_encode_into(p, j, f, buf)\n"
        "finally:\n"
        "    micropython.heap_unlock()\n"
        "print(done, packets, _nc.rtpjpeg_depack_stats(d))").strip()
    done, packets, stats = out.split(" ", 2)
    assert int(done) == 30 and int(packets) > 60
    assert eval(stats) == {"frames": 30, "dropped": 0}  # noqa: S307 - a dict of ints from our device


def test_video_only_where_built_in(request: pytest.FixtureRequest, hal_files: dict[str, Path]) -> None:
    """armv6m and armv7m leave video out; hal.board.video then says what is missing (ENODEV)."""
    code = (
        "from hal.board import video\n"
        "for cls in (video.VideoSender, video.VideoReceiver):\n"
        "    try:\n        cls()\n        print('no error')\n"
        "    except OSError as e:\n        print(e.args[0], e.args[1])\n"
        "print(hasattr(_nc, 'jpeg_enc_new'), hasattr(_nc, 'rtpjpeg_depack_push'))\n")
    for name in [*natmod.ARCHS, "builtin"]:
        if name in TARGETS:
            b = target(request, name, hal_files)
        else:
            b = request.getfixturevalue("board")
            b.soft_reset()
            b.load("/nc", {"_nc.mpy": natmod.path(name), **hal_files})
        lines = b.exec("import _nc\n" + code).strip().splitlines()
        if name in TARGETS:
            assert lines == [
                "19 hal.board.video.VideoSender is not available: there is no camera driver for this board "
                "(use a virtual devkit)",
                "19 hal.board.video.VideoReceiver is not available: there is no display for this board "
                "(use a virtual devkit)",
                "True True"], name
        else:
            missing = "this board's _nc.mpy has no JPEG encoder / RTP-JPEG (ec_jpeg, ec_rtpjpeg) functions"
            assert lines == [
                f"19 hal.board.video.VideoSender is not available: {missing} (use a virtual devkit)",
                f"19 hal.board.video.VideoReceiver is not available: {missing} (use a virtual devkit)",
                "False False"], name
    # and bad arguments are refused before the board's parts are asked for (b: the builtin form)
    assert "ValueError" in b.exec(
        "try:\n    video.VideoSender(width=100)\nexcept Exception as e:\n    print(type(e).__name__)")
    sizes = {a: natmod.path(a).stat().st_size for a in natmod.ARCHS}
    assert sizes["armv6m"] < 50 * 1024 and sizes["armv7m"] < 50 * 1024  # no video there
