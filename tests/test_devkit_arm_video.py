"""Video on the ARM devkit (hal.emu.video over hal.board.video: the devkit's camera -> the _nc JPEG
encoder -> RTP/JPEG packets, and packets -> the _nc depacketizer -> the display files), on a devkit
running the EdgeCall image, as the firmware reaches it through hal.part("video").

- A sender -> receiver loopback on one devkit shows every camera frame: each display file is the
  host encoder's JFIF of the camera frame it came from, byte for byte (the test pattern, and the
  raw frames of `sim start --camera DIR` in packets of 192 bytes given out of order), with PSNR
  above the HIL scenario's floor; camera.times and display.times have host_tools/sim/camera.py's
  formats; the sender's packets are the host's, and nothing is allocated per frame or packet
  (both run with the heap locked).
- The display numbering continues after a reset of the board (from display.times).
- The queue drops the oldest frames when full; a frame too big for it is dropped.
- Host-made streams (other sizes, restart intervals, in-band tables) display byte-identical; a
  frame with a lost packet, or larger than the receiver's buffer, is dropped; malformed packets
  are counted, never raised.
- Bad arguments and use after close raise ValueError; the frame
  memory is outside the heap, given back on close and at a soft reset, and its exhaustion is
  OSError(ENOMEM)."""
from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import serial
from PIL import Image

import native_codec as nc
from host_tools.firmware import image
from host_tools.paths import ROOT
from host_tools.sim import camera, manager, state
from tests.devkits import sim_dir
from tests.test_natmod_video import streamed_packets
from tests.videodata import bad_packets, host_streams, smooth_image, to_rgb565

BAUD = 921600
DEVICE = "vid0"
W, H = 160, 120  # the call's video size
CAM_W, CAM_H = 80, 64  # the camera folder's frames (other sizes give the test pattern)
CAM_FILES = 3
FRAME_RAM = 1024 * 1024
PSNR_FLOOR = 25.0  # host_tools/hil/scenarios.py video_call


# ---- the device side -------------------------------------------------------------------------

# loop(kw, n, order): n frames through a sender and a receiver of hal.part("video") with the heap
# locked: capture + poll_into into a packet store, then (unlocked) exact views of the packets,
# then the receiver in the given order ("in", or "reverse" within each frame). Prints JSON: the
# module, frame numbers, packets (hex), what on_packet returned, stats, frame memory free.
HELPERS = """
import hal, json, micropython, binascii, gc
from _devkit_video import free
V = hal.part("video")

def loop(kw, n, order, ts0=0, step=9000, show_packets=True, per_frame=3):
    tx = V.VideoSender(**kw)
    rx = V.VideoReceiver()
    mtu = tx.mtu
    cap = per_frame * n
    tss = [(ts0 + i * step) & 0xFFFFFFFF for i in range(n)]
    store = bytearray(cap * mtu)
    sv = memoryview(store)
    views = [sv[i * mtu:(i + 1) * mtu] for i in range(cap)]
    lens = bytearray(2 * cap)
    ends = bytearray(n)
    ks = [0] * n
    got = bytearray(cap)
    gc.collect()
    micropython.heap_lock()
    try:
        p = 0
        for i in range(n):
            ks[i] = tx.capture(tss[i])
            m = tx.poll_into(views[p])
            while m:
                lens[2 * p] = m & 255
                lens[2 * p + 1] = m >> 8
                p += 1
                m = tx.poll_into(views[p])
            ends[i] = p
    finally:
        micropython.heap_unlock()
    pk = [views[i][:lens[2 * i] | lens[2 * i + 1] << 8] for i in range(p)]
    seq = []
    a = 0
    for i in range(n):
        idx = list(range(a, ends[i]))
        if order == "reverse":
            idx.reverse()
        seq += idx
        a = ends[i]
    micropython.heap_lock()
    try:
        for j in seq:
            got[j] = rx.on_packet(pk[j])
    finally:
        micropython.heap_unlock()
    out = {"mod": V.__name__, "ks": ks, "ends": list(ends), "done": [got[j] for j in range(p)],
           "tx": tx.stats(), "rx": rx.stats(), "free_open": free()}
    if show_packets:
        out["pkts"] = [binascii.hexlify(x).decode() for x in pk]
    tx.close()
    rx.close()
    out["free"] = free()
    print("J" + json.dumps(out))

def receive(blob, lens, max_frame_bytes=65536):
    data = binascii.unhexlify(blob)
    rx = V.VideoReceiver(max_frame_bytes)
    out, a = [], 0
    for n in lens:
        out.append(rx.on_packet(data[a:a + n]))
        a += n
    print("J" + json.dumps([out, rx.stats()]))
    rx.close()
"""


def run(info: manager.DeviceInfo, code: str, timeout: float = 120) -> list[str]:
    """Runs HELPERS + code on the device (mpremote run: the application is interrupted)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py") as f:  # packets as hex: too long for argv
        f.write(HELPERS + code)
        f.flush()
        proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", info.port or "", "run", f.name],
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0 and "Traceback" not in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def result(lines: list[str]) -> Any:
    """The JSON line a helper printed."""
    (line,) = [ln for ln in lines if ln.startswith("J")]
    return json.loads(line[1:])


# ---- the host side ---------------------------------------------------------------------------

def jfif(raw565: np.ndarray, quality: int, subsampling: str = "420", restart_interval: int = 0) -> bytes:
    """The host encoder's JFIF of an RGB565 frame (what the display must hold)."""
    h, w = raw565.shape
    return nc.JpegEncoder(w, h, "rgb565le", quality, subsampling, restart_interval).encode(raw565)


def psnr(jpeg: bytes, ref: np.ndarray) -> float:
    got = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.float64)
    mse = float(np.mean((got - ref.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def folder_frame(k: int, frames: list[np.ndarray]) -> np.ndarray:
    return frames[(k - 1) % len(frames)]


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cam_frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A camera folder of CAM_FILES raw RGB565 frames: smooth pictures with noise (many packets)."""
    d = tmp_path_factory.mktemp("cam")
    rng = np.random.default_rng(2435)
    frames = []
    for i in range(CAM_FILES):
        rgb = smooth_image(CAM_W, CAM_H, float(i)).astype(np.int16) + rng.integers(-40, 41, (CAM_H, CAM_W, 3))
        v = to_rgb565(np.clip(rgb, 0, 255).astype(np.uint8))
        (d / f"f{i}.raw").write_bytes(v.astype("<u2").tobytes())
        frames.append(v)
    return d, frames


@pytest.fixture(scope="module")
def dev(cam_frames: tuple[Path, list[np.ndarray]], tmp_path_factory: pytest.TempPathFactory,
        ) -> Iterator[manager.DeviceInfo]:
    """One ARM devkit with the EdgeCall image and the camera folder (160x120 frames: the pattern)."""
    root = tmp_path_factory.mktemp("sim")
    img = Path(image.build_image(out=root / "image.bin").path).read_bytes()
    with sim_dir(root):
        (info,) = manager.start(ids=[DEVICE], root=root, baud=BAUD, factory_image=img,
                                camera=cam_frames[0])
        yield info


def device_dir(info: manager.DeviceInfo) -> state.DeviceDir:
    return state.DeviceDir(info.id, Path(os.environ["EDGECALL_SIM_DIR"]))


def check_logs(d: state.DeviceDir, ks: list[int], tss: list[int], t0: float, t1: float) -> list[camera.DisplayTime]:
    """camera.times and display.times of one loopback: a line per frame, in order, in time."""
    cams = camera.camera_times(d)
    assert [(c.frame, c.rtp_ts) for c in cams] == list(zip(ks, tss))
    shown = camera.display_times(d)
    assert [s.rtp_ts for s in shown] == tss
    seqs = [int(s.name[:-4]) for s in shown]
    assert all(len(s.name) == 10 and s.name.endswith(".jpg") for s in shown)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    for c, s in zip(cams, shown):
        assert t0 - 0.5 <= c.time <= s.time <= t1 + 0.5, (c, s, t0, t1)
        assert s.size == len(camera.display_frame(d, s.name))
    return shown


# ---- tests -----------------------------------------------------------------------------------

def test_loopback_shows_the_camera_frames_byte_for_byte(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    n, ssrc = 12, 0x5EED0001
    kw = dict(width=W, height=H, quality=50, ssrc=ssrc)
    t0 = time.time()
    r = result(run(dev, f"loop({kw!r}, {n}, 'in')"))
    t1 = time.time()
    assert r["mod"] == "hal.emu.video"
    ks = r["ks"]
    assert ks == sorted(set(ks)) and ks[0] >= 1  # the camera's frames, newest each time
    tss = [i * 9000 for i in range(n)]
    shown = check_logs(d, ks, tss, t0, t1)
    pkts = [bytes.fromhex(p) for p in r["pkts"]]
    seq0 = int.from_bytes(pkts[0][2:4], "big")
    want_pkts: list[bytes] = []
    scores: list[float] = []
    for i, k in enumerate(ks):
        raw = camera.pattern_rgb565(k, W, H)
        want_pkts += streamed_packets(raw, 50, "420", 0, ssrc, 26, 1200, (seq0 + len(want_pkts)) & 0xFFFF, tss[i])
        j = jfif(raw, 50)
        assert camera.display_frame(d, shown[i].name) == j, i
        scores.append(psnr(j, camera.pattern_frame(k, W, H)))
    assert pkts == want_pkts
    assert min(scores) >= PSNR_FLOOR, scores
    # every packet completed its frame (one each at this size), the counters agree
    assert r["done"] == [1] * len(pkts) and r["ends"] == list(range(1, n + 1))
    scan = len(nc.JpegEncoder(W, H, "rgb565le", 50, scan_only=True).encode(camera.pattern_rgb565(ks[-1], W, H)))
    assert r["tx"] == {"frames": n, "packets": len(pkts), "octets": sum(map(len, pkts)), "dropped_frames": 0,
                       "last_frame_bytes": scan, "encode_us_last": r["tx"]["encode_us_last"], "queued": 0}
    assert 0 < r["tx"]["encode_us_last"] < 1_000_000
    assert r["rx"] == {"frames": n, "dropped": 0, "malformed": 0, "packets": len(pkts), "display_errors": 0}
    # the frame, the queue and the reassembly buffer were in frame memory, given back on close
    assert r["free"] == FRAME_RAM and r["free_open"] == FRAME_RAM - 4096 * (10 + 19 + 16)


def test_camera_folder_frames_in_small_packets_out_of_order(dev: manager.DeviceInfo,
                                                             cam_frames: tuple[Path, list[np.ndarray]]) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    frames = cam_frames[1]
    n, ssrc = 5, 0xC0FFEE
    kw = dict(width=CAM_W, height=CAM_H, quality=80, subsampling="422", restart_interval=2, ssrc=ssrc, mtu=192,
              pt=100)
    t0 = time.time()
    r = result(run(dev, f"loop({kw!r}, {n}, 'reverse', ts0=0xFFFFFF00, step=3000, per_frame=60)"))
    t1 = time.time()
    ks = r["ks"]
    tss = [(0xFFFFFF00 + i * 3000) & 0xFFFFFFFF for i in range(n)]
    assert tss[-1] < tss[0]  # the RTP timestamp wraps on the way
    shown = check_logs(d, ks, tss, t0, t1)
    pkts = [bytes.fromhex(p) for p in r["pkts"]]
    assert all(len(p) <= 192 and p[1] & 0x7F == 100 for p in pkts)
    seq0 = int.from_bytes(pkts[0][2:4], "big")
    want: list[bytes] = []
    for i, k in enumerate(ks):
        raw = folder_frame(k, frames)
        want += streamed_packets(raw, 80, "422", 2, ssrc, 100, 192, (seq0 + len(want)) & 0xFFFF, tss[i])
        assert camera.display_frame(d, shown[i].name) == jfif(raw, 80, "422", 2), i
    assert pkts == want
    # the host's depacketizer makes the same frames of them
    dp = nc.RtpJpegDepacketizer()
    got = [f for f in (dp.push(p) for p in pkts) if f is not None]
    assert got == [camera.display_frame(d, s.name) for s in shown]
    # given in reverse within each frame: the first packet of each frame (given last) completed it
    starts = [0, *r["ends"][:-1]]
    assert [i for i, done in enumerate(r["done"]) if done] == starts
    assert min(b - a for a, b in zip(starts, r["ends"])) >= 10  # noisy frames: many packets each
    assert r["rx"]["frames"] == n and r["rx"]["dropped"] == 0 and r["tx"]["packets"] == len(pkts)


def test_display_numbering_continues_after_a_reset(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    (d.path / camera.DISPLAY_TIMES).write_text("1796655377.259 81000 000041.jpg 1472\n")
    with serial.Serial(dev.port, BAUD, timeout=2) as s:  # the board resets (the supervisor restarts it)
        s.write(b"\r\x03\x03")
        time.sleep(0.3)
        s.write(b"import machine\rmachine.reset()\r")
        time.sleep(0.5)
    deadline = time.monotonic() + 60
    while True:
        try:
            r = result(run(dev, f"loop({dict(width=W, height=H)!r}, 2, 'in', show_packets=False)", timeout=30))
            break
        except (AssertionError, subprocess.TimeoutExpired):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert r["rx"]["frames"] == 2
    assert [s.name for s in camera.display_times(d)] == ["000041.jpg", "000042.jpg", "000043.jpg"]
    assert sorted(p.name for p in (d.path / camera.DISPLAY).iterdir()) == ["000042.jpg", "000043.jpg"]


def test_queue_full_drops_the_oldest_frames(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    out = run(dev, """
tx = V.VideoSender(160, 120, quality=50, ssrc=7, mtu=192)
rx = V.VideoReceiver()
b = bytearray(192)
mv = memoryview(b)
def drain(limit=100000):
    n = 0
    m = tx.poll_into(b)
    while m:
        rx.on_packet(mv[:m])
        n += 1
        if n == limit:
            break
        m = tx.poll_into(b)
    return n
for i in range(20):
    tx.capture(i * 100)
s1 = tx.stats()
n1 = drain()
r1 = rx.stats()
tx.capture(5000)
drain(2)                  # the head frame is begun: 2 of its packets are out
i = 0
while tx.stats()['dropped_frames'] == s1['dropped_frames']:
    i += 1
    tx.capture(5000 + i * 100)
s2 = tx.stats()
n2 = drain()
r2 = rx.stats()
big = V.VideoSender(640, 480, quality=100, mtu=192)
big.capture(1)
s3 = big.stats()
big.close()
tx.close()
rx.close()
print("J" + json.dumps([s1, n1, r1, i, s2, n2, r2, s3]))
""")
    s1, n1, r1, i, s2, n2, r2, s3 = result(out)
    # 20 frames of 5 to 6 packets: the oldest whole frames went, about 64 packets wait
    assert s1["frames"] == 20 and s1["dropped_frames"] > 0 and 64 - 6 < s1["queued"] <= 64 and n1 == s1["queued"]
    kept = 20 - s1["dropped_frames"]
    assert r1 == {"frames": kept, "dropped": 0, "malformed": 0, "packets": n1, "display_errors": 0}
    shown = camera.display_times(d)
    assert [t.rtp_ts for t in shown[:kept]] == [j * 100 for j in range(20 - kept, 20)]  # the newest kept
    # a begun frame loses its remaining packets when the queue overflows (first: the receiver
    # drops it), and whole frames after it as needed
    whole = s2["dropped_frames"] - s1["dropped_frames"] - 1
    assert whole in (0, 1) and s2["queued"] <= 64 and n2 == s2["queued"]
    assert r2["frames"] == kept + i - whole and r2["dropped"] == 1 and r2["malformed"] == 0
    assert [t.rtp_ts for t in shown[kept:]] == [5000 + j * 100 for j in range(1 + whole, i + 1)]
    # a frame that alone needs more than the queue's 64 packets is dropped itself
    assert s3["frames"] == 1 and s3["dropped_frames"] == 1 and s3["queued"] == 0 and s3["last_frame_bytes"] == 0


@pytest.mark.parametrize("name", ["good", "drop"])
def test_host_streams_display_byte_identical(dev: manager.DeviceInfo, name: str) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    pkts, want = host_streams()[name]
    blob = b"".join(pkts).hex()
    out, st = result(run(dev, f"receive({blob!r}, {[len(p) for p in pkts]!r})"))
    assert out.count(True) == len(want)
    assert st == {"frames": len(want), "dropped": 0 if name == "good" else 1, "malformed": 0,
                  "packets": len(pkts), "display_errors": 0}
    shown = camera.display_times(d)
    assert [(t.rtp_ts, t.size) for t in shown] == [(ts, len(j)) for ts, j in want]
    for t, (_ts, jpeg) in zip(shown, want):
        assert camera.display_frame(d, t.name) == jpeg


def test_a_frame_larger_than_the_receiver_buffer_is_dropped(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    big = nc.jpeg_encode(smooth_image(320, 240, 0.5), quality=95)
    small = nc.jpeg_encode(smooth_image(64, 48, 0.5), quality=50)
    assert len(big) > 4096 > len(small) + 631
    p = nc.RtpJpegPacketizer(77, mtu=1000)
    pkts = p.packetize(big, 100) + p.packetize(small, 200)
    blob = b"".join(pkts).hex()
    out, st = result(run(dev, f"receive({blob!r}, {[len(x) for x in pkts]!r}, 4096)"))
    assert out == [False] * (len(pkts) - 1) + [True]
    assert st == {"frames": 1, "dropped": 1, "malformed": 0, "packets": len(pkts), "display_errors": 0}
    (shown,) = camera.display_times(d)
    assert shown.rtp_ts == 200 and camera.display_frame(d, shown.name) == small


def test_malformed_packets_are_counted_never_raised(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    camera.reset_video(d)
    bad = bad_packets()
    blob = b"".join(bad).hex()
    out, st = result(run(dev, f"receive({blob!r}, {[len(p) for p in bad]!r})"))
    assert out == [False] * len(bad)
    assert st == {"frames": 0, "dropped": 0, "malformed": len(bad), "packets": len(bad), "display_errors": 0}
    got = run(dev, "r = V.VideoReceiver()\nprint('R', r.on_packet(bytes(70000)), r.on_packet(bytearray(b'\\x80' * 30)), "
                   "r.on_packet(memoryview(b'\\x80\\x1a' + bytes(30))[2:]), r.stats()['malformed'])\nr.close()")
    assert "R False False False 3" in got
    assert camera.display_times(d) == []


# Bad arguments, a memoryview of bytes among them.
BAD_ARGS = [
    "V.VideoSender(width=100)", "V.VideoSender(width=0)", "V.VideoSender(width=4096)",
    "V.VideoSender(height=7)", "V.VideoSender(width='160')", "V.VideoSender(quality=0)",
    "V.VideoSender(quality=101)", "V.VideoSender(quality=None)", "V.VideoSender(subsampling='444')",
    "V.VideoSender(subsampling=420)", "V.VideoSender(restart_interval=-1)",
    "V.VideoSender(restart_interval=65536)", "V.VideoSender(ssrc=2 ** 32)", "V.VideoSender(ssrc=-1)",
    "V.VideoSender(pt=128)", "V.VideoSender(mtu=100)", "V.VideoSender(mtu=1500)",
    "V.VideoSender(mtu=True)",
    "tx.poll_into(bytes(1200))", "tx.poll_into(bytearray(1000))", "tx.poll_into('x' * 1200)",
    "tx.poll_into(memoryview(bytes(1200)))",
    "tx.capture(-1)", "tx.capture(2 ** 32)", "tx.capture(1.5)", "tx.capture(None)",
    "V.VideoReceiver(max_frame_bytes=100)", "V.VideoReceiver(max_frame_bytes='x')",
    "V.VideoReceiver(max_frame_bytes=1 << 30)", "rx.on_packet('text')", "rx.on_packet(None)",
    "rx.on_packet(12)",
]
AFTER_CLOSE = ["tx.capture(0)", "tx.poll()", "tx.poll_into(bytearray(1200))", "tx.stats()", "rx.on_packet(b'x')",
               "rx.stats()"]


def test_bad_arguments_and_use_after_close_raise_value_error(dev: manager.DeviceInfo) -> None:
    out = run(dev, f"""
def err(src):
    try:
        eval(src)
    except ValueError as e:
        return 'V'
    except Exception as e:
        return type(e).__name__
    return '-'
tx = V.VideoSender()
rx = V.VideoReceiver()
tx.capture(0)
print("J" + json.dumps([err(s) for s in {BAD_ARGS!r}]))
for s in ("V.VideoSender(width=100)", "tx.poll_into(bytearray(1000))", "rx.on_packet(12)"):
    try:
        eval(s)
    except ValueError as e:
        print("E", e)
print("Q", tx.stats()["queued"])
tx.close()
rx.close()
tx.close()
print("C", "".join(err(s) for s in {AFTER_CLOSE!r}), free())
""")
    got = result(out)
    assert got == ["V"] * len(BAD_ARGS), [(c, r) for c, r in zip(BAD_ARGS, got) if r != "V"]
    assert [ln[2:] for ln in out if ln.startswith("E ")] == [
        "width must be from 8 to 2040 and a multiple of 8, got 100",
        "VideoSender.poll_into: a writable buffer of at least 1200 bytes is required",
        "VideoReceiver.on_packet: pkt must be bytes-like, got int",
    ]
    assert "Q 1" in out  # the bad calls took nothing from the queue
    assert f"C {'V' * len(AFTER_CLOSE)} {FRAME_RAM}" in out


def test_frame_memory_is_outside_the_heap_and_given_back(dev: manager.DeviceInfo) -> None:
    out = run(dev, """
import gc
from _devkit_video import FrameMem
gc.collect()
h0 = gc.mem_free()
rx = V.VideoReceiver(max_frame_bytes=1000 * 1024)
gc.collect()
print("H", h0 - gc.mem_free(), free())
try:
    V.VideoSender()
except OSError as e:
    print("E", e.errno, e.args[1])
print("F", free())
rx.close()
print("F", free())
m = FrameMem(5000)
mv = memoryview(m)
mv[0] = 7
print("M", len(m), mv[0], mv[4999], free())
del mv
m.close()
print("M", len(m), free())
try:
    memoryview(m)
except TypeError as e:
    print("T", e)
keep = FrameMem(600000)
print("K", free())
""")
    heap = int(next(ln for ln in out if ln.startswith("H ")).split()[1])
    left = FRAME_RAM - 1000 * 1024  # 250 pages of 4 KiB taken, 6 left
    assert heap < 2048  # the 1000 KiB reassembly buffer is not on the 192 KiB heap
    assert f"H {heap} {left}" in out
    (e,) = [ln for ln in out if ln.startswith("E ")]
    assert e.startswith(f"E {errno.ENOMEM} frame memory exhausted: 38400 bytes wanted, {left} free")
    assert [ln for ln in out if ln.startswith("F ")] == [f"F {left}", f"F {FRAME_RAM}"]
    assert f"M 5000 7 0 {FRAME_RAM - 8192}" in out and f"M 0 {FRAME_RAM}" in out
    assert any(ln.startswith("T ") for ln in out)
    assert f"K {FRAME_RAM - -(-600000 // 4096) * 4096}" in out
    # a soft reset sweeps the objects still holding frame memory
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", dev.port or "", "soft-reset", "exec",
                           "from _devkit_video import free\nprint('S', free())"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert f"S {FRAME_RAM}" in proc.stdout, proc.stdout + proc.stderr

