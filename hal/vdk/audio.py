"""Audio: a microphone that plays a host WAV file in real time, a speaker that records.

Microphone: the WAV file (16-bit mono, its rate must be the stream's) given at
`edgecall sim start --mic FILE`, by set_mic() or by Audio(mic=...); silence without one, and
after its end. Frame k is readable k frame periods after the stream opened (read_frame() gives
None until then); a reader more than 8 frames behind loses the oldest (see `overruns`).
Speaker: write_frame() appends to build/sim/<ID>/speaker.raw (or the `speaker` host path) and
a line "<unix seconds> <byte offset> <bytes>" to speaker.times (or <speaker>.times); mic.times
logs the frames delivered the same way.
"""
from _vdkhal import (
    audio_close, audio_open, audio_overruns, audio_read, audio_ready, audio_set_mic, audio_write,
)

from hal.vdk._buf import nbytes

_ERRORS = {-110: "mic: not a readable 16-bit mono PCM WAV file", -111: "mic: WAV rate differs from the stream's"}


def set_mic(path: str | None) -> None:
    """The host WAV file for streams opened from now on (None: silence)."""
    audio_set_mic(path or "")


class Audio:
    def __init__(self, rate: int = 16000, frame_ms: int = 20, mic: str | None = None,
                 speaker: str | None = None) -> None:
        h = audio_open(rate, frame_ms, mic, speaker)
        if h < 0:
            raise ValueError(_ERRORS.get(h, "bad rate or frame_ms"))
        self._h = h
        self.rate = rate
        self.frame_ms = frame_ms
        self.frame_bytes = rate * frame_ms // 1000 * 2

    def read_frame(self) -> bytes | None:
        """The next microphone frame, or None before its frame period has ended."""
        if audio_ready(self._h) <= 0:
            return None
        frame = bytes(self.frame_bytes)
        audio_read(self._h, id(frame))
        return frame

    def readinto(self, buf) -> bool:
        """Like read_frame() into a writable buffer of frame_bytes; False if none is due."""
        rc = audio_read(self._h, id(buf))
        if rc < 0:
            raise ValueError("buffer must be a writable %d-byte buffer" % self.frame_bytes)
        return rc > 0

    def write_frame(self, pcm) -> None:
        """Plays (records) one frame of int16 PCM."""
        nbytes(pcm)
        if audio_write(self._h, id(pcm)) < 0:
            raise ValueError("stream is closed")

    @property
    def overruns(self) -> int:
        """Microphone frames lost because the reader fell behind."""
        return audio_overruns(self._h)

    def close(self) -> None:
        if self._h:
            audio_close(self._h)
            self._h = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
