"""Booting an image: its firmware binary goes into the boot folder, which QEMU loads
(boot/app.bin, written atomically, then boot/app.json naming the image). Installing is
idempotent: an image already there is not written again.
"""
from __future__ import annotations

import json
from pathlib import Path

from host_tools.firmware.mcuboot import Image
from host_tools.sim.bootloader.store import atomic_write

APP_BIN = "app.bin"
APP_MARKER = "app.json"


def installed_binary(boot_dir: Path) -> dict[str, object]:
    try:
        return dict(json.loads((boot_dir / APP_MARKER).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def install_binary(boot_dir: Path, img: Image) -> Path:
    """Puts the image's firmware where QEMU boots it from (unless it is there); returns that path."""
    path = boot_dir / APP_BIN
    if installed_binary(boot_dir).get("hash") != img.hash.hex() or not path.is_file():
        atomic_write(path, img.payload)
        atomic_write(boot_dir / APP_MARKER, json.dumps({"hash": img.hash.hex(), "version": str(img.version)}).encode())
    return path
