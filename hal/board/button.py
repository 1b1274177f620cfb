# button.py (board) — the user button (active low, internal pull-up).
from machine import Pin

from hal.boards import board

_pins = [Pin(board()["button"], Pin.IN, Pin.PULL_UP)]


def pressed(index):
    return _pins[index].value() == 0
