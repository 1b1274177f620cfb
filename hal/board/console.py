# console.py (board) — the device console on the board's USB/UART REPL stream. While the
# application runs it owns stdin; Ctrl-C is still caught by MicroPython's keyboard interrupt
# before it reaches stdin, so it interrupts the application as usual.
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
