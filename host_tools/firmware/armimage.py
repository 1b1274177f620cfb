"""An ARM devkit image: an MCUboot image whose payload is the devkit firmware binary
(host_tools/native/devkit.py), checked before a bootloader boots it or a flasher sends it.

The image names its board in a vendor TLV (BOARD_TLV, value the QEMU machine, e.g. b"mps2-an386";
MCUboot leaves TLV types from 0xa0 up to vendors), and its payload starts with a Cortex-M vector
table: the initial stack pointer inside the board's RAM, the reset handler a Thumb address inside
the binary. A binary for another board, or no firmware at all, fails with WrongFirmware saying why.
"""
from __future__ import annotations

import struct

from host_tools.firmware import mcuboot

BOARD_TLV = 0xA0
MACHINE = b"mps2-an386"
RAM_END = 0x00400000  # mps2 SSRAM1: 4 MiB at 0, where the firmware is linked and runs


class WrongFirmware(ValueError):
    """The image is not firmware for this devkit."""


def check(img: mcuboot.Image, machine: bytes = MACHINE) -> None:
    board = img.tlvs.get(BOARD_TLV)
    payload = img.payload
    if board is None:
        raise WrongFirmware(f"the image names no board (TLV {BOARD_TLV:#x}); build it with `edgecall build`")
    if board != machine:
        raise WrongFirmware(f"the image is for board {board.decode(errors='replace')!r}, "
                            f"this devkit is {machine.decode()!r}")
    if len(payload) < 64:
        raise WrongFirmware("the firmware is too short to hold a vector table")
    sp, reset = struct.unpack_from("<II", payload, 0)
    if not 0 < sp <= RAM_END or sp % 4:
        raise WrongFirmware(f"initial stack pointer {sp:#x} is outside the board's RAM")
    if not reset & 1 or (reset & ~1) >= len(payload):
        raise WrongFirmware(f"reset handler {reset:#x} is not a Thumb address inside the firmware")
