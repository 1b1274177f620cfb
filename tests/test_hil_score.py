"""HIL speech scoring: the speaker recording put back on the wall clock, alignment, PESQ/STOI of a
received recording, and the netstack's own figure for an impairment profile."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from host_tools.audiofiles import read_wav
from host_tools.hil import score
from host_tools.hil.netref import netstack_pesq

RATE = 16000
FRAME = 320  # 20 ms


@pytest.fixture(scope="module")
def speech(testdata: Path) -> np.ndarray:
    pcm, rate = read_wav(testdata / "speech" / "speech_16k.wav")
    assert rate == RATE
    return pcm


@pytest.fixture(scope="module")
def speech_wav(testdata: Path) -> Path:
    return testdata / "speech" / "speech_16k.wav"


def _delayed(pcm: np.ndarray, delay: int, tail: int) -> np.ndarray:
    return np.concatenate([np.zeros(delay, np.int16), pcm, np.zeros(tail, np.int16)])


# ---- scoring ------------------------------------------------------------------------------------

def test_delayed_copy_with_silence_around_scores_high_at_the_right_delay(speech: np.ndarray) -> None:
    rec = _delayed(speech, round(0.137 * RATE), RATE)
    r = score.score_call(speech, rec)
    assert abs(r["delay_ms"] - 137.0) <= 1.0, r
    assert r["pesq_wb"] > 4.0 and r["stoi"] > 0.99, r
    assert r["speech_s"] == pytest.approx(len(speech) / RATE)
    assert abs(r["level_db"]["reference"] - r["level_db"]["received"]) < 0.01 and r["match"] > 0.99


def test_recording_that_ends_early_is_padded(speech: np.ndarray) -> None:
    rec = _delayed(speech, 800, 0)[: 800 + len(speech) * 3 // 4]
    r = score.score_call(speech, rec)
    assert abs(r["delay_ms"] - 50.0) <= 1.0 and r["speech_s"] == pytest.approx(len(speech) / RATE)


def _burst_loss(pcm: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Zeroes `fraction` of the 20 ms frames, in bursts of 1 to 4 frames."""
    out = pcm.copy()
    rng = np.random.default_rng(seed)
    frames = len(pcm) // FRAME
    lost: set[int] = set()
    while len(lost) < fraction * frames:
        start = int(rng.integers(frames))
        lost.update(range(start, min(frames, start + int(rng.integers(1, 5)))))
    for k in lost:
        out[k * FRAME:(k + 1) * FRAME] = 0
    return out


def test_heavily_degraded_copy_scores_clearly_lower_and_still_aligns(speech: np.ndarray) -> None:
    delay = round(0.250 * RATE)
    good = score.score_call(speech, _delayed(speech, delay, RATE // 2))
    bad = score.score_call(speech, _delayed(_burst_loss(speech, 0.30, seed=3), delay, RATE // 2))
    assert abs(bad["delay_ms"] - 250.0) <= 1.0, bad
    assert bad["pesq_wb"] < good["pesq_wb"] - 1.0 and bad["pesq_wb"] < 3.0, (good, bad)
    assert bad["stoi"] < good["stoi"]


def test_align_ignores_a_louder_stretch_elsewhere(speech: np.ndarray) -> None:
    """Loud noise before the (quieter, 30 % burst-lost) speech does not pull the alignment."""
    rng = np.random.default_rng(5)
    noise = (8000 * rng.standard_normal(RATE)).astype(np.int16)
    quiet = (_burst_loss(speech, 0.30, seed=4) // 4).astype(np.int16)
    rec = np.concatenate([noise, np.zeros(1234, np.int16), quiet, np.zeros(RATE, np.int16)])
    assert score.align(speech, rec, RATE, max_delay_s=3.0) == RATE + 1234


@pytest.mark.parametrize("rec, message", [
    (np.zeros(0, np.int16), "empty"),
    (np.zeros(3 * RATE, np.int16), "silent"),
    (np.ones(3 * RATE, np.int16), "silent"),
    (np.zeros(RATE // 10, np.int16) + 1000, "too short"),
])
def test_nothing_received_is_a_clear_error(speech: np.ndarray, rec: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=f"no speech received.*{message}"):
        score.score_call(speech, rec)


def test_speech_missing_where_it_should_be_is_a_clear_error(speech: np.ndarray) -> None:
    """A click far from the search range's speech: the scored segment is silence."""
    rec = np.zeros(4 * RATE, np.int16)
    rec[10] = 20000
    with pytest.raises(ValueError, match="no speech received"):
        score.score_call(speech, rec)


def test_a_click_is_scored_but_matches_nothing(speech: np.ndarray) -> None:
    rec = np.zeros(4 * RATE, np.int16)
    rec[2 * RATE] = 20000
    r = score.score_call(speech, rec)
    assert r["match"] < 0.1 and r["pesq_wb"] < 1.5, r


@pytest.mark.parametrize("error", ["NoUtterancesError", "ValueError"])
def test_pesq_errors_become_value_errors(speech: np.ndarray, monkeypatch: pytest.MonkeyPatch, error: str) -> None:
    """What pesq raises on input without speech (NoUtterancesError; a NaN ValueError for all
    zeros) comes out as the same clear ValueError."""
    import pesq

    exc = pesq.NoUtterancesError("No utterances detected") if error != "ValueError" else \
        ValueError("cannot convert float NaN to integer")

    def fail(*_args: object, **_kw: object) -> float:
        raise exc

    monkeypatch.setattr(pesq, "pesq", fail)
    with pytest.raises(ValueError, match="no speech received: PESQ found none"):
        score.score_call(speech, _delayed(speech, 100, 100))


# ---- the recording -----------------------------------------------------------------------------

def _write_recording(d: Path, frames: list[tuple[float, np.ndarray]]) -> None:
    """speaker.raw / speaker.times as hal_audio.mjs writes them (frames in file order)."""
    offset = 0
    with open(d / "speaker.raw", "wb") as raw, open(d / "speaker.times", "w") as times:
        for t, pcm in frames:
            raw.write(pcm.astype("<i2").tobytes())
            times.write(f"{t:.3f} {offset} {2 * len(pcm)}\n")
            offset += 2 * len(pcm)


def _frame(value: int) -> np.ndarray:
    return np.full(FRAME, value, np.int16)


def test_read_speaker_places_frames_and_fills_gaps_with_zeros(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    # frames 1..5 every 20 ms (with 3 ms of timestamp jitter), nothing for 100 ms, then 6..8
    times = [t0 + 0.020 * k + (0.003 if k == 2 else 0.0) for k in range(5)]
    times += [t0 + 0.200 + 0.020 * k for k in range(3)]
    _write_recording(tmp_path, [(t, _frame(k + 1)) for k, t in enumerate(times)])
    pcm, start = score.read_speaker(tmp_path)
    assert start == t0
    assert len(pcm) == round(0.260 * RATE)
    for k in range(5):  # contiguous despite the jitter
        assert (pcm[k * FRAME:(k + 1) * FRAME] == k + 1).all()
    assert (pcm[5 * FRAME:10 * FRAME] == 0).all()  # the gap, 100 ms to 200 ms
    for k in range(3):
        assert (pcm[(10 + k) * FRAME:(11 + k) * FRAME] == k + 6).all()

    # a window: 150 ms to 230 ms, given as the raw file's path
    win, start = score.read_speaker(tmp_path / "speaker.raw", start_unix=t0 + 0.150, end_unix=t0 + 0.230)
    assert start == t0 + 0.150 and len(win) == round(0.080 * RATE)
    assert (win[:FRAME * 5 // 2] == 0).all()
    assert (win[FRAME * 5 // 2:FRAME * 7 // 2] == 6).all() and (win[FRAME * 7 // 2:] == 7).all()


def test_read_speaker_queues_bursts_and_sorts_by_time(tmp_path: Path) -> None:
    t0 = 1_700_000_100.0
    # the file holds one line out of time order (9, written at 30 ms: within the slack after 1);
    # then nothing until 2 at 70 ms (a gap), and 3 right after it (the loop catching up: queued)
    entries = [(t0, _frame(1)), (t0 + 0.070, _frame(2)), (t0 + 0.071, _frame(3)), (t0 + 0.030, _frame(9))]
    _write_recording(tmp_path, entries)
    pcm, _ = score.read_speaker(tmp_path)
    at2 = round(0.070 * RATE)
    assert (pcm[:FRAME] == 1).all() and (pcm[FRAME:2 * FRAME] == 9).all()
    assert (pcm[2 * FRAME:at2] == 0).all()
    assert (pcm[at2:at2 + FRAME] == 2).all() and (pcm[at2 + FRAME:at2 + 2 * FRAME] == 3).all()
    assert len(pcm) == at2 + 2 * FRAME


def test_read_speaker_cuts_a_backlog_that_grows_too_long(tmp_path: Path) -> None:
    """40 frames written within 40 ms (800 ms of audio): after MAX_BACKLOG_S a frame plays at its own time."""
    t0 = 1_700_000_150.0
    _write_recording(tmp_path, [(t0 + 0.001 * k, _frame(k + 1)) for k in range(40)])
    pcm, _ = score.read_speaker(tmp_path)
    assert len(pcm) < round((0.040 + score.MAX_BACKLOG_S) * RATE) + FRAME
    assert (pcm[:FRAME] == 1).all() and pcm[-1] == 40
    values = pcm[::16]  # one sample per millisecond: frame numbers never go back (no stale tail)
    assert (np.diff(values.astype(int)) >= 0).all()


def test_read_speaker_several_calls_and_a_window(tmp_path: Path, speech: np.ndarray) -> None:
    """Two calls in one file: the window of the second scores against the speech."""
    t1, t2 = 1_700_000_200.0, 1_700_000_260.0
    first = [(t1 + 0.02 * k, _frame(500)) for k in range(100)]
    body = _delayed(speech, round(0.120 * RATE), RATE // 2)
    body = body[: len(body) // FRAME * FRAME]
    second = [(t2 + 0.02 * k, body[k * FRAME:(k + 1) * FRAME]) for k in range(len(body) // FRAME)]
    _write_recording(tmp_path, first + second)
    rec, start = score.read_speaker(tmp_path, start_unix=t2 - 0.080, end_unix=t2 + 5.0)
    assert start == t2 - 0.080 and len(rec) == round(5.080 * RATE)
    r = score.score_call(speech, rec)
    assert abs(r["delay_ms"] - 200.0) <= 1.0 and r["pesq_wb"] > 4.0, r


def test_mic_start_is_the_earliest_frame_start(tmp_path: Path) -> None:
    t0 = 1_700_000_300.0
    # frame k (1-based) due at t0 + 0.02 k, read late by 0..5 ms
    lines = [f"{t0 + 0.02 * k + 0.001 * (k % 6):.3f} {(k - 1) * 640} 640\n" for k in range(1, 50)]
    (tmp_path / "mic.times").write_text("".join(lines))
    start = score.mic_start(tmp_path)
    assert start is not None and abs(start - t0) < 1e-6


def test_empty_recording_files(tmp_path: Path) -> None:
    (tmp_path / "speaker.raw").write_bytes(b"")
    (tmp_path / "speaker.times").write_text("")
    pcm, _ = score.read_speaker(tmp_path)
    assert len(pcm) == 0
    pcm, start = score.read_speaker(tmp_path, start_unix=10.0, end_unix=11.0)
    assert start == 10.0 and len(pcm) == RATE and not pcm.any()


# ---- the netstack's figure -----------------------------------------------------------------------

def test_netstack_pesq_clean_lossy_and_deterministic(speech_wav: Path) -> None:
    clean = netstack_pesq("clean", speech_wav)
    assert clean["pesq_wb"] >= 3.5 and clean["loss"] == 0.0, clean
    lossy = netstack_pesq("lossy-30", speech_wav, seed=1)
    assert lossy["pesq_wb"] < clean["pesq_wb"] - 1.0 and 0.2 < lossy["loss"] < 0.4, lossy
    assert netstack_pesq("lossy-30", speech_wav, seed=1) == lossy
    assert netstack_pesq("lossy-30", speech_wav, seed=2)["loss"] != lossy["loss"]


def test_a_delay_that_grows_mid_call_is_followed_stretch_by_stretch() -> None:
    """A jitter buffer that grows by 60 ms halfway through 24 s of corpus speech: each stretch is
    aligned on its own, so STOI stays that of a clean copy (a single delay for all of it would
    misalign half the clip by 60 ms) and the stretch delays show both the 100 and the 160 ms."""
    from pystoi import stoi

    from host_tools import speech as corpus

    clip = corpus.clip("es")
    half = len(clip) // 2 // RATE * RATE  # on a stretch boundary
    rec = np.concatenate([np.zeros(1600, np.int16), clip[:half], np.zeros(960, np.int16), clip[half:],
                          np.zeros(RATE, np.int16)])
    r = score.score_call(clip, rec, max_delay_s=1.0)
    assert r["stoi"] > 0.99 and r["pesq_wb"] > 4.0, r
    sd = r["stretch_delay_ms"]
    assert sd["n"] >= 15 and sd["median"] in (100.0, 160.0) and sd["max"] == 160.0, sd
    delays = {round(d * 1000 / RATE) for _s, d, m in score.stretch_delays(clip, rec, round(r["delay_ms"] * 16))
              if m >= score.STRETCH_MIN_MATCH}
    assert delays == {100, 160}
    one_delay = score._cut(rec, round(r["delay_ms"] * RATE / 1000), len(clip)).astype(np.float64) / 32768
    assert stoi(clip / 32768.0, one_delay, RATE) < r["stoi"] - 0.02  # what the realignment buys
