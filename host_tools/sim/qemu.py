"""How the supervisor runs an ARM devkit's CPU: QEMU's mps2-an386 with the firmware the bootloader
chose (host_tools/native/devkit.py builds it; hal/devkit is its board folder).

- UART0 is QEMU's stdio (a pipe pair to the supervisor, which owns the pty and paces it at the
  line rate), with no monitor multiplexed into it: every byte is the board's;
- semihosting (target=native) gives the board its flash file (`flash=`, relative to the device
  folder, QEMU's working directory), its unique id, reset cause and the time at power-on on the
  command line (`-append`); the semihosting console is the event channel (JSON lines such as
  {"event": "ready"} on a pipe the supervisor reads);
- `-no-reboot`: a reset request (the watchdog's, SYSRESETREQ) ends QEMU with status 0, so the
  supervisor runs the bootloader again as a board's reset would; machine.reset() and
  machine.bootloader() end it with EXIT_RESET / EXIT_BOOTLOADER (hal/devkit/machine_devkit.c);
- the LAN9118 Ethernet gets QEMU's user-mode network (`-nic user`): the host is 10.0.2.2;
- for measurements only (off by default; `edgecall bench sim` turns them on through the device's
  state, see manager.start): `-icount shift=N` (virtual time advances 2**N ns per instruction while
  the CPU runs, and with the host's clock while it sleeps) and a TCG plugin (`-plugin`, e.g. the
  instruction counter host_tools/bench/insn_count.c).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

MACHINE = "mps2-an386"
FLASH_FILE = "flash.bin"
EXIT_RESET = 42
EXIT_BOOTLOADER = 43
EXIT_WATCHDOG = 0  # a reset request under -no-reboot (watchdog, SYSRESETREQ)


class QemuMissing(RuntimeError):
    """qemu-system-arm is not installed."""


def binary() -> str:
    found = shutil.which("qemu-system-arm")
    if found is None:
        raise QemuMissing("qemu-system-arm not found: install the Debian package qemu-system-arm "
                          "(./edgecall installs it)")
    return found


ICOUNT_SHIFT_MAX = 10  # QEMU's own limit for -icount shift


def command(kernel: Path, uid: str, reset_cause: int, event_fd: int, net: bool = True,
            icount_shift: int | None = None, plugin: str | None = None) -> list[str]:
    """The QEMU command line for one boot of a devkit (run with cwd = the device folder).
    `icount_shift`: run under `-icount shift=N`; `plugin`: a `-plugin` argument (FILE[,name=value...])."""
    append = f"uid={uid} reset={reset_cause} time={time.time():.3f} flash={FLASH_FILE}"
    cmd = [
        binary(), "-M", MACHINE, "-display", "none", "-monitor", "none", "-serial", "stdio",
        "-no-reboot",
        "-chardev", f"file,id=events,path=/proc/self/fd/{event_fd}",
        "-semihosting-config", "enable=on,target=native,chardev=events",
        "-kernel", str(kernel), "-append", append,
    ]
    cmd += ["-nic", "user"] if net else ["-nic", "none"]
    if icount_shift is not None:
        if not 0 <= icount_shift <= ICOUNT_SHIFT_MAX:
            raise ValueError(f"icount shift must be 0..{ICOUNT_SHIFT_MAX}, not {icount_shift}")
        cmd += ["-icount", f"shift={icount_shift}"]
    if plugin:
        cmd += ["-plugin", plugin]
    return cmd
