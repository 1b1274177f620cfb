"""What each device's microphone plays in a scored HIL call.

By default the speech corpus (host_tools/speech.py: 24 s of 16 kHz speech per language, built
from Debian's asterisk-core-sounds-*-g722 prompts and cached in build/speech/): in the call with
impairment seed s, device a plays LANGUAGES[(s - 1) % 4] and device b LANGUAGES[s % 4], so each
direction carries another voice and seeds 1, 2, 3 use es->fr, fr->it, it->ru. The clips are
written as WAV files into the run's folder. With a user's file (`edgecall hil run --mic FILE`)
both devices play that file, whatever the seed.

A virtual devkit's microphone reads mic.wav in its folder when a call opens its audio stream
(hal/devkit/audio.c), so relinking it between calls changes what the next call plays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from host_tools import speech
from host_tools.audiofiles import read_wav, write_wav
from host_tools.hil.dut import Dut
from host_tools.sim import board, state

RATE = 16000


@dataclass(frozen=True, eq=False)
class Mic:
    """One microphone source: the WAV file, its PCM and a label (the language, or the file name)."""

    label: str
    path: Path
    pcm: np.ndarray


def user_file(path: Path) -> Mic:
    """A user's microphone file: 16-bit mono WAV at 16 kHz (ValueError saying what is wrong)."""
    pcm, rate = read_wav(board.check_mic(path))  # check_mic: ValueError unless a 16-bit mono WAV
    if rate != RATE:
        raise ValueError(f"the microphone file must be {RATE} Hz for wideband calls, not {rate} Hz: {path}")
    return Mic(path.name, path, np.asarray(pcm, dtype=np.int16))


@dataclass
class MicPlan:
    """The microphones of the pair per seed: a user's file for both, or corpus clips (module
    docstring) written into `folder` on first use."""

    folder: Path
    user: Path | None = None
    _cache: dict[str, Mic] = field(default_factory=dict)

    def _corpus(self, language: str) -> Mic:
        if language not in self._cache:
            try:
                pcm = speech.clip(language)
            except speech.SpeechCorpusError as e:
                raise RuntimeError(f"the HIL's speech comes from the corpus: {e}; or give --mic FILE") from e
            path = self.folder / f"{language}.wav"
            write_wav(path, pcm, RATE)
            self._cache[language] = Mic(language, path, pcm)
        return self._cache[language]

    def pair(self, seed: int) -> tuple[Mic, Mic]:
        """(device a's microphone, device b's) for the call with this impairment seed."""
        if self.user is not None:
            if "user" not in self._cache:
                self._cache["user"] = user_file(self.user)
            m = self._cache["user"]
            return m, m
        langs = speech.LANGUAGES
        return self._corpus(langs[(seed - 1) % len(langs)]), self._corpus(langs[seed % len(langs)])


def link(dut: Dut, mic: Mic) -> None:
    """Makes the devkit's microphone play `mic` from its next call on."""
    if dut.sim_dir is None:
        raise ValueError(f"{dut.id}: only a virtual devkit's microphone can be set")
    board.link_mic(state.DeviceDir(dut.sim_dir.name, dut.sim_dir.parent), board.check_mic(mic.path))
