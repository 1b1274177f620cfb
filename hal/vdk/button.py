"""Buttons 0..COUNT-1, pressed from the host with `edgecall sim press ID [--button N]
[--hold-ms MS]` (through build/sim/<ID>/buttons.json)."""
from _vdkhal import btn_count, btn_pressed

COUNT = 8


def pressed(index: int = 0) -> bool:
    """True while the button is held down."""
    v = btn_pressed(index)
    if v < 0:
        raise ValueError("no button %r" % (index,))
    return v == 1


def presses(index: int = 0) -> int:
    """How many presses have started so far (catches presses shorter than a poll)."""
    v = btn_count(index)
    if v < 0:
        raise ValueError("no button %r" % (index,))
    return v
