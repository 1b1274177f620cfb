"""Virtual devkits (host_tools/sim): unmodified mpremote against the pty, heap, unique id, resets,
flash persistence and power cuts, UART pacing, and 16 devices at once.

Every device is started in a per-test state folder and killed at teardown, whatever happens.
"""
from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from host_tools.sim import manager, state

MPREMOTE_TIMEOUT = 30
Start = Callable[..., list[manager.DeviceInfo]]


@pytest.fixture
def sim_root(tmp_path: Path) -> Path:
    return tmp_path / "sim"


@pytest.fixture
def start_devices(sim_root: Path) -> Iterator[Start]:
    """start_devices(ids=[...], **kw) -> infos; every device is power-cut at teardown."""
    started: set[str] = set()

    def start(**kw: object) -> list[manager.DeviceInfo]:
        infos = manager.start(root=sim_root, **kw)  # type: ignore[arg-type]
        started.update(d.id for d in infos)
        return infos

    yield start
    for device_id in started:
        manager.power_cut(device_id, sim_root)


def mpremote(port: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", port, *args],
        capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT, check=False,
    )
    assert proc.returncode == 0, f"mpremote {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


class RawRepl:
    """A minimal raw-REPL client for the tests (mpremote is tested separately)."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        self.s = serial.Serial(port, baud, timeout=10)
        self.buf = b""
        self.s.write(b"\r\x03\x03")
        time.sleep(0.1)
        self.s.reset_input_buffer()
        self.s.write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>")

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        """Bytes up to and including `marker`; what follows stays buffered."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if time.monotonic() > deadline:
                raise AssertionError(f"timeout waiting for {marker!r}; got {self.buf[-200:]!r}")
            self.buf += self.s.read(max(1, min(self.s.in_waiting, 4096)))
        end = self.buf.index(marker) + len(marker)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.s.read(n - len(self.buf))
            assert chunk, "timeout"
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, code: str) -> None:
        self.s.write(code.encode() + b"\x04")
        assert self.read(2) == b"OK"

    def exec(self, code: str, timeout: float = 10.0) -> str:
        self.send(code)
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        assert not err, err.decode(errors="replace")
        return out.decode()

    def close(self) -> None:
        self.s.close()


def test_mpremote_commands(start_devices: Start, tmp_path: Path) -> None:
    (dev,) = start_devices(ids=["mp"])
    assert dev.port
    port = dev.port
    assert mpremote(port, "exec", "print('hello', 6 * 7)").strip() == "hello 42"
    assert mpremote(port, "eval", "1 + 2").strip() == "3"
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('ran on', sys.platform)\n")
    assert "ran on webassembly" in mpremote(port, "run", str(script))

    local = tmp_path / "data.bin"
    payload = bytes(range(256)) * 8
    local.write_bytes(payload)
    mpremote(port, "fs", "cp", str(local), ":data.bin")
    listing = mpremote(port, "fs", "ls")
    assert "data.bin" in listing
    assert (Path(dev.flash) / "data.bin").read_bytes() == payload  # written back to the host
    back = tmp_path / "back.bin"
    mpremote(port, "fs", "cp", ":data.bin", str(back))
    assert back.read_bytes() == payload
    (tmp_path / "t.txt").write_text("line one\nline two\n")
    mpremote(port, "fs", "cp", str(tmp_path / "t.txt"), ":t.txt")
    assert "line one\nline two" in mpremote(port, "fs", "cat", "t.txt")
    mpremote(port, "fs", "rm", "data.bin")
    assert "data.bin" not in mpremote(port, "fs", "ls")
    assert not (Path(dev.flash) / "data.bin").exists()

    # soft-reset clears the namespace; resume keeps it
    mpremote(port, "exec", "KEEP = 7")
    assert mpremote(port, "resume", "eval", "KEEP").strip() == "7"
    mpremote(port, "soft-reset")
    out = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", port, "resume", "eval", "KEEP"],
        capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT, check=False,
    )
    assert "NameError" in out.stdout + out.stderr


def test_heap_is_reported(start_devices: Start) -> None:
    (small,) = start_devices(ids=["h64"], heap=64 * 1024)
    (default,) = start_devices(ids=["hdef"])
    for dev, heap in ((small, 64 * 1024), (default, state.DEFAULT_HEAP)):
        assert dev.port
        total = int(mpremote(dev.port, "eval", "__import__('gc').mem_free() + __import__('gc').mem_alloc()"))
        # MicroPython's accounting keeps a little of the heap for its allocation tables
        assert 0.95 * heap <= total <= heap, (dev.id, total)
    repl = RawRepl(small.port or "")
    try:
        out = repl.exec(
            "l = []\ntry:\n    while True:\n        l.append(bytearray(1024))\n"
            "except MemoryError:\n    print(len(l))\n"
        )
        assert 40 <= int(out) <= 64
    finally:
        repl.close()


def test_unique_id_stable_and_distinct(start_devices: Start, sim_root: Path) -> None:
    a, b = start_devices(ids=["uid-a", "uid-b"])
    expr = "__import__('machine').unique_id().hex()"
    uid_a = mpremote(a.port or "", "eval", expr).strip().strip("'")
    uid_b = mpremote(b.port or "", "eval", expr).strip().strip("'")
    assert uid_a != uid_b
    assert uid_a == state.unique_id("uid-a") and len(bytes.fromhex(uid_a)) == 8
    manager.stop("uid-a", sim_root)
    (a2,) = start_devices(ids=["uid-a"])
    assert mpremote(a2.port or "", "eval", expr).strip().strip("'") == uid_a


def test_reset_reruns_boot_and_flash_persists(start_devices: Start, sim_root: Path) -> None:
    boot = (
        "try:\n    n = int(open('boots').read())\nexcept OSError:\n    n = 0\n"
        "with open('boots', 'w') as f:\n    f.write(str(n + 1))\n"
    )
    (dev,) = start_devices(ids=["rst"], install_files={"boot.py": boot.encode()})
    flash = Path(dev.flash)
    assert (flash / "boots").read_text() == "1"
    repl = RawRepl(dev.port or "")
    try:
        assert repl.exec("import machine\nprint(machine.reset_cause())").strip() == "1"
        repl.send("machine.reset()")
        repl.read_until(b"Type \"help()\" for more information.\r\n>>> ", timeout=15)
    finally:
        repl.close()
    assert (flash / "boots").read_text() == "2"
    repl = RawRepl(dev.port or "")
    try:
        assert repl.exec("print(__import__('machine').reset_cause())").strip() == "2"
        repl.exec("with open('kept.txt', 'w') as f:\n    f.write('survives')")
    finally:
        repl.close()
    manager.stop("rst", sim_root)
    assert manager.list_devices(sim_root)[0].status == state.STATUS_OFF
    (dev,) = start_devices(ids=["rst"])
    assert (flash / "boots").read_text() == "3"
    assert mpremote(dev.port or "", "fs", "cat", "kept.txt").strip().endswith("survives")
    assert (flash / "boots").read_text() == "4"  # mpremote soft-resets: boot.py runs again


def test_ctrl_c_and_raw_paste(start_devices: Start) -> None:
    (dev,) = start_devices(ids=["intr"])
    repl = RawRepl(dev.port or "")
    try:
        repl.send("while True:\n    pass")
        time.sleep(0.3)
        repl.s.write(b"\x03")
        out = repl.read_until(b"\x04", 10) + repl.read_until(b"\x04", 10)
        assert b"KeyboardInterrupt" in out
        repl.read_until(b">")
        repl.s.write(b"\x05A\x01")
        assert repl.read(2) == b"R\x00"  # raw-paste declined; plain raw REPL goes on
        assert repl.exec("print(40 + 2)").strip() == "42"
    finally:
        repl.close()


WRITER = """
buf = bytearray(512)
k = 0
while True:
    k += 1
    v = k % 251
    for i in range(512):
        buf[i] = v
    for name in ('a.bin', 'b.bin'):
        with open(name, 'wb') as f:
            for _ in range(8):
                f.write(buf)
    with open('c.bin', 'wb') as f:
        f.write(buf)
        f.flush()
        f.write(buf)
"""


def _check_flash(flash: Path) -> None:
    for name, size in (("a.bin", 4096), ("b.bin", 4096)):
        p = flash / name
        if p.exists():
            data = p.read_bytes()
            assert len(data) == size and data == data[:1] * size, f"{name}: mixed or short file"
    c = flash / "c.bin"
    if c.exists():
        data = c.read_bytes()
        # flushed after the first half, closed after the second: either state, never a mix
        assert len(data) in (512, 1024) and data == data[:1] * len(data), "c.bin: mixed file"


def power_cut_campaign(start_devices: Start, sim_root: Path, cuts: int, seed: int) -> None:
    rng = random.Random(seed)
    (dev,) = start_devices(ids=["cut"], blank=True, install_files={"writer.py": WRITER.encode()})
    flash = Path(dev.flash)
    for _ in range(cuts):
        repl = RawRepl(dev.port or "")
        assert repl.exec("print(1 + 1)").strip() == "2"  # boots and answers every time
        repl.send("exec(open('writer.py').read())")
        time.sleep(rng.uniform(0.05, 0.4))
        manager.power_cut("cut", sim_root)
        repl.close()
        _check_flash(flash)
        (dev,) = start_devices(ids=["cut"])
        assert not list(flash.glob(".*.vdk-tmp")), "stale temporaries not cleaned at boot"
    assert (flash / "a.bin").exists()


def test_power_cuts_during_writes(start_devices: Start, sim_root: Path) -> None:
    power_cut_campaign(start_devices, sim_root, cuts=25, seed=1234)


@pytest.mark.slow
def test_power_cuts_during_writes_long(start_devices: Start, sim_root: Path) -> None:
    power_cut_campaign(start_devices, sim_root, cuts=100, seed=99)


def _transfer_time(port: str, baud: int, n: int) -> float:
    s = serial.Serial(port, baud, timeout=10)
    try:
        s.write(b"\r\x03\x03")
        time.sleep(0.1)
        s.reset_input_buffer()
        s.write(b"\x01")
        time.sleep(0.1)
        s.reset_input_buffer()
        code = b"print('x' * %d)\x04" % n
        t0 = time.monotonic()
        s.write(code)
        data = b""
        while data.count(b"\x04") < 2:
            chunk = s.read(max(1, s.in_waiting))
            assert chunk, "device stopped answering"
            data += chunk
        elapsed = time.monotonic() - t0
        assert b"x" * n in data
        s.write(b"\x02")
        return elapsed
    finally:
        s.close()


def test_uart_pacing(start_devices: Start) -> None:
    (dev,) = start_devices(ids=["uart"], baud=9600)
    n = 1500
    slow = _transfer_time(dev.port or "", 9600, n)
    fast = _transfer_time(dev.port or "", 115200, n)
    # n bytes out (+ the command in) at baud/10 bytes/s; no upper bound: machines here are noisy
    assert slow >= 0.95 * n / 960
    assert fast >= 0.95 * n / 11520
    assert slow > 4 * fast


def test_sixteen_devices(start_devices: Start) -> None:
    ids = [f"d{i:02d}" for i in range(16)]
    devices = start_devices(ids=ids, timeout=90)
    assert len({d.port for d in devices}) == 16
    for d in devices:
        repl = RawRepl(d.port or "")
        try:
            assert repl.exec(f"print(int('{d.id[1:]}') * 3)").strip() == str(int(d.id[1:]) * 3)
        finally:
            repl.close()
