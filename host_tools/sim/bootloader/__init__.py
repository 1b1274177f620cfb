"""The virtual devkit's bootloader: MCUboot semantics in the supervisor's process.

It is separate firmware from the MicroPython application, as MCUboot is on a board. Everything
it keeps lives in the device folder's boot/ (see store.py); the application's only link to it
is the flash file .boot/image_ok (hal/boot.py: confirm()). At every reset the supervisor calls
`Bootloader.on_reset()` (boot.py): finish or revert a swap, validate the primary slot, install its
files into the flash folder, then the supervisor starts MicroPython — or stays in serial recovery,
where `SmpServer` (smp_server.py) speaks SMP image/OS management on the pty.
"""
from host_tools.sim.bootloader.boot import Bootloader, Decision
from host_tools.sim.bootloader.store import BootStore, write_config

__all__ = ["BootStore", "Bootloader", "Decision", "write_config"]
