"""`edgecall deploy` onto a stock MicroPython board puts the board's `_nc.mpy` beside the app: the
board is MicroPython's ports/qemu on QEMU (mps2-an500, Cortex-M7: .mpy 6.3 armv7emdp) with a
littlefs RAM disk at /, driven over its pty by the real command. The deploy asks the board for
its architecture and installs the armv7emsp build (with Opus) at /lib/_nc.mpy, verified, which
the app's hal.board.codec then imports; a second deploy writes nothing; --native picks another
build or none. The choice itself for other boards (RP2040, STM32F4 short of RAM, ESP32, an older
MicroPython) is checked without a board."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from host_tools.deploy import native
from host_tools.native import mpqemu, natmod
from host_tools.paths import ROOT


def mpy_value(arch: str, version: int = 6, sub: int = 3) -> int:
    """sys.implementation._mpy of a MicroPython whose native code is `arch`."""
    return version | ((sub | natmod.ARCH_CODES[arch] << 2) << 8)


@pytest.fixture(scope="module")
def board() -> Iterator[mpqemu.Board]:
    natmod.build_all()
    with mpqemu.Board() as b:
        b.ramdisk()
        b.release()
        yield b


def deploy(b: mpqemu.Board, *args: str) -> dict[str, Any]:
    p = subprocess.run([sys.executable, "-m", "host_tools", "deploy", "--port", b.port, "--variant", "board",
                        "--json", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stdout + p.stderr
    out: dict[str, Any] = json.loads(p.stdout)
    return out


def on_board(b: mpqemu.Board, code: str) -> str:
    b.reconnect()
    try:
        return b.exec(code)
    finally:
        b.release()


# ports/qemu's sys.path lacks the /lib of board ports (rp2: ['', '.frozen', '/lib']): add it
USE = ("import sys\nif '/lib' not in sys.path:\n    sys.path.append('/lib')\n"
       "for m in ('_nc', 'hal.board.codec', 'hal.board', 'hal'):\n    sys.modules.pop(m, None)\n")


def test_deploy_installs_the_boards_native_module(board: mpqemu.Board) -> None:
    first = deploy(board)
    n = first["native"]
    assert n["board_mpy"] == "6.3 armv7emdp" and n["arch"] == "armv7emsp" and n["opus"] is True
    assert n["path"] == "lib/_nc.mpy" and n["heap_free"] > 0
    built = natmod.path("armv7emsp").read_bytes()
    files = {f["path"]: f for f in first["files"]}
    f = files["lib/_nc.mpy"]
    assert f["status"] == "written" and f["verified"] and f["size"] == n["size"] == len(built)
    assert f["device_sha256"] == hashlib.sha256(built).hexdigest()
    assert "hal/board/codec.mpy" in files and first["ok"]

    out = on_board(board, USE + "import _nc\nfrom hal.board import codec\n"
                   "print(_nc.__file__, codec.OPUS, len(codec.G722Encoder().encode(bytes(640))))")
    assert out.split() == ["/lib/_nc.mpy", "True", "160"]

    second = deploy(board)
    assert second["totals"]["written"] == 0 and second["totals"]["unchanged"] == len(first["files"])
    assert second["native"]["arch"] == "armv7emsp"


def test_deploy_native_choices(board: mpqemu.Board) -> None:
    small = deploy(board, "--native", "armv6m")  # a lower architecture the M7 also loads
    assert small["native"]["arch"] == "armv6m" and not small["native"]["opus"]
    f = {f["path"]: f for f in small["files"]}["lib/_nc.mpy"]
    assert f["status"] == "written" and f["verified"]
    assert f["device_sha256"] == hashlib.sha256(natmod.path("armv6m").read_bytes()).hexdigest()
    out = on_board(board, USE + "from hal.board import codec\nprint(codec.OPUS, codec._nc.__file__)")
    assert out.split() == ["False", "/lib/_nc.mpy"]
    none = deploy(board, "--native", "none")
    assert none["native"]["arch"] == "" and none["native"]["reason"] == "--native none"
    assert "lib/_nc.mpy" not in {f["path"] for f in none["files"]}


@pytest.mark.parametrize("board_arch,heap,want", [
    ("armv6m", 180_000, "armv6m"),  # RP2040
    ("armv7m", 100_000, "armv7m"),  # Cortex-M3
    ("armv7emsp", 400_000, "armv7emsp"),  # RP2350, STM32F7: room for the Opus build
    ("armv7emsp", 100_000, "armv7m"),  # STM32F4 with 100 KB free: the build without Opus
    ("armv7emdp", 1_000_000, "armv7emsp"),
    ("armv7em", 300_000, "armv7m"),  # no single-precision FPU: not the armv7emsp build
])
def test_choice_per_board(board_arch: str, heap: int, want: str) -> None:
    arch, reason = native.choose(mpy_value(board_arch), heap, size_of=lambda a: 190_000 if a == "armv7emsp" else 45_000)
    assert arch == want
    if board_arch == "armv7emsp" and want == "armv7m":
        assert "without Opus" in reason and str(heap) in reason


def test_no_module_for_other_boards() -> None:
    for value, says in ((mpy_value("xtensawin"), "xtensawin"), (mpy_value("armv6m", sub=2), "6.2"),
                        (6 | 3 << 8, "none")):
        with pytest.raises(natmod.NoModule, match=says):
            native.choose(value, 10**6, size_of=lambda a: 1)
    with pytest.raises(native.NativeError, match="cannot load armv7emsp"):
        native.choose(mpy_value("armv6m"), 10**6, want="armv7emsp", size_of=lambda a: 1)
    assert natmod.BoardMpy.decode(mpy_value("armv7emdp")) == natmod.BoardMpy(6, 3, "armv7emdp")
