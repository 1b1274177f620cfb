"""The speech corpus (host_tools/speech.py): real 16 kHz prompts of Debian's
asterisk-core-sounds-{es,fr,it,ru}-g722 packages, decoded by our G.722 decoder, built into
deterministic clips with pauses at -26 dBov, cached with a manifest; bad input is a clear error."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from host_tools import speech
from host_tools.speech import SpeechCorpusError


@pytest.fixture(scope="module")
def es() -> speech.Source:
    return speech.package_source("es")


def _copy(source: speech.Source, dest: Path) -> speech.Source:
    """The voice folder's prompts copied to `dest` (same names, same recorded MD5s)."""
    dest.mkdir()
    for name in speech.prompt_names(source):
        shutil.copyfile(source.folder / name, dest / name)
    return replace(source, folder=dest, md5=dict(source.md5))


def _quiet_frames(x: np.ndarray, level: float) -> np.ndarray:
    """Per 10 ms frame: more than 25 dB below the active level (outside a prompt's speech span)."""
    return np.array([speech._dbov(p) < level - speech.SPAN_BELOW_LEVEL_DB for p in speech._frame_power(x)])


def test_our_g722_decoder_is_bit_exact_with_ffmpegs(es: speech.Source) -> None:
    name = speech.prompt_names(es)[0]
    data = speech.read_prompt(es, name)
    ours = speech.decode_g722(data)
    ff = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", str(es.folder / name),
                         "-f", "s16le", "-acodec", "pcm_s16le", "-"], capture_output=True, check=True).stdout
    theirs = np.frombuffer(ff, dtype="<i2")
    assert len(ours) == 2 * len(data) and np.array_equal(ours, theirs)
    assert np.max(np.abs(ours)) > 1000  # speech, not silence


def test_active_level_ignores_pauses() -> None:
    """A 1 kHz tone of RMS -20 dBov: the same active level alone, with 3 s of digital silence and
    with 3 s of noise 50 dB below it; the plain RMS of the padded signals is far lower."""
    t = np.arange(16000) / 16000
    amp = 32768 * 10 ** (-20 / 20) * np.sqrt(2)
    tone = np.round(amp * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    noise = np.round(np.random.default_rng(1).standard_normal(48000) * 32768 * 10 ** (-70 / 20)).astype(np.int16)
    for x in (tone, np.concatenate([tone, np.zeros(48000, np.int16)]), np.concatenate([noise, tone])):
        assert abs(speech.active_level_dbov(x) - (-20.0)) < 0.05, speech.active_level_dbov(x)
    padded = np.concatenate([tone, np.zeros(48000, np.int16)]).astype(np.float64)
    assert 20 * np.log10(np.sqrt(np.mean(padded ** 2)) / 32768) < -25
    assert speech.active_level_dbov(np.zeros(1600, np.int16)) == float("-inf")


@pytest.mark.parametrize("language", speech.LANGUAGES)
def test_clip_is_long_wideband_speech_at_minus_26_dbov_with_pauses(language: str, tmp_path: Path) -> None:
    clip = speech.load_clip(language, cache=tmp_path)
    m, x = clip.manifest, clip.pcm
    assert x.dtype == np.int16 and len(x) >= 24 * speech.RATE and m["seconds"] == round(len(x) / speech.RATE, 3)
    assert m["package"] == speech.PACKAGES[language] and m["version"]
    assert m["rate"] == speech.RATE
    level = speech.active_level_dbov(x)
    assert abs(level - speech.TARGET_DBOV) < 0.05 and m["active_level_dbov"] == round(level, 2)
    assert int(np.max(np.abs(x.astype(np.int32)))) < 32767  # nothing clipped
    names = [p["file"] for p in m["prompts"]]
    assert len(names) >= 5 and len(set(names)) == len(names)
    assert not any(Path(n).stem in speech.TONES for n in names)
    quiet = _quiet_frames(x, level)
    # the clip starts and ends with at most 250 ms of silence
    assert np.flatnonzero(~quiet)[0] * 10 <= speech.EDGE_MS
    assert (len(quiet) - 1 - np.flatnonzero(~quiet)[-1]) * 10 <= speech.EDGE_MS + 10
    # between prompts, a 300-700 ms pause in the signal itself, ending where the next one speaks
    assert len(m["pauses_ms"]) == len(names) - 1
    for pause, nxt in zip(m["pauses_ms"], m["prompts"][1:]):
        assert speech.PAUSE_MS[0] <= pause <= speech.PAUSE_MS[1]
        start = round(nxt["start_s"] * 100)  # in 10 ms frames
        assert quiet[start - pause // 10 + 1: start - 1].all(), (nxt, pause)
        assert not quiet[start: start + 10].all(), nxt  # speech within 100 ms
    saved = json.loads((tmp_path / f"{language}-24s-seed1.json").read_text())
    assert saved == m and all(len(p["sha256"]) == 64 for p in saved["prompts"])


def test_clip_is_deterministic_and_seeded(es: speech.Source) -> None:
    a, b, c = speech.build_clip(es, seed=1), speech.build_clip(es, seed=1), speech.build_clip(es, seed=2)
    assert np.array_equal(a.pcm, b.pcm) and a.manifest == b.manifest
    assert [p["file"] for p in a.manifest["prompts"]] != [p["file"] for p in c.manifest["prompts"]]
    longer = speech.build_clip(es, seconds=30.0)
    assert 30 * speech.RATE <= len(longer.pcm) <= 32 * speech.RATE


def test_cache_is_reused_and_rebuilt_when_an_input_changes(es: speech.Source, tmp_path: Path) -> None:
    src = _copy(es, tmp_path / "voice")
    cache = tmp_path / "cache"
    first = speech.load_clip("es", source=src, cache=cache)
    wav = cache / "es-24s-seed1.wav"
    stamp = wav.stat().st_mtime_ns
    again = speech.load_clip("es", source=src, cache=cache)
    assert wav.stat().st_mtime_ns == stamp and np.array_equal(again.pcm, first.pcm)
    # another package version: rebuilt (same prompts, so the same audio), manifest updated
    newer = replace(src, version=src.version + "+1")
    assert speech.load_clip("es", source=newer, cache=cache).manifest["version"] == newer.version
    assert wav.stat().st_mtime_ns != stamp
    # a prompt the clip uses changes (its MD5 recorded as a new package would): rebuilt from it
    used = first.manifest["prompts"][0]["file"]
    other = next(n for n in speech.prompt_names(src) if n not in {p["file"] for p in first.manifest["prompts"]})
    shutil.copyfile(src.folder / other, src.folder / used)
    newer.md5[used] = newer.md5[other]
    rebuilt = speech.load_clip("es", source=newer, cache=cache)
    assert rebuilt.manifest["prompts"][0]["sha256"] != first.manifest["prompts"][0]["sha256"]
    assert not np.array_equal(rebuilt.pcm[: len(first.pcm)], first.pcm[: len(rebuilt.pcm)])
    # a corrupted cached WAV is not trusted
    data = bytearray(wav.read_bytes())
    data[-100] ^= 0xFF
    wav.write_bytes(bytes(data))
    assert np.array_equal(speech.load_clip("es", source=newer, cache=cache).pcm, rebuilt.pcm)


def test_missing_package_names_it_and_the_install_command() -> None:
    with pytest.raises(SpeechCorpusError, match=r"edgecall-no-such-package is not installed.*"
                                                r"apt-get install -y edgecall-no-such-package"):
        speech.package_source("es", package="edgecall-no-such-package")
    with pytest.raises(SpeechCorpusError, match="language must be one of es, fr, it, ru"):
        speech.package_source("xx")


def test_missing_folder_is_an_error(es: speech.Source, tmp_path: Path) -> None:
    gone = replace(es, folder=tmp_path / "nowhere")
    with pytest.raises(SpeechCorpusError, match=f"prompt folder {tmp_path / 'nowhere'} not found"):
        speech.build_clip(gone)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpeechCorpusError, match="no .g722 prompts in"):
        speech.build_clip(replace(es, folder=tmp_path / "empty"))


def test_truncated_prompt_is_an_error(es: speech.Source, tmp_path: Path) -> None:
    src = _copy(es, tmp_path / "voice")
    name = speech.build_clip(src).manifest["prompts"][0]["file"]
    path = src.folder / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SpeechCorpusError, match=f"{path} .* does not match the MD5 .*truncated or altered.*"
                                                f"--reinstall -y {es.package}"):
        speech.build_clip(src)


def test_empty_prompt_is_an_error(es: speech.Source, tmp_path: Path) -> None:
    src = _copy(es, tmp_path / "voice")
    name = speech.build_clip(src).manifest["prompts"][0]["file"]
    (src.folder / name).write_bytes(b"")
    with pytest.raises(SpeechCorpusError, match="does not match the MD5"):  # the package's copy is not empty
        speech.build_clip(src)
    with pytest.raises(SpeechCorpusError, match=f"{src.folder / name} is empty"):  # no MD5s to check against
        speech.build_clip(replace(src, md5={}))


def test_a_prompt_the_package_ships_empty_is_skipped(es: speech.Source, tmp_path: Path) -> None:
    """ru's is.g722 is 0 bytes in the package itself (its recorded MD5 is the empty file's): such a
    prompt is read as b"" and left out, where an empty file the package did not ship empty fails."""
    ru = speech.package_source("ru")
    for name in speech.prompt_names(ru):
        if (ru.folder / name).stat().st_size == 0:
            assert ru.md5[name] == speech.EMPTY_MD5 and speech.read_prompt(ru, name) == b""
    src = _copy(es, tmp_path / "voice")
    used = {p["file"] for p in speech.build_clip(src).manifest["prompts"]}
    for name in speech.prompt_names(src):  # the copy's other prompts as if shipped empty
        if name not in used:
            (src.folder / name).write_bytes(b"")
            src.md5[name] = speech.EMPTY_MD5
    clip = speech.build_clip(src)
    assert {p["file"] for p in clip.manifest["prompts"]} <= used and clip.manifest["seconds"] >= 24
    for name in used:  # and then all of them: nothing left to build from
        (src.folder / name).write_bytes(b"")
        src.md5[name] = speech.EMPTY_MD5
    with pytest.raises(SpeechCorpusError, match=r"give only 0.0 s of speech, 24.0 s asked"):
        speech.build_clip(src)


def test_clip_length_out_of_range_is_an_error(es: speech.Source) -> None:
    for seconds in (10.0, 1000.0):
        with pytest.raises(SpeechCorpusError, match="a clip lasts 20 to 600 s"):
            speech.build_clip(es, seconds=seconds)
