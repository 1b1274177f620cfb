# _devkit_video — the ARM devkit's frame memory and display (hal/devkit/video.c); hal/emu/video.py uses it.
Buffer = bytes | bytearray | memoryview

class FrameMem:
    """n bytes (1 .. 1 MiB) of the board's frame memory, outside the MicroPython heap: a writable
    buffer until close() (or collection) gives its pages back; OSError(ENOMEM) when none is left."""
    def __init__(self, nbytes: int) -> None: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...

def free() -> int: ...  # bytes of frame memory not in use
# frame[0:n] -> display/<seq:06d>.jpg and its line in display.times (the RTP timestamp from pkt);
# the file's number, 0 when the display could not write it
def show(frame: Buffer | FrameMem, n: int, pkt: Buffer) -> int: ...
def captured(k: int, rtp_ts: int) -> bool: ...  # "<unix s> <k> <rtp ts>" appended to camera.times
