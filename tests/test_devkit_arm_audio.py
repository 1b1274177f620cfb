"""The ARM devkit's microphone, speaker, camera, LEDs and buttons (hal/devkit/audio.c, camera.c,
panel.c; hal.emu) and its clock (hal/devkit/clock_devkit.c), on a devkit running the EdgeCall image
(the application's hal frozen in, reached through hal.part as the firmware reaches it): the host's
WAV comes back from the speaker bit-exact, frames keep the board's 20 ms over seconds, overruns and
underruns are counted when the application does not keep up, the camera gives the host folder's
frames at the rate asked, LEDs and buttons meet `sim leds` / `sim press`, and `sim start` refuses a
microphone file that is not 16-bit mono WAV."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import serial

from host_tools.firmware import image
from host_tools.native import devkit
from host_tools.paths import ROOT, TESTDATA
from host_tools.sim import board, camera, manager, state
from tests.devkits import sim_dir

SPEECH = TESTDATA / "speech" / "speech_16k.wav"  # ../shared is part of every checkout and CI run
BAUD = 921600
DEVICE = "aud0"
FRAME = 640  # 20 ms of 16 kHz 16-bit mono
CAM_W, CAM_H = 32, 24  # RGB565: 1536-byte frames
CAM_FILES = 4

def wav_samples(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


def write_wav(path: Path, pcm: bytes, rate: int = 16000, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The microphone's WAV (the speech twice: 6.2 s) and a camera folder of raw frames."""
    d = tmp_path_factory.mktemp("media")
    write_wav(d / "speech2.wav", wav_samples(SPEECH) * 2)
    frames = d / "frames"
    frames.mkdir()
    rng = np.random.default_rng(15)
    for i in range(CAM_FILES):
        (frames / f"f{i:02d}.raw").write_bytes(rng.integers(0, 256, CAM_W * CAM_H * 2, dtype=np.uint8).tobytes())
    (frames / "notes.txt").write_bytes(b"not a frame")  # another size: not in the camera's loop
    return d


@pytest.fixture(scope="module")
def dev(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[manager.DeviceInfo]:
    """One ARM devkit with the EdgeCall image, the speech as its microphone and the frames as its camera."""
    root = tmp_path_factory.mktemp("sim")
    img = Path(image.build_image(out=root / "image.bin").path).read_bytes()
    with sim_dir(root):
        (info,) = manager.start(ids=[DEVICE], root=root, baud=BAUD, factory_image=img,
                                mic=media / "speech2.wav", camera=media / "frames")
        yield info


def device_dir(info: manager.DeviceInfo) -> state.DeviceDir:
    return state.DeviceDir(info.id, Path(os.environ["EDGECALL_SIM_DIR"]))


def run(info: manager.DeviceInfo, code: str, timeout: float = 90) -> list[str]:
    """Runs code on the device (mpremote exec: the application is interrupted); its output lines."""
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", info.port or "", "exec", code],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0 and "Traceback" not in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


LOOP = """
import hal, time
A = hal.part("audio")
a = A.Audio(rate=16000, frame_ms=20)
buf = bytearray(a.frame_bytes)
n = 0
while n < {frames}:
    if a.readinto(buf):
        a.write_frame(buf)
        n += 1
    else:
        time.sleep_ms(1)
print(A.__name__, n, a.overruns, a.underruns)
a.close()
"""


def test_microphone_to_speaker_is_bit_exact_and_keeps_20_ms(dev: manager.DeviceInfo, media: Path) -> None:
    d = device_dir(dev)
    board.reset_audio(d)
    frames = 320  # 6.4 s: the 6.2 s of speech, then the microphone's silence
    t0 = time.time()
    out = run(dev, LOOP.format(frames=frames))
    t1 = time.time()
    assert out[-1].split() == ["hal.emu.audio", str(frames), "0", "0"], out  # no overruns, no underruns

    src = wav_samples(media / "speech2.wav")
    spk = board.speaker(d)
    assert len(spk) == frames * FRAME
    assert spk[:len(src)] == src
    assert spk[len(src):] == bytes(len(spk) - len(src))

    for name in (board.SPEAKER_TIMES, board.MIC_TIMES):
        log = board.frame_times(d, name)
        assert [(f.offset, f.size) for f in log] == [(i * FRAME, FRAME) for i in range(frames)], name
        times = np.array([f.time for f in log])
        period = (times[-1] - times[0]) / (frames - 1)
        assert abs(period - 0.020) < 0.0002, (name, period)  # the board's clock: 20 ms over 6.4 s
        grid = times[0] + 0.020 * np.arange(frames)
        assert np.max(np.abs(times - grid)) < 0.060, (name, np.max(np.abs(times - grid)))
        assert t0 - 0.2 < times[0] and times[-1] < t1 + 0.2, (name, t0, times[0], times[-1], t1)


def test_each_stream_appends_to_the_recording(dev: manager.DeviceInfo) -> None:
    """A call opens a stream of its own: three streams one after another leave all their frames in
    speaker.raw and speaker.times, in order (QEMU 7.2 opens semihosting's "ab" without O_APPEND:
    each stream used to write over the first frames of the file, so a HIL call scored silence)."""
    d = device_dir(dev)
    board.reset_audio(d)
    out = run(dev, """
import hal
A = hal.part("audio")
for k in range(3):
    a = A.Audio(rate=16000, frame_ms=20, mic="")
    for i in range(4):
        a.write_frame(bytes([k + 1]) * a.frame_bytes)
    a.close()
print("ok")
""")
    assert out[-1] == "ok", out
    spk = board.speaker(d)
    assert spk == b"".join(bytes([k + 1]) * (4 * FRAME) for k in range(3))
    log = board.frame_times(d, board.SPEAKER_TIMES)
    assert [(f.offset, f.size) for f in log] == [(i * FRAME, FRAME) for i in range(12)]


def test_overruns_when_the_reader_falls_behind(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    board.reset_audio(d)
    out = run(dev, """
import hal, time
a = hal.part("audio").Audio()
buf = bytearray(a.frame_bytes)
time.sleep_ms(500)
n = 0
while a.readinto(buf):
    n += 1
print(n, a.overruns)
a.close()
""")
    got, overruns = (int(v) for v in out[-1].split())
    assert got in (8, 9), out  # the ring's 8 frames (a 9th may come due while they are read)
    assert 17 <= overruns <= 20, out  # 25 frames due after 500 ms: the oldest 17 are lost
    log = board.frame_times(d, board.MIC_TIMES)
    assert [f.offset for f in log] == [(overruns + i) * FRAME for i in range(got)]  # the newest kept


def test_next_ms_says_when_the_next_frame_is_ready(dev: manager.DeviceInfo) -> None:
    """next_ms(): the ticks_ms at which the next microphone frame is ready (what the call's media
    task sleeps until); now while one is ready. A reader that sleeps until it gets every frame on
    time, none early, none lost."""
    out = run(dev, """
import hal, time
a = hal.part("audio").Audio(mic="")
buf = bytearray(a.frame_bytes)
late = extra = bad_wait = 0
for i in range(25):
    wait = time.ticks_diff(a.next_ms(), time.ticks_ms())
    if not 0 < wait <= 20:
        bad_wait += 1
    time.sleep_ms(wait)
    if not a.readinto(buf):  # not ready when next_ms said
        late += 1
    if a.readinto(buf):  # only one was due
        extra += 1
time.sleep_ms(70)  # 3 frames come due
ready = time.ticks_diff(a.next_ms(), time.ticks_ms())
n = 0
while a.readinto(buf):
    n += 1
print(late, extra, bad_wait, ready, n, a.overruns)
a.close()
""")
    late, extra, bad_wait, ready, n, overruns = (int(v) for v in out[-1].split())
    assert (late, extra, bad_wait, overruns) == (0, 0, 0, 0), out
    assert ready <= 0 and n in (3, 4), out


def test_underruns_and_a_full_speaker_ring(dev: manager.DeviceInfo) -> None:
    d = device_dir(dev)
    board.reset_audio(d)
    out = run(dev, """
import hal, time
a = hal.part("audio").Audio()
f = bytes(a.frame_bytes)
a.write_frame(f)
time.sleep_ms(200)
a.write_frame(f)
u = a.underruns
t = time.ticks_ms()
for i in range(20):
    a.write_frame(f)
print(u, a.underruns, time.ticks_diff(time.ticks_ms(), t))
a.close()
""")
    u1, u2, burst_ms = (int(v) for v in out[-1].split())
    assert (u1, u2) == (1, 1), out  # the gap is one underrun; the burst is none
    # 20 frames at once: 8 frame periods fit in the ring, the rest wait for the DAC (20 ms each).
    assert 180 <= burst_ms <= 400, out
    assert len(board.speaker(d)) == 22 * FRAME


def test_camera_gives_the_folders_frames_at_the_asked_rate(dev: manager.DeviceInfo, media: Path) -> None:
    out = run(dev, f"""
import hal, time, hashlib, binascii
C = hal.part("camera")
c = C.Camera({CAM_W}, {CAM_H}, "rgb565", fps=25)
buf = bytearray(c.frame_bytes)
for i in range(50):
    k = c.frame_into(buf)
    print("F", k, time.ticks_ms(), binascii.hexlify(hashlib.sha256(buf).digest()).decode())
time.sleep_ms(200)
k = c.frame_into(buf)
print("L", k, c.dropped)
c.close()
print(C.__name__)
""")
    assert out[-1] == "hal.emu.camera"
    files = sorted((media / "frames").glob("*.raw"))
    digests = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    rows = [ln.split() for ln in out if ln.startswith("F ")]
    ks = [int(r[1]) for r in rows]
    ticks = np.array([int(r[2]) for r in rows])
    assert ks == list(range(1, 51)), ks
    assert [r[3] for r in rows] == [digests[(k - 1) % CAM_FILES] for k in ks]
    period = (ticks[-1] - ticks[0]) / 49
    assert abs(period - 40) < 1, period  # 25 frames per second on the board's clock
    assert np.all(np.diff(ticks) >= 0) and np.max(np.abs(ticks - ticks[0] - 40 * np.arange(50))) < 60
    last = next(ln.split() for ln in out if ln.startswith("L "))
    k, dropped = int(last[1]), int(last[2])
    assert 55 <= k <= 58 and dropped == k - 51, last  # 200 ms late: the frames missed are gone


def test_camera_pattern_without_frames_of_that_size(dev: manager.DeviceInfo) -> None:
    out = run(dev, """
import hal, binascii
c = hal.part("camera").Camera(16, 8, "rgb565", fps=30)
f = c.frame()
print(c.count, binascii.hexlify(f).decode())
c.close()
try:
    c.frame()
except ValueError as e:
    print("closed", e)
""")
    k, data = out[-2].split()
    assert bytes.fromhex(data) == camera.pattern_rgb565(int(k), 16, 8).astype("<u2").tobytes()
    assert out[-1] == "closed camera is closed"


def test_bad_arguments_raise(dev: manager.DeviceInfo, media: Path) -> None:
    mono8 = write_wav(media / "mono8.wav", bytes(800), width=1)
    out = run(dev, f"""
import hal
A = hal.part("audio")
C = hal.part("camera")
def check(f):
    try:
        f()
        print("no error")
    except (ValueError, TypeError, OSError) as e:
        print(type(e).__name__, e)
a = A.Audio()
check(lambda: a.readinto(bytearray(10)))
check(lambda: a.readinto(bytes(a.frame_bytes)))
check(lambda: a.write_frame(bytes(3)))
check(lambda: a.write_frame(12))
check(lambda: A.Audio(rate=16000, frame_ms=20, mic={str(mono8)!r}))
check(lambda: A.Audio(rate=8000, frame_ms=20, mic="speaker.raw"))
check(lambda: A.Audio(rate=8000, frame_ms=20))
check(lambda: A.Audio(rate=11025, frame_ms=20))
a.close()
check(lambda: a.write_frame(bytes(640)))
check(lambda: C.Camera(0, 10))
check(lambda: C.Camera(8, 8, fps=0))
check(lambda: C.Camera(8, 8, fmt="yuv"))
""")
    assert out[-12:] == [
        "ValueError buffer must be a writable 640-byte buffer",
        "ValueError buffer must be a writable 640-byte buffer",
        "ValueError pcm must be whole 16-bit samples",
        "TypeError object with buffer protocol required",
        "ValueError mic: not a readable 16-bit mono PCM WAV file",
        "ValueError mic: not a readable 16-bit mono PCM WAV file",
        "ValueError mic: WAV rate differs from the stream's",
        "ValueError bad rate or frame_ms",
        "ValueError stream is closed",
        "ValueError bad frame size",
        "ValueError fps must be from 1 to 60",
        "ValueError fmt must be 'rgb565' or 'rgb888'",
    ], out


def test_leds_and_buttons_through_the_device_folder(dev: manager.DeviceInfo) -> None:
    root = Path(os.environ["EDGECALL_SIM_DIR"])
    out = run(dev, """
import hal
led = hal.part("led")
led.set(2, True); led.set(5, True); led.set(5, True)
print(led.__name__, led.get(2), led.get(3))
try:
    led.set(8, True)
except ValueError as e:
    print(e)
""")
    assert out[-2:] == ["hal.emu.led True False", "no LED 8"], out
    assert manager.leds(DEVICE, root)[:6] == [False, False, True, False, False, True]
    run(dev, "import hal; hal.part('led').toggle(3)")  # mpremote soft-resets first: all off, then 3 on
    assert manager.leds(DEVICE, root)[:6] == [False, False, False, True, False, False]

    assert manager.press(DEVICE, 1, hold_ms=1500, root=root) == 1
    out = run(dev, """
import hal, time
b = hal.part("button")
p1, c1 = b.pressed(1), b.presses(1)
time.sleep_ms(2000)
print(b.__name__, p1, c1, b.pressed(1), b.presses(1), b.pressed(0), b.presses(0))
""")
    assert out[-1] == "hal.emu.button True 1 False 1 False 0", out


def _busy(seconds: float) -> list[subprocess.Popen[bytes]]:
    """Processes that keep every core of the host busy for `seconds`."""
    code = f"import time\nt = time.monotonic() + {seconds}\nwhile time.monotonic() < t: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2 * (os.cpu_count() or 2))]


def test_board_clock_keeps_the_hosts_time(dev: manager.DeviceInfo) -> None:
    """ticks keep the host's pace while the host's cores are all busy, and time.time() starts from
    the host's time to the millisecond (QEMU's start-up, tens of ms, is what is left: it was
    whole seconds, up to 1 s behind). The board's ticks are a counter read (clock_devkit.c): a
    count of SysTick interrupts, which QEMU drops when the host keeps it waiting, fell 1.2 %
    behind at load 5-9 and 14 s behind over a HIL run."""
    with serial.Serial(dev.port, BAUD, timeout=2) as port:

        def prompt() -> bytes:
            out, deadline = b"", time.monotonic() + 10
            while not out.endswith(b">>> ") and time.monotonic() < deadline:
                out += port.read(1)
            return out

        port.write(b"\r\x03\x02")  # interrupt, friendly REPL
        time.sleep(0.3)
        port.reset_input_buffer()
        port.write(b"import time\r")
        prompt()
        samples = []
        for _ in range(2):
            h0 = time.time()
            port.write(b"time.ticks_us(), time.time_ns()\r")
            out = prompt()
            h1 = time.time()
            ticks_us, wall_ns = (int(v) for v in out.split(b"\r\n")[1].strip(b"()").split(b","))
            assert h1 - h0 < 0.1, out
            samples.append((h0, h1, ticks_us, wall_ns / 1e9))
            if len(samples) == 1:  # between the two readings, the host is busy
                for p in _busy(10.0):
                    p.wait()
    (a0, a1, u0, _), (b0, b1, u1, _) = samples
    dev_s = ((u1 - u0) & 0x3FFFFFFF) / 1e6
    assert (b0 - a1) - 0.005 <= dev_s <= (b1 - a0) + 0.005, (dev_s, b0 - a1, b1 - a0)
    for h0, h1, _, wall in samples:
        assert h0 - 0.25 <= wall <= h1, (h0, wall, h1)  # behind by QEMU's start-up (30-60 ms, more when busy)


def test_the_clock_part_takes_the_time_the_host_sets(dev: manager.DeviceInfo) -> None:
    """hal's clock (hal.board.clock, the wall time a board without a battery-backed RTC is told
    over SMP) keeps a set time, and its ticks go on."""
    now, ticking = run(dev, "import hal, time\nclock = hal.part('clock')\nt0 = clock.ticks_ms()\n"
                            "clock.set_time(1700000000)\ntime.sleep_ms(30)\n"
                            "print(clock.time(), clock.ticks_diff(clock.ticks_ms(), t0) >= 30)")[-1].split()
    assert abs(int(now) - 1700000000) <= 1 and ticking == "True"


def test_a_mic_that_is_not_16_bit_mono_wav_is_refused(tmp_path: Path) -> None:
    stereo = write_wav(tmp_path / "stereo.wav", bytes(1600), channels=2)
    noise = tmp_path / "noise.wav"
    noise.write_bytes(os.urandom(1000))
    env = dict(os.environ, EDGECALL_SIM_DIR=str(tmp_path / "sim"))
    missing = tmp_path / "none.wav"
    for bad, says in ((stereo, "16-bit mono"), (noise, "not a readable WAV"), (missing, "not a readable WAV")):
        proc = subprocess.run([str(ROOT / "edgecall"), "sim", "start", "--id", "badmic",
                               "--mic", str(bad)], capture_output=True, text=True, timeout=120, env=env)
        err = " ".join(proc.stderr.split())  # rich wraps long lines
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert says in err and "--mic" in err, err
    assert not (tmp_path / "sim" / "badmic").exists()


# ---- instructions per 20 ms frame (QEMU -icount shift=0: time.ticks_us() counts thousands of instructions)

PER_FRAME = """
import time
from _devkit_audio import Stream
s = Stream(16000, 20, None, None)
buf = bytearray(640)
rd = wr = n = 0
while n < 50:
    if s.ready():
        t = time.ticks_us(); s.readinto(buf); t1 = time.ticks_us(); s.write(buf); t2 = time.ticks_us()
        rd += time.ticks_diff(t1, t); wr += time.ticks_diff(t2, t1); n += 1
t = time.ticks_us()
for i in range(50):
    time.ticks_us()
print("RESULT", rd, wr, time.ticks_diff(time.ticks_us(), t), s.counters())
"""


def icount_run(cwd: Path, code: str, timeout: float = 120) -> str:
    """The base firmware under QEMU -icount shift=0 in `cwd`, code pasted into its raw REPL over
    stdio; what it printed."""
    fw = devkit.build().elf
    cmd = ["qemu-system-arm", "-M", devkit.MACHINE, "-nographic", "-monitor", "none", "-serial", "stdio",
           "-semihosting-config", "enable=on,target=native", "-nic", "none", "-icount", "shift=0",
           "-kernel", str(fw)]
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    got = b""

    def wait_for(token: bytes) -> None:
        nonlocal got
        deadline = time.monotonic() + timeout
        while token not in got:
            assert time.monotonic() < deadline and proc.poll() is None, got[-500:]
            chunk = proc.stdout.read() if proc.stdout else None  # type: ignore[union-attr]
            if chunk:
                got += chunk
            else:
                time.sleep(0.02)

    try:
        wait_for(b">>> ")
        proc.stdin.write(b"\x01")  # raw REPL: the code runs when Ctrl-D comes
        proc.stdin.flush()
        wait_for(b"raw REPL; CTRL-B to exit\r\n>")
        proc.stdin.write(code.encode() + b"\x04")
        proc.stdin.flush()
        wait_for(b"\x04>")
        return got.decode(errors="replace")
    finally:
        proc.kill()
        proc.wait()


def test_instructions_per_frame_of_the_audio_path(tmp_path: Path) -> None:
    (tmp_path / "mic.wav").symlink_to(SPEECH)
    out = icount_run(tmp_path, PER_FRAME)
    m = re.search(r"RESULT (\d+) (\d+) (\d+) \(0, 0, 50\)", out)
    assert m is not None, out
    rd_us, wr_us, call_us = (int(v) for v in m.groups())
    call = call_us * 1000 / 50  # one ticks_us() call and loop round, which each figure includes
    per_frame = (rd_us + wr_us) * 1000 / 50 - 2 * call
    print(f"audio path: {per_frame:.0f} instructions per 20 ms frame (read {rd_us * 20 - call:.0f}, "
          f"write {wr_us * 20 - call:.0f})")
    assert 0 < per_frame < 20_000, out
    assert wav_samples(SPEECH)[:50 * FRAME] == (tmp_path / "speaker.raw").read_bytes()
