"""An ARM devkit's slots as its flash holds them: boot/slot0.bin (primary) and boot/slot1.bin
(secondary), each a file of exactly the slot size (boot/config.json) — the image from offset 0,
erased flash (0xff) after it, and MCUboot's image trailer in the last bytes (trailer.py). The
board's firmware reads the same files and writes image_ok itself (hal/devkit/slot.c).

Whole-slot writes (an upload landing, a swap step) go to a temporary file renamed over the slot,
so a power cut leaves the old or the new slot; trailer fields are programmed in place, a few
bytes over erased ones, as a flash write does. A slot file of another length is an image as a
programmer writes it (imgtool output without --pad, e.g. a factory's): normalize() pads it to
the slot with an erased trailer (MCUboot state IV: it boots, confirmed) before the bootloader
decides anything.
"""
from __future__ import annotations

from pathlib import Path

from host_tools.firmware import mcuboot
from host_tools.sim.bootloader import trailer as tr
from host_tools.sim.bootloader.store import BootStore, atomic_write


class SlotFiles:
    def __init__(self, store: BootStore) -> None:
        self.store = store

    @property
    def size(self) -> int:
        return self.store.slot_size

    @property
    def area(self) -> int:
        """Bytes of a slot an image may use (the rest is the trailer)."""
        return tr.max_image_size(self.size)

    def path(self, n: int) -> Path:
        return self.store.path(f"slot{n}.bin")

    def raw(self, n: int) -> bytes | None:
        try:
            return self.path(n).read_bytes()
        except FileNotFoundError:
            return None

    # ---- reading
    def image_area(self, n: int) -> bytes:
        """The slot's image area (erased where nothing was written)."""
        data = self.raw(n)
        if data is None or len(data) != self.size:
            return b"\xff" * self.area
        return data[: self.area]

    def image(self, n: int) -> bytes | None:
        """The image in the slot (header to the end of its TLVs); None when the slot is erased."""
        return self.store.slot(n)

    def trailer(self, n: int) -> tr.Trailer:
        data = self.raw(n)
        if data is None or len(data) != self.size:
            return tr.ERASED_TRAILER
        return tr.parse(data[-tr.FIELDS :])

    def swap_type(self) -> tr.SwapType:
        return tr.swap_type(self.trailer(0), self.trailer(1))

    # ---- writing
    def program(self, n: int, area: bytes, trailer: tr.Trailer = tr.ERASED_TRAILER) -> None:
        """Replaces the whole slot: `area` (an image, or a slot's image area) then erased flash, with
        `trailer` (atomic)."""
        if len(area) > self.area:
            raise ValueError(f"{len(area)} bytes do not fit the slot's image area ({self.area} bytes)")
        body = area + b"\xff" * (self.size - len(area) - tr.FIELDS)
        atomic_write(self.path(n), body + trailer.encode())
        self.store.path(f"trailer{n}.json").unlink(missing_ok=True)

    def erase(self, n: int) -> None:
        self.program(n, b"")

    def set_trailer(self, n: int, trailer: tr.Trailer) -> None:
        """Programs the trailer's fixed fields in place (the slot must be a slot-sized file)."""
        data = self.raw(n)
        if data is None or len(data) != self.size:
            self.program(n, b"" if data is None else data[: self.area], trailer)
            return
        with open(self.path(n), "r+b") as f:
            f.seek(self.size - tr.FIELDS)
            f.write(trailer.encode())

    def write_at(self, n: int, off: int, data: bytes) -> None:
        """Programs image bytes at `off` in place (serial recovery's direct upload)."""
        if off < 0 or off + len(data) > self.area:
            raise ValueError("write past the slot's image area")
        with open(self.path(n), "r+b") as f:
            f.seek(off)
            f.write(data)

    def normalize(self) -> list[str]:
        """Pads programmed images (files shorter than the slot) to slot files; returns what it did."""
        done = []
        for n in (0, 1):
            data = self.raw(n)
            if data is None or len(data) == self.size:
                continue
            try:
                total = mcuboot.parse(data).total_size
            except mcuboot.InvalidImage:
                total = len(data)
            if total > self.area:
                done.append(f"slot {n}: {total} bytes do not fit the slot's image area ({self.area}): erased")
                self.erase(n)
            else:
                done.append(f"slot {n}: programmed image padded to the slot ({self.size} bytes), trailer erased")
                self.program(n, data[:total])
        return done
