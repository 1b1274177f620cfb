"""The host's side of a virtual devkit's board: buttons, LEDs, microphone, speaker.

These parts are files in the device's state folder, shared with the device's firmware, whose QEMU
runs in that folder and reaches it through semihosting (hal.emu: hal/devkit/audio.c, panel.c):
- ``buttons.json`` ``{"<n>": {"down": ms, "up": ms, "count": k}}`` (Unix ms), written here;
- ``leds.json`` ``{"leds": [bool, ...], "changes": n, "time": unix}``, written by the device;
- ``speaker.raw`` (16-bit LE mono) and ``speaker.times`` / ``mic.times`` (one line per frame:
  ``<unix seconds> <byte offset> <bytes>``, the device's wall clock), written by the device,
  emptied at ``sim start``.
The microphone's WAV file and the camera's image folder are host paths kept in state.json's
``extra`` (``mic``, ``camera``): the board reads ``mic.wav``, a link to the WAV made at ``sim start`` (link_mic), and
the camera's ``camera.list`` (host_tools/sim/camera.py).
"""
from __future__ import annotations

import json
import os
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from host_tools.sim import state

BUTTONS = "buttons.json"
LEDS = "leds.json"
SPEAKER = "speaker.raw"
SPEAKER_TIMES = "speaker.times"
MIC_TIMES = "mic.times"
MIC_LINK = "mic.wav"
BUTTON_COUNT = 8


@dataclass(frozen=True)
class FrameTime:
    """One line of speaker.times / mic.times."""

    time: float
    offset: int
    size: int


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(value) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def press(d: state.DeviceDir, button: int = 0, hold_ms: int = 100) -> int:
    """Presses `button` now for `hold_ms`; returns how many presses it has had (this one too)."""
    if not 0 <= button < BUTTON_COUNT:
        raise ValueError(f"button must be 0..{BUTTON_COUNT - 1}, got {button}")
    if hold_ms < 1:
        raise ValueError("hold_ms must be at least 1")
    path = d.path / BUTTONS
    try:
        buttons = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        buttons = {}
    now = time.time() * 1000
    count = int(buttons.get(str(button), {}).get("count", 0)) + 1
    buttons[str(button)] = {"down": now, "up": now + hold_ms, "count": count}
    _write_json(path, buttons)
    return count


def leds(d: state.DeviceDir) -> list[bool]:
    """The LED states the device last wrote (all off before its first boot)."""
    try:
        data = json.loads((d.path / LEDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [False] * 8
    return [bool(v) for v in data.get("leds", [])]


def check_mic(path: Path) -> Path:
    """An absolute path to a readable 16-bit mono WAV file, or ValueError."""
    p = path.expanduser().resolve()
    try:
        with wave.open(str(p), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(f"{p}: the microphone needs 16-bit mono WAV")
    except (OSError, EOFError, wave.Error) as e:
        raise ValueError(f"{p}: not a readable WAV file ({e})") from e
    return p


def link_mic(d: state.DeviceDir, wav: str | Path | None) -> None:
    """Makes mic.wav in the device folder a link to `wav` (a checked WAV file, check_mic), or
    removes it (None): an ARM devkit's microphone plays it, silence without it."""
    link = d.path / MIC_LINK
    link.unlink(missing_ok=True)
    if wav is not None:
        link.symlink_to(Path(wav).resolve())


def reset_audio(d: state.DeviceDir) -> None:
    """Empties the speaker recording and the frame logs (done at every `sim start`)."""
    for name in (SPEAKER, SPEAKER_TIMES, MIC_TIMES):
        (d.path / name).unlink(missing_ok=True)


def speaker(d: state.DeviceDir) -> bytes:
    """Everything the device has played since it was started."""
    try:
        return (d.path / SPEAKER).read_bytes()
    except FileNotFoundError:
        return b""


def frame_times(d: state.DeviceDir, name: str = SPEAKER_TIMES) -> list[FrameTime]:
    """The lines of speaker.times (or mic.times)."""
    try:
        lines = (d.path / name).read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        t, off, n = line.split()
        out.append(FrameTime(float(t), int(off), int(n)))
    return out
