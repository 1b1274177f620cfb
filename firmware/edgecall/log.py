# log.py — the device log: a ring buffer of the last entries, each (seq, ticks_ms, level, text).
import time

LEVELS = ("debug", "info", "warn", "error")
SIZE = 64

_ring = []  # type: list[tuple]
_seq = 0


def log(level, text):
    global _seq
    _seq += 1
    _ring.append((_seq, time.ticks_ms(), level, str(text)[:160]))
    if len(_ring) > SIZE:
        _ring.pop(0)


def info(text):
    log("info", text)


def warn(text):
    log("warn", text)


def error(text):
    log("error", text)


def since(seq):
    """Entries newer than seq (oldest first) and the last sequence number."""
    return [list(e) for e in _ring if e[0] > seq], _seq
