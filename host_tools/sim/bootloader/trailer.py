"""MCUboot's image trailer, as an ARM devkit's slot files carry it (MCUboot docs/design.md,
"Image trailer", swap-using-scratch, BOOT_MAX_ALIGN 8), and the swap type the bootloader reads
from the two slots' trailers ("Image trailers", states I-IV).

A slot is a fixed-size file (the slot size of boot/config.json); its last bytes, from the end:

    MAGIC       16 bytes   the four words 0xf395c277 0x7fefd260 0x0f505235 0x8079b62c, little-endian
    image_ok     8 bytes   0x01 then 0xff padding (0xff: unset)
    copy_done    8 bytes   0x01 then 0xff padding
    swap_info    8 bytes   (image number << 4) | swap type, then 0xff padding
    swap_size    8 bytes   u32 little-endian, then 0xff padding
    swap status            BOOT_MAX_IMG_SECTORS * 3 * 8 bytes (one record per sector and state)

Erased flash reads 0xff. The swap status area is reserved (an image may not reach into it) but
the devkit's bootloader keeps its swap progress in its own status file (boot.py, swap.json), so
it stays erased. Everything here is pure: bytes in, bytes out.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

MAGIC = struct.pack("<4I", 0xF395C277, 0x7FEFD260, 0x0F505235, 0x8079B62C)
MAX_ALIGN = 8
SECTOR = 4096  # the devkit's flash sector: the unit MCUboot swaps in
STATUS_STATES = 3  # swap status records per sector
ERASED = 0xFF
FLAG_SET = 0x01

# Offsets from the end of the slot.
OFF_MAGIC = len(MAGIC)
OFF_IMAGE_OK = OFF_MAGIC + MAX_ALIGN
OFF_COPY_DONE = OFF_IMAGE_OK + MAX_ALIGN
OFF_SWAP_INFO = OFF_COPY_DONE + MAX_ALIGN
OFF_SWAP_SIZE = OFF_SWAP_INFO + MAX_ALIGN
FIELDS = OFF_SWAP_SIZE  # the fixed fields: 48 bytes


class Magic(IntEnum):
    GOOD = 1
    UNSET = 3
    BAD = 2


class Flag(IntEnum):
    """MCUboot's BOOT_FLAG_*: a byte that is 0x01 is set, erased is unset, anything else is bad."""

    SET = 1
    BAD = 2
    UNSET = 3


class SwapType(IntEnum):
    """MCUboot's BOOT_SWAP_TYPE_*."""

    NONE = 1
    TEST = 2
    PERM = 3
    REVERT = 4
    FAIL = 5


def trailer_size(slot_size: int) -> int:
    """Bytes at the end of a slot that an image may not use: the swap status for every sector of
    the slot plus the fixed fields."""
    sectors = max(1, slot_size // SECTOR)
    return sectors * STATUS_STATES * MAX_ALIGN + FIELDS


def max_image_size(slot_size: int) -> int:
    return slot_size - trailer_size(slot_size)


@dataclass(frozen=True)
class Trailer:
    magic: Magic = Magic.UNSET
    image_ok: Flag = Flag.UNSET
    copy_done: Flag = Flag.UNSET
    swap_info: int = ERASED  # (image << 4) | SwapType, or 0xff
    swap_size: int = 0xFFFFFFFF

    @property
    def swap_type(self) -> int:
        return self.swap_info & 0x0F

    def encode(self) -> bytes:
        """The FIELDS bytes at the end of a slot holding this trailer."""

        def record(first: bytes) -> bytes:
            return first + b"\xff" * (MAX_ALIGN - len(first))

        def flag(f: Flag) -> bytes:
            return record(bytes([FLAG_SET if f is Flag.SET else ERASED if f is Flag.UNSET else 0x00]))

        magic = MAGIC if self.magic is Magic.GOOD else b"\xff" * len(MAGIC) if self.magic is Magic.UNSET \
            else b"\x00" * len(MAGIC)
        return (record(struct.pack("<I", self.swap_size)) + record(bytes([self.swap_info & 0xFF]))
                + flag(self.copy_done) + flag(self.image_ok) + magic)


ERASED_TRAILER = Trailer()


def _flag(byte: int) -> Flag:
    return Flag.SET if byte == FLAG_SET else Flag.UNSET if byte == ERASED else Flag.BAD


def parse(tail: bytes) -> Trailer:
    """The trailer from the last FIELDS (or more) bytes of a slot."""
    if len(tail) < FIELDS:
        raise ValueError(f"a trailer needs the last {FIELDS} bytes of the slot, got {len(tail)}")
    t = tail[len(tail) - FIELDS :]
    raw_magic = t[FIELDS - OFF_MAGIC :]
    magic = Magic.GOOD if raw_magic == MAGIC else Magic.UNSET if raw_magic == b"\xff" * len(MAGIC) else Magic.BAD
    (swap_size,) = struct.unpack_from("<I", t, FIELDS - OFF_SWAP_SIZE)
    return Trailer(magic=magic, image_ok=_flag(t[FIELDS - OFF_IMAGE_OK]), copy_done=_flag(t[FIELDS - OFF_COPY_DONE]),
                   swap_info=t[FIELDS - OFF_SWAP_INFO], swap_size=swap_size)


def swap_type(primary: Trailer, secondary: Trailer) -> SwapType:
    """MCUboot's boot_swap_type: the tables of design.md ("Image trailers"), in their order."""
    if secondary.magic is Magic.GOOD and secondary.image_ok is Flag.UNSET:
        return SwapType.TEST  # state I
    if secondary.magic is Magic.GOOD and secondary.image_ok is Flag.SET:
        return SwapType.PERM  # state II
    if (primary.magic is Magic.GOOD and secondary.magic is Magic.UNSET and primary.image_ok is Flag.UNSET
            and primary.copy_done is Flag.SET):
        return SwapType.REVERT  # state III
    return SwapType.NONE  # state IV


@dataclass(frozen=True)
class SlotFlags:
    """What mcumgr's image state lists for a slot (Zephyr img_mgmt / MCUboot's serial recovery with
    its image state group): from the swap type the two trailers give."""

    confirmed: bool
    pending: bool
    permanent: bool


def slot_flags(slot: int, kind: SwapType) -> SlotFlags:
    if kind is SwapType.TEST:
        return SlotFlags(slot == 0, slot == 1, False)
    if kind is SwapType.PERM:
        return SlotFlags(slot == 0, slot == 1, slot == 1)
    if kind is SwapType.REVERT:
        return SlotFlags(slot == 1, False, False)
    return SlotFlags(slot == 0, False, False)
