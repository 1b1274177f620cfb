"""An ARM devkit's serial recovery image group, as MCUboot's boot_serial answers it when built with
MCUBOOT_SERIAL_DIRECT_IMAGE_UPLOAD, MCUBOOT_SERIAL_IMG_GRP_IMAGE_STATE and
MCUBOOT_SERIAL_IMG_GRP_HASH (swap-using-scratch): the state comes from the slots' trailers.

- state read (bs_list): every slot whose image validates (hash, key, signature, board), with its
  version (major.minor.revision[.build]), hash, "bootable", and only the flags that hold —
  confirmed / pending / permanent from the swap type of the two trailers; serial recovery has no
  "active" slot. No "splitStatus".
- state write (bs_set) {"hash", "confirm"}: the primary can only be confirmed (image_ok when its
  magic is good); the secondary is marked for the next boot (magic, image_ok when confirm,
  swap_info). Answers the new list. Extensions of ours: a downgrade is refused here unless
  {"force": true} (remembered for that image's next boot) or the config allows it.
- upload with "image" (from the chunk at offset 0): 0 or 1 writes the primary slot directly
  (erased at offset 0, written in place, no resume: every chunk at offset 0 starts over; a chunk
  at another offset than expected is answered with the expected one; verified at the next boot,
  which stays in serial recovery if it does not); 2 writes the secondary slot (the upload path of
  `edgecall flash`: the SmpServer's resumable upload, verified when complete, then the slot with
  its trailer erased).
- erase: the secondary slot, unless it is pending.
"""
from __future__ import annotations

from typing import Any

from host_tools.sim.bootloader import trailer as tr
from host_tools.sim.bootloader.arm import ArmBoot, version_text

DIRECT_PRIMARY = (0, 1)  # upload image numbers of the primary slot (DIRECT_IMAGE_UPLOAD)
SECONDARY = 2


class Refused(Exception):
    """An image group request refused: `rc` (MGMT_ERR) and why."""

    def __init__(self, rc: int, reason: str) -> None:
        super().__init__(reason)
        self.rc, self.reason = rc, reason


EINVAL, ENOENT, EBADSTATE, ENOMEM, ECORRUPT = 3, 5, 6, 2, 9


class ArmImageGroup:
    def __init__(self, arm: ArmBoot) -> None:
        self.arm = arm
        self.slots = arm.slots
        self.direct: dict[str, int] = {}  # the primary upload in progress: {"len", "off"} (RAM only)

    # ---- state
    def images(self) -> list[dict[str, Any]]:
        kind = self.slots.swap_type()
        out = []
        for n in (0, 1):
            img = self.arm.boot.verify(self.slots.image(n))
            if img is None:
                continue
            flags = tr.slot_flags(n, kind)
            entry: dict[str, Any] = {"slot": n, "version": version_text(img.version), "hash": img.hash,
                                     "bootable": True}
            for name in ("confirmed", "pending", "permanent"):
                if getattr(flags, name):
                    entry[name] = True
            out.append(entry)
        return out

    def state(self, req: dict[str, Any], write: bool) -> dict[str, Any]:
        if write:
            self._set(req)
        return {"images": self.images()}

    def _set(self, req: dict[str, Any]) -> None:
        want = req.get("hash")
        confirm = bool(req.get("confirm"))
        imgs = {n: self.arm.boot.verify(self.slots.image(n)) for n in (0, 1)}
        primary = imgs[0]
        if want is None or (primary is not None and bytes(want) == primary.hash):
            if not confirm:
                raise Refused(EINVAL, "the primary image cannot be marked for test: give the hash of the "
                                      "secondary image, or confirm")
            if primary is None:
                raise Refused(ENOENT, "no image in the primary slot")
            self.arm.mark_primary_ok()
            return
        cand = imgs[1]
        if cand is None or bytes(want) != cand.hash:
            raise Refused(ENOENT, "no image with that hash")
        force = bool(req.get("force"))
        if primary is not None and cand.version.key() < primary.version.key():
            if not (force or self.arm.downgrade_allowed(cand.hash)):
                raise Refused(EBADSTATE, f"downgrade refused: {cand.version} is older than the running "
                                         f"{primary.version}")
            self.arm.allow_downgrade_once(cand.hash)
        try:
            self.arm.set_pending(permanent=confirm)
        except ValueError as e:
            raise Refused(EBADSTATE, str(e)) from None

    # ---- upload straight into the primary slot
    def upload_primary(self, off: int, data: bytes, total: object) -> dict[str, Any]:
        if off == 0:
            if not isinstance(total, int) or total <= 0:
                raise Refused(EINVAL, "the first chunk needs len")
            if total > self.slots.area:
                raise Refused(ENOMEM, f"image too large for the slot ({total} > {self.slots.area} bytes)")
            self.slots.erase(0)
            self.direct = {"len": total, "off": 0}
        elif not self.direct or off != self.direct["off"]:
            return {"off": self.direct.get("off", 0)}
        st = self.direct
        if st["off"] + len(data) > st["len"]:
            raise Refused(EINVAL, "data past the announced length")
        if data:
            self.slots.write_at(0, st["off"], data)
            st["off"] += len(data)
        return {"off": st["off"]}

    def erase(self) -> None:
        if self.slots.trailer(1).magic is tr.Magic.GOOD:
            raise Refused(EBADSTATE, "the secondary image is pending: reset first")
        self.slots.erase(1)


__all__ = ["ArmImageGroup", "DIRECT_PRIMARY", "Refused", "SECONDARY"]
