"""Audio on the ARM devkit: the board's microphone and speaker (hal/devkit/audio.c, module
_devkit_audio), 16-bit mono PCM in frames of frame_ms on the board's own clock.

Microphone: the WAV file (16-bit mono, its rate must be the stream's) given at
`edgecall sim start --mic FILE` (linked as mic.wav in the device folder), by set_mic() or by
Audio(mic=...) (host paths, relative to the device folder); silence without one, and after its
end. Frame k is readable k frame periods after the stream opened (read_frame() gives None until
then; next_ms() says when); a reader more than 8 frames behind loses the oldest (see `overruns`).
Speaker: write_frame() appends to build/sim/<ID>/speaker.raw (or the `speaker` host path) and a
line "<unix seconds> <byte offset> <bytes>" to speaker.times (or <speaker>.times), stamped with the
board's clock; mic.times logs the frames delivered the same way. The speaker's DAC plays on
without gaps from two frame periods after the first write: a frame written after the queued ones
have played is an underrun (see `underruns`); a write more than 8 frames ahead waits for room.
"""
from _devkit_audio import Stream

_mic = None  # None: the board's microphone (mic.wav); "": silence; else a host path


def set_mic(path: str | None) -> None:
    """The host WAV file for streams opened from now on (None: silence)."""
    global _mic
    _mic = path or ""


class Audio:
    def __init__(self, rate: int = 16000, frame_ms: int = 20, mic: str | None = None,
                 speaker: str | None = None) -> None:
        self._s = Stream(rate, frame_ms, mic if mic else _mic, speaker)
        self.rate = rate
        self.frame_ms = frame_ms
        self.frame_bytes = rate * frame_ms // 1000 * 2

    def read_frame(self) -> bytes | None:
        """The next microphone frame, or None before its frame period has ended."""
        return self._s.read()

    def readinto(self, buf) -> bool:
        """Like read_frame() into a writable buffer of frame_bytes; False if none is due."""
        return self._s.readinto(buf)

    def next_ms(self) -> int:
        """The time.ticks_ms() at which the next microphone frame is ready (now, or in the past,
        when one is ready): a reader sleeps until then instead of polling."""
        return self._s.next_ms()

    def write_frame(self, pcm) -> None:
        """Plays (records) one frame of int16 PCM."""
        self._s.write(pcm)

    @property
    def overruns(self) -> int:
        """Microphone frames lost because the reader fell behind."""
        return self._s.counters()[0]

    @property
    def underruns(self) -> int:
        """Times the speaker ran out of frames to play."""
        return self._s.counters()[1]

    def close(self) -> None:
        self._s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
