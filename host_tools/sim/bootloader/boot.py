"""The boot decision, run at every reset (MCUboot's boot_go).

The boot state is MCUboot's image trailers in the slot files, and the decision is MCUboot's
(arm.py: finish a swap, then test/permanent/revert from the trailers); then the primary is
verified (hash, key, signature, the board it is for) and its firmware binary handed to QEMU
(Decision.kernel, written into the boot folder by install.py). No verifiable primary: serial
recovery (SMP) instead. No bootloader config, or an empty primary slot with no image ever
installed: the board boots as it is (a devkit with the base firmware, MicroPython without the
application, host_tools/native/devkit.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from host_tools.firmware import armimage, mcuboot
from host_tools.sim.bootloader import install
from host_tools.sim.bootloader.arm import ArmBoot
from host_tools.sim.bootloader.store import BootStore


@dataclass(frozen=True)
class Decision:
    run: bool  # start MicroPython (else stay in serial recovery)
    reason: str
    kernel: Path | None = None  # the firmware binary to boot (None: the base firmware)


class Bootloader:
    def __init__(self, device_dir: Path, log: Callable[[str], None] | None = None) -> None:
        self.store = BootStore(device_dir)
        self._log: Callable[[str], None] = log or (lambda msg: None)
        self.step_hook: Callable[[str, int], None] | None = None  # called between swap steps
        self.mcuboot = ArmBoot(self)  # the trailer-based path

    def log(self, msg: str) -> None:
        self._log(f"boot: {msg}")

    # ---- verification
    def verify(self, data: bytes | None) -> mcuboot.Image | None:
        if data is None:
            return None
        try:
            img = mcuboot.verify(data, self.store.public_der)
            armimage.check(img)
            return img
        except (mcuboot.InvalidImage, armimage.WrongFirmware) as e:
            self.log(f"image rejected: {e}")
            return None

    def primary(self) -> mcuboot.Image | None:
        return self.verify(self.store.slot(0))

    # ---- the decision
    def on_reset(self) -> Decision:
        s = self.store
        if not s.enabled():
            return Decision(True, "no bootloader config: flash boots as it is")
        s.dir.mkdir(parents=True, exist_ok=True)
        self.mcuboot.prepare()
        return self._boot_primary()

    def _boot_primary(self) -> Decision:
        s = self.store
        raw0 = s.slot(0)
        if raw0 is None:
            if install.installed_binary(s.dir):
                return Decision(False, "no image in the primary slot")
            return Decision(True, "empty primary slot: the board boots as it is")
        img = self.primary()
        if img is None:
            return Decision(False, "primary image invalid")
        return Decision(True, f"booting {img.version}", install.install_binary(s.dir, img))
