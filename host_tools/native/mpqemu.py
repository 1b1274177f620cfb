"""MicroPython's stock `ports/qemu` under qemu-system-arm: the board that runs `_nc.mpy` in tests and
benchmarks.

`firmware()` builds the unmodified port from host_tools.native.micropython's tree for
`MPS2_AN500` (a Cortex-M7 with double-precision FPU: its MicroPython loads native code of every
Thumb architecture up to armv7emdp, so all three `_nc.mpy` files run on it) with a larger heap
(MICROPY_HEAP_SIZE on the make command line) into build/natmod/qemu-<board>/. `Board` boots it
with its UART on a pseudo-terminal, driven by mpremote's SerialTransport (raw REPL), and ARM
semihosting enabled: the device reads and writes host files through `bkpt 0xAB`, issued from
MicroPython's inline Thumb assembler (SEMIHOST below), which is how files get in and out quickly
(the emulated UART takes about 10 KB/s towards the device). `Board.load()` reads exact host
files into a read-only RAM filesystem on the device (a Python VFS) and mounts it, so that
`import _nc` loads the very .mpy that was built. The firmware also has littlefs v1 (MICROPY_VFS_LFS1=1
on the make command line): `Board.ramdisk()` mounts a littlefs RAM disk at / for tools that write
files the way they do on a board (`edgecall deploy`, after `Board.release()`). With `icount=True` QEMU runs with
`-icount shift=0`: virtual time advances 1 ns per instruction, so `time.ticks_us()` differences
count thousands of instructions (`Board.calibrate()` checks this with a loop of known length).
`firmware(native=True)` is the same port with native_codec compiled in as the user C module
(native_codec/mpy/micropython.mk), the other form of the same binding.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from host_tools.native import micropython
from host_tools.paths import BUILD, NATIVE

BOARD = "MPS2_AN500"
MACHINE = "mps2-an500"
HEAP = 2 * 1024 * 1024  # the machine has 4 MiB of RAM; the Opus _nc.mpy needs ~190 KiB loaded
QEMU = "qemu-system-arm"


class BoardError(RuntimeError):
    """QEMU or the MicroPython in it failed (the message says how)."""


class DeviceError(BoardError):
    """Python code on the device raised; the message is its traceback."""


def firmware(board: str = BOARD, heap: int = HEAP, *, native: bool = False, timeout: float = 900.0) -> Path:
    """build/natmod/qemu-<board>/firmware.elf: the stock port (make brings it up to date).
    native=True: the same with native_codec compiled in as the user C module _nc (with libopus;
    native_codec/mpy/micropython.mk) in build/natmod/qemu-<board>-nc/."""
    out = BUILD / "natmod" / (f"qemu-{board}-nc" if native else f"qemu-{board}")
    elf = out / "firmware.elf"
    stamp = out / "make-args"
    tree = micropython.source()
    args = [f"BOARD={board}", f"BUILD={out}", f"MICROPY_HEAP_SIZE={heap}", "MICROPY_VFS_LFS1=1"]
    if native:
        from host_tools.native import opus

        args += [f"USER_C_MODULES={NATIVE}", f"NC_OPUS_DIR={opus.fetch()}"]
    if shutil.which("arm-none-eabi-gcc") is None:
        raise BoardError("arm-none-eabi-gcc not found: install the Debian package gcc-arm-none-eabi (./edgecall installs it)")
    micropython.mpy_cross()  # the port freezes modules with it
    key = " ".join(args)
    if native:
        key += " " + hashlib.sha256((NATIVE / "mpy" / "micropython.mk").read_bytes()).hexdigest()
    if not stamp.is_file() or stamp.read_text() != key:
        shutil.rmtree(out, ignore_errors=True)  # make does not rebuild objects for new variables
    p = subprocess.run(["make", "-j2", "-C", str(tree / "ports" / "qemu"), *args], capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0 or not elf.is_file():
        raise BoardError(f"building MicroPython's ports/qemu for {board} failed:\n{(p.stdout + p.stderr)[-3000:]}")
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    return elf


# Device-side helpers, defined once per session (soft resets clear them: `Board.setup()` again).
SEMIHOST = r'''
import micropython, array, uctypes, io, sys, vfs

@micropython.asm_thumb
def _sh(r0, r1):
    data(2, 0xBEAB)  # bkpt 0xAB: an ARM semihosting call, r0 the operation, r1 its parameters

def _sh_open(path, mode):
    p = bytearray(path.encode() + b'\0')
    h = _sh(0x01, array.array('I', [uctypes.addressof(p), mode, len(path)]))
    if h == 0xFFFFFFFF or h < 0:
        raise OSError(2, path)
    return h

def sh_read(path):
    h = _sh_open(path, 1)  # "rb"
    try:
        n = _sh(0x0C, array.array('I', [h]))
        b = bytearray(n)
        left = _sh(0x06, array.array('I', [h, uctypes.addressof(b), n]))
        if left:
            raise OSError(5, path)
        return b
    finally:
        _sh(0x02, array.array('I', [h]))

class ShFile:
    """A host file opened for writing ("wb") through semihosting."""
    def __init__(self, path):
        self.path = path
        self.h = _sh_open(path, 5)
        self.n = 0
    def write(self, data):
        mv = memoryview(data)
        if len(mv) and _sh(0x05, array.array('I', [self.h, uctypes.addressof(mv), len(mv)])):
            raise OSError(5, self.path)
        self.n += len(mv)
        return len(mv)
    def close(self):
        if self.h is not None:
            _sh(0x02, array.array('I', [self.h]))
            self.h = None

def sh_write(path, data):
    f = ShFile(path)
    try:
        f.write(data)
    finally:
        f.close()

class RamFS:
    """A read-only filesystem of files held in RAM: {path: bytes}."""
    def __init__(self, files):
        self.f = files
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def chdir(self, path):
        pass
    def getcwd(self):
        return '/'
    def _isdir(self, p):
        return p == '' or any(k.startswith(p + '/') for k in self.f)
    def stat(self, path):
        p = path.strip('/')
        if p in self.f:
            return (0x8000, 0, 0, 0, 0, 0, len(self.f[p]), 0, 0, 0)
        if self._isdir(p):
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2, path)
    def ilistdir(self, path):
        p = path.strip('/')
        pre = p + '/' if p else ''
        seen = set()
        for k in self.f:
            if k.startswith(pre):
                name = k[len(pre):].split('/')[0]
                if name not in seen:
                    seen.add(name)
                    yield (name, 0x8000 if pre + name in self.f else 0x4000, 0, 0)
    def open(self, path, mode):
        if 'w' in mode or 'a' in mode or '+' in mode:
            raise OSError(30, path)
        p = path.strip('/')
        if p not in self.f:
            raise OSError(2, path)
        return io.BytesIO(self.f[p]) if 'b' in mode else io.StringIO(bytes(self.f[p]).decode())

def load(mount, files):
    """Reads {device path: host path} into a RamFS mounted at `mount`, first on sys.path."""
    vfs.mount(RamFS({k: sh_read(v) for k, v in files.items()}), mount)
    sys.path.insert(0, mount)
'''

RAMDISK = r'''
class RAMBlockDev:
    """MicroPython's extended block device protocol over a bytearray (4 KiB erase blocks)."""
    def __init__(self, blocks, size=4096):
        self.size = size
        self.data = bytearray(blocks * size)
    def readblocks(self, n, buf, off=0):
        a = n * self.size + off
        buf[:] = memoryview(self.data)[a:a + len(buf)]
    def writeblocks(self, n, buf, off=None):
        a = n * self.size + (off or 0)
        self.data[a:a + len(buf)] = buf
    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // self.size
        if op == 5:
            return self.size
        if op == 6:
            return 0

def ramdisk(kib):
    import os
    bdev = RAMBlockDev(kib // 4)
    vfs.VfsLfs1.mkfs(bdev)
    vfs.mount(vfs.VfsLfs1(bdev), "/")
    os.chdir('/')
'''

# A loop of known length for the instruction clock: 2 instructions per round (subs, bne).
CALIBRATE = r'''
@micropython.asm_thumb
def _spin(r0):
    label(loop)
    sub(r0, r0, 1)
    bne(loop)

def calibrate(rounds):
    import time
    t0 = time.ticks_us()
    _spin(rounds)
    return time.ticks_diff(time.ticks_us(), t0)
'''


class Board:
    """The stock MicroPython firmware running in QEMU, its REPL on a pty. Use as a context manager."""

    def __init__(self, elf: Path | None = None, *, machine: str = MACHINE, icount: bool = False,
                 timeout: float = 60.0) -> None:
        self.elf = elf or firmware()
        self.machine = machine
        self.icount = icount
        self.timeout = timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.transport = None  # mpremote SerialTransport
        self.port = ""

    def __enter__(self) -> Board:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        from mpremote.transport_serial import SerialTransport  # type: ignore[import-untyped]

        if shutil.which(QEMU) is None:
            raise BoardError(f"{QEMU} not found: install the Debian package qemu-system-arm (./edgecall installs it)")
        cmd = [QEMU, "-M", self.machine, "-nographic", "-monitor", "null", "-serial", "pty",
               "-semihosting-config", "enable=on,target=native", "-kernel", str(self.elf)]
        if self.icount:
            cmd += ["-icount", "shift=0"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        line = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(rb"(/dev/pts/\d+)", line)
            if m:
                self.port = m.group(1).decode()
                break
            if not line and self.proc.poll() is not None:
                break
        if not self.port:
            self.close()
            raise BoardError(f"QEMU did not open a serial pty: {line.decode(errors='replace').strip()}")
        try:
            self.transport = SerialTransport(self.port, baudrate=115200)
            self.transport.enter_raw_repl(soft_reset=False, timeout_overall=self.timeout)
        except Exception as e:
            self.close()
            raise BoardError(f"no raw REPL on {self.port}: {e}") from e
        self.setup()

    def setup(self) -> None:
        """Defines the semihosting and RAM filesystem helpers (again after a soft reset)."""
        self.exec(SEMIHOST + CALIBRATE)

    def exec(self, code: str, timeout: float | None = None) -> str:
        """Runs code in the raw REPL; returns what it printed, raises DeviceError on an exception."""
        from mpremote.transport import TransportError  # type: ignore[import-untyped]

        if self.transport is None:
            raise BoardError("the board is not running")
        try:
            out, err = self.transport.exec_raw(code, timeout=timeout or self.timeout)
        except (TransportError, OSError) as e:
            raise BoardError(f"raw REPL on {self.port}: {e}") from e
        if err:
            raise DeviceError(err.decode(errors="replace").strip())
        text: str = out.decode(errors="replace")
        return text.replace("\r\n", "\n")

    def soft_reset(self) -> None:
        """Ctrl-D: a fresh heap (modules, native code and mounts gone); the helpers come back."""
        assert self.transport is not None
        self.transport.exit_raw_repl()
        self.transport.enter_raw_repl(soft_reset=True, timeout_overall=self.timeout)
        self.setup()

    def ramdisk(self, kib: int = 768) -> None:
        """A littlefs filesystem on a RAM block device mounted at / (the working directory)."""
        self.exec(RAMDISK + f"ramdisk({kib})")

    def release(self) -> None:
        """Leaves the raw REPL and closes the pty, so that another tool can drive the board."""
        t, self.transport = self.transport, None
        if t is not None:
            t.exit_raw_repl()
            t.close()

    def reconnect(self) -> None:
        """Opens the pty again after release() (the raw REPL, without a reset)."""
        from mpremote.transport_serial import SerialTransport  # type: ignore[import-untyped]

        self.transport = SerialTransport(self.port, baudrate=115200)
        self.transport.enter_raw_repl(soft_reset=False, timeout_overall=self.timeout)

    def load(self, mount: str, files: dict[str, Path]) -> None:
        """Exact host files into a RAM filesystem at `mount` (first on sys.path)."""
        spec = {k: str(Path(v).resolve()) for k, v in files.items()}
        self.exec(f"load({mount!r}, {spec!r})")

    def calibrate(self, rounds: int = 1_000_000) -> float:
        """Instructions per microsecond of time.ticks_us() (1000 under -icount shift=0)."""
        us = int(self.exec(f"print(calibrate({rounds}))").strip())
        return 2 * rounds / us if us > 0 else 0.0

    def close(self) -> None:
        t, self.transport = self.transport, None
        if t is not None:
            try:
                t.close()
            except OSError:
                pass
        p, self.proc = self.proc, None
        if p is not None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()


def host_path(p: Path) -> str:
    """A path as the device's semihosting calls name it (QEMU opens it on the host)."""
    return os.fspath(p.resolve())
