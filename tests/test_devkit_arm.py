"""ARM devkits (MicroPython's ports/qemu on QEMU mps2-an386, hal/devkit) judged as boards: by
MicroPython's own test runner and by unmodified mpremote on the devkit's pty, with the board's
flash (littlefs on a 1 MiB file), its heap (192 KiB, real GC), its line endings (CRLF), its reset
causes and watchdog, and the bad inputs of a board's life (a flash that is not littlefs, an image
for another machine, a CPU that dies)."""
from __future__ import annotations

import os
import pty
import select
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from host_tools.firmware import armimage, mcuboot
from host_tools.native import devkit, micropython
from host_tools.paths import ROOT
from host_tools.sim import manager, mptests, qemu, state
from tests.devkits import sim_dir

MPREMOTE = [sys.executable, "-m", "mpremote"]
BAUD = 921600
# MicroPython's own tests run in ./edgecall test: the language core, MicroPython's own modules,
# and the asyncio and vfs tests of extmod (the whole default suite: `edgecall bench sim`).
RUN_TESTS_DIRS = ("basics", "micropython")
RUN_TESTS_EXTMOD = ("asyncio_*.py", "vfs_*.py")


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[manager.DeviceInfo]:
    """One blank ARM devkit (the base firmware: MicroPython without the application)."""
    root = tmp_path_factory.mktemp("sim")
    with sim_dir(root):
        (dev,) = manager.start(ids=["arm0"], root=root, blank=True, baud=BAUD)
        yield dev


def mpremote(port: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MPREMOTE, "connect", port, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def run(port: str, code: str) -> str:
    proc = mpremote(port, "exec", code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_micropython_test_suite_subset_passes(board: manager.DeviceInfo) -> None:
    tests = micropython.source() / "tests"
    extmod = sorted(str(p.relative_to(tests)) for pat in RUN_TESTS_EXTMOD for p in (tests / "extmod").glob(pat))
    assert len(extmod) > 20
    result = mptests.run(board.port or "", ["-d", *RUN_TESTS_DIRS], BAUD)
    result.add(mptests.run(board.port or "", extmod, BAUD))
    assert result.failed == 0 and result.returncode == 0, (result.failures, result.tail)
    assert result.passed >= 650, result.as_dict()


def test_lines_end_in_crlf(board: manager.DeviceInfo) -> None:
    with serial.Serial(board.port, BAUD, timeout=2) as s:
        s.write(b"\r\x03\x03\x02")  # interrupt, then Ctrl-B: the friendly REPL (run-tests leaves the raw one)
        time.sleep(0.5)
        s.reset_input_buffer()
        s.write(b"print('a'); print('b')\r")
        deadline = time.monotonic() + 5
        out = b""
        while b"b\r\n>>> " not in out and time.monotonic() < deadline:
            out += s.read(64)
    assert b"a\r\nb\r\n>>> " in out, out
    assert b"\n" not in out.replace(b"\r\n", b""), out


def test_the_board_identifies_itself(board: manager.DeviceInfo) -> None:
    out = run(board.port, "import sys, os, machine; print(sys.platform, os.uname().machine); "
                          "print(machine.unique_id().hex(), machine.reset_cause() == machine.PWRON_RESET)")
    assert "qemu mps2-an386 with Cortex-M4" in out
    assert f"{state.unique_id('arm0')} True" in out


def test_allocation_loop_completes_on_the_192k_heap(board: manager.DeviceInfo) -> None:
    out = run(board.port, "import gc\nfor i in range(2000): x = bytearray(1000)\n"
                          "print('done', gc.mem_free() + gc.mem_alloc())")
    done = out.split()
    assert done[0] == "done" and 185_000 <= int(done[1]) <= 192 * 1024, out  # less the GC's block table


def test_filesystem_is_the_flash(board: manager.DeviceInfo, tmp_path: Path) -> None:
    df = mpremote(board.port, "df")
    assert df.returncode == 0, df.stderr
    line = next(ln for ln in df.stdout.splitlines() if ln.rstrip().endswith("/"))
    size = int(line.split()[1])
    assert size == devkit.FLASH_BYTES, df.stdout
    data = os.urandom(5000)
    (tmp_path / "blob.bin").write_bytes(data)
    assert mpremote(board.port, "cp", str(tmp_path / "blob.bin"), ":blob.bin").returncode == 0
    ls = mpremote(board.port, "fs", "ls", ":")
    assert any(ln.split() == ["5000", "blob.bin"] for ln in ls.stdout.splitlines()), ls.stdout
    assert mpremote(board.port, "cp", ":blob.bin", str(tmp_path / "back.bin")).returncode == 0
    assert (tmp_path / "back.bin").read_bytes() == data
    # The flash is a file on the host that survives the board: the bytes are in it.
    flash = Path(os.environ["EDGECALL_SIM_DIR"]) / "arm0" / qemu.FLASH_FILE
    assert flash.stat().st_size == devkit.FLASH_BYTES
    assert mpremote(board.port, "rm", ":blob.bin").returncode == 0


def test_a_file_larger_than_the_free_space_fails_with_enospc(board: manager.DeviceInfo) -> None:
    # MicroPython's errno module has no ENOSPC name on any port; littlefs reports 28 (ENOSPC).
    out = run(board.port, "import os\nfree = os.statvfs('/')[0] * os.statvfs('/')[3]\n"
                          "b = bytes(4096)\ntry:\n f = open('big', 'wb')\n"
                          " for i in range(free // 4096 + 8): f.write(b)\n f.close(); print('no error')\n"
                          "except OSError as e:\n print('errno', e.errno == 28)\n"
                          "try: f.close()\nexcept OSError: pass\nos.remove('big'); print('free', os.statvfs('/')[3])")
    assert "errno True" in out, out
    assert "no error" not in out


def test_mpremote_eval_run_mount_resume_soft_reset(board: manager.DeviceInfo, tmp_path: Path) -> None:
    assert mpremote(board.port, "eval", "6*7").stdout.strip() == "42"
    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('hello from', sys.platform)\n")
    assert "hello from qemu" in mpremote(board.port, "run", str(script)).stdout
    (tmp_path / "pkg.py").write_text("VALUE = 1234\n")
    out = mpremote(board.port, "mount", str(tmp_path), "exec", "import pkg; print(pkg.VALUE)").stdout
    assert "1234" in out
    out = mpremote(board.port, "exec", "x_kept = 99", "resume", "exec", "print(x_kept)").stdout
    assert "99" in out
    out = mpremote(board.port, "exec", "y_gone = 1", "soft-reset", "exec", "print('y_gone' in globals())").stdout
    assert "False" in out


def test_mpremote_repl_is_a_terminal(board: manager.DeviceInfo) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen([*MPREMOTE, "connect", board.port, "repl"], stdin=slave, stdout=slave,
                            stderr=slave, cwd=ROOT, close_fds=True)
    os.close(slave)
    try:
        out = b""
        deadline = time.monotonic() + 20
        sent = False
        while time.monotonic() < deadline and b"579\r\n" not in out:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                out += os.read(master, 4096)
            if b"Use Ctrl-] " in out and not sent:
                time.sleep(0.3)
                os.write(master, b"\r123+456\r")
                sent = True
        assert b"579\r\n" in out, out
        os.write(master, b"\x1d")
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_reset_and_watchdog_reset_reboot_the_board(board: manager.DeviceInfo) -> None:
    d = state.DeviceDir("arm0", Path(os.environ["EDGECALL_SIM_DIR"]))
    boots = d.read().boots
    assert mpremote(board.port, "reset").returncode == 0
    _wait_boots(d, boots + 1)
    assert "True" in run(board.port, "import machine; print(machine.reset_cause() == machine.HARD_RESET)")
    boots = d.read().boots
    # A started watchdog that nobody feeds resets the board (the REPL frees it only when it starts).
    mpremote(board.port, "exec", "--no-follow", "import machine, time\nw = machine.WDT(timeout=500)\ntime.sleep(5)")
    _wait_boots(d, boots + 1)
    assert "True" in run(board.port, "import machine; print(machine.reset_cause() == machine.WDT_RESET)")


def _wait_boots(d: state.DeviceDir, n: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while d.read().boots < n:
        assert time.monotonic() < deadline, f"the board did not boot again ({d.read()})"
        time.sleep(0.1)


def test_power_cut_during_a_write_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    old, new = b"O" * 20000, b"N" * 20000
    outcomes = set()
    with sim_dir(tmp_path):
        (dev,) = manager.start(ids=["cut"], root=tmp_path, blank=True, baud=BAUD)
        run(dev.port, f"f = open('data', 'wb'); f.write(b'O' * {len(old)}); f.close()")
        for delay in (0.05, 0.15, 0.3):
            with serial.Serial(dev.port, BAUD, timeout=1) as s:
                s.write(b"\r\x03\x03")
                time.sleep(0.2)
                code = b"f = open('data', 'wb')\r" + b"for i in range(20): f.write(b'N' * 1000)\r\r" + b"f.close()\r"
                s.write(code)
                time.sleep(delay)
                manager.power_cut("cut", tmp_path)
            (dev,) = manager.start(ids=["cut"], root=tmp_path, baud=BAUD)
            got = run(dev.port, "print(open('data','rb').read().count(b'N'), open('data','rb').read().count(b'O'))")
            n_new, n_old = (int(v) for v in got.split()[-2:])
            assert (n_new, n_old) in ((0, len(old)), (len(new), 0)), got
            outcomes.add(n_new > 0)
            run(dev.port, f"f = open('data', 'wb'); f.write(b'O' * {len(old)}); f.close()")
    assert outcomes, "no power cut happened"


def test_a_flash_file_that_is_not_littlefs_is_a_clear_error(tmp_path: Path) -> None:
    with sim_dir(tmp_path):
        d = state.DeviceDir("junk", tmp_path)
        d.path.mkdir(parents=True)
        (d.path / qemu.FLASH_FILE).write_bytes(os.urandom(4096) * 256)
        with pytest.raises(manager.SimError, match="not a littlefs"):
            manager.start(ids=["junk"], root=tmp_path)
        (d.path / qemu.FLASH_FILE).write_bytes(b"\xff" * 1000)
        with pytest.raises(manager.SimError, match="1048576"):
            manager.start(ids=["junk"], root=tmp_path)
    (d.path / qemu.FLASH_FILE).write_bytes(os.urandom(4096) * 256)
    proc = subprocess.run([str(ROOT / "edgecall"), "sim", "start", "--blank", "--id", "junk"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "EDGECALL_SIM_DIR": str(tmp_path)})
    # --blank erases the flash: the junk is gone and the board formats it at its first boot.
    assert proc.returncode == 0, proc.stderr
    subprocess.run([str(ROOT / "edgecall"), "sim", "stop", "junk"], capture_output=True, timeout=60,
                   env={**os.environ, "EDGECALL_SIM_DIR": str(tmp_path)})
    (d.path / qemu.FLASH_FILE).write_bytes(os.urandom(4096) * 256)
    proc = subprocess.run([str(ROOT / "edgecall"), "sim", "start", "--id", "junk"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "EDGECALL_SIM_DIR": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not a littlefs" in proc.stderr and "Traceback" not in proc.stderr


def test_an_image_for_another_machine_is_refused() -> None:
    raw = Path(devkit.build().bin).read_bytes()

    def image(board: bytes, payload: bytes) -> mcuboot.Image:
        return mcuboot.Image(version=mcuboot.Version(1, 0, 0, 0), hdr_size=0, img_size=len(payload),
                             protect_tlv_size=0, tlvs={armimage.BOARD_TLV: board}, hashed=payload,
                             total_size=len(payload))

    armimage.check(image(armimage.MACHINE, raw))
    with pytest.raises(armimage.WrongFirmware, match="board 'mps2-an385'"):
        armimage.check(image(b"mps2-an385", raw))
    with pytest.raises(armimage.WrongFirmware, match="stack pointer"):
        armimage.check(image(armimage.MACHINE, struct.pack("<II", 0x20000000 * 4, 0x101) + raw[8:]))
    with pytest.raises(armimage.WrongFirmware, match="not a Thumb address"):
        armimage.check(image(armimage.MACHINE, struct.pack("<II", 0x1000, 0x100) + raw[8:]))


def test_a_devkit_whose_qemu_dies_is_reported(tmp_path: Path) -> None:
    with sim_dir(tmp_path):
        (dev,) = manager.start(ids=["dies"], root=tmp_path, blank=True, baud=BAUD)
        d = state.DeviceDir("dies", tmp_path)
        for _ in range(12):
            pid = d.read().cpu_pid
            if d.read().status == state.STATUS_CRASHED:
                break
            if pid:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        deadline = time.monotonic() + 20
        while d.read().status != state.STATUS_CRASHED and time.monotonic() < deadline:
            time.sleep(0.1)
        assert d.read().status == state.STATUS_CRASHED
        assert "giving up" in d.supervisor_log.read_text()
        t0 = time.monotonic()
        proc = subprocess.run([str(ROOT / "edgecall"), "device", "info", "--device", "dies"], capture_output=True,
                              text=True, timeout=120, env={**os.environ, "EDGECALL_SIM_DIR": str(tmp_path)})
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.strip()
        assert time.monotonic() - t0 < 60


def test_mpremote_bootloader_enters_serial_recovery(tmp_path: Path) -> None:
    from host_tools.device.console import DeviceConsole
    from host_tools.device.resolve import resolve
    from host_tools.transport import open_port

    with sim_dir(tmp_path):
        (dev,) = manager.start(ids=["bl"], root=tmp_path, blank=True, baud=BAUD)
        d = state.DeviceDir("bl", tmp_path)
        boots = d.read().boots
        mpremote(dev.port or "", "bootloader", timeout=30)
        deadline = time.monotonic() + 10
        while d.read().status != state.STATUS_BOOTLOADER:
            assert time.monotonic() < deadline, d.read()
            time.sleep(0.05)
        # The bootloader's SMP server has the port now (serial recovery); its reset boots the board.
        t = resolve(None, "bl", tmp_path)
        with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
            DeviceConsole(port).reset()
        _wait_boots(d, boots + 1)
        assert d.read().status == state.STATUS_RUNNING
        assert "True" in run(dev.port or "", "import machine; print(machine.reset_cause() == machine.HARD_RESET)")


def _transfer_time(port: str, baud: int, n: int) -> float:
    """Seconds from sending a raw-REPL command to the end of its n bytes of output, at `baud`."""
    with serial.Serial(port, baud, timeout=10) as s:
        s.write(b"\r\x03\x03")
        time.sleep(0.2)
        s.reset_input_buffer()
        s.write(b"\x01")
        time.sleep(0.2)
        s.reset_input_buffer()
        t0 = time.monotonic()
        s.write(b"print('x' * %d)\x04" % n)
        data = b""
        while data.count(b"\x04") < 2:
            chunk = s.read(max(1, s.in_waiting))
            assert chunk, "the device stopped answering"
            data += chunk
        elapsed = time.monotonic() - t0
        s.write(b"\x02")
    assert b"x" * n in data
    return elapsed


def test_the_uart_runs_at_the_line_rate_the_host_sets(tmp_path: Path) -> None:
    """Output is paced at baud / 10 bytes per second, as a USB-serial bridge's UART is."""
    n = 1500
    with sim_dir(tmp_path):
        (dev,) = manager.start(ids=["uart"], root=tmp_path, blank=True, baud=9600)
        slow = _transfer_time(dev.port or "", 9600, n)
        fast = _transfer_time(dev.port or "", 115200, n)
    # n bytes out (and the command in) at baud/10 bytes/s; no upper bound: machines here are noisy
    assert slow >= 0.95 * n / 960
    assert fast >= 0.95 * n / 11520
    assert slow > 4 * fast


def test_ctrl_c_interrupts_running_code(board: manager.DeviceInfo) -> None:
    with serial.Serial(board.port, BAUD, timeout=10) as s:
        s.write(b"\r\x03\x03\x01")
        time.sleep(0.3)
        s.reset_input_buffer()
        s.write(b"while True:\n    pass\x04")
        assert s.read(2) == b"OK"
        time.sleep(0.5)
        s.write(b"\x03")
        out = b""
        deadline = time.monotonic() + 10
        while out.count(b"\x04") < 2 and time.monotonic() < deadline:
            out += s.read(max(1, s.in_waiting))
        assert b"KeyboardInterrupt" in out, out
        s.write(b"\x02")
    assert "42" in run(board.port, "print(40 + 2)")  # and the board goes on
