"""The boot decision, run at every reset (MCUboot's boot_go).

On an ARM devkit the boot state is MCUboot's image trailers in the slot files, and the decision is
MCUboot's (arm.py: finish a swap, then test/permanent/revert from the trailers). On a WebAssembly
devkit it is kept in JSON beside the slots:

1. a swap in progress (swap.json) is finished from its recorded step, and the result boots;
2. a primary booted for a test (trailer0 "test") that the application did not confirm
   (flash/.boot/image_ok) is swapped back: revert;
3. a pending secondary (trailer1) that verifies and is not a downgrade is swapped in, for one
   test boot or permanently; one that fails is erased;

then, for both, the primary is verified (hash, key, signature) and installed, and MicroPython
starts. No verifiable primary: serial recovery (SMP) instead. No bootloader config or an empty
primary slot with no image ever installed: the board boots as it is (a devkit with plain
MicroPython).

What "installed" means depends on the devkit's kind: a WebAssembly devkit's image is an archive
of the application's files, written into its flash folder (install.py); an ARM devkit's image is
the firmware binary itself (host_tools/native/devkit.py), which the bootloader hands to QEMU
(Decision.kernel); its empty slot boots the base firmware (MicroPython without the application).

The WebAssembly devkit's swap (files, each step atomic and idempotent; swap.json is rewritten after
each):
   step 1: scratch <- slot0    step 2: slot0 <- slot1    step 3: slot1 <- scratch (rename)
   step 4: trailers + image_ok for the new primary        then swap.json is removed.
A power cut anywhere re-runs the current step on the next reset, so the device ends with the old
or the new image, both whole.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from host_tools.firmware import archive, armimage, mcuboot
from host_tools.sim.bootloader import install
from host_tools.sim.bootloader.arm import ArmBoot
from host_tools.sim.bootloader.store import BootStore, atomic_write

SWAP = "swap.json"


@dataclass(frozen=True)
class Decision:
    run: bool  # start MicroPython (else stay in serial recovery)
    reason: str
    kernel: Path | None = None  # ARM devkits: the firmware binary to boot (None: the base firmware)


class Bootloader:
    def __init__(self, device_dir: Path, log: Callable[[str], None] | None = None, kind: str = "wasm") -> None:
        self.store = BootStore(device_dir)
        self.arm = kind == "arm"
        self._log: Callable[[str], None] = log or (lambda msg: None)
        self.step_hook: Callable[[str, int], None] | None = None  # called between swap steps
        self.mcuboot = ArmBoot(self) if self.arm else None  # the trailer-based path

    def log(self, msg: str) -> None:
        self._log(f"boot: {msg}")

    # ---- verification
    def verify(self, data: bytes | None) -> mcuboot.Image | None:
        if data is None:
            return None
        try:
            img = mcuboot.verify(data, self.store.public_der)
            if self.arm:
                armimage.check(img)
            else:
                archive.unpack(img.payload)
            return img
        except (mcuboot.InvalidImage, archive.ArchiveError, armimage.WrongFirmware) as e:
            self.log(f"image rejected: {e}")
            return None

    def primary(self) -> mcuboot.Image | None:
        return self.verify(self.store.slot(0))

    # ---- swap
    def start_swap(self, kind: str) -> None:
        if self.mcuboot is not None:
            self.mcuboot.start_swap(kind)
            return
        self.store.write_json(SWAP, {"kind": kind, "step": 0})
        self.resume_swap()

    def _step(self, kind: str, step: int) -> None:
        delay = float(self.store.config().get("swap_step_ms", 0)) / 1000.0  # emulated flash time
        if delay > 0:
            time.sleep(delay)
        self.store.write_json(SWAP, {"kind": kind, "step": step})
        if self.step_hook is not None:
            self.step_hook(kind, step)

    def resume_swap(self) -> None:
        if self.mcuboot is not None:
            self.mcuboot.resume_swap()
            return
        st = self.store.json(SWAP)
        kind, step = str(st.get("kind", "test")), int(st.get("step", 0))
        s = self.store
        self.log(f"swap ({kind}) from step {step}")
        if step < 1:
            slot0 = s.slot(0)
            if slot0 is not None:
                atomic_write(s.path("scratch.bin"), slot0)
            else:
                s.path("scratch.bin").unlink(missing_ok=True)
            self._step(kind, 1)
        if step < 2:
            slot1 = s.slot(1)
            if slot1 is not None:
                s.write_slot(0, slot1)
            self._step(kind, 2)
        if step < 3:
            if s.path("scratch.bin").exists():
                os.replace(s.path("scratch.bin"), s.path("slot1.bin"))
            self._step(kind, 3)
        if step < 4:
            s.write_trailer(1, {"pending": False})
            new = s.slot(0)
            img = mcuboot.parse(new) if new is not None else None
            s.write_trailer(0, {"test": kind == "test"})
            if img is not None and kind in ("perm", "revert"):
                s.set_image_ok(img.hash)
            self._step(kind, 4)
        s.path(SWAP).unlink(missing_ok=True)

    # ---- the decision
    def on_reset(self) -> Decision:
        s = self.store
        if not s.enabled():
            return Decision(True, "no bootloader config: flash boots as it is")
        s.dir.mkdir(parents=True, exist_ok=True)
        if self.mcuboot is not None:
            self.mcuboot.prepare()
        else:
            self._prepare_wasm()
        return self._boot_primary()

    def _prepare_wasm(self) -> None:
        s = self.store
        if s.path(SWAP).exists():
            self.resume_swap()
            return  # what a resumed swap leaves boots (its test image is not reverted at once)
        raw0 = s.slot(0)
        if raw0 is not None and s.trailer(0).get("test"):
            try:
                h = mcuboot.parse(raw0).hash
            except mcuboot.InvalidImage:
                h = b""
            if not s.image_ok(h) and s.slot(1) is not None:
                self.log("test image not confirmed: reverting")
                self.start_swap("revert")
            else:
                s.write_trailer(0, {"test": False})
        t1 = s.trailer(1)
        if t1.get("pending"):
            cand = self.verify(s.slot(1))
            cur = self.primary()
            allow = bool(t1.get("force")) or bool(s.config().get("allow_downgrade"))
            if cand is None:
                self.log("pending image invalid: erased")
                s.erase_slot(1)
            elif cur is not None and cand.version.key() < cur.version.key() and not allow:
                self.log(f"downgrade {cur.version} -> {cand.version} refused")
                s.write_trailer(1, {"pending": False})
            else:
                self.start_swap("perm" if t1.get("permanent") else "test")

    def _boot_primary(self) -> Decision:
        s = self.store
        raw0 = s.slot(0)
        if raw0 is None:
            if (install.installed_binary(s.dir) if self.arm else install.installed(s.flash)):
                return Decision(False, "no image in the primary slot")
            return Decision(True, "empty primary slot: the board boots as it is")
        img = self.primary()
        if img is None:
            return Decision(False, "primary image invalid")
        if self.arm:
            return Decision(True, f"booting {img.version}", install.install_binary(s.dir, img))
        install.install(s.flash, img)
        return Decision(True, f"booting {img.version}")
