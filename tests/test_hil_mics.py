"""What the HIL's microphones play (host_tools/hil/mics.py) and how one direction of a scored call
is measured (scenarios._direction): the corpus languages per seed, a user's file, the devkit's
mic.wav link, and PESQ/STOI/mouth-to-ear from real mic.times / speaker.times files."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from host_tools import speech
from host_tools.audiofiles import read_wav
from host_tools.hil import mics, scenarios
from host_tools.hil.dut import Dut

RATE = 16000
FRAME = 320  # 20 ms


def _wav(path: Path, pcm: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(pcm, channels).astype("<i2").tobytes())
    return path


def test_corpus_gives_each_device_another_language_per_seed(tmp_path: Path) -> None:
    plan = mics.MicPlan(tmp_path / "mic")
    pairs = {seed: plan.pair(seed) for seed in (1, 2, 3, 5)}
    assert {s: (a.label, b.label) for s, (a, b) in pairs.items()} == {
        1: ("es", "fr"), 2: ("fr", "it"), 3: ("it", "ru"), 5: ("es", "fr")}
    for a, b in pairs.values():
        for m in (a, b):
            pcm, rate = read_wav(m.path)  # what the devkit's microphone will read
            assert rate == RATE and m.path.parent == tmp_path / "mic"
            assert np.array_equal(pcm, m.pcm) and np.array_equal(m.pcm, speech.clip(m.label))
            assert len(m.pcm) >= speech.MIN_SECONDS * RATE
    assert pairs[1][1] is pairs[2][0]  # each clip is written once


def test_a_user_file_is_played_by_both(tmp_path: Path) -> None:
    pcm = (3000 * np.sin(np.arange(RATE) / 7)).astype(np.int16)
    plan = mics.MicPlan(tmp_path / "mic", _wav(tmp_path / "mine.wav", pcm))
    a, b = plan.pair(2)
    assert a is b and a.label == "mine.wav" and np.array_equal(a.pcm, pcm)
    assert not (tmp_path / "mic").exists()


@pytest.mark.parametrize("rate, channels, message", [(8000, 1, "must be 16000 Hz"),
                                                     (RATE, 2, "needs 16-bit mono WAV")])
def test_a_user_file_that_cannot_be_scored_is_refused(tmp_path: Path, rate: int, channels: int, message: str) -> None:
    path = _wav(tmp_path / "bad.wav", np.zeros(rate, np.int16), rate, channels)
    with pytest.raises(ValueError, match=message):
        mics.MicPlan(tmp_path / "mic", path).pair(1)


def test_link_points_the_devkit_microphone_at_the_clip(tmp_path: Path) -> None:
    dev = tmp_path / "sim" / "hil0"
    dev.mkdir(parents=True)
    plan = mics.MicPlan(tmp_path / "mic")
    a, b = plan.pair(1)
    d = Dut("hil0", "virtual", "", sim_dir=dev)
    mics.link(d, a)
    assert (dev / "mic.wav").resolve() == a.path.resolve()
    mics.link(d, b)  # relinked for the next call
    assert (dev / "mic.wav").resolve() == b.path.resolve()
    with pytest.raises(ValueError, match="only a virtual devkit"):
        mics.link(Dut("board0", "board", "/dev/ttyACM0"), a)


def test_spread_is_median_min_max() -> None:
    assert scenarios.spread([4.1, 3.2, 4.4, 3.9]) == {"median": 4.0, "min": 3.2, "max": 4.4, "n": 4}
    assert scenarios.spread([]) == {"median": None, "min": None, "max": None, "n": 0}


def _talk(folder: Path, pcm: np.ndarray, t0: float) -> None:
    """A devkit's mic.times for a stream opened at t0 playing pcm (frame k read when due)."""
    n = len(pcm) // FRAME + 50  # silence after the clip, as the board reads on
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mic.times").write_text("".join(f"{t0 + (k + 1) * 0.02:.3f} {k * 640} 640\n" for k in range(n)))


def _hear(folder: Path, pcm: np.ndarray, t0: float, jitter_s: float = 0.0) -> None:
    """A devkit's speaker.raw/.times holding pcm, its frame k written at t0 + k * 20 ms."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(pcm) // FRAME
    (folder / "speaker.raw").write_bytes(pcm[: n * FRAME].astype("<i2").tobytes())
    rng = np.random.default_rng(1)
    (folder / "speaker.times").write_text("".join(
        f"{t0 + k * 0.02 + rng.uniform(0, jitter_s):.3f} {k * 640} 640\n" for k in range(n)))


def test_a_direction_is_scored_with_its_mouth_to_ear_delay(tmp_path: Path) -> None:
    """The peer's microphone opened at t0 played the clip; this device's speaker played it 180 ms
    later (frames written with up to 5 ms of jitter): the whole clip is scored, nearly perfect,
    and mouth_to_ear_ms is the 180 ms (plus at most the writes' jitter: the speaker's FIFO starts
    at its first frame's time)."""
    plan = mics.MicPlan(tmp_path / "mic")
    clip = plan.pair(1)[0]
    t0 = 1_800_000_000.0
    talker, listener = Dut("hil0", "virtual", "", sim_dir=tmp_path / "hil0"), Dut("hil1", "virtual", "", sim_dir=tmp_path / "hil1")
    _talk(tmp_path / "hil0", clip.pcm, t0)
    _hear(tmp_path / "hil1", clip.pcm, t0 + 0.18, jitter_s=0.005)
    ended = t0 + len(clip.pcm) / RATE + scenarios.HOLD_TAIL_S + 0.3
    d = scenarios._direction(talker, listener, clip, t0 - 1.0, ended)
    assert d["from"] == "hil0" and d["to"] == "hil1" and d["speech"] == "es"
    assert d["speech_s"] == d["clip_s"] >= 20.0
    assert 179.0 <= d["mouth_to_ear_ms"] <= d["mouth_to_ear_max_ms"] <= 186.0 and d["pesq_wb"] > 4.2 and d["stoi"] > 0.99, d
    # a call cut short (--duration): only what had time to arrive is scored
    short = scenarios._direction(talker, listener, clip, t0 - 1.0, t0 + 5.0)
    assert abs(short["speech_s"] - (5.0 - scenarios.HOLD_TAIL_S)) <= 0.01
    assert 179.0 <= short["mouth_to_ear_ms"] <= 186.0


def test_a_direction_with_nothing_heard_fails_naming_it(tmp_path: Path) -> None:
    plan = mics.MicPlan(tmp_path / "mic")
    clip = plan.pair(1)[1]
    t0 = 1_800_000_000.0
    _talk(tmp_path / "hil1", clip.pcm, t0)
    _hear(tmp_path / "hil0", np.zeros_like(clip.pcm), t0 + 0.18)
    with pytest.raises(scenarios.ScenarioFailed, match=r"hil1 -> hil0 \(fr\): no speech received"):
        scenarios._direction(Dut("hil1", "virtual", "", sim_dir=tmp_path / "hil1"),
                             Dut("hil0", "virtual", "", sim_dir=tmp_path / "hil0"), clip, t0 - 1, t0 + 26)
    (tmp_path / "hil1" / "mic.times").write_text("")
    with pytest.raises(scenarios.ScenarioFailed, match="hil1's microphone delivered no frame"):
        scenarios._direction(Dut("hil1", "virtual", "", sim_dir=tmp_path / "hil1"),
                             Dut("hil0", "virtual", "", sim_dir=tmp_path / "hil0"), clip, t0 - 1, t0 + 26)
