"""Fixtures shared by the tests that run `_nc` on MicroPython's stock ports/qemu firmware
(tests/test_natmod*.py): the board with the three `_nc.mpy` built, the same firmware with `_nc`
compiled in, and hal's board-backend modules as .mpy files to load beside them. A test module
takes them with `from tests.natmods import board, builtin_board  # noqa: F401` (pytest finds
fixtures among a module's names)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host_tools.firmware import build
from host_tools.native import mpqemu, natmod


@pytest.fixture(scope="module")
def board() -> Iterator[mpqemu.Board]:
    """MicroPython's stock QEMU firmware (mps2-an500), with every _nc.mpy built."""
    natmod.build_all()
    with mpqemu.Board() as b:
        yield b


@pytest.fixture(scope="module")
def builtin_board() -> Iterator[mpqemu.Board]:
    """The same firmware with _nc compiled in (native_codec/mpy/micropython.mk, with libopus)."""
    with mpqemu.Board(mpqemu.firmware(native=True)) as b:
        yield b


def hal_mpy_files(d: Path, part: str) -> dict[str, Path]:
    """hal/__init__, hal/board/__init__ and hal/board/<part> as the board variant's .mpy files in d."""
    files = build.files("board")
    out = {}
    for name in ("hal/__init__.mpy", "hal/board/__init__.mpy", f"hal/board/{part}.mpy"):
        p = d / name.replace("/", "_")
        p.write_bytes(files[name])
        out[name] = p
    return out
