"""The ARM devkit's camera (hal/devkit/camera.c, module _devkit_camera),
paced: frame k is captured (k - 1) / fps seconds after the camera opened, and
frame()/frame_into() give the newest frame not yet given, waiting for the next one when called
early (frames missed by a late caller are counted in `dropped`).

Pictures: the raw images of the host folder given at `edgecall sim start --camera DIR` (files of
exactly width * height * bytes-per-pixel, in name order, looped), else a moving test pattern
(its first 4 bytes the frame number, big-endian; hal/devkit/camera.c). RGB565 is 16-bit little-endian
words; RGB888 is r, g, b bytes."""
from _devkit_camera import Camera as _Camera

_BPP = {"rgb565": 2, "rgb888": 3}
FPS = 10


class Camera:
    def __init__(self, width: int = 320, height: int = 240, fmt: str = "rgb565", fps: int = FPS) -> None:
        if fmt not in _BPP:
            raise ValueError("fmt must be 'rgb565' or 'rgb888'")
        self._c = _Camera(width, height, _BPP[fmt], fps)
        self.width = width
        self.height = height
        self.fmt = fmt
        self.fps = fps
        self.frame_bytes = width * height * _BPP[fmt]
        self.count = 0

    def frame(self) -> bytes:
        """The next frame (frame_bytes long)."""
        frame = self._c.frame()
        self.count = self._c.counters()[0]
        return frame

    def frame_into(self, buf) -> int:
        """Fills a writable buffer of frame_bytes with the next frame; returns its number."""
        self.count = self._c.frame_into(buf)
        return self.count

    def ready(self) -> bool:
        """True when frame_into() would not wait."""
        return self._c.ready()

    @property
    def dropped(self) -> int:
        """Frames captured that no caller took in time."""
        return self._c.counters()[1]

    def close(self) -> None:
        self._c.close()
