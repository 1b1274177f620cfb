"""`_nc.mpy` for real boards: native_codec as a MicroPython dynamic native module, per architecture.

MicroPython's natmod tooling (`py/dynruntime.mk`, `tools/mpy_ld.py`, from the v1.27.0 tree that
host_tools.native.micropython provides) builds native_codec/mpy/Makefile, the binding mod_nc.c
over the codecs and the media stack (the API of hal/stubs/_nc.pyi), into
build/natmod/<arch>/_nc.mpy for:

| arch        | cores                          | boards                         | Opus | video |
|-------------|--------------------------------|--------------------------------|------|-------|
| `armv6m`    | Cortex-M0/M0+                  | RP2040                         | no   | no    |
| `armv7m`    | Cortex-M3 (and every M4/M7)    | STM32F1/F2, M4 boards short of RAM | no | no  |
| `armv7emsp` | Cortex-M4F/M7 (DSP, single FP) | STM32F4, RP2350                | yes: libopus 1.3.1 (host_tools/native/opus.py), its ARMv7E-M DSP assembly | yes |

Video is the JPEG encoder and RTP/JPEG (the binding's jpeg_* and rtpjpeg_* functions, about 18 KB
more): the Makefile's NC_VIDEO, on by default for armv7emsp only.

A MicroPython for a Thumb core loads the .mpy of its own architecture or of a lower one
(`armv6m` <= x <= its own), so `for_board()` picks the best file from the board's
`sys.implementation._mpy`. mpy_ld.py needs the PyPI packages pyelftools and ar (in
host_tools/requirements.txt); the toolchain is Debian's arm-none-eabi-gcc. Builds are
incremental: make tracks sources and headers, and a change of the make variables (a new libopus
tree) or of the Makefile starts the architecture's folder afresh.

    python -m host_tools.native.natmod [ARCH...]   builds them, prints path, size, Opus
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from host_tools.native import micropython
from host_tools.paths import BUILD, NATIVE

ARCHS = ("armv6m", "armv7m", "armv7emsp")
OPUS_ARCHS = ("armv7emsp",)
NATMOD = BUILD / "natmod"
MAKEFILE = NATIVE / "mpy" / "Makefile"
MODULE = "_nc.mpy"
INSTALL_HINT = "./edgecall installs it"

# MicroPython's native architecture codes (py/persistentcode.h MP_NATIVE_ARCH_*).
MPY_ARCH_NAMES = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em", 7: "armv7emsp",
                  8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc"}
ARCH_CODES = {name: code for code, name in MPY_ARCH_NAMES.items()}
THUMB = range(ARCH_CODES["armv6m"], ARCH_CODES["armv7emdp"] + 1)  # cores that load lower Thumb archs
MPY_VERSION, MPY_SUB_VERSION = 6, 3  # what MicroPython 1.27's mpy_ld writes; a board must match both


class ToolMissing(RuntimeError):
    """A tool or Python package the build needs is not installed."""


class BuildError(RuntimeError):
    """make failed; the message ends with its output."""


class NoModule(ValueError):
    """No _nc.mpy of ours can run on this board (another architecture or .mpy version)."""


@dataclass(frozen=True)
class BoardMpy:
    """A board's sys.implementation._mpy, decoded."""

    version: int
    sub_version: int
    arch: str  # "" when the firmware cannot load native code

    @classmethod
    def decode(cls, value: int) -> BoardMpy:
        return cls(value & 0xFF, (value >> 8) & 3, MPY_ARCH_NAMES.get((value >> 10) & 0x3F, ""))


def for_board(value: int) -> str:
    """The architecture of the _nc.mpy for a board whose sys.implementation._mpy is `value`: the
    highest of ARCHS it can load. NoModule says why there is none."""
    b = BoardMpy.decode(value)
    if (b.version, b.sub_version) != (MPY_VERSION, MPY_SUB_VERSION):
        raise NoModule(f"the board's MicroPython reads .mpy {b.version}.{b.sub_version}; _nc.mpy is "
                       f"{MPY_VERSION}.{MPY_SUB_VERSION} (MicroPython 1.23 to 1.27): update the board's firmware")
    code = ARCH_CODES.get(b.arch, 0)
    if code not in THUMB:
        raise NoModule(f"the board's native architecture is {b.arch or 'none'}; _nc.mpy exists for "
                       f"{', '.join(ARCHS)} (ARM Thumb)")
    return max((a for a in ARCHS if ARCH_CODES[a] <= code), key=lambda a: ARCH_CODES[a])


def header(path: Path) -> BoardMpy:
    """The version and architecture a .mpy file declares (its 4-byte header)."""
    h = path.read_bytes()[:4]
    if len(h) < 4 or h[:1] != b"M":
        raise BuildError(f"{path} is not a .mpy file")
    return BoardMpy(h[1], h[2] & 3, MPY_ARCH_NAMES.get(h[2] >> 2, ""))


def path(arch: str) -> Path:
    return NATMOD / arch / MODULE


def _check_tools() -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        raise ToolMissing(f"arm-none-eabi-gcc not found: install the Debian package gcc-arm-none-eabi ({INSTALL_HINT})")
    if shutil.which("make") is None:
        raise ToolMissing(f"make not found: install the Debian package make ({INSTALL_HINT})")
    for module, package in (("elftools", "pyelftools"), ("ar", "ar")):
        if importlib.util.find_spec(module) is None:
            raise ToolMissing(f"mpy_ld.py needs the PyPI package {package} in {sys.executable} "
                              f"(host_tools/requirements.txt; {INSTALL_HINT})")


@contextlib.contextmanager
def _lock(arch: str) -> Iterator[Path]:
    d = NATMOD / arch
    d.mkdir(parents=True, exist_ok=True)
    with open(NATMOD / f".{arch}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield d
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def make_args(arch: str, opus: bool) -> list[str]:
    """The make variables of one architecture's build."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    args = [f"MPY_DIR={micropython.source()}", f"ARCH={arch}", "LINK_RUNTIME=1", f"PYTHON={sys.executable}"]
    if opus:
        from host_tools.native import opus as opus_mod

        args.append(f"NC_OPUS_DIR={opus_mod.fetch()}")
    return args


def build(arch: str, *, opus: bool | None = None, force: bool = False, timeout: float = 900.0) -> Path:
    """build/natmod/<arch>/_nc.mpy, built or brought up to date; Opus by default in OPUS_ARCHS."""
    _check_tools()
    with_opus = arch in OPUS_ARCHS if opus is None else opus
    args = make_args(arch, with_opus)
    with _lock(arch) as d:
        stamp = d / "make-args"
        key = "\n".join([*args, hashlib.sha256(MAKEFILE.read_bytes()).hexdigest()])
        if force or not stamp.is_file() or stamp.read_text() != key:
            shutil.rmtree(d / "build", ignore_errors=True)
            (d / MODULE).unlink(missing_ok=True)
        cmd = ["make", "-j2", "-f", str(MAKEFILE), *args]
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=timeout)
        out = d / MODULE
        if p.returncode != 0 or not out.is_file():
            raise BuildError(f"building {arch}/_nc.mpy failed ({' '.join(cmd[:5])} ...):\n"
                             f"{(p.stdout + p.stderr).strip()[-3000:]}")
        stamp.write_text(key)
        h = header(out)
        if (h.version, h.sub_version, h.arch) != (MPY_VERSION, MPY_SUB_VERSION, arch):
            raise BuildError(f"{out} declares .mpy {h.version}.{h.sub_version} {h.arch}, expected "
                             f"{MPY_VERSION}.{MPY_SUB_VERSION} {arch}")
        return out


def build_all(force: bool = False) -> dict[str, Path]:
    """The three .mpy files (Opus in OPUS_ARCHS)."""
    return {arch: build(arch, force=force) for arch in ARCHS}


def main(argv: list[str]) -> int:
    archs = argv or list(ARCHS)
    try:
        for arch in archs:
            p = build(arch)
            print(f"{arch:10} {p}  {p.stat().st_size} bytes{'  (Opus)' if arch in OPUS_ARCHS else ''}")
    except (ToolMissing, BuildError, ValueError) as e:
        print(f"natmod: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
