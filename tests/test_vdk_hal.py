"""The virtual devkit's `hal` backend (hal/vdk/ on the device, host_tools/sim/vdk/hal_*.mjs):
console demux on the shared UART, the wasm codecs against the host binding, clock, LEDs, buttons,
UDP/TCP to host sockets, microphone/speaker files and the camera.

One device (started once for the module, power-cut at teardown) runs small scripts over the raw
REPL; results come back printed or as files in its flash folder.
"""
from __future__ import annotations

import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.native.wasm import build_library
from host_tools.paths import ROOT
from host_tools.sim import board, manager, state
from host_tools.smp.serial import encode_frames
from tests.test_vdk import RawRepl

DEVICE = "hal"
MIC_RATE = 16000
START, CONT = b"\x06\x09", b"\x04\x14"


def mic_signal() -> bytes:
    """0.6 s of a deterministic 16 kHz tone sweep, int16 LE."""
    t = np.arange(int(0.6 * MIC_RATE))
    x = 12000 * np.sin(2 * np.pi * (300 + t / 20) * t / MIC_RATE)
    return x.astype("<i2").tobytes()


def hal_files() -> dict[str, bytes]:
    """hal/vdk/*.py for the device's flash, under a stub hal package."""
    files = {"hal/__init__.py": b""}
    for p in sorted((ROOT / "hal" / "vdk").glob("*.py")):
        files[f"hal/vdk/{p.name}"] = p.read_bytes()
    return files


class Device:
    def __init__(self, info: manager.DeviceInfo, root: Path) -> None:
        self.info = info
        self.root = root
        self.dir = state.DeviceDir(info.id, root)
        self.flash = Path(info.flash)
        self.repl = RawRepl(info.port or "")

    def run(self, code: str, timeout: float = 10.0) -> str:
        return self.repl.exec(code, timeout).strip()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, testdata: Path) -> Iterator[Device]:
    build_library()
    tmp = tmp_path_factory.mktemp("vdkhal")
    root = tmp / "sim"
    wav = tmp / "mic.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(MIC_RATE)
        w.writeframes(mic_signal())
    pcm = (testdata / "itu-stl" / "g722" / "inpsp.bin").read_bytes()[: 2 * 16000]  # 1 s
    files = {**hal_files(), "in.pcm": pcm}
    t0 = time.monotonic()
    (info,) = manager.start(ids=[DEVICE], root=root, blank=True, install_files=files, mic=wav)
    boot = time.monotonic() - t0
    assert boot < 3.0, f"boot took {boot:.2f} s"
    d = Device(info, root)
    try:
        yield d
    finally:
        d.repl.close()
        manager.power_cut(DEVICE, root)


# ---- console demux -------------------------------------------------------------------------

def test_console_frames_reach_console_not_repl(dev: Device) -> None:
    frames = START + b"AAAABBBBCCCC==\n" + CONT + b"ZZZZ\n"
    # the REPL is idle at the raw prompt: had the frames reached it, they would be code
    dev.repl.s.write(frames)
    time.sleep(0.2)
    assert dev.run("from hal.vdk import console\nprint(repr(console.read()))") == repr(frames)
    assert dev.run("print(repr(console.read()), 6 * 7)") == "b'' 42"

    # a synchronous loop polling the console gets frames byte-exact, REPL bytes around them wait
    dev.repl.send(
        "got = b''\nwhile got.count(b'\\n') < 2:\n    got += console.read()\nprint(repr(got))"
    )
    time.sleep(0.1)
    dev.repl.s.write(START + bytes(range(0x20, 0x7F)) + b"\n")
    time.sleep(0.05)
    dev.repl.s.write(CONT + b"tail\n")
    out = dev.repl.read_until(b"\x04", 10)[:-1] + dev.repl.read_until(b"\x04", 10)[:-1]
    dev.repl.read_until(b">")
    assert out.decode().strip() == repr(START + bytes(range(0x20, 0x7F)) + b"\n" + CONT + b"tail\n")

    # a raw-REPL command that ends with "\n" before Ctrl-D still runs (the held 0x04 is released)
    assert dev.run("print('ok')\n") == "ok"


def test_console_beside_friendly_repl(dev: Device) -> None:
    """A terminal user types a line ("\\r"), then the host's SMP client sends a packet."""
    frames = encode_frames(bytes(range(150)))
    assert len(frames) == 2
    dev.repl.s.write(b"\x02")  # raw -> friendly REPL
    dev.repl.read_until(b">>> ")
    dev.repl.s.write(b"6 * 7\r")
    dev.repl.read_until(b"42")
    dev.repl.read_until(b">>> ")
    dev.repl.s.write(b"".join(frames))
    dev.repl.s.write(b"from hal.vdk import console; r = console.read()\r")
    dev.repl.read_until(b">>> ")
    dev.repl.s.write(b"r == %r\r" % b"".join(frames))
    assert b"True" in dev.repl.read_until(b">>> ")
    dev.repl.s.write(b"\x01")
    dev.repl.read_until(b"raw REPL; CTRL-B to exit\r\n>")


def test_console_write_and_ctrl_c_while_polling(dev: Device) -> None:
    dev.repl.send("from hal.vdk import console\nconsole.write(b'\\x06\\x09hello\\n')")
    assert dev.repl.read_until(b"\x04", 5) == START + b"hello\n\x04"
    assert dev.repl.read_until(b"\x04", 5) == b"\x04"
    dev.repl.read_until(b">")

    dev.repl.send("n = 0\nwhile True:\n    n += len(console.read())")
    time.sleep(0.2)
    dev.repl.s.write(START + b"x\n")
    time.sleep(0.1)
    dev.repl.s.write(b"\x03")
    out = dev.repl.read_until(b"\x04", 10) + dev.repl.read_until(b"\x04", 10)
    dev.repl.read_until(b">")
    assert b"KeyboardInterrupt" in out
    assert dev.run("print(n)") == "4"  # the frame reached the loop before the interrupt


def test_console_buffer_is_bounded(dev: Device) -> None:
    dev.run("from hal.vdk import console\nconsole.read()\nd0 = console.dropped()")
    frame = START + b"Q" * 124 + b"\n"  # 127 bytes, as the SMP client cuts them
    dev.repl.s.write(frame * 70)  # 8890 bytes, nobody reading (the command below comes after)
    out = dev.run("b = console.read()\nprint(len(b), console.dropped() - d0, b == %r * (len(b) // 127))" % frame)
    n, dropped, same = out.split()
    assert int(n) <= 8192 and int(n) % 127 == 0 and same == "True"
    assert int(dropped) == 70 - int(n) // 127 > 0


# ---- codecs --------------------------------------------------------------------------------

def test_codecs_equal_host_binding(dev: Device) -> None:
    pcm = (dev.flash / "in.pcm").read_bytes()
    samples = np.frombuffer(pcm, "<i2")
    dev.run(
        "from hal.vdk import codec\n"
        "src = open('in.pcm', 'rb').read()\nmv = memoryview(src)\n"
        "enc = codec.G722Encoder()\ndec = codec.G722Decoder()\n"
        "with open('g722.cod', 'wb') as fc, open('g722.pcm', 'wb') as fp:\n"
        "    for i in range(0, len(src), 640):\n"
        "        c = enc.encode(mv[i:i + 640])\n"
        "        fc.write(c)\n"
        "        fp.write(dec.decode(c))\n"
        "enc.close()\ndec.close()"
    )
    enc, dec = nc.G722Encoder(), nc.G722Decoder()
    codes = enc.encode(samples)
    assert (dev.flash / "g722.cod").read_bytes() == codes
    assert (dev.flash / "g722.pcm").read_bytes() == dec.decode(codes).astype("<i2").tobytes()

    dev.run(
        "src = open('in.pcm', 'rb').read()[:16000]\n"
        "for law in ('ulaw', 'alaw'):\n"
        "    c = codec.g711_encode(src, law)\n"
        "    with open(law, 'wb') as f:\n"
        "        f.write(c)\n"
        "        f.write(codec.g711_decode(c, law))"
    )
    part = samples[:8000]
    for law in ("ulaw", "alaw"):
        c = nc.g711_encode(part, law)
        assert (dev.flash / law).read_bytes() == c + nc.g711_decode(c, law).astype("<i2").tobytes()

    dev.run(
        "src = open('in.pcm', 'rb').read()[:3200]\nmv = memoryview(src)\n"
        "e = codec.AdpcmEncoder('dvi4')\nd = codec.AdpcmDecoder('dvi4')\n"
        "p = codec.Plc(8000)\n"
        "with open('dvi4', 'wb') as f, open('plc', 'wb') as fp:\n"
        "    for i in range(0, 3200, 320):\n"
        "        pay = e.encode(mv[i:i + 320])\n"
        "        f.write(pay)\n"
        "        f.write(d.decode(pay))\n"
        "    for i in range(0, 3200, 160):\n"
        "        fp.write(p.lost() if i // 160 in (7, 8, 9) else p.good(mv[i:i + 160]))"
    )
    e, d, plc = nc.AdpcmEncoder("dvi4"), nc.AdpcmDecoder("dvi4"), nc.Plc(8000)
    want = b""
    for i in range(0, 1600, 160):
        pay = e.encode(samples[i : i + 160])
        want += pay + d.decode(pay).astype("<i2").tobytes()
    assert (dev.flash / "dvi4").read_bytes() == want
    want = b"".join(
        (plc.lost() if i // 80 in (7, 8, 9) else plc.good(samples[i : i + 80])).astype("<i2").tobytes()
        for i in range(0, 1600, 80)
    )
    assert (dev.flash / "plc").read_bytes() == want


def test_codec_errors_and_speed(dev: Device) -> None:
    out = dev.run(
        "from hal.vdk import codec, clock\n"
        "def err(f):\n"
        "    try:\n        f()\n    except ValueError:\n        return 'V'\n"
        "    except TypeError:\n        return 'T'\n    return '-'\n"
        "print(err(lambda: codec.G722Encoder(12345)), err(lambda: codec.g711_encode(b'abc')),\n"
        "      err(lambda: codec.AdpcmDecoder().decode(b'\\x00\\x00\\x99\\x00')),\n"
        "      err(lambda: codec.g711_encode('text')), err(lambda: codec.Plc(8000).good(bytes(10))))\n"
        "enc = codec.G722Encoder()\ndec = codec.G722Decoder()\nfr = bytes(640)\n"
        "dec.decode(enc.encode(fr))\nts = []\n"
        "for _ in range(25):\n"
        "    t = clock.ticks_us()\n    dec.decode(enc.encode(fr))\n"
        "    ts.append(clock.ticks_diff(clock.ticks_us(), t))\n"
        "ts.sort()\nprint(ts[12])"
    )
    errors, median_us = out.splitlines()
    assert errors.split() == ["V", "V", "V", "T", "V"]
    # a 20 ms G.722 frame: encode + decode from MicroPython, far below real time
    assert int(median_us) < 2000, median_us


# ---- clock, LEDs, buttons ------------------------------------------------------------------

def test_clock_set_time(dev: Device) -> None:
    out = dev.run(
        "from hal.vdk import clock\nimport time\n"
        "t0 = clock.ticks_ms()\nclock.set_time(1700000000)\ntime.sleep_ms(30)\n"
        "print(clock.time(), clock.ticks_diff(clock.ticks_ms(), t0) >= 30)"
    )
    now, ticking = out.split()
    assert abs(int(now) - 1700000000) <= 1 and ticking == "True"
    dev.run("clock.set_time(%d)" % int(time.time()))
    assert abs(int(dev.run("print(clock.time())")) - time.time()) <= 2


def test_leds_visible_on_host(dev: Device) -> None:
    dev.run("from hal.vdk import led\nled.set(2, True)\nled.set(5, True)")
    assert manager.leds(DEVICE, dev.root)[:6] == [False, False, True, False, False, True]
    dev.run("led.set(2, False)\nprint(led.get(2), led.get(5))")
    assert manager.leds(DEVICE, dev.root)[2] is False
    assert dev.run("print(led.get(2), led.get(5))") == "False True"


def test_button_press_from_cli(dev: Device) -> None:
    assert dev.run("from hal.vdk import button\nprint(button.pressed(1), button.presses(1))") == "False 0"
    env = dict(os.environ, EDGECALL_SIM_DIR=str(dev.root))
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.sim", "press", DEVICE, "--button", "1", "--hold-ms", "400"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert dev.run("print(button.pressed(1), button.presses(1), button.pressed(0))") == "True 1 False"
    time.sleep(0.5)
    assert dev.run("print(button.pressed(1), button.presses(1))") == "False 1"


# ---- network -------------------------------------------------------------------------------

def test_udp_echo_with_host(dev: Device) -> None:
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    host.settimeout(5)
    hport = host.getsockname()[1]

    def echo() -> None:
        data, addr = host.recvfrom(2048)
        host.sendto(data[::-1], addr)

    th = threading.Thread(target=echo)
    th.start()
    out = dev.run(
        "from hal.vdk import net, clock\nu = net.Udp()\n"
        f"u.sendto(bytes(range(200)), '127.0.0.1', {hport})\n"
        "t = clock.ticks_ms()\nr = None\n"
        "while r is None and clock.ticks_diff(clock.ticks_ms(), t) < 3000:\n    r = u.recvfrom()\n"
        "print(r[0] == bytes(range(199, -1, -1)), r[1], r[2], u.port > 0)"
    )
    th.join()
    assert out == f"True 127.0.0.1 {hport} True"

    # datagrams to the device's port queue up until read
    port = int(dev.run("u2 = net.Udp()\nprint(u2.port)"))
    for i in range(3):
        host.sendto(b"m%d" % i, ("127.0.0.1", port))
    time.sleep(0.2)
    got = dev.run("print([u2.recvfrom()[0] for _ in range(3)], u2.recvfrom())\nu.close()\nu2.close()")
    assert got == "[b'm0', b'm1', b'm2'] None"
    host.close()


def test_tcp_with_host_server(dev: Device) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(5)
    sport = srv.getsockname()[1]
    payload = bytes(range(256)) * 40  # 10 KiB

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            got = b""
            while len(got) < len(payload):
                got += conn.recv(65536)
            conn.sendall(b"ACK" + struct.pack(">I", len(got)) + hashlib.sha256(got).digest() + got)

    th = threading.Thread(target=serve)
    th.start()
    out = dev.run(
        "from hal.vdk import net, clock\nimport hashlib\n"
        f"c = net.Tcp('127.0.0.1', {sport})\n"
        "t = clock.ticks_ms()\n"
        "while not c.connected and clock.ticks_diff(clock.ticks_ms(), t) < 3000:\n    pass\n"
        "data = bytes(range(256)) * 40\nsent = 0\n"
        "while sent < len(data):\n    sent += c.send(memoryview(data)[sent:])\n"
        "got = bytearray()\n"
        "while clock.ticks_diff(clock.ticks_ms(), t) < 5000:\n"
        "    r = c.recv(1000)\n"
        "    if r == b'':\n        break\n"
        "    if r:\n        got.extend(r)\n"
        "print(c.connected, bytes(got[:3]), int.from_bytes(got[3:7], 'big'), "
        "got[7:39] == hashlib.sha256(data).digest(), got[39:] == data, c.recv())\n"
        "c.close()",
        timeout=15,
    )
    th.join()
    srv.close()
    assert out == "False b'ACK' 10240 True True b''"

    # nothing listens: the connection fails with ECONNREFUSED
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    fport = free.getsockname()[1]
    free.close()
    out = dev.run(
        f"c = net.Tcp('127.0.0.1', {fport})\nt = clock.ticks_ms()\nr = None\n"
        "while r is None and clock.ticks_diff(clock.ticks_ms(), t) < 3000:\n    r = c.recv()\n"
        "print(repr(r), c.error, c.connected)"
    )
    assert out == "b'' 111 False"


# ---- audio, camera -------------------------------------------------------------------------

def test_mic_plays_wav_in_real_time(dev: Device) -> None:
    n = 12
    out = dev.run(
        "from hal.vdk import audio, clock\nimport hashlib\n"
        "t0 = clock.ticks_ms()\na = audio.Audio(16000, 20)\nh = hashlib.sha256()\nk = 0\n"
        "first = a.read_frame()\n"
        f"while k < {n}:\n"
        "    f = a.read_frame()\n"
        "    if f is not None:\n        h.update(f)\n        k += 1\n"
        "print(first, clock.ticks_diff(clock.ticks_ms(), t0), h.digest().hex(), a.overruns)\n"
        "a.close()"
    )
    first, elapsed, digest, overruns = out.split()
    assert first == "None"  # nothing before the first 20 ms boundary
    assert int(elapsed) >= n * 20 - 1
    assert digest == hashlib.sha256(mic_signal()[: n * 640]).hexdigest() and overruns == "0"
    assert len(board.frame_times(dev.dir, board.MIC_TIMES)) >= n

    # a WAV whose rate is not the stream's is refused
    assert dev.run(
        "try:\n    audio.Audio(8000, 20)\nexcept ValueError as e:\n    print('refused')"
    ) == "refused"


def test_speaker_records_frames(dev: Device) -> None:
    frames = [bytes([i]) * 640 for i in range(1, 6)]
    dev.run(
        "from hal.vdk import audio\na = audio.Audio(16000, 20, mic='')\n"
        "for i in range(1, 6):\n    a.write_frame(bytes([i]) * 640)\na.close()"
    )
    assert board.speaker(dev.dir) == b"".join(frames)
    times = board.frame_times(dev.dir)
    assert [(t.offset, t.size) for t in times] == [(640 * i, 640) for i in range(5)]
    assert all(abs(t.time - time.time()) < 30 for t in times)


def test_camera_frames_move(dev: Device) -> None:
    out = dev.run(
        "from hal.vdk import camera\nc = camera.Camera(160, 120)\n"
        "a = c.frame()\nb = c.frame()\n"
        "d = camera.Camera(64, 48, 'rgb888')\nbuf = bytearray(64 * 48 * 3)\n"
        "print(len(a), len(b), a[:4].hex(), b[:4].hex(), a[1000:1200] != b[1000:1200], d.frame_into(buf), "
        "len(d.frame()), c.count)"
    )
    assert out == "38400 38400 00000001 00000002 True 1 9216 2"
