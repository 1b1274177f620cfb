"""The image file checked before anything touches a device: its MCUboot structure, its SHA-256
TLV against the hash of the file's own bytes (the device's "already runs it" answer is compared
with that hash, so a file whose TLV claims an image it does not hold is refused first), and its
signature when a key that signed it is known: the key given with --key (the image must be signed
with it), else $EDGECALL_SIGNING_KEY and the development key build/keys/dev-ed25519.pem, each used
when its key hash is the one the image names. Without such a key the device's bootloader is the
judge of the signature, as it is anyway."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from host_tools.firmware import keys, mcuboot
from host_tools.flash.errors import ImageCorrupt


def _known_keys() -> list[Path]:
    env = os.environ.get("EDGECALL_SIGNING_KEY")  # a file path, never the key itself
    found = [Path(env)] if env else []
    return found + ([keys.DEV_KEY] if keys.DEV_KEY.exists() else [])


def load(path: Path, key: Path | None = None) -> tuple[bytes, mcuboot.Image]:
    """The file's bytes and parsed image; ImageCorrupt (with what is wrong) if a check fails."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageCorrupt(f"{path}: cannot read the image ({exc.strerror})") from None
    try:
        img = mcuboot.parse(data)
    except mcuboot.InvalidImage as e:
        raise ImageCorrupt(f"{path}: not a valid MCUboot image ({e}); rebuild it with `edgecall build`") from None
    if hashlib.sha256(img.hashed).digest() != img.hash:
        raise ImageCorrupt(f"{path}: the image is corrupt — its contents do not match the SHA-256 it carries; "
                           "rebuild it with `edgecall build` or copy it again")
    candidates = [key] if key is not None else _known_keys()
    named = img.tlvs.get(mcuboot.TLV_KEYHASH)
    for k in candidates:
        try:
            der = keys.public_der(k)
        except (OSError, ValueError, keys.KeyError_) as exc:
            if key is not None:
                raise ImageCorrupt(f"{k}: cannot read the key ({exc})") from None
            continue
        if key is None and hashlib.sha256(der).digest() != named:
            continue  # not the key that signed it: the bootloader will judge
        try:
            mcuboot.verify(data, der)
        except mcuboot.InvalidImage as e:
            what = "is not signed with" if e.kind == "key" else "has a signature that does not verify with"
            raise ImageCorrupt(f"{path} {what} the key {k} ({e})", kind="signature") from None
        break
    return data, img
