"""Speech quality of a HIL call: what a virtual devkit's speaker recorded, put back on the wall
clock, aligned with the speech its peer's microphone played, and scored with PESQ-WB (ITU-T
P.862.2, `pesq` package) and STOI (`pystoi`), as `edgecall bench resilience` scores its simulated
calls.

Recording files (hal/devkit/audio.c, host_tools/sim/board.py): the speaker appends int16 LE PCM to
speaker.raw and a line "<unix seconds> <byte offset> <bytes>" per frame to speaker.times; the
microphone logs the frames it delivers to mic.times the same way (offsets into its WAV file).

Placement on the timeline. A frame's time is when the device wrote it, to the millisecond, and a
device's event loop is never exactly on time: its playout loop runs late and then catches up with
a few frames in quick succession. So the speaker is modelled as the FIFO in front of a DAC: a frame
plays right after the one before it, unless it was written more than `slack_s` after that one
ended (the device wrote nothing for a while: silence, zeros, up to the frame's own time), or it
would wait more than `max_backlog_s` behind the frames queued before it (the queue is flushed and the
frame plays at its own time). Frames are taken in the order of their times (the file's order
among equal times).
"""
from __future__ import annotations

import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

RATE = 16000
SLACK_S = 0.010          # timestamp jitter absorbed without inserting silence (half a 20 ms frame)
MAX_BACKLOG_S = 0.5      # the longest a frame may queue behind earlier ones
PREROLL_S = 2.0          # frames read before a window's start, so the queue state there is right
MIN_SPEECH_S = 0.5       # shorter references or recordings are not scored
SILENCE_DBFS = -70.0     # a scored segment quieter than this (RMS) is "no speech received"
FLOOR = 1e-3             # normalised cross-correlation: energy floor, relative to the reference's
STRETCH_S = 1.0          # the reference is cut into stretches this long for their own delays
STRETCH_SEARCH_S = 0.5   # a stretch's delay is searched this far either side of the whole reference's
STRETCH_SPEECH_DB = 15.0  # a stretch holds speech when its RMS is at most this far below the reference's
STRETCH_MIN_MATCH = 0.5  # a stretch matched more weakly (lost, concealed) gives no delay

PathLike = Union[str, Path]


# ---- the recording -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    t: float       # unix seconds at which the device wrote it
    offset: int    # byte offset in the raw file
    nbytes: int
    line: int      # order in the times file


def _paths(dir_or_paths: Union[PathLike, Sequence[PathLike]]) -> tuple[Path, Path]:
    """(raw, times) from a state folder, a raw file (times beside it) or a (raw, times) pair."""
    if not isinstance(dir_or_paths, (str, Path)):
        raw, times = (Path(p) for p in dir_or_paths)
        return raw, times
    p = Path(dir_or_paths)
    if p.is_dir():
        return p / "speaker.raw", p / "speaker.times"
    beside = Path(f"{p}.times")  # a stream opened with speaker=FILE logs to FILE.times
    if beside.exists() or p.name != "speaker.raw":
        return p, beside
    return p, p.with_name("speaker.times")


def read_times(path: PathLike) -> list[Frame]:
    """The lines of a .times file; a malformed line (e.g. half written) is skipped."""
    frames = []
    with open(path, encoding="ascii", errors="replace") as f:
        for i, line in enumerate(f):
            parts = line.split()
            if len(parts) != 3:
                continue
            try:
                t, offset, nbytes = float(parts[0]), int(parts[1]), int(parts[2])
            except ValueError:
                continue
            if math.isfinite(t) and offset >= 0 and nbytes > 0:
                frames.append(Frame(t, offset, nbytes, i))
    return frames


def place(frames: Sequence[Frame], t0: float, rate: int = RATE, slack_s: float = SLACK_S,
          max_backlog_s: float = MAX_BACKLOG_S) -> list[tuple[int, int, Frame]]:
    """(position from t0, samples played, frame) on the speaker's timeline (module docstring),
    in playing order. A frame placed at its own time ahead of the queue flushes the queue: the
    frames before it stop where it starts."""
    slack, backlog = round(slack_s * rate), round(max_backlog_s * rate)
    out: list[tuple[int, int, Frame]] = []
    cursor: Optional[int] = None  # one past the last sample placed
    for fr in sorted(frames, key=lambda f: (f.t, f.line)):
        own = round((fr.t - t0) * rate)
        if cursor is None or own > cursor + slack:
            at = own
        elif own < cursor - backlog:
            at = own
            while out and out[-1][0] + out[-1][1] > at:
                prev_at, _n, prev = out.pop()
                if prev_at < at:
                    out.append((prev_at, at - prev_at, prev))
        else:
            at = cursor
        out.append((at, fr.nbytes // 2, fr))
        cursor = at + fr.nbytes // 2
    return out


def read_speaker(dir_or_paths: Union[PathLike, Sequence[PathLike]], start_unix: Optional[float] = None,
                 end_unix: Optional[float] = None, rate: int = RATE) -> tuple[np.ndarray, float]:
    """A speaker recording on the wall clock: (int16 samples, unix time of the first one).

    dir_or_paths: the device's state folder (build/sim/<ID>), its speaker.raw, or (raw, times).
    The result runs from start_unix (default: the first frame) to end_unix (default: the end of
    the last frame); time in it with no frame written is zeros, so a window reaching beyond the
    frames is padded. Only frames from PREROLL_S before the window on are read."""
    raw_path, times_path = _paths(dir_or_paths)
    if start_unix is not None and end_unix is not None and end_unix < start_unix:
        raise ValueError(f"end_unix ({end_unix}) is before start_unix ({start_unix})")
    frames = read_times(times_path)
    if start_unix is not None:
        frames = [f for f in frames if f.t >= start_unix - PREROLL_S]
    if end_unix is not None:
        frames = [f for f in frames if f.t < end_unix]
    if start_unix is not None:
        t0 = start_unix
    elif frames:
        t0 = min(f.t for f in frames)
    else:
        return np.zeros(0, dtype=np.int16), 0.0
    placed = place(frames, t0, rate)
    if end_unix is not None:
        n = max(0, round((end_unix - t0) * rate))
    else:
        n = max((at + count for at, count, _fr in placed), default=0)
    out = np.zeros(n, dtype=np.int16)
    size = raw_path.stat().st_size if raw_path.exists() else 0
    if size < 2 or n == 0:
        return out, t0
    data = np.memmap(raw_path, dtype="<i2", mode="r", shape=(size // 2,))
    for at, count, fr in placed:
        first = fr.offset // 2
        count = min(count, len(data) - first)  # a raw file cut short: what is there
        lo, hi = max(at, 0), min(at + count, n)
        if hi > lo:
            out[lo:hi] = data[first + lo - at:first + hi - at]
    return out, t0


def mic_start(dir_or_times: PathLike, start_unix: Optional[float] = None, end_unix: Optional[float] = None,
              rate: int = RATE) -> Optional[float]:
    """When a microphone stream began playing its WAV file (unix seconds; None if no frames),
    from mic.times in a state folder or the file itself, among the frames in [start, end]: frame
    k is due k frame periods after the stream opened and is logged when read, never before, so
    the start is the earliest (time − end of the frame in the file)."""
    p = Path(dir_or_times)
    frames = read_times(p / "mic.times" if p.is_dir() else p)
    starts = [f.t - (f.offset + f.nbytes) / 2 / rate for f in frames
              if (start_unix is None or f.t >= start_unix) and (end_unix is None or f.t <= end_unix)]
    return min(starts) if starts else None


# ---- alignment ------------------------------------------------------------------------------

def _fft_len(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def correlation(reference: np.ndarray, degraded: np.ndarray, rate: int = RATE,
                max_delay_s: float = 2.0) -> np.ndarray:
    """The normalised cross-correlation (FFT) of `reference` with `degraded` at delays 0 ..
    max_delay_s (samples): 1 where `degraded` holds a scaled copy of it. The degraded signal
    runs on in zeros past its end, and its energy under the reference's span is floored at FLOOR
    times the reference's, so near-silent stretches cannot win by a chance match."""
    ref = np.asarray(reference, dtype=np.float64)
    deg = np.asarray(degraded, dtype=np.float64)
    if len(ref) == 0 or len(deg) == 0:
        raise ValueError("align: empty signal")
    ref = ref - ref.mean()
    e_ref = float(np.dot(ref, ref))
    if e_ref <= 0.0:
        raise ValueError("align: the reference is silent")
    max_lag = max(0, int(round(max_delay_s * rate)))
    deg = deg[: len(ref) + max_lag]
    deg = np.concatenate([deg - deg.mean(), np.zeros(len(ref) + max_lag - len(deg))])
    lags = max_lag + 1
    n = _fft_len(len(deg) + len(ref))
    # c[k] = sum_i deg[i + k] * ref[i]
    c = np.fft.irfft(np.fft.rfft(deg, n) * np.conj(np.fft.rfft(ref, n)), n)[:lags]
    cum = np.concatenate([[0.0], np.cumsum(deg * deg)])
    e_deg = cum[len(ref):len(ref) + lags] - cum[:lags]
    result: np.ndarray = c / np.sqrt(e_ref * np.maximum(e_deg, FLOOR * e_ref))
    return result


def align(reference: np.ndarray, degraded: np.ndarray, rate: int = RATE, max_delay_s: float = 2.0) -> int:
    """The delay (samples, 0 .. max_delay_s) of `reference` in `degraded`: the maximum of their
    normalised cross-correlation (correlation()), so a louder stretch elsewhere in the recording,
    silence before or after the speech, or lost frames inside it do not move it."""
    return int(np.argmax(correlation(reference, degraded, rate, max_delay_s)))


def stretch_delays(reference: np.ndarray, degraded: np.ndarray, delay: int, rate: int = RATE) -> list[tuple[int, int, float]]:
    """(start in the reference, delay, normalised cross-correlation) of each STRETCH_S stretch of
    the reference, its delay in `degraded` searched within STRETCH_SEARCH_S of `delay` (the whole
    reference's): a jitter buffer that grows or shrinks, or an underrun, moves the speech after it,
    so each stretch has its own. Stretches without speech (STRETCH_SPEECH_DB) get the delay
    before them (`delay` at the start) and a correlation of 0."""
    ref = np.asarray(reference, dtype=np.float64)
    deg = np.asarray(degraded, dtype=np.float64)
    n, w = max(1, round(STRETCH_S * rate)), round(STRETCH_SEARCH_S * rate)
    quiet = level_dbfs(reference) - STRETCH_SPEECH_DB
    out: list[tuple[int, int, float]] = []
    last = delay
    for start in range(0, len(ref), n):
        seg = ref[start:start + n]
        if len(seg) < n // 2 or level_dbfs(seg) < quiet:
            out.append((start, last, 0.0))
            continue
        lo = max(0, start + delay - w)
        window = deg[lo:start + delay + w + len(seg)]
        if len(window) == 0:
            out.append((start, last, 0.0))
            continue
        c = correlation(seg, window, rate, (len(window) - 1) / rate)
        k = int(np.argmax(c))
        d, match = lo + k - start, float(c[k])
        if match >= STRETCH_MIN_MATCH:
            last = d
        out.append((start, d if match >= STRETCH_MIN_MATCH else last, match))
    return out


def realigned(reference_len: int, degraded: np.ndarray, stretches: list[tuple[int, int, float]],
              rate: int = RATE) -> np.ndarray:
    """The degraded signal cut stretch by stretch at each one's own delay (stretch_delays), as long
    as the reference: what STOI, which needs its inputs aligned, is given."""
    n = max(1, round(STRETCH_S * rate))
    parts = [_cut(degraded, max(0, start + d), min(n, reference_len - start)) for start, d, _m in stretches]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=degraded.dtype)


# ---- scoring --------------------------------------------------------------------------------

def level_dbfs(pcm: np.ndarray) -> float:
    """RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS; −inf for silence)."""
    x = np.asarray(pcm, dtype=np.float64)
    if len(x) == 0:
        return float("-inf")
    rms = math.sqrt(float(np.mean(x * x)))
    return 20.0 * math.log10(rms / 32768.0) if rms > 0 else float("-inf")


def _pcm(x: Union[np.ndarray, PathLike], rate: int, what: str) -> np.ndarray:
    if isinstance(x, (str, Path)):
        with wave.open(str(x), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise ValueError(f"{what}: {x} is not a 16-bit mono WAV file")
            if w.getframerate() != rate:
                raise ValueError(f"{what}: {x} is at {w.getframerate()} Hz, expected {rate} Hz")
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional PCM, got shape {a.shape}")
    return a.astype(np.int16) if a.dtype != np.int16 else a


def _cut(x: np.ndarray, start: int, n: int) -> np.ndarray:
    """n samples of x from start, zeros where x has ended."""
    seg = x[start:start + n]
    return seg if len(seg) == n else np.concatenate([seg, np.zeros(n - len(seg), dtype=x.dtype)])


def pesq_mode(rate: int) -> str:
    if rate == 16000:
        return "wb"
    if rate == 8000:
        return "nb"
    raise ValueError(f"PESQ scores 8000 or 16000 Hz audio, got {rate} Hz")


def score_call(reference_pcm: Union[np.ndarray, PathLike], recording: np.ndarray, rate: int = RATE,
               max_delay_s: Optional[float] = None) -> dict[str, Any]:
    """PESQ and STOI of a received recording against the speech sent.

    The recording is searched (align(), up to max_delay_s; default: all of it) for the speech,
    and the len(reference) samples from that delay are scored, zero-padded if the recording ends
    early. delay_ms is that delay: the mouth-to-ear delay when the recording starts when the
    reference started playing (read_speaker(start_unix=mic_start(...))). Each stretch of speech
    then has its own delay (stretch_delays: the jitter buffer moves it during a call); PESQ aligns
    its utterances itself and scores the cut at delay_ms, STOI scores the recording realigned
    stretch by stretch (realigned()).

    Returns pesq_wb (pesq_nb at 8 kHz), stoi, delay_ms, stretch_delay_ms {"median", "max", "n"}
    (over the stretches of speech matched in the recording; median and max None if none was),
    speech_s (length scored), and level_db
    {"reference", "received"} (RMS dBFS of the reference and of the scored segment), and match,
    the normalised cross-correlation at the delay (1: a copy; a low value with a low PESQ says the
    recording holds little of the speech, e.g. only noise or clicks). Raises
    ValueError saying what is wrong when there is nothing to score: an empty, silent or too short
    recording ("no speech received ..."), or a reference that cannot be scored."""
    from pesq import PesqError, pesq
    from pystoi import stoi

    mode = pesq_mode(rate)
    ref = _pcm(reference_pcm, rate, "reference")
    rec = _pcm(recording, rate, "recording")
    if len(ref) < MIN_SPEECH_S * rate:
        raise ValueError(f"reference too short: {len(ref) / rate:.2f} s (at least {MIN_SPEECH_S} s)")
    if level_dbfs(ref) < SILENCE_DBFS:
        raise ValueError("the reference is silent")
    if len(rec) == 0:
        raise ValueError("no speech received: the recording is empty")
    if len(rec) < MIN_SPEECH_S * rate:
        raise ValueError(f"no speech received: the recording is too short ({len(rec) / rate:.2f} s)")
    if level_dbfs(rec) < SILENCE_DBFS:
        raise ValueError(f"no speech received: the recording is silent (RMS {level_dbfs(rec):.1f} dBFS)")
    ncc = correlation(ref, rec, rate, len(rec) / rate if max_delay_s is None else max_delay_s)
    delay = int(np.argmax(ncc))
    deg = _cut(rec, delay, len(ref))
    level = level_dbfs(deg)
    if level < SILENCE_DBFS:
        raise ValueError(f"no speech received: silence where the speech should be, {delay / rate * 1000:.0f} ms "
                         f"into the recording (RMS {level:.1f} dBFS)")
    r, d = ref.astype(np.float64) / 32768.0, deg.astype(np.float64) / 32768.0
    stretches = stretch_delays(ref, rec, delay, rate)
    matched = [dl for _s, dl, m in stretches if m >= STRETCH_MIN_MATCH]
    d_aligned = realigned(len(ref), rec, stretches, rate).astype(np.float64) / 32768.0
    try:
        p = float(pesq(rate, r, d, mode))
    except (PesqError, ValueError, ArithmeticError) as exc:
        # NoUtterancesError and the like, or (all-zero input) a NaN inside the wrapper
        raise ValueError("no speech received: PESQ found none in the recording "
                         f"({type(exc).__name__}: {exc})") from None
    return {
        f"pesq_{mode}": round(p, 3),
        "stoi": round(float(stoi(r, d_aligned, rate, extended=False)), 4),
        "delay_ms": round(delay * 1000.0 / rate, 2),
        "stretch_delay_ms": {"median": round(float(np.median(matched)) * 1000.0 / rate, 2) if matched else None,
                             "max": round(max(matched) * 1000.0 / rate, 2) if matched else None,
                             "n": len(matched)},
        "speech_s": round(len(ref) / rate, 3),
        "match": round(float(ncc[delay]), 3),
        "level_db": {"reference": round(level_dbfs(ref), 2), "received": round(level, 2)},
    }
