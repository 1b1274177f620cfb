"""An ARM devkit's boot decision and swap, from MCUboot's image trailers (MCUboot docs/design.md:
"Image trailers", "High-level operation", "Image swapping"; swap-using-scratch).

At every reset (Bootloader.on_reset):
1. programmed images (slot files shorter than the slot) are padded into slot files (slots.py);
2. a swap in progress (swap.json, the bootloader's own status file) is finished from its step,
   and what it leaves boots (step 3 waits for the next reset, as in MCUboot);
3. otherwise the swap type from the two trailers (trailer.swap_type): TEST or PERM (the secondary's magic
   written by a state write) swaps a secondary that verifies — hash, key, signature, board — and
   is not a downgrade (unless allowed); one that fails is erased and the primary marked OK, as
   MCUboot does. REVERT (the primary booted for a test: magic good, copy_done set, image_ok
   still unset — the application did not confirm it) swaps the previous image back;
4. the primary is verified and booted (Bootloader).

The swap, each step one atomic file replacement, recorded in swap.json after it completes (a power
cut re-runs the step it interrupted; every step can run twice):
   1. scratch.bin <- the primary's image area
   2. primary <- the secondary's image area, with a new trailer: magic, swap_info (the swap type),
      swap_size; image_ok set for a permanent swap; copy_done unset
   3. secondary <- scratch, its trailer erased (the old image, bootable again by a revert)
   4. primary's copy_done set (and image_ok for a revert)      then swap.json is removed.
After a test swap the primary's trailer is MCUboot's state III until the application confirms
(hal/devkit/slot.c writes image_ok): the next reset reverts an image that did not.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from host_tools.firmware import mcuboot
from host_tools.sim.bootloader import trailer as tr
from host_tools.sim.bootloader.slots import SlotFiles
from host_tools.sim.bootloader.store import atomic_write

if TYPE_CHECKING:
    from host_tools.sim.bootloader.boot import Bootloader

SWAP = "swap.json"
SCRATCH = "scratch.bin"
DOWNGRADE = "downgrade.json"
KIND_TYPE = {"test": tr.SwapType.TEST, "perm": tr.SwapType.PERM, "revert": tr.SwapType.REVERT}


class ArmBoot:
    def __init__(self, boot: Bootloader) -> None:
        self.boot = boot
        self.store = boot.store
        self.slots = SlotFiles(boot.store)

    def log(self, msg: str) -> None:
        self.boot.log(msg)

    # ---- the decision (steps 1-3; the caller boots the primary)
    def prepare(self) -> None:
        for what in self.slots.normalize():
            self.log(what)
        if self.store.path(SWAP).exists():
            self.resume_swap()
            return  # MCUboot boots what a resumed swap leaves; the trailers count from the next reset
        kind = self.slots.swap_type()
        if kind in (tr.SwapType.TEST, tr.SwapType.PERM):
            self._upgrade(kind)
        elif kind is tr.SwapType.REVERT:
            if self.boot.verify(self.slots.image(1)) is not None:
                self.log("test image not confirmed: reverting")
                self.start_swap("revert")
            else:
                self.log("test image not confirmed, but no previous image to revert to: keeping it")
                self.mark_primary_ok()
        self.store.path(DOWNGRADE).unlink(missing_ok=True)

    def _upgrade(self, kind: tr.SwapType) -> None:
        cand = self.boot.verify(self.slots.image(1))
        cur = self.boot.primary()
        if cand is None:
            self.log("pending image invalid: erased")
            self.slots.erase(1)
            self.mark_primary_ok()
        elif cur is not None and cand.version.key() < cur.version.key() and not self.downgrade_allowed(cand.hash):
            self.log(f"downgrade {cur.version} -> {cand.version} refused: erased")
            self.slots.erase(1)
            self.mark_primary_ok()
        else:
            self.start_swap("perm" if kind is tr.SwapType.PERM else "test")

    def downgrade_allowed(self, image_hash: bytes) -> bool:
        if self.store.config().get("allow_downgrade"):
            return True
        return self.store.json(DOWNGRADE).get("hash") == image_hash.hex()

    def allow_downgrade_once(self, image_hash: bytes) -> None:
        self.store.write_json(DOWNGRADE, {"hash": image_hash.hex()})

    # ---- trailer writes (MCUboot's boot_set_confirmed / boot_set_next)
    def mark_primary_ok(self) -> None:
        """image_ok of the primary when its magic is good and image_ok unset (boot_set_confirmed)."""
        t = self.slots.trailer(0)
        if t.magic is tr.Magic.GOOD and t.image_ok is tr.Flag.UNSET:
            self.slots.set_trailer(0, tr.Trailer(t.magic, tr.Flag.SET, t.copy_done, t.swap_info, t.swap_size))

    def set_pending(self, permanent: bool) -> None:
        """Marks the secondary for the next boot: magic, image_ok when permanent, swap_info."""
        t = self.slots.trailer(1)
        if t.magic is tr.Magic.GOOD:
            return  # a swap is already scheduled
        if t.magic is tr.Magic.BAD:
            self.slots.erase(1)
            raise ValueError("the secondary slot's trailer is corrupt: slot erased")
        kind = tr.SwapType.PERM if permanent else tr.SwapType.TEST
        self.slots.set_trailer(1, tr.Trailer(tr.Magic.GOOD, tr.Flag.SET if permanent else tr.Flag.UNSET,
                                             tr.Flag.UNSET, int(kind), t.swap_size))

    # ---- the swap
    def start_swap(self, kind: str) -> None:
        sizes = [len(img) for img in (self.slots.image(0), self.slots.image(1)) if img is not None]
        self.store.write_json(SWAP, {"kind": kind, "step": 0, "size": max(sizes, default=0)})
        self.resume_swap()

    def _step(self, st: dict[str, object], step: int) -> None:
        delay = float(self.store.config().get("swap_step_ms", 0)) / 1000.0  # emulated flash time
        if delay > 0:
            time.sleep(delay)
        self.store.write_json(SWAP, {**st, "step": step})
        hook: Callable[[str, int], None] | None = self.boot.step_hook
        if hook is not None:
            hook(str(st["kind"]), step)

    def resume_swap(self) -> None:
        st = self.store.json(SWAP)
        kind, step = str(st.get("kind", "test")), int(st.get("step", 0))
        swap_type = KIND_TYPE.get(kind, tr.SwapType.TEST)
        size = int(st.get("size", 0))
        scratch = self.store.path(SCRATCH)
        self.log(f"swap ({kind}) from step {step}")
        if step < 1:
            atomic_write(scratch, self.slots.image_area(0))
            self._step(st, 1)
        if step < 2:
            new = tr.Trailer(tr.Magic.GOOD, tr.Flag.SET if swap_type is tr.SwapType.PERM else tr.Flag.UNSET,
                             tr.Flag.UNSET, int(swap_type), size)
            self.slots.program(0, self.slots.image_area(1), new)
            self._step(st, 2)
        if step < 3:
            if scratch.exists():
                self.slots.program(1, scratch.read_bytes())
                scratch.unlink()
            self._step(st, 3)
        if step < 4:
            t = self.slots.trailer(0)
            ok = tr.Flag.SET if swap_type in (tr.SwapType.PERM, tr.SwapType.REVERT) else t.image_ok
            self.slots.set_trailer(0, tr.Trailer(tr.Magic.GOOD, ok, tr.Flag.SET, int(swap_type), size))
            self._step(st, 4)
        self.store.path(SWAP).unlink(missing_ok=True)


def version_text(v: mcuboot.Version) -> str:
    """A version as MCUboot and Zephyr's img_mgmt print it: major.minor.revision[.build]."""
    return f"{v.major}.{v.minor}.{v.revision}" + (f".{v.build}" if v.build else "")
