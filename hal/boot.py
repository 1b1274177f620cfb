"""The image the bootloader booted, and its confirmation (MCUboot's image_ok flag); shared by
every backend, as it only needs a filesystem.

The virtual devkit's bootloader (host_tools/sim/bootloader, in the board's supervisor) writes
.boot/installed.json into the flash when it installs an image ({"hash", "version", "files"}); a
board's bootloader may do the same. Boards flashed with `edgecall deploy` (stock MicroPython, no
bootloader image) have nothing to confirm: image_hash() is "" and confirm() returns False.
confirm() writes .boot/image_ok = that hash (temporary file + rename, so a power cut leaves the old
or the new flag). An image booted for a test that has not confirmed itself is reverted by the
bootloader at the next reset.
"""
import json
import os

DIR = ".boot"
FLAG = DIR + "/image_ok"


def _installed() -> dict:
    try:
        with open(DIR + "/installed.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def image_hash() -> str:
    """Hex SHA-256 (the image's hash TLV) of the running image; "" if it was not installed by the bootloader."""
    return str(_installed().get("hash", ""))


def version() -> str:
    return str(_installed().get("version", ""))


def confirmed() -> bool:
    h = image_hash()
    if not h:
        return True  # no bootloader image: nothing to confirm
    try:
        with open(FLAG) as f:
            return f.read().strip() == h
    except OSError:
        return False


def confirm() -> bool:
    """Marks the running image good (idempotent). False when there is no bootloader image."""
    h = image_hash()
    if not h:
        return False
    if confirmed():
        return True
    try:
        os.mkdir(DIR)
    except OSError:
        pass
    tmp = FLAG + ".tmp"
    with open(tmp, "w") as f:
        f.write(h)
    os.rename(tmp, FLAG)
    return True
