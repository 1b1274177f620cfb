"""Booting an image on the virtual devkit: on a WebAssembly devkit, its files in the MicroPython
flash folder (install); on an ARM devkit, its firmware binary in the boot folder, which QEMU loads
(install_binary: boot/app.bin, written atomically, and boot/app.json naming the image).

Each file is written to a temporary name and renamed over the old one; files of the previously
installed image that the new one lacks are removed; .boot/installed.json (image hash, version,
file list) is written last. The app's own data (settings/, anything not in an image) is never
touched. A power cut in the middle leaves installed.json naming the old image, so the next
boot installs again: installing is idempotent.
"""
from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath

from host_tools.firmware import archive
from host_tools.firmware.mcuboot import Image
from host_tools.sim.bootloader.store import atomic_write

MARKER = ".boot/installed.json"


def installed(flash: Path) -> dict[str, object]:
    try:
        return dict(json.loads((flash / MARKER).read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def _target(flash: Path, name: str) -> Path:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] == (".boot",):
        raise archive.ArchiveError(f"refusing to install {name!r}")
    return flash.joinpath(*rel.parts)


def install(flash: Path, img: Image) -> bool:
    """Installs the image's files unless they already are; True when files were written."""
    if installed(flash).get("hash") == img.hash.hex():
        return False
    files = archive.unpack(img.payload)
    old = installed(flash).get("files", [])
    for name, data in files.items():
        target = _target(flash, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if target.read_bytes() == data:
                continue
        except (FileNotFoundError, IsADirectoryError):
            pass
        atomic_write(target, data)
    for name in old if isinstance(old, list) else []:
        if isinstance(name, str) and name not in files:
            try:
                os.unlink(_target(flash, name))
            except (FileNotFoundError, archive.ArchiveError, IsADirectoryError):
                pass
    (flash / ".boot").mkdir(parents=True, exist_ok=True)
    marker = {"hash": img.hash.hex(), "version": str(img.version), "files": sorted(files)}
    atomic_write(flash / MARKER, json.dumps(marker).encode())
    return True


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
