# led.py (board) — the board's user LED(s).
from machine import Pin

from hal.boards import board

_pins = [Pin(board()["led"], Pin.OUT)]


def set(index, on):
    _pins[index].value(1 if on else 0)


def get(index):
    return bool(_pins[index].value())
