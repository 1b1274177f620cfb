"""The host's side of a virtual devkit's camera and display (hal.emu.camera, hal.emu.video).

A devkit's camera (hal/devkit/camera.c) reads the frames of `sim start --camera DIR` through
``camera.list`` in the device folder, written at ``sim start`` (write_camera_list): one line
``<bytes> <path>`` per regular file of DIR in name order, the path through the link ``camera.src``
(to DIR) in the device folder, lines of at most CAMERA_LINE bytes (files with longer names or a
newline in the name are left out). The camera takes the files exactly one frame long, in a loop.

Files in the device's state folder, written by the device (hal/devkit/video.c) and emptied at every ``sim start`` (reset_video):
- ``camera.times``: ``<unix seconds> <camera frame k> <rtp ts>`` per VideoSender.capture();
- ``display/<seq:06d>.jpg``: each frame a VideoReceiver completed (the JFIF it rebuilt);
- ``display.times``: ``<unix seconds> <rtp ts> <file name> <bytes>`` per displayed frame.

pattern_frame(k, w, h) regenerates the camera's test pattern (hal/devkit/camera.c) as the JPEG encoder
sees it from the RGB565 camera: frame k, quantised to RGB565 and expanded back to 8 bits by bit
replication, as ec_jpeg's RGB565 input path does (native_codec/src/jpeg.c fetch_rgb).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from host_tools.sim import state

if TYPE_CHECKING:
    import numpy as np  # imported where used: `sim start` (reset_video) does not pay for it

CAMERA_TIMES = "camera.times"
CAMERA_LIST = "camera.list"
CAMERA_LINK = "camera.src"
CAMERA_LINE = 255  # the longest line (newline included) the board's camera reads
DISPLAY = "display"
DISPLAY_TIMES = "display.times"


@dataclass(frozen=True)
class CameraTime:
    """One line of camera.times."""

    time: float
    frame: int
    rtp_ts: int


@dataclass(frozen=True)
class DisplayTime:
    """One line of display.times."""

    time: float
    rtp_ts: int
    name: str
    size: int


def reset_video(d: state.DeviceDir) -> None:
    """Empties the camera log and the display (done at every `sim start`): display/ is left as an
    empty folder, where an ARM devkit writes its frames through semihosting (which cannot make
    folders)."""
    for name in (CAMERA_TIMES, DISPLAY_TIMES):
        (d.path / name).unlink(missing_ok=True)
    shutil.rmtree(d.path / DISPLAY, ignore_errors=True)
    (d.path / DISPLAY).mkdir(parents=True, exist_ok=True)


def write_camera_list(d: state.DeviceDir, folder: str | Path | None) -> int:
    """Writes camera.list (and the link camera.src) for an ARM devkit's camera from the raw frames
    of `folder`, or removes them (None: the camera shows its test pattern). Returns the number of
    files listed."""
    link, listing = d.path / CAMERA_LINK, d.path / CAMERA_LIST
    link.unlink(missing_ok=True)
    listing.unlink(missing_ok=True)
    if folder is None:
        return 0
    src = Path(folder).resolve()
    link.symlink_to(src, target_is_directory=True)
    lines = []
    for p in sorted(src.iterdir(), key=lambda q: q.name):
        if not p.is_file() or "\n" in p.name:
            continue
        line = f"{p.stat().st_size} {CAMERA_LINK}/{p.name}\n"
        if len(line.encode()) <= CAMERA_LINE:
            lines.append(line)
    listing.write_text("".join(lines), encoding="utf-8")
    return len(lines)


def _lines(path: Path) -> list[list[str]]:
    try:
        return [ln.split() for ln in path.read_text(encoding="ascii").splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


def camera_times(d: state.DeviceDir) -> list[CameraTime]:
    """The lines of camera.times, oldest first."""
    return [CameraTime(float(t), int(k), int(ts)) for t, k, ts in _lines(d.path / CAMERA_TIMES)]


def display_times(d: state.DeviceDir) -> list[DisplayTime]:
    """The lines of display.times, oldest first."""
    return [DisplayTime(float(t), int(ts), name, int(n)) for t, ts, name, n in _lines(d.path / DISPLAY_TIMES)]


def display_frame(d: state.DeviceDir, name: str) -> bytes:
    """One displayed JPEG by its file name (as display.times gives it)."""
    return (d.path / DISPLAY / name).read_bytes()


def pattern_rgb565(k: int, width: int, height: int) -> np.ndarray:
    """Frame k of the camera's test pattern as the (height, width) uint16 RGB565 values it
    delivers (little-endian in memory), the frame number in its first 4 bytes included."""
    import numpy as np

    if not (isinstance(k, int) and 0 <= k <= 0xFFFFFFFF):
        raise ValueError(f"k must be a frame number from 0 to 2**32 - 1, got {k!r}")
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise ValueError(f"width and height must be positive ints, got {width!r} x {height!r}")
    x = np.arange(width, dtype=np.uint32)[None, :]
    y = np.arange(height, dtype=np.uint32)[:, None]
    r = (x + 4 * k) & 0xFF
    g = (y + 2 * k) & 0xFF
    b = (16 * ((x >> 3) ^ (y >> 3)) + k) & 0xFF
    v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
    raw = v.astype("<u2").tobytes()
    if len(raw) >= 4:
        raw = k.to_bytes(4, "big") + raw[4:]  # hal_camera.mjs writes k over the first 4 bytes
    return np.frombuffer(raw, "<u2").reshape(height, width).astype(np.uint16)


def rgb565_to_rgb888(v: np.ndarray) -> np.ndarray:
    """RGB565 values -> (..., 3) uint8 RGB, each field widened by repeating its top bits (the
    expansion of ec_jpeg's RGB565 input)."""
    import numpy as np

    v = v.astype(np.uint32)
    r5, g6, b5 = v >> 11 & 0x1F, v >> 5 & 0x3F, v & 0x1F
    rgb = np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)], axis=-1)
    return rgb.astype(np.uint8)


def pattern_frame(k: int, width: int, height: int) -> np.ndarray:
    """Frame k of the camera's test pattern as the (height, width, 3) uint8 RGB image the JPEG
    encoder codes from the RGB565 camera (VideoSender's source)."""
    return rgb565_to_rgb888(pattern_rgb565(k, width, height))
