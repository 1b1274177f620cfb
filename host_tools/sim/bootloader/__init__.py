"""The virtual devkit's bootloader: MCUboot semantics in the supervisor's process.

It is separate firmware from the MicroPython application, as MCUboot is on a board. Everything
it keeps lives in the device folder's boot/ (see store.py). At every reset the supervisor calls
`Bootloader.on_reset()` (boot.py): finish a swap, test/permanent/revert, validate the primary
slot, hand it to the CPU, then the supervisor starts MicroPython — or stays in serial recovery,
where `SmpServer` (smp_server.py) speaks SMP image/OS management on the pty.

The update path it claims: MCUboot with swap-using-scratch, and its serial
recovery built with direct image upload and the image state group (recovery.py). `edgecall flash`
and `smpmgr image upload --slot 2` put an image into the secondary slot, mark it for a test boot or
permanently, and reset; the bootloader swaps it in; the firmware confirms itself by writing
image_ok into the primary slot's trailer (hal/devkit/slot.c, as boot_set_confirmed() does), or
the next reset reverts it. Boot state is MCUboot's image trailer at the end of each fixed-size slot
file (trailer.py, slots.py, arm.py), which the application's mcumgr image group reads too.
`smpmgr image upload` without a slot writes the primary slot directly, as MCUboot's serial recovery
does: restarted at offset 0, verified at the next boot. Ours beyond MCUboot, said where they are:
an interrupted upload into the secondary slot resumes (as mcumgr's img_mgmt does), uploads are
verified before they land, and a downgrade needs "force".
"""
from host_tools.sim.bootloader.boot import Bootloader, Decision
from host_tools.sim.bootloader.store import BootStore, write_config

__all__ = ["BootStore", "Bootloader", "Decision", "write_config"]
