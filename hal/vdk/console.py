"""The SMP console on the shared UART (like Zephyr's shell + mcumgr on one port).

The devkit's receive path sends lines that start with 0x06 0x09 or 0x04 0x14 (at the start of
the stream or after "\\n") up to and including their "\\n" here, everything else to the REPL.
read() returns complete frames only; at most 8 KiB wait, the oldest frames are dropped beyond
(dropped() counts them). write() goes out on the UART like print(), at the line rate.
"""
from _vdkhal import con_avail, con_take, con_write, con_dropped


def read() -> bytes:
    """Every console byte received so far (whole frames), b"" if none. Never blocks."""
    n = con_avail()
    if n <= 0:
        return b""
    data = bytes(n)
    con_take(id(data))
    return data


def write(data: bytes) -> None:
    """Sends bytes on the UART (blocks while the transmit FIFO is full, as a UART does)."""
    if isinstance(data, str):
        data = data.encode()
    if con_write(id(data)) < 0:
        raise TypeError("a bytes-like object is required")


def dropped() -> int:
    """Console frames dropped so far (buffer full or oversized)."""
    return con_dropped()
