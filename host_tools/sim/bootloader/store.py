"""What the bootloader keeps in <device>/boot/ (every file replaced atomically: temp + rename):

    config.json      {"public_key_der": hex, "key_hash": hex, "slot_size": n, "allow_downgrade": bool,
                     "swap_step_ms": n}
                     — the key built into the bootloader (written by `sim start`)
    slot0.bin        primary slot: the image that boots
    slot1.bin        secondary slot: an uploaded image, or the previous one after a swap
    swap.json        swap progress: {"kind": "test"|"perm"|"revert", "step": n, ...}; present only
                     while a swap runs (written before and after each step)
    scratch.bin      the primary image during a swap
    upload.json + upload.part   an upload in progress: {"sha": hex, "len": n, "off": n}

Each slot file is exactly the slot size and ends with MCUboot's image trailer (slots.py,
trailer.py); the board's firmware confirms its image in that trailer. Nothing else holds boot
state, except downgrade.json ({"hash": hex}: a downgrade allowed once for the pending image with
that hash — the "force" of a state write, which MCUboot's trailer has no field for).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from host_tools.firmware import mcuboot
from host_tools.firmware.image import SLOT_SIZE as DEFAULT_SLOT_SIZE
from host_tools.sim.bootloader.trailer import max_image_size



def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:  # no fsync: a power cut of the devkit kills processes, not the
        f.write(data)          # host's page cache; rename gives the atomicity
    os.replace(tmp, path)


def write_config(device_dir: Path, public_der: bytes, key_hash: str, slot_size: int = DEFAULT_SLOT_SIZE,
                 allow_downgrade: bool = False, swap_step_ms: int = 0) -> None:
    """swap_step_ms: emulated flash time per swap step (benchmarks cut power inside swaps)."""
    boot = device_dir / "boot"
    boot.mkdir(parents=True, exist_ok=True)
    cfg = {"public_key_der": public_der.hex(), "key_hash": key_hash, "slot_size": slot_size,
           "allow_downgrade": allow_downgrade, "swap_step_ms": swap_step_ms}
    atomic_write(boot / "config.json", json.dumps(cfg, indent=1).encode())


class BootStore:
    def __init__(self, device_dir: Path) -> None:
        self.dir = device_dir / "boot"

    def path(self, name: str) -> Path:
        return self.dir / name

    def enabled(self) -> bool:
        return self.path("config.json").is_file()

    def config(self) -> dict[str, Any]:
        return dict(json.loads(self.path("config.json").read_text()))

    @property
    def public_der(self) -> bytes:
        return bytes.fromhex(self.config()["public_key_der"])

    @property
    def slot_size(self) -> int:
        return int(self.config().get("slot_size", DEFAULT_SLOT_SIZE))

    def slot(self, n: int) -> bytes | None:
        """The image in slot n: the file itself, or for a slot-sized file (an ARM devkit's, with its
        trailer) the image at its start, up to the end of its TLVs; None when there is none."""
        try:
            data = self.path(f"slot{n}.bin").read_bytes()
        except FileNotFoundError:
            return None
        if len(data) != self.slot_size:
            return data
        if data[:4] == b"\xff\xff\xff\xff":
            return None  # erased
        area = data[: max_image_size(len(data))]
        try:
            return area[: mcuboot.parse(area).total_size]
        except mcuboot.InvalidImage:
            return area.rstrip(b"\xff")  # not an image: what verification will refuse

    def write_slot(self, n: int, data: bytes) -> None:
        atomic_write(self.path(f"slot{n}.bin"), data)

    def erase_slot(self, n: int) -> None:
        self.path(f"slot{n}.bin").unlink(missing_ok=True)
        self.path(f"trailer{n}.json").unlink(missing_ok=True)

    def json(self, name: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self.path(name).read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def write_json(self, name: str, value: dict[str, Any]) -> None:
        atomic_write(self.path(name), json.dumps(value).encode())
