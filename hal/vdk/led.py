"""LEDs 0..COUNT-1. The host sees their states in build/sim/<ID>/leds.json
({"leds": [bool, ...], "changes": n, "time": unix}); they are off after each reset."""
from _vdkhal import led_get, led_set

COUNT = 8


def set(index: int, on: bool) -> None:
    if led_set(index, 1 if on else 0) < 0:
        raise ValueError("no LED %r" % (index,))


def get(index: int) -> bool:
    v = led_get(index)
    if v < 0:
        raise ValueError("no LED %r" % (index,))
    return v == 1


def toggle(index: int) -> None:
    set(index, not get(index))
