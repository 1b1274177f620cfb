# _devkit_camera — the ARM devkit's camera (hal/devkit/camera.c); hal/emu/camera.py wraps it.
WBuffer = bytearray | memoryview

class Camera:
    def __init__(self, width: int, height: int, bytes_per_pixel: int, fps: int) -> None: ...
    def frame_into(self, buf: WBuffer) -> int: ...  # the next frame (waits when early); its number
    def frame(self) -> bytes: ...
    def ready(self) -> bool: ...  # a frame not yet given has been captured
    def counters(self) -> tuple[int, int, int]: ...  # (last frame given, dropped, files looped: 0 = pattern)
    def close(self) -> None: ...
