"""Video on the ARM devkit: RTP/JPEG (RFC 2435), through the _nc
compiled into the firmware (its JPEG encoder and RTP/JPEG packetizer and depacketizer) and the
board's camera, frame memory and display (hal/devkit/camera.c, video.c). The pipeline is
hal.board.video's; this module gives it the board's parts:

- the camera: hal.emu.camera at CAMERA_FPS in RGB565 (its test pattern, or the raw frames of
  `sim start --camera DIR`); capture() takes the newest frame, waiting for the next one (at most
  1 / CAMERA_FPS s) when the last was taken already, so its numbers k follow the camera's clock;
- memory: the camera frame, the packet queue and the reassembly buffer are in the board's frame
  memory (_devkit_video.FrameMem, 1 MiB outside the MicroPython heap), taken once per sender or
  receiver and given back by close(); OSError(ENOMEM) when it is exhausted;
- the display and the camera log: files in the device's folder on the host, in the formats
  host_tools/sim/camera.py reads: each capture appends "<unix s> <k> <rtp ts>" to
  camera.times; each completed frame becomes display/<seq:06d>.jpg, with
  "<unix s> <rtp ts> <name> <bytes>" in display.times.

    tx = VideoSender(160, 120, quality=50)
    k = tx.capture(rtp_ts)          # camera frame k encoded and packetized, packets queued
    n = tx.poll_into(buf)           # the next RTP packet into buf (no allocation), 0 when empty
    rx = VideoReceiver()
    rx.on_packet(pkt)               # True when it completed a frame (now on the display)

Bad arguments and use after close() raise ValueError; packets off the network never raise
(malformed ones are counted). When more than QUEUE packets wait, a frame partly given out loses
its remaining packets (see hal.board.video).
"""
from _devkit_video import FrameMem, captured, free, show

from hal.board import video as _video
from hal.emu.camera import Camera

CAMERA_FPS = 30
QUEUE = _video.QUEUE
_ENOMEM = 12


class _Devkit:
    """The board's parts, for hal.board.video's sender and receiver."""

    def _camera(self, width, height):
        return Camera(width, height, "rgb565", fps=CAMERA_FPS)

    def _display(self):
        pass  # the display is the device folder's display/ (made by the host at `sim start`)

    def _buffer(self, nbytes):
        left = free()
        if nbytes > left:
            raise OSError(_ENOMEM, "frame memory exhausted: %d bytes wanted, %d free (close other video objects)"
                          % (nbytes, left))
        return FrameMem(nbytes)

    def _release(self, buf):
        buf.close()

    def _captured(self, k, rtp_ts):
        captured(k, rtp_ts)

    def _show(self, frame, n, pkt):
        return show(frame, n, pkt) > 0


class VideoSender(_Devkit, _video.VideoSender):
    """Camera frames of width x height (multiples of 8, up to 2040) -> baseline JPEG (quality
    1..100, subsampling "420" or "422", restart_interval MCUs, 0 = none) -> RTP/JPEG packets of at
    most mtu bytes (192..1200), payload type pt, SSRC ssrc (random when None)."""


class VideoReceiver(_Devkit, _video.VideoReceiver):
    """RTP/JPEG packets -> complete JPEG frames (at most max_frame_bytes, the JFIF header the
    receiver rebuilds included) -> the devkit's display."""
