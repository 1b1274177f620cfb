# video.py (board) — RTP/JPEG video (the API of hal.vdk.video) needs a camera driver and the JPEG
# encoder + RTP/JPEG packetizer of native_codec in the board's native module (_nc.mpy). No
# supported board has either yet (see hal.board.camera), so opening a sender or receiver fails
# with OSError(ENODEV) saying what is missing, rather than pretending to capture or display.
try:
    import _nc
except ImportError:
    _nc = None  # type: ignore[assignment]

_ENODEV = 19
_VIDEO_FUNCTIONS = ("jpeg_enc_new", "rtpjpeg_pack_new", "rtpjpeg_depack_new")


def _unavailable(what):
    if _nc is None:
        missing = "the native codec module _nc.mpy is not installed"
    elif not all(hasattr(_nc, f) for f in _VIDEO_FUNCTIONS):
        missing = "this board's _nc.mpy has no JPEG encoder / RTP-JPEG (ec_jpeg, ec_rtpjpeg) functions"
    else:
        missing = "there is no camera driver and no display for this board"
    raise OSError(_ENODEV, "hal.board.video.%s is not available: %s (use a virtual devkit, hal.vdk.video)"
                  % (what, missing))


class _Unavailable:
    """Never constructed successfully; the methods exist for the type check of callers."""

    def close(self):
        pass

    def stats(self):
        raise ValueError("closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoSender(_Unavailable):
    def __init__(self, width=160, height=120, quality=50, subsampling="420", restart_interval=0,
                 ssrc=None, pt=26, mtu=1200):
        _unavailable("VideoSender")

    def capture(self, rtp_ts):
        raise ValueError("VideoSender is closed")

    def poll(self):
        raise ValueError("VideoSender is closed")

    def poll_into(self, buf):
        raise ValueError("VideoSender is closed")


class VideoReceiver(_Unavailable):
    def __init__(self, max_frame_bytes=65536):
        _unavailable("VideoReceiver")

    def on_packet(self, pkt):
        raise ValueError("VideoReceiver is closed")
