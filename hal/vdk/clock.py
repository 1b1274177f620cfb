"""Ticks and the RTC. Wall time is the host clock plus an offset that set_time() moves (kept in
the device's state folder, so it survives resets like a battery-backed RTC)."""
import time as _time

from _vdkhal import clock_set, clock_ticks_us, clock_time_ms

ticks_ms = _time.ticks_ms
ticks_add = _time.ticks_add
ticks_diff = _time.ticks_diff
# time.ticks_us() of this build only counts whole milliseconds; this one has µs resolution.
ticks_us = clock_ticks_us


def time() -> int:
    """Unix time in seconds."""
    return int(clock_time_ms()) // 1000


def time_ms() -> int:
    """Unix time in milliseconds."""
    return int(clock_time_ms())


def set_time(unix_seconds: int) -> None:
    """Sets the RTC (e.g. from SMP's datetime command)."""
    if clock_set(str(int(unix_seconds))) < 0:
        raise ValueError("bad time")
