"""The serial line settings a host has put on the pty, read from the master side.

On Linux, termios calls on a pty master act on the pair's (slave) settings, so the supervisor
sees what pyserial on the host side set: baud rate, data bits, parity, stop bits. TCGETS2
(struct termios2) gives the baud as a number, also for non-standard rates (pyserial sets those
with BOTHER); tcgetattr() with the B* table is the fallback.
"""
from __future__ import annotations

import fcntl
import struct
import termios
from dataclasses import dataclass

TCGETS2 = 0x802C542A  # _IOR('T', 0x2A, struct termios2) on x86-64 and arm64
TERMIOS2 = struct.Struct("4I B 19s 2I")  # iflag oflag cflag lflag, line, cc[19], ispeed, ospeed

_BAUD_CONSTANTS = {
    getattr(termios, name): int(name[1:])
    for name in dir(termios)
    if name.startswith("B") and name[1:].isdigit()
}
STANDARD_BAUDS = frozenset(v for v in _BAUD_CONSTANTS.values() if v > 0)
_DATA_BITS = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}


@dataclass(frozen=True)
class LineSettings:
    baud: int
    bits_per_char: int  # start + data + parity + stop

    @property
    def bytes_per_second(self) -> float:
        return self.baud / self.bits_per_char if self.baud > 0 else 0.0


def _bits(cflag: int) -> int:
    data = _DATA_BITS.get(cflag & termios.CSIZE, 8)
    parity = 1 if cflag & termios.PARENB else 0
    stop = 2 if cflag & termios.CSTOPB else 1
    return 1 + data + parity + stop


def read(fd: int) -> LineSettings:
    """The line settings of the pty pair that `fd` (master or slave) belongs to."""
    try:
        raw = fcntl.ioctl(fd, TCGETS2, bytes(TERMIOS2.size))
        _i, _o, cflag, _l, _line, _cc, _ispeed, ospeed = TERMIOS2.unpack(raw)
        if ospeed > 0:
            return LineSettings(ospeed, _bits(cflag))
    except OSError:
        pass
    attrs = termios.tcgetattr(fd)
    return LineSettings(_BAUD_CONSTANTS.get(attrs[5], 0), _bits(attrs[2]))


def configure(fd: int, baud: int) -> None:
    """Puts the line in raw 8N1 at `baud` (a standard rate), as a board's UART starts."""
    if baud not in _BAUD_CONSTANTS.values():
        raise ValueError(f"unsupported baud rate {baud}")
    speed = next(k for k, v in _BAUD_CONSTANTS.items() if v == baud)
    attrs = termios.tcgetattr(fd)
    attrs[0] = 0  # iflag
    attrs[1] = 0  # oflag
    attrs[2] = (attrs[2] & ~(termios.CSIZE | termios.PARENB | termios.CSTOPB)) | termios.CS8
    attrs[2] |= termios.CREAD | termios.CLOCAL
    attrs[3] = 0  # lflag
    attrs[4] = attrs[5] = speed
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
