# _devkit_audio — the ARM devkit's microphone and speaker (hal/devkit/audio.c); hal/emu/audio.py
# wraps it. Frames are 16-bit little-endian mono PCM; readinto() fills the caller's buffer.
from typing import Final

Buffer = bytes | bytearray | memoryview
WBuffer = bytearray | memoryview

RING: Final[int]  # frames the microphone's (and the speaker's) ring holds

class Stream:
    # mic: None = mic.wav in the device folder (silence without it), "" = silence, else a host path;
    # speaker: None = speaker.raw, else a host path (logged to <path>.times).
    def __init__(self, rate: int, frame_ms: int, mic: str | None, speaker: str | None) -> None: ...
    def ready(self) -> int: ...  # microphone frames waiting (0: none due yet)
    def next_ms(self) -> int: ...  # time.ticks_ms() when the next frame is ready (now when one is)
    def readinto(self, buf: WBuffer) -> bool: ...  # exactly one frame; False when none is due
    def read(self) -> bytes | None: ...
    def write(self, pcm: Buffer) -> None: ...  # whole samples; waits while the ring is full
    def counters(self) -> tuple[int, int, int]: ...  # (overruns, underruns, frames read or lost)
    def close(self) -> None: ...
