"""Which `_nc.mpy` a board gets with the app (`edgecall deploy`): asked of the board itself over the
raw REPL, before any file is written.

The board reports `sys.implementation._mpy` (its .mpy version and native architecture), its free
heap after a collection, and whether `_nc` is compiled into its firmware (then nothing is
installed). host_tools.native.natmod picks the highest architecture the board loads and builds
it; the Opus build (armv7emsp, ~180 KiB, loaded into RAM as one block) goes only to a board whose
free heap holds it with room for the app (HEAP_MARGIN), else the armv7m build without Opus does,
and calls offer G.722. The file goes to lib/_nc.mpy under the board's working directory (/lib,
or /flash/lib on an STM32 pyboard: on sys.path either way)."""
from __future__ import annotations

import ast
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from host_tools.native import natmod

DEVICE_PATH = "lib/_nc.mpy"
HEAP_MARGIN = 64 * 1024  # free heap the app needs beside the loaded module
CHOICES = ("auto", "none", *natmod.ARCHS)

# Prints (sys.implementation._mpy, free heap after a collection, _nc built in). _nc is looked up with
# an empty sys.path, so a _nc.mpy already on the board is not loaded (nor counted as built in).
PROBE = """
import sys, gc
def _ec_probe():
    m = sys.modules.get('_nc')
    if m is not None:
        builtin = not hasattr(m, '__file__')
    else:
        saved = sys.path[:]
        sys.path.clear()
        try:
            import _nc
            builtin = not hasattr(_nc, '__file__')
            del sys.modules['_nc']
        except ImportError:
            builtin = False
        finally:
            sys.path.extend(saved)
    gc.collect()
    return (getattr(sys.implementation, '_mpy', 0), gc.mem_free(), builtin)
print(repr(_ec_probe()))
del _ec_probe
"""


class NativeError(ValueError):
    """No _nc.mpy can be installed on this board (the message says why and what to do)."""


class Repl(Protocol):
    def exec(self, code: str) -> str: ...


@dataclass
class NativeChoice:
    """What the deploy did about _nc: installed `arch` at `path`, or skipped with a reason."""

    board_mpy: str
    heap_free: int
    arch: str = ""
    opus: bool = False
    path: str = ""
    size: int = 0
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(repl: Repl) -> tuple[int, int, bool]:
    out = repl.exec(PROBE).strip()
    try:
        mpy, free, builtin = ast.literal_eval(out)
        return int(mpy), int(free), bool(builtin)
    except (ValueError, SyntaxError, TypeError) as e:
        raise NativeError(f"unexpected answer to the board probe: {out!r}") from e


def _describe(value: int) -> str:
    b = natmod.BoardMpy.decode(value)
    return f"{b.version}.{b.sub_version} {b.arch or 'no native code'}"


def choose(mpy: int, heap_free: int, want: str = "auto", size_of: Any = None) -> tuple[str, str]:
    """(arch, reason) for a board; size_of(arch) gives a built file's size (default: build it)."""
    best = natmod.for_board(mpy)  # NoModule when there is none
    if want not in ("auto", *natmod.ARCHS):
        raise NativeError(f"--native must be one of {', '.join(CHOICES)}, got {want!r}")
    if want != "auto":
        if natmod.ARCH_CODES[want] > natmod.ARCH_CODES[best]:
            raise NativeError(f"the board ({_describe(mpy)}) cannot load {want}; the best it loads is {best}")
        return want, "asked for"
    size = size_of or (lambda a: natmod.build(a).stat().st_size)
    if best in natmod.OPUS_ARCHS:
        need = size(best) + HEAP_MARGIN
        if heap_free < need:
            fallback = max((a for a in natmod.ARCHS if a not in natmod.OPUS_ARCHS and
                            natmod.ARCH_CODES[a] <= natmod.ARCH_CODES[best]), key=lambda a: natmod.ARCH_CODES[a])
            return fallback, (f"{heap_free} bytes of free heap: the Opus build ({best}) needs about {need}; "
                              f"{fallback} without Opus instead (calls use G.722)")
    return best, f"the best architecture the board ({_describe(mpy)}) loads"


def plan(repl: Repl, want: str = "auto") -> tuple[NativeChoice, bytes | None]:
    """Asks the board, picks and builds its _nc.mpy: (what was decided, the file's bytes or None)."""
    mpy, free, builtin = probe(repl)
    c = NativeChoice(board_mpy=_describe(mpy), heap_free=free)
    if want == "none":
        c.reason = "--native none"
        return c, None
    if builtin:
        c.reason = "_nc is compiled into the board's firmware"
        return c, None
    try:
        arch, c.reason = choose(mpy, free, want)
    except natmod.NoModule as e:
        raise NativeError(f"no _nc.mpy for this board: {e}; deploy with --native none to install the app "
                          "without the codec module") from e
    path: Path = natmod.build(arch)
    data = path.read_bytes()
    c.arch, c.opus, c.path, c.size = arch, arch in natmod.OPUS_ARCHS, DEVICE_PATH, len(data)
    return c, data
