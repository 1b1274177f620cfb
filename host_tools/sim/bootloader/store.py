"""What the bootloader keeps in <device>/boot/ (every file replaced atomically: temp + rename):

    config.json      {"public_key_der": hex, "key_hash": hex, "slot_size": n, "allow_downgrade": bool,
                      "swap_step_ms": n}
                     — the key built into the bootloader (written by `sim start`)
    slot0.bin        primary slot: the image that boots
    slot1.bin        secondary slot: an uploaded image, or the previous one after a swap
    trailer0.json    primary trailer: {"test": bool} (booted for one test run); image_ok is the
                     application's flag, flash/.boot/image_ok holding the image hash
    trailer1.json    secondary trailer: {"pending": bool, "permanent": bool, "force": bool}
    swap.json        swap progress: {"kind": "test"|"perm"|"revert", "step": n}; present only
                     while a swap runs (written before and after each step)
    scratch.bin      the primary image during a swap
    upload.json + upload.part   an upload in progress: {"sha": hex, "len": n, "off": n}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_SLOT_SIZE = 512 * 1024


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
        self.flash = device_dir / "flash"

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
        try:
            return self.path(f"slot{n}.bin").read_bytes()
        except FileNotFoundError:
            return None

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

    def trailer(self, n: int) -> dict[str, Any]:
        return self.json(f"trailer{n}.json")

    def write_trailer(self, n: int, value: dict[str, Any]) -> None:
        self.write_json(f"trailer{n}.json", value)

    # the application's confirmation (hal/boot.py writes it into the flash)
    def image_ok(self, image_hash: bytes) -> bool:
        try:
            return (self.flash / ".boot" / "image_ok").read_text().strip() == image_hash.hex()
        except (FileNotFoundError, UnicodeDecodeError):
            return False

    def set_image_ok(self, image_hash: bytes) -> None:
        d = self.flash / ".boot"
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / "image_ok", image_hash.hex().encode())
