# camera.py (board) — no camera driver for the supported boards yet: opening one fails clearly.


class Camera:
    def __init__(self, width=320, height=240, fmt="rgb565"):
        raise OSError(19, "no camera on this board (hal.board.camera)")

    def frame(self):
        return b""
