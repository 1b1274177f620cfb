"""LEDs 0..COUNT-1 of the ARM devkit (hal/devkit/panel.c). The host sees
their states in build/sim/<ID>/leds.json ({"leds": [bool, ...], "changes": n, "time": unix}),
rewritten whole on every change (`edgecall sim leds`); they are off after each reset."""
import json
import time

from _devkit_panel import write_leds

COUNT = 8
_leds = [False] * COUNT
_changes = 0


def _index(index):
    if type(index) is not int or not 0 <= index < COUNT:
        raise ValueError("no LED %r" % (index,))
    return index


def _publish() -> None:
    write_leds(json.dumps({"leds": _leds, "changes": _changes, "time": time.time()}) + "\n")


def set(index: int, on: bool) -> None:
    global _changes
    i = _index(index)
    if _leds[i] != bool(on):
        _leds[i] = bool(on)
        _changes += 1
        _publish()


def get(index: int) -> bool:
    return _leds[_index(index)]


def toggle(index: int) -> None:
    set(index, not get(index))


_publish()  # all off: the state after a reset
