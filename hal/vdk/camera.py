"""A camera: a deterministic moving test pattern whose first 4 bytes are the frame number
(big-endian), or the raw images of the host folder given at `edgecall sim start --camera DIR`
(files of exactly width * height * bytes-per-pixel, in name order, looped).
RGB565 is 16-bit little-endian words; RGB888 is r, g, b bytes."""
from _vdkhal import cam_close, cam_frame, cam_open

_BPP = {"rgb565": 2, "rgb888": 3}


class Camera:
    def __init__(self, width: int = 320, height: int = 240, fmt: str = "rgb565") -> None:
        if fmt not in _BPP:
            raise ValueError("fmt must be 'rgb565' or 'rgb888'")
        h = cam_open(width, height, _BPP[fmt])
        if h < 0:
            raise ValueError("bad frame size")
        self._h = h
        self.width = width
        self.height = height
        self.fmt = fmt
        self.frame_bytes = width * height * _BPP[fmt]
        self.count = 0

    def frame(self) -> bytes:
        """The next frame (frame_bytes long)."""
        buf = bytes(self.frame_bytes)
        self.frame_into(buf)
        return buf

    def frame_into(self, buf) -> int:
        """Fills a writable buffer of frame_bytes with the next frame; returns its number."""
        n = cam_frame(self._h, id(buf))
        if n < 0:
            raise ValueError("buffer must be a writable %d-byte buffer" % self.frame_bytes)
        self.count = n
        return n

    def close(self) -> None:
        if self._h:
            cam_close(self._h)
            self._h = 0
