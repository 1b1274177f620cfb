"""The EdgeCall devkit firmware: MicroPython's `ports/qemu` for QEMU's mps2-an386 (Cortex-M4F) with
the board folder hal/devkit (BOARD_DIR) and native_codec as the user C module `_nc` (with libopus). The
MicroPython tree comes from host_tools/native/micropython.py and is not edited.

Two builds, each incremental in a folder of its own under build/devkit/:
- `build()`: the base firmware (hal/devkit/manifest.py): MicroPython as a board's maker ships it,
  what a blank devkit (empty primary slot) boots and what `edgecall deploy` installs onto;
- `build(version=V)`: an EdgeCall image's firmware (hal/devkit/manifest_app.py): the base with
  the application (firmware/edgecall, version V) and hal's devkit backends (board + emu) frozen
  in, started at boot by the frozen _main.py. `edgecall build` signs it as the MCUboot image's payload.
Each returns the ELF and `firmware.bin`, the raw image QEMU loads at address 0 (the vector table
first).

    python -m host_tools.native.devkit [VERSION]     build, print the binary's path and size
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from host_tools.native import micropython
from host_tools.paths import BUILD, ROOT

BOARD = "EDGECALL_AN386"
MANIFEST_APP = ROOT / "hal" / "devkit" / "manifest_app.py"
BOARD_DIR = ROOT / "hal" / "devkit"
OUT = BUILD / "devkit"
MACHINE = "mps2-an386"
CPU = "cortex-m4"
ARCH = "armv7emsp"
HEAP_BYTES = 192 * 1024
FLASH_BYTES = 1024 * 1024  # the littlefs flash (MICROPY_BOARD_FLASH_BYTES)


class BuildError(RuntimeError):
    """The firmware did not build; the message ends with the tail of make's output."""


@dataclass(frozen=True)
class Firmware:
    elf: Path
    bin: Path

    @property
    def size(self) -> int:
        return self.bin.stat().st_size


def _objcopy() -> str:
    tool = shutil.which("arm-none-eabi-objcopy")
    if tool is None:
        raise BuildError("arm-none-eabi-objcopy not found: install binutils-arm-none-eabi (./edgecall installs it)")
    return tool


def make_args(tree: Path, build_dir: Path, gen: Path | None) -> list[str]:
    args = [
        "make", micropython.make_jobs(), "-C", str(tree / "ports" / "qemu"),
        f"BOARD={BOARD}", f"BOARD_DIR={BOARD_DIR}", f"BUILD={build_dir}",
    ]
    if gen is not None:
        args += [f"FROZEN_MANIFEST={MANIFEST_APP}", f"MICROPY_MANIFEST_EDGECALL_GEN={gen}"]
    usermods = ROOT / "native_codec"
    if (usermods / "mpy" / "micropython.mk").is_file():
        from host_tools.native import opus

        # _nc with libopus (Debian's source package, host_tools/native/opus.py): calls offer Opus.
        args += [f"USER_C_MODULES={usermods}", f"NC_OPUS_DIR={opus.fetch()}"]
    return args


def _make_env(tree: Path) -> dict[str, str]:
    # MicroPython's makeversionhdr.py asks git for the version: keep it from finding the
    # project's own repository above build/, so the firmware reports MicroPython's release.
    return {**os.environ, "GIT_CEILING_DIRECTORIES": str(tree.parent)}


def _app_sources(gen: Path, version: str, overrides: Mapping[str, bytes]) -> None:
    """Lays out the application as the image freezes it: the devkit file set (board + emu), this
    version, and `overrides` (device path -> Python source) in place of modules of the tree."""
    from host_tools.firmware import build as fw_build

    want: dict[Path, bytes] = {}
    for dev_path, src in fw_build.sources("devkit").items():
        if dev_path not in fw_build.SOURCE_ONLY:
            want[gen / dev_path] = src.read_bytes()
    for dev_path, data in overrides.items():
        if gen / dev_path not in want:
            raise BuildError(f"override {dev_path}: not a module of the firmware")
        want[gen / dev_path] = data
    want[gen / "edgecall" / "version.py"] = (
        f'# version.py — written by the image build\nVERSION = "{version}"\n'.encode())
    for old in gen.rglob("*.py") if gen.is_dir() else []:
        if old not in want:
            old.unlink()
    for path, data in want.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)


def _config_digest(args: list[str]) -> str:
    """What make cannot see change: its variables, the board's make files and configuration headers."""
    import hashlib

    h = hashlib.sha256(" ".join(a for a in args if not a.startswith("-j")).encode())
    files = [*sorted(BOARD_DIR.glob("*.mk")), *sorted(BOARD_DIR.glob("*.h")),
             *sorted(BOARD_DIR.glob("lwip/**/*.h")), ROOT / "native_codec" / "mpy" / "micropython.mk"]
    for f in files:
        if f.is_file():
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def build(version: str | None = None, overrides: Mapping[str, bytes] | None = None) -> Firmware:
    """Builds (or brings up to date) the base firmware, or with `version` an EdgeCall image's
    (`overrides`: device path -> source of a module to freeze instead of the tree's, e.g. a test's
    faulty edgecall/selftest.py). The binary is rebuilt in place: copy it before the next build."""
    tree = micropython.source()
    micropython.mpy_cross()
    out = OUT / ("app" if version else "base")
    out.mkdir(parents=True, exist_ok=True)
    elf = out / "fw" / "firmware.elf"
    binary = out / "firmware.bin"
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = out / "config.sha256"
        gen = out / "gen" if version else None
        args = make_args(tree, out / "fw", gen)
        digest = _config_digest(args)
        if not stamp.is_file() or stamp.read_text() != digest:
            shutil.rmtree(out / "fw", ignore_errors=True)  # flags changed: build from clean
            stamp.unlink(missing_ok=True)
        if gen is not None and version:
            _app_sources(gen, version, overrides or {})
        proc = subprocess.run(args, capture_output=True, text=True, env=_make_env(tree))
        if proc.returncode != 0 or not elf.is_file():
            raise BuildError(f"devkit firmware build failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
        stamp.write_text(digest)
        if not binary.is_file() or binary.stat().st_mtime < elf.stat().st_mtime:
            tmp = binary.with_suffix(".tmp")
            subprocess.run([_objcopy(), "-O", "binary", str(elf), str(tmp)], check=True)
            os.replace(tmp, binary)
    return Firmware(elf, binary)


def main(argv: list[str]) -> int:
    try:
        fw = build(argv[0] if argv else None)
    except (BuildError, micropython.SourceError) as e:
        print(f"devkit: {e}", file=sys.stderr)
        return 1
    print(f"{fw.bin} ({fw.size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
