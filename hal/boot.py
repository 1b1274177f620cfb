"""The image the bootloader booted, and its confirmation (MCUboot's image_ok flag); shared by
every backend.

On a board whose firmware has the _devkit_slot module (the ARM devkit: hal/devkit/slot.c) the
boot state is MCUboot's own: the running image's version and hash come from the primary slot's
header and SHA-256 TLV, and confirm() writes image_ok into the primary slot's image trailer, as
boot_set_confirmed() does on a board; slots() lists both slots with the flags mcumgr's image
state gives them (Zephyr's img_mgmt: from the swap type of the two trailers). Nothing about boot
state is kept in the filesystem there.

Elsewhere only a filesystem is needed: a board's bootloader may write .boot/installed.json into
the flash when it installs an image ({"hash", "version", "files"}); confirm() then writes .boot/image_ok = that hash (temporary file + rename, so a power cut leaves the old
or the new flag). Boards flashed with `edgecall deploy` (stock MicroPython, no bootloader image)
have nothing to confirm: image_hash() is "" and confirm() returns False.

An image booted for a test that has not confirmed itself is reverted by the bootloader at the next
reset.
"""
import binascii
import json
import os

try:
    import _devkit_slot as _slot
except ImportError:
    _slot = None  # type: ignore[assignment]  # other boards: boot state in the filesystem

DIR = ".boot"
FLAG = DIR + "/image_ok"

# MCUboot's swap types (BOOT_SWAP_TYPE_*), from the two slots' trailers.
_NONE, _TEST, _PERM, _REVERT = 1, 2, 3, 4


def _installed() -> dict:
    try:
        with open(DIR + "/installed.json") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _hex(data: bytes) -> str:
    return binascii.hexlify(data).decode()


def _version_text(v: tuple) -> str:
    text = "%d.%d.%d" % (v[0], v[1], v[2])
    return text + (".%d" % v[3] if v[3] else "")


def _swap_type() -> int:
    """MCUboot's boot_swap_type from the trailers of both slots (the ARM devkit only)."""
    primary = _slot.trailer(0) if _slot is not None else None
    secondary = _slot.trailer(1) if _slot is not None else None
    if secondary is not None and secondary[0] == _slot.MAGIC_GOOD:
        return _PERM if secondary[1] == _slot.FLAG_SET else _TEST if secondary[1] == _slot.FLAG_UNSET else _NONE
    if (primary is not None and primary[0] == _slot.MAGIC_GOOD and primary[1] == _slot.FLAG_UNSET
            and primary[2] == _slot.FLAG_SET and (secondary is None or secondary[0] == _slot.MAGIC_UNSET)):
        return _REVERT
    return _NONE


def image_hash() -> str:
    """Hex SHA-256 (the image's hash TLV) of the running image; "" if it was not installed by the bootloader."""
    if _slot is not None:
        img = _slot.image(0)
        return _hex(img[1]) if img is not None else ""
    return str(_installed().get("hash", ""))


def version() -> str:
    if _slot is not None:
        img = _slot.image(0)
        return _version_text(img[0]) if img is not None else ""
    return str(_installed().get("version", ""))


def confirmed() -> bool:
    if _slot is not None:
        return _swap_type() != _REVERT
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
    if _slot is not None:
        return bool(_slot.confirm())
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


def slots() -> list:
    """mcumgr's image state list: the primary (running) slot first, then the secondary when it holds
    an image; [] when the running firmware was not booted from a bootloader image."""
    if _slot is None:
        h = image_hash()
        if not h:
            return []
        return [_entry(0, version(), binascii.unhexlify(h), confirmed(), False, False)]
    kind = _swap_type()
    out = []
    for n in (0, 1):
        img = _slot.image(n)
        if img is None:
            continue
        # Zephyr's img_mgmt: the running slot is confirmed unless a revert is due; the other one is
        # pending for a test or permanent swap, or confirmed when a revert will bring it back.
        if n == 0:
            flags = (kind != _REVERT, False, False)
        else:
            flags = (kind == _REVERT, kind in (_TEST, _PERM), kind == _PERM)
        out.append(_entry(n, _version_text(img[0]), img[1], flags[0], flags[1], flags[2]))
    return out


def _entry(n: int, ver: str, h: bytes, ok: bool, pending: bool, permanent: bool) -> dict:
    return {"image": 0, "slot": n, "version": ver, "hash": h, "bootable": True, "pending": pending,
            "confirmed": ok, "active": n == 0, "permanent": permanent}
