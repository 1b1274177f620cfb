"""`edgecall build`: the signed firmware image.

The image is the firmware: payload = the devkit firmware binary (MicroPython with the C stack, the
hal and the application frozen in; host_tools/native/devkit.py, built for the image's version),
the board TLV (host_tools/firmware/armimage.py) naming the machine it runs on; `imgtool sign`
makes it an MCUboot image (header 0x200, Ed25519 or ECDSA P-256 signature, KEYHASH TLV).
Output: build/images/edgecall-<version>-mps2-an386.bin.
"""
from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from host_tools.firmware import armimage, build, keys, mcuboot
from host_tools.paths import BUILD

IMAGE_DIR = BUILD / "images"
HEADER_SIZE = 0x200
SLOT_SIZE = 1024 * 1024  # the devkit's slots (the firmware is about 600 KiB)


class ImageBuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class ImageInfo:
    path: str
    version: str
    size: int
    sha256: str  # of the whole file
    image_hash: str  # the SHA-256 TLV (what MCUmgr's image state lists)
    key_hash: str
    key_type: str
    slot_size: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def sign(payload: bytes, key: Path, version: str, out: Path, slot_size: int = SLOT_SIZE,
         tlvs: dict[int, bytes] | None = None) -> None:
    """Wraps `payload` into a signed MCUboot image with imgtool (`tlvs`: protected vendor TLVs)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "payload.bin"
        raw.write_bytes(payload)
        cmd = [*keys.imgtool_cmd(), "sign", "--key", str(key), "--header-size", hex(HEADER_SIZE),
               "--pad-header", "--align", "4", "--version", version, "--slot-size", hex(slot_size),
               "--public-key-format", "hash"]
        for tag, value in (tlvs or {}).items():
            cmd += ["--custom-tlv", hex(tag), "0x" + value.hex()]
        cmd += [str(raw), str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise ImageBuildError(f"imgtool sign failed: {msg[-1] if msg else proc.returncode}")


def _key_and_version(key: Path | None, version: str | None) -> tuple[Path, str]:
    """The signing key (default: the development key) and the image version (default: the
    application's), both checked."""
    key = Path(key) if key else keys.dev_key()
    if not key.is_file():
        raise ImageBuildError(f"signing key {key} not found: create one with `edgecall keys generate`")
    if version is None:
        version = (build.FIRMWARE / "edgecall" / "version.py").read_text().split('"')[1]
    mcuboot.Version.parse(version)
    return key, version


def build_image(key: Path | None = None, version: str | None = None, out: Path | None = None,
                slot_size: int = SLOT_SIZE, overrides: dict[str, bytes] | None = None) -> ImageInfo:
    """Builds the devkit firmware for `version` and signs it as an MCUboot image. `overrides`
    (device path -> Python source) replace modules of the tree in it (tests build faulty images)."""
    from host_tools.native import devkit

    key, version = _key_and_version(key, version)
    try:
        fw = devkit.build(version, overrides)
    except devkit.BuildError as e:
        raise ImageBuildError(str(e)) from e
    payload = fw.bin.read_bytes()
    out = out or IMAGE_DIR / f"edgecall-{version}-{armimage.MACHINE.decode()}.bin"
    sign(payload, key, version, out, slot_size, {armimage.BOARD_TLV: armimage.MACHINE})
    data = out.read_bytes()
    img = mcuboot.parse(data)
    armimage.check(img)
    return ImageInfo(path=str(out), version=str(img.version), size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), image_hash=img.hash.hex(),
                     key_hash=keys.key_hash(key), key_type=keys.key_type(key),
                     slot_size=slot_size)
