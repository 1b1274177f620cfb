# console.py (board) — the device console on the board's USB/UART REPL stream. While the
# application runs it owns stdin; Ctrl-C is still caught by MicroPython's keyboard interrupt
# before it reaches stdin, so it interrupts the application as usual. wait_input() lets the
# application's event loop sleep until input arrives instead of polling read().
import select
import sys

_poll = select.poll()
_poll.register(sys.stdin, select.POLLIN)
_in = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
_out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else sys.stdout


def _ready():
    for _ in _poll.ipoll(0):  # ipoll: no list of results is allocated
        return True
    return False


def read():
    """Bytes that have arrived (b"" if none), without blocking; nothing is allocated when none
    has (the console is polled every few ms)."""
    if not _ready():
        return b""
    out = bytearray()
    while len(out) < 512 and _poll.poll(0):
        b = _in.read(1)
        if not b:
            break
        out += b if isinstance(b, bytes) else b.encode()
    return bytes(out)


def write(data):
    _out.write(data)


def wait_input():
    """Awaitable (MicroPython's asyncio): ends when input has arrived, at once if some has. The
    awaiting task waits in asyncio's I/O queue on stdin, so the event loop sleeps (the devkit:
    until the UART's receive interrupt) instead of waking to poll."""
    if not _ready():
        from asyncio import core  # type: ignore[attr-defined]  # MicroPython's, not in the port stubs

        yield core._io_queue.queue_read(sys.stdin)
