"""UART pacing: lets bytes through no faster than the line's character rate.

A `Pacer` models one direction of the wire. `chunk(rate)` says how many bytes may be sent now
(0 while the previous chunk is still "on the wire"), `sent(n, rate)` books them, and
`wait(rate)` says how long until the next chunk may go. Chunks are a few milliseconds of line
time, so pacing costs a few hundred wake-ups a second only while data flows.
"""
from __future__ import annotations

import time

CHUNK_SECONDS = 0.004


class Pacer:
    def __init__(self) -> None:
        self.free_at = 0.0  # monotonic time at which the wire is idle again

    @staticmethod
    def chunk_size(rate: float) -> int:
        return max(1, int(rate * CHUNK_SECONDS))

    def wait(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self.free_at - now)

    def ready(self, now: float | None = None) -> bool:
        return self.wait(now) == 0.0

    def sent(self, n: int, rate: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if rate <= 0:
            return
        # a wake-up that comes late (scheduling) does not cost line time: up to one chunk of lateness
        # is made up, so the long-run rate is the line rate, never above it
        self.free_at = max(self.free_at, now - CHUNK_SECONDS) + n / rate
