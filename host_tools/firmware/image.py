"""`edgecall build`: the signed firmware image.

payload = archive.pack(files): the firmware and hal .mpy files of variant "vdk" (with
edgecall/version.mpy compiled for the image's version), lib/native_codec.wasm (the wasm32 build)
and manifest.json; then `imgtool sign` makes it an MCUboot image (header 0x200, Ed25519 or
ECDSA P-256 signature, KEYHASH TLV). Output: build/images/edgecall-<version>.bin.

`build_arm_image` makes the image of an ARM devkit instead: payload = the devkit firmware binary
with the application frozen in (host_tools/native/devkit.py, built for the image's version), and
the board TLV (host_tools/firmware/armimage.py) naming the machine it runs on. Output:
build/images/edgecall-<version>-mps2-an386.bin.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from host_tools.firmware import archive, build, keys, mcuboot
from host_tools.paths import BUILD

IMAGE_DIR = BUILD / "images"
HEADER_SIZE = 0x200
DEFAULT_SLOT_SIZE = 512 * 1024


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
    files: int
    slot_size: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _version_module(version: str, tmp: Path) -> bytes:
    src = tmp / "version.py"
    src.write_text(f'# version.py — written by the image build\nVERSION = "{version}"\n')
    out = tmp / "version.mpy"
    build.compile_module(src, "edgecall/version.py", out)
    return out.read_bytes()


def image_files(version: str, with_wasm: bool = True) -> dict[str, bytes]:
    """The flash contents an image carries (device path -> bytes), manifest last."""
    files = build.files("vdk", version)
    files.pop("manifest.json", None)
    with tempfile.TemporaryDirectory() as tmp:
        files["edgecall/version.mpy"] = _version_module(version, Path(tmp))
    if with_wasm:
        from host_tools.native import wasm

        files["lib/native_codec.wasm"] = wasm.build_library().read_bytes()
    return with_manifest(files, version)


def with_manifest(files: dict[str, bytes], version: str) -> dict[str, bytes]:
    """`files` with a fresh manifest.json (version, variant, SHA-256 of every other file)."""
    out = {k: v for k, v in files.items() if k != "manifest.json"}
    manifest = {"version": version, "variant": "vdk",
                "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(out.items())}}
    out["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return out


def sign(payload: bytes, key: Path, version: str, out: Path, slot_size: int = DEFAULT_SLOT_SIZE,
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
                slot_size: int = DEFAULT_SLOT_SIZE, files: dict[str, bytes] | None = None) -> ImageInfo:
    """Builds and signs the image; `files` overrides the file set (tests build broken apps)."""
    key, version = _key_and_version(key, version)
    content = with_manifest(files, version) if files is not None else image_files(version)
    payload = archive.pack(content)
    out = out or IMAGE_DIR / f"edgecall-{version}.bin"
    sign(payload, key, version, out, slot_size)
    data = out.read_bytes()
    img = mcuboot.parse(data)
    return ImageInfo(path=str(out), version=str(img.version), size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), image_hash=img.hash.hex(),
                     key_hash=keys.key_hash(key), key_type=keys.key_type(key), files=len(content),
                     slot_size=slot_size)


ARM_SLOT_SIZE = 1024 * 1024


def build_arm_image(key: Path | None = None, version: str | None = None, out: Path | None = None,
                    slot_size: int = ARM_SLOT_SIZE) -> ImageInfo:
    """Builds the ARM devkit firmware for `version` and signs it as an MCUboot image."""
    from host_tools.firmware import armimage
    from host_tools.native import devkit

    key, version = _key_and_version(key, version)
    try:
        fw = devkit.build(version)
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
                     key_hash=keys.key_hash(key), key_type=keys.key_type(key), files=0,
                     slot_size=slot_size)
