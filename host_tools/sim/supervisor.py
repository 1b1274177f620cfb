"""The supervisor of one virtual devkit: `python -m host_tools.sim.supervisor DEVICE_DIR`.

It is the device's board around the CPU: it owns the pseudo-terminal (the USB-serial bridge the
host opens), paces both directions at the line rate the host set on it (read from the master
side, see line.py), and runs the CPU's process, QEMU (host_tools/sim/qemu.py), with its
stdin/stdout as the UART. A hard reset (machine.reset(): QEMU exits with qemu.EXIT_RESET) starts
a new QEMU on the same pty; so does a watchdog reset (QEMU under -no-reboot exits with 0) and a
crash, a few times. SIGTERM stops the device. A power cut is SIGKILL of the whole process group
(this process leads it), done by the manager.

Before each start of QEMU the bootloader (host_tools/sim/bootloader, MCUboot semantics) runs in
this process: it finishes or reverts swaps and chooses the firmware binary QEMU boots. When it
finds no bootable image, or the firmware calls machine.bootloader() (QEMU exits with
qemu.EXIT_BOOTLOADER), the bootloader's SMP server answers on the pty instead (serial recovery),
paced like the application's UART.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from host_tools.sim import line, qemu, state
from host_tools.sim.bootloader import Bootloader
from host_tools.sim.bootloader.smp_server import SmpServer
from host_tools.sim.pacing import Pacer

F_SETPIPE_SZ = 1031
PIPE_BYTES = 4096  # a small TX FIFO: the VM blocks on print() when the host side is behind
STALL_DROP_SECONDS = 0.5  # host not reading the pty for this long: drop output, as a UART would
MAX_CRASHES = 5
CRASH_WINDOW = 30.0
RESET_POWER_ON, RESET_HARD, RESET_WATCHDOG = 1, 2, 3


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Supervisor:
    def __init__(self, device_dir: Path) -> None:
        self.dir = state.DeviceDir(device_dir.name, device_dir.parent)
        self.cfg = self.dir.read()
        self.master, self.slave = os.openpty()
        line.configure(self.slave, self.cfg.baud)
        os.set_blocking(self.master, False)
        self.port = os.ttyname(self.slave)
        self.rx, self.tx = Pacer(), Pacer()
        self.to_cpu = b""  # received from the host, not yet taken by the device
        self.to_host = b""  # sent by the device, not yet on the wire
        self.stalled_since: float | None = None
        self.crashes: list[float] = []
        self.stopping = False
        self.cpu: subprocess.Popen[bytes] | None = None
        self.ctl_r = -1
        self.ctl_buf = b""
        self.boot = Bootloader(self.dir.path, log=log)
        self.recovery: SmpServer | None = None  # serial recovery (bootloader mode) while set
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def _on_term(self, *_: object) -> None:
        self.stopping = True

    # ---- the CPU (QEMU)
    def enter_recovery(self, reason: str) -> None:
        log(f"bootloader: serial recovery ({reason})")
        self.recovery = SmpServer(self.boot)
        self.to_cpu = b""
        self.dir.update(status=state.STATUS_BOOTLOADER, cpu_pid=None)

    def spawn(self, reset_cause: int) -> None:
        self.recovery = None
        try:
            decision = self.boot.on_reset()
        except Exception as e:  # noqa: BLE001 - a bootloader bug must not kill the board
            log(f"bootloader failed: {e!r}")
            self.enter_recovery(f"bootloader error {e}")
            return
        log(f"bootloader: {decision.reason}")
        if not decision.run:
            self.enter_recovery(decision.reason)
            return
        ctl_r, ctl_w = os.pipe()
        device_log: IO[bytes] = open(self.dir.device_log, "ab")  # noqa: SIM115 (child keeps it)
        kernel = decision.kernel or Path(self.cfg.extra["base_firmware"])
        shift = self.cfg.extra.get("icount_shift")  # measurements only (manager.start)
        cmd = qemu.command(kernel, state.unique_id(self.cfg.id), reset_cause, ctl_w,
                           icount_shift=int(shift) if shift is not None else None,
                           plugin=self.cfg.extra.get("qemu_plugin") or None)
        self.cpu = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=device_log,
            pass_fds=(ctl_w,), cwd=self.dir.path,
        )
        device_log.close()
        os.close(ctl_w)
        assert self.cpu.stdin is not None and self.cpu.stdout is not None
        for pipe in (self.cpu.stdin, self.cpu.stdout):
            try:
                fcntl.fcntl(pipe.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass
            os.set_blocking(pipe.fileno(), False)
        self.ctl_r = ctl_r
        self.ctl_buf = b""
        self.to_cpu = b""
        self.dir.update(cpu_pid=self.cpu.pid, status=state.STATUS_BOOTING)
        log(f"{Path(cmd[0]).name} {self.cpu.pid} started (reset cause {reset_cause})")

    def reap(self) -> None:
        """Called when QEMU has gone: restart it as a board would come back."""
        assert self.cpu is not None
        rc = self.cpu.wait()
        os.close(self.ctl_r)
        self.cpu = None
        if self.stopping:
            return
        if rc == qemu.EXIT_RESET:
            log("hard reset")
            self.spawn(RESET_HARD)
            return
        if rc == qemu.EXIT_BOOTLOADER:
            self.enter_recovery("machine.bootloader()")
            return
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW] + [now]
        log(f"{'watchdog reset' if rc == qemu.EXIT_WATCHDOG else 'exited'}"
            f" (status {rc})")
        if len(self.crashes) >= MAX_CRASHES:
            log("crashing repeatedly: giving up (see device.log)")
            self.dir.update(status=state.STATUS_CRASHED, cpu_pid=None)
            return
        self.spawn(RESET_WATCHDOG)

    def on_control(self, data: bytes) -> None:
        self.ctl_buf += data
        while b"\n" in self.ctl_buf:
            raw, self.ctl_buf = self.ctl_buf.split(b"\n", 1)
            try:
                event = json.loads(raw).get("event")
            except ValueError:
                continue
            log(f"event {event}")
            if event == "ready":
                st = self.dir.read()
                self.dir.update(status=state.STATUS_RUNNING, boots=st.boots + 1)

    # ---- the loop
    def run(self) -> int:
        self.dir.update(pid=os.getpid(), port=self.port, status=state.STATUS_BOOTING)
        log(f"pty {self.port}")
        self.spawn(RESET_POWER_ON)
        while not self.stopping:
            self.step()
        self.shutdown()
        return 0

    def step(self) -> None:
        now = time.monotonic()
        rate = line.read(self.master).bytes_per_second or 1.0
        rlist: list[int] = [self.wake_r]
        wlist: list[int] = []
        timeout: float | None = None
        cpu = self.cpu
        if cpu is not None:
            assert cpu.stdin is not None and cpu.stdout is not None
            rlist.append(self.ctl_r)
            # host -> device
            if self.to_cpu:
                wlist.append(cpu.stdin.fileno())
            elif self.rx.ready(now):
                rlist.append(self.master)
            else:
                timeout = self.rx.wait(now)
            # device -> host
            if not self.to_host:
                rlist.append(cpu.stdout.fileno())
        elif self.recovery is not None:
            if self.recovery.reset_requested and not self.to_host:
                log("bootloader: reset")
                self.spawn(RESET_HARD)
                return
            if self.rx.ready(now):
                rlist.append(self.master)
            else:
                timeout = self.rx.wait(now)
        elif self.dir.read().status != state.STATUS_CRASHED:
            timeout = 0.05
        if self.to_host:
            if self.tx.ready(now):
                wlist.append(self.master)
                timeout = STALL_DROP_SECONDS if timeout is None else min(timeout, STALL_DROP_SECONDS)
            else:
                wait = self.tx.wait(now)
                timeout = wait if timeout is None else min(timeout, wait)
        try:
            readable, writable, _ = select.select(rlist, wlist, [], timeout)
        except InterruptedError:
            return
        now = time.monotonic()
        if self.wake_r in readable:
            try:
                os.read(self.wake_r, 512)
            except BlockingIOError:
                pass
        if cpu is not None:
            assert cpu.stdin is not None and cpu.stdout is not None
            if self.ctl_r in readable:
                data = os.read(self.ctl_r, 4096)
                if data:
                    self.on_control(data)
            if self.master in readable:
                self.read_host(rate, now)
            if cpu.stdin.fileno() in writable:
                self.write_cpu(cpu.stdin.fileno())
            if cpu.stdout.fileno() in readable:
                data = self._read(cpu.stdout.fileno(), Pacer.chunk_size(rate))
                if data == b"":
                    self.reap()
                    return
                self.to_host += data
        elif self.recovery is not None and self.master in readable:
            self.read_host(rate, now)
            if self.to_cpu:
                self.to_host += self.recovery.feed(self.to_cpu)
                self.to_cpu = b""
        if self.to_host:
            if self.master in writable:
                self.write_host(rate, now)
            elif self.tx.ready(now):
                self.stalled_since = self.stalled_since or now
                if now - self.stalled_since >= STALL_DROP_SECONDS:
                    self.to_host = b""  # nobody reads the port: the bytes go nowhere
                    self.stalled_since = None

    @staticmethod
    def _read(fd: int, n: int) -> bytes | None:
        try:
            return os.read(fd, n)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno == errno.EIO:
                return None
            raise

    def read_host(self, rate: float, now: float) -> None:
        data = self._read(self.master, Pacer.chunk_size(rate))
        if data:
            self.rx.sent(len(data), rate, now)
            self.to_cpu = data

    def write_cpu(self, fd: int) -> None:
        try:
            n = os.write(fd, self.to_cpu)
        except BlockingIOError:
            return
        except BrokenPipeError:
            self.to_cpu = b""
            return
        self.to_cpu = self.to_cpu[n:]

    def write_host(self, rate: float, now: float) -> None:
        chunk = self.to_host[: Pacer.chunk_size(rate)]
        try:
            n = os.write(self.master, chunk)
        except BlockingIOError:
            return
        self.stalled_since = None
        self.tx.sent(n, rate, now)
        self.to_host = self.to_host[n:]

    def shutdown(self) -> None:
        cpu = self.cpu
        if cpu is not None:
            cpu.terminate()
            try:
                cpu.wait(timeout=2)
            except subprocess.TimeoutExpired:
                cpu.kill()
                cpu.wait()
        self.dir.update(status=state.STATUS_OFF, pid=None, cpu_pid=None, port=None)
        log("stopped")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m host_tools.sim.supervisor DEVICE_DIR", file=sys.stderr)
        return 2
    return Supervisor(Path(argv[0]).resolve()).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
