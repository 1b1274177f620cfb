"""Waves: the device list split by cumulative percentages, e.g. 10,50,100 over 20 devices gives
2, then 8 more, then the last 10. Each wave has at least one device; the list must rise strictly
and end at 100."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class WaveError(ValueError):
    """A malformed wave list, or one that does not fit the number of devices (a usage error)."""


def parse(text: str) -> list[int]:
    """"10,50,100" -> [10, 50, 100]."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise WaveError(f"--waves {text!r}: give cumulative percentages separated by commas, e.g. 10,50,100")
    try:
        values = [int(p.rstrip("%")) for p in parts]
    except ValueError:
        raise WaveError(f"--waves {text!r}: each wave is a whole percentage (1-100), e.g. 10,50,100") from None
    check(values)
    return values


def check(percents: Sequence[int]) -> None:
    if not percents:
        raise WaveError("--waves: at least one wave (100)")
    prev = 0
    for p in percents:
        if not 1 <= p <= 100:
            raise WaveError(f"--waves: {p} is not a percentage between 1 and 100")
        if p <= prev:
            raise WaveError(f"--waves: percentages are cumulative and must rise ({prev} then {p})")
        prev = p
    if percents[-1] != 100:
        raise WaveError(f"--waves: the last wave must be 100 (all devices), not {percents[-1]}")


def sizes(count: int, percents: Sequence[int]) -> list[int]:
    """How many devices each wave adds: the cumulative count rounds up, at least one more each wave."""
    check(percents)
    if count < len(percents):
        raise WaveError(f"--waves: {len(percents)} waves need at least {len(percents)} devices, got {count}")
    out: list[int] = []
    done = 0
    for i, p in enumerate(percents):
        left_waves = len(percents) - i - 1
        upto = max(done + 1, math.ceil(count * p / 100))
        upto = min(upto, count - left_waves)  # leave one device for each later wave
        out.append(upto - done)
        done = upto
    return out


def split(items: Sequence[T], percents: Sequence[int]) -> list[list[T]]:
    out: list[list[T]] = []
    pos = 0
    for n in sizes(len(items), percents):
        out.append(list(items[pos:pos + n]))
        pos += n
    return out
