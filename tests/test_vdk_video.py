"""Video on the virtual devkit (hal.vdk.video: camera -> JPEG -> RTP/JPEG and RTP/JPEG -> display,
in the wasm32 native_codec) against the host binding (native_codec.video, the same C code).

Two devices: "video" uses the camera's test pattern, "videocam" a folder of raw RGB565 frames
(`sim start --camera DIR`). Packets go between host and device as files in the device's flash
(2-byte little-endian length + packet); the display and camera logs are files in its state folder.
"""
from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import native_codec as nc
from host_tools.native.wasm import build_library
from host_tools.sim import camera, manager
from host_tools.sim.camera import pattern_frame, rgb565_to_rgb888
from tests.devkits import frame_file, unframe
from tests.test_vdk_hal import Device, hal_files

DEVICE = "video"
CAM_DEVICE = "videocam"

# Device side: send() captures n frames and writes every packet; receive() feeds a packet file.
HELPERS = b"""
import json, struct
from hal.vdk import video

def _put(f, p):
    f.write(struct.pack('<H', len(p)))
    f.write(p)

def send(name, n, ts0, step, kw, poll_each=True):
    tx = video.VideoSender(**kw)
    ks = []
    with open(name, 'wb') as f:
        for i in range(n):
            ks.append(tx.capture((ts0 + i * step) & 0xFFFFFFFF))
            if poll_each or i == n - 1:
                p = tx.poll()
                while p is not None:
                    _put(f, p)
                    p = tx.poll()
    st = tx.stats()
    tx.close()
    print(json.dumps([ks, st]))

def receive(name, max_frame_bytes=65536):
    rx = video.VideoReceiver(max_frame_bytes)
    out = []
    with open(name, 'rb') as f:
        while True:
            h = f.read(2)
            if len(h) < 2:
                break
            out.append(rx.on_packet(f.read(struct.unpack('<H', h)[0])))
    st = rx.stats()
    rx.close()
    print(json.dumps([out, st]))
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def decode(jpeg: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG" and img.mode == "RGB"
    return np.asarray(img)


def rtp_ts(pkt: bytes) -> int:
    return int.from_bytes(pkt[4:8], "big")


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


# ---- host-made inputs for the receiver ------------------------------------------------------

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

@pytest.fixture(scope="module")
def streams() -> dict[str, tuple[list[bytes], list[tuple[int, bytes]]]]:
    return host_streams()


def _start(root: Path, dev_id: str, files: dict[str, bytes], cam: Path | None = None) -> Device:
    # leftovers of an earlier run in the state folder: `sim start` must clear them
    d = root / dev_id
    (d / "display").mkdir(parents=True, exist_ok=True)
    (d / "display" / "000077.jpg").write_bytes(b"old")
    (d / "display.times").write_text("1 2 000077.jpg 3\n")
    (d / "camera.times").write_text("1 2 3\n")
    (info,) = manager.start(ids=[dev_id], root=root, blank=True, install_files=files, camera=cam)
    return Device(info, root)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory,
        streams: dict[str, tuple[list[bytes], list[tuple[int, bytes]]]]) -> Iterator[Device]:
    build_library()
    root = tmp_path_factory.mktemp("vdkvideo") / "sim"
    files = {**hal_files(), "vt.py": HELPERS, "bad.pk": frame_file(bad_packets())}
    files.update({f"{n}.pk": frame_file(p) for n, (p, _) in streams.items()})
    d = _start(root, DEVICE, files)
    try:
        d.run("from vt import *")
        yield d
    finally:
        d.repl.close()
        manager.power_cut(DEVICE, root)


def test_sim_start_clears_display_and_camera_log(dev: Device) -> None:
    assert all(t.time > 1e9 for t in camera.camera_times(dev.dir))
    assert not (dev.dir.path / "display" / "000077.jpg").exists()
    assert all(t.name != "000077.jpg" for t in camera.display_times(dev.dir))


# ---- sender -> host ------------------------------------------------------------------------

def _send(dev: Device, name: str, n: int, ts0: int, step: int, kw: dict[str, object],
          poll_each: bool = True) -> tuple[list[int], dict[str, int], list[bytes]]:
    ks, st = json.loads(dev.run(f"send({name!r}, {n}, {ts0}, {step}, {kw!r}, {poll_each})", 60))
    return ks, st, unframe((dev.flash / name).read_bytes())


def _host_frames(pkts: list[bytes]) -> tuple[list[tuple[int, bytes]], nc.RtpJpegDepacketizer]:
    dp = nc.RtpJpegDepacketizer()
    frames = []
    for p in pkts:
        f = dp.push(p)
        if f is not None:
            frames.append((rtp_ts(p), f))
    return frames, dp


@pytest.mark.parametrize("kw", [
    dict(width=160, height=120, quality=75, ssrc=0x11223344),
    dict(width=160, height=120, quality=75, subsampling="422", restart_interval=3, mtu=300, pt=96, ssrc=7),
], ids=["420", "422-rst-mtu300"])
def test_sender_frames_decode_on_host(dev: Device, kw: dict[str, object]) -> None:
    before = len(camera.camera_times(dev.dir))
    ts0, step = 0xFFFFFF00 - 9000, 6000  # the timestamp wraps
    ks, st, pkts = _send(dev, "tx.pk", 5, ts0, step, kw)
    assert len(ks) == 5 and ks == list(range(ks[0], ks[0] + 5))
    # packets: RTP v2, the payload type, the SSRC, consecutive seqs, marker on each frame's last
    mtu = kw.get("mtu", 1200)
    assert isinstance(mtu, int)
    assert all(len(p) <= mtu for p in pkts)
    seqs = [int.from_bytes(p[2:4], "big") for p in pkts]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:]))
    assert {p[1] & 0x7F for p in pkts} == {kw.get("pt", 26)}
    assert {int.from_bytes(p[8:12], "big") for p in pkts} == {kw["ssrc"]}
    ends = [i for i, p in enumerate(pkts) if p[1] & 0x80]
    assert len(ends) == 5 and ends[-1] == len(pkts) - 1
    assert all(rtp_ts(pkts[i]) != rtp_ts(pkts[i + 1]) for i in ends[:-1])
    assert st["frames"] == 5 and st["packets"] == len(pkts) and st["octets"] == sum(map(len, pkts))
    assert st["dropped_frames"] == 0 and st["queued"] == 0 and st["encode_us_last"] > 0
    # the camera log maps each timestamp to its camera frame
    log = camera.camera_times(dev.dir)[before:]
    assert [(t.frame, t.rtp_ts) for t in log] == [(k, (ts0 + i * step) & 0xFFFFFFFF) for i, k in enumerate(ks)]
    assert all(abs(t.time - time.time()) < 120 for t in log)
    by_ts = {t.rtp_ts: t.frame for t in log}
    frames, dp = _host_frames(pkts)
    assert len(frames) == 5 and dp.dropped == 0 and dp.errors == 0
    for ts, jpeg in frames:
        img = decode(jpeg)
        assert img.shape == (120, 160, 3)
        want = pattern_frame(by_ts[ts], 160, 120)
        assert psnr(img, want) > 30, (ts, psnr(img, want))
        if ts == (ts0 + 4 * step) & 0xFFFFFFFF:
            assert st["last_frame_bytes"] + 2 < len(jpeg) < st["last_frame_bytes"] + 700  # + JFIF header, EOI


def test_pattern_frame_is_the_camera_frame(dev: Device) -> None:
    """pattern_frame(k) = the camera's RGB565 frame k (hal.vdk.camera) expanded like ec_jpeg."""
    dev.run("from hal.vdk import camera as _cam\n_c = _cam.Camera(40, 24)\n"
            "_c.frame()\n_c.frame()\nwith open('cam3.raw', 'wb') as _f:\n    _f.write(_c.frame())\n_c.close()")
    raw = np.frombuffer((dev.flash / "cam3.raw").read_bytes(), "<u2").reshape(24, 40)
    assert raw.tobytes()[:4] == b"\x00\x00\x00\x03"
    assert np.array_equal(rgb565_to_rgb888(raw), pattern_frame(3, 40, 24))
    # the expansion is ec_jpeg's: a flat frame of one RGB565 colour codes to that colour
    v = np.full((16, 16), 0b10110_101101_01001, np.uint16)
    enc = nc.JpegEncoder(16, 16, "rgb565le", quality=100).encode(v)
    assert np.abs(decode(enc).astype(int) - rgb565_to_rgb888(v).astype(int)).max() <= 2


def test_sender_queue_drops_whole_old_frames(dev: Device) -> None:
    """40 frames (2 packets each) captured before one poll: whole old frames are dropped so
    that about 64 packets wait; what comes out is whole frames, the newest included."""
    ks, st, pkts = _send(dev, "q.pk", 40, 0, 3000, dict(width=160, height=120, quality=75, ssrc=9), False)
    assert st["frames"] == 40 and st["dropped_frames"] > 0
    frames, dp = _host_frames(pkts)
    assert dp.dropped == 0 and len(frames) == 40 - st["dropped_frames"]
    assert frames[-1][0] == 39 * 3000
    assert 56 <= len(pkts) <= 64 + 4


def test_poll_into_keeps_the_heap_flat(dev: Device) -> None:
    """60 frames of 320x240 sent in one REPL command (no garbage collection in between): with
    poll_into nothing is allocated per packet, where poll() would need ~400 KiB of heap."""
    out = dev.run(
        "t = video.VideoSender(320, 240, quality=75, ssrc=3)\nb = bytearray(1200)\nmv = memoryview(b)\n"
        "n = m = 0\n"
        "with open('many.pk', 'wb') as f:\n"
        "    for i in range(60):\n"
        "        t.capture(i * 3000)\n"
        "        k = t.poll_into(b)\n"
        "        while k:\n"
        "            n += 1\n            m += k\n"
        "            f.write(k.to_bytes(2, 'little'))\n            f.write(mv[:k])\n"
        "            k = t.poll_into(b)\n"
        "s = t.stats()\nt.close()\nprint(n, m, s['packets'], s['octets'], s['frames'], s['dropped_frames'])", 60)
    n, m, packets, octets, frames, dropped = map(int, out.split())
    assert (n, m, frames, dropped) == (packets, octets, 60, 0) and n > 60 * 3
    got, dp = _host_frames(unframe((dev.flash / "many.pk").read_bytes()))
    assert [ts for ts, _ in got] == [i * 3000 for i in range(60)] and dp.dropped == 0


# ---- host -> receiver -> display ------------------------------------------------------------

def _receive(dev: Device, name: str) -> tuple[list[bool], dict[str, int], list[camera.DisplayTime]]:
    before = len(camera.display_times(dev.dir))
    out, st = json.loads(dev.run(f"receive({name!r})", 30))
    return out, st, camera.display_times(dev.dir)[before:]


def test_receiver_displays_host_jpegs_byte_identical(
        dev: Device, streams: dict[str, tuple[list[bytes], list[tuple[int, bytes]]]]) -> None:
    pkts, want = streams["good"]
    out, st, shown = _receive(dev, "good.pk")
    ends = [i for i, p in enumerate(pkts) if p[1] & 0x80]
    assert [i for i, done in enumerate(out) if done] == ends
    assert st == {"frames": 3, "dropped": 0, "malformed": 0, "packets": len(pkts)}
    assert [(t.rtp_ts, t.size) for t in shown] == [(ts, len(j)) for ts, j in want]
    assert all(abs(t.time - time.time()) < 120 for t in shown)
    names = [t.name for t in shown]
    assert names == sorted(names) and all(n.endswith(".jpg") and len(n) == 10 for n in names)
    for t, (_ts, jpeg) in zip(shown, want):
        assert camera.display_frame(dev.dir, t.name) == jpeg


def test_receiver_drops_a_frame_with_a_lost_packet(
        dev: Device, streams: dict[str, tuple[list[bytes], list[tuple[int, bytes]]]]) -> None:
    pkts, want = streams["drop"]
    out, st, shown = _receive(dev, "drop.pk")
    assert out.count(True) == 2
    assert st == {"frames": 2, "dropped": 1, "malformed": 0, "packets": len(pkts)}
    assert [t.rtp_ts for t in shown] == [ts for ts, _ in want] == [10, 6010]
    for t, (_ts, jpeg) in zip(shown, want):
        assert camera.display_frame(dev.dir, t.name) == jpeg
    # the host depacketizer agrees
    frames, dp = _host_frames(pkts)
    assert [ts for ts, _ in frames] == [10, 6010] and dp.dropped == 1


def test_malformed_packets_are_counted_never_raised(dev: Device) -> None:
    bad = bad_packets()
    dp = nc.RtpJpegDepacketizer()
    assert all(dp.push(p) is None for p in bad)
    out, st, shown = _receive(dev, "bad.pk")
    assert out == [False] * len(bad) and shown == []
    assert st["malformed"] == dp.errors == len(bad) and st["packets"] == len(bad) and st["frames"] == 0
    got = dev.run("r = video.VideoReceiver()\nprint(r.on_packet(bytes(70000)), r.on_packet(bytearray(b'\\x80' * 30)), "
                  "r.on_packet(memoryview(b'\\x80\\x1a' + bytes(30))[2:]), r.stats()['malformed'])\nr.close()")
    assert got == "False False False 3"


# ---- arguments, closing, memory -------------------------------------------------------------

def test_bad_arguments_raise_value_error(dev: Device) -> None:
    cases = [
        "video.VideoSender(width=100)", "video.VideoSender(width=0)", "video.VideoSender(width=4096)",
        "video.VideoSender(height=7)", "video.VideoSender(width='160')", "video.VideoSender(quality=0)",
        "video.VideoSender(quality=101)", "video.VideoSender(quality=None)", "video.VideoSender(subsampling='444')",
        "video.VideoSender(subsampling=420)", "video.VideoSender(restart_interval=-1)",
        "video.VideoSender(restart_interval=65536)", "video.VideoSender(ssrc=2 ** 32)", "video.VideoSender(ssrc=-1)",
        "video.VideoSender(pt=128)", "video.VideoSender(mtu=100)", "video.VideoSender(mtu=1500)",
        "video.VideoSender(mtu=True)",
        "tx.poll_into(bytes(1200))", "tx.poll_into(bytearray(1000))", "tx.poll_into('x' * 1200)",
        "tx.capture(-1)", "tx.capture(2 ** 32)", "tx.capture(1.5)", "tx.capture(None)",
        "video.VideoReceiver(max_frame_bytes=100)", "video.VideoReceiver(max_frame_bytes='x')",
        "video.VideoReceiver(max_frame_bytes=1 << 30)", "rx.on_packet('text')", "rx.on_packet(None)",
        "rx.on_packet(12)",
    ]
    code = (
        "def err(src):\n"
        "    try:\n        eval(src)\n    except ValueError as e:\n        return 'V'\n"
        "    except Exception as e:\n        return type(e).__name__\n    return '-'\n"
        "tx = video.VideoSender()\nrx = video.VideoReceiver()\n"
        f"print(''.join(err(s) for s in {cases!r}))\n"
        "try:\n    video.VideoSender(width=100)\nexcept ValueError as e:\n    print(e)\n"
        "tx.close()\nrx.close()"
    )
    results, message = dev.run(code).splitlines()
    assert results == "V" * len(cases), [c for c, r in zip(cases, results) if r != "V"]
    assert message == "width must be from 8 to 2040 and a multiple of 8, got 100"


def test_use_after_close_raises_and_memory_is_reused(dev: Device) -> None:
    out = dev.run(
        "from hal.vdk import codec\n"
        "def err(f):\n"
        "    try:\n        f()\n    except ValueError as e:\n        return 'V'\n    return '-'\n"
        "tx = video.VideoSender()\nrx = video.VideoReceiver()\ntx.capture(0)\ntx.close()\nrx.close()\ntx.close()\n"
        "print(''.join(err(f) for f in (lambda: tx.capture(0), tx.poll, tx.stats, lambda: rx.on_packet(b'x'),\n"
        "    lambda: tx.poll_into(bytearray(1200)),"
        "    rx.stats)))\n"
        "try:\n    tx.poll()\nexcept ValueError as e:\n    print(e)\n"
        "with video.VideoSender() as a, video.VideoReceiver() as b:\n"
        "    a.capture(0)\n    b.on_packet(a.poll())\n"
        "print(err(a.stats), err(b.stats))\n"
        "def cycle(n):\n"
        "    for i in range(n):\n"
        "        a = video.VideoSender(320, 240, quality=90, restart_interval=2)\n"
        "        b = video.VideoReceiver(200000)\n"
        "        a.capture(i)\n        a.capture(i + 1)\n"
        "        p = a.poll()\n        b.on_packet(p)\n"
        "        a.close()\n        b.close()\n"
        "cycle(1)\nprint(codec.library_bytes())")
    closed, message, ctx, held = out.splitlines()
    assert closed == "V" * 6
    assert message == "VideoSender is closed"
    assert ctx == "V V"  # the with block closed both
    for _ in range(5):  # 50 cycles (the VM collects garbage between REPL commands)
        dev.run("cycle(10)", 60)
    after = dev.run("print(codec.library_bytes())")
    assert 150_000 < int(held) < 2_000_000 and int(after) == int(held)


# ---- a camera folder ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cam_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Device, list[np.ndarray]]]:
    build_library()
    tmp = tmp_path_factory.mktemp("vdkvideocam")
    folder = tmp / "frames"
    folder.mkdir()
    images = []
    for i in range(2):
        v = to_rgb565(smooth_image(160, 120, 0.7 * i))
        (folder / f"f{i}.raw").write_bytes(v.astype("<u2").tobytes())
        images.append(rgb565_to_rgb888(v))
    (folder / "wrong_size.raw").write_bytes(bytes(100))
    d = _start(tmp / "sim", CAM_DEVICE, {**hal_files(), "vt.py": HELPERS}, cam=folder)
    try:
        d.run("from vt import *")
        yield d, images
    finally:
        d.repl.close()
        manager.power_cut(CAM_DEVICE, tmp / "sim")


def test_sender_uses_the_camera_folder(cam_dev: tuple[Device, list[np.ndarray]]) -> None:
    dev, images = cam_dev
    ks, st, pkts = _send(dev, "c.pk", 3, 500, 3000, dict(width=160, height=120, quality=75))
    assert ks == [1, 2, 3]
    frames, _dp = _host_frames(pkts)
    assert [ts for ts, _ in frames] == [500, 3500, 6500]
    for (_ts, jpeg), k in zip(frames, ks):
        img = decode(jpeg)
        assert psnr(img, images[(k - 1) % 2]) > 30
        assert psnr(img, images[k % 2]) < psnr(img, images[(k - 1) % 2]) - 3  # the right file
    assert [t.frame for t in camera.camera_times(dev.dir)] == ks
