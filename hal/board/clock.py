# clock.py (board) — ticks from the CPU, wall time from the port's clock plus an offset that the
# host sets (SMP datetime) after boot, as boards without a battery-backed RTC need.
import time as _t

_offset = 0


def ticks_ms():
    return _t.ticks_ms()


def ticks_diff(a, b):
    return _t.ticks_diff(a, b)


def time():
    """Unix seconds."""
    return int(_t.time()) + _offset


def set_time(unix_seconds):
    global _offset
    _offset = int(unix_seconds) - int(_t.time())
