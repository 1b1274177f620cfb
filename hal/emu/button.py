"""Buttons 0..COUNT-1 of the ARM devkit (hal/devkit/panel.c), pressed from the host with
`edgecall sim press ID [--button N] [--hold-ms MS]`. The host writes
build/sim/<ID>/buttons.json ({"<n>": {"down": ms, "up": ms, "count": k}}, Unix ms): a button is
down while down <= now < up on the board's wall clock, and count says how many presses it has had.
The numbers are read as ints from the text (this port's floats are single precision, too coarse
for Unix milliseconds)."""
import time

from _devkit_panel import read_buttons

COUNT = 8
_buf = bytearray(2048)


def _number(text, key):
    at = text.find('"%s"' % key)
    if at < 0:
        return 0
    at = text.find(":", at) + 1
    while text[at] == " ":
        at += 1
    end = at + (text[at] == "-")
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return int(text[at:end]) if end > at else 0


def _entry(index):
    if type(index) is not int or not 0 <= index < COUNT:
        raise ValueError("no button %r" % (index,))
    n = read_buttons(_buf)
    text = str(bytes(memoryview(_buf)[:n]), "utf-8")
    at = text.find('"%d"' % index)
    if at < 0:
        return None
    body = text[at:text.find("}", at)]
    return _number(body, "down"), _number(body, "up"), _number(body, "count")


def pressed(index: int = 0) -> bool:
    """True while the button is held down."""
    e = _entry(index)
    if e is None:
        return False
    now = time.time_ns() // 1000000
    return e[0] <= now < e[1]


def presses(index: int = 0) -> int:
    """How many presses have started so far (catches presses shorter than a poll)."""
    e = _entry(index)
    return 0 if e is None else e[2]
