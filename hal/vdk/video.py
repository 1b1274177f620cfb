"""Video over RTP/JPEG (RFC 2435) on the virtual devkit: camera -> JPEG -> packets, and packets
-> JPEG -> display, all in the devkit's wasm32 native_codec (ec_jpeg.h, ec_rtpjpeg.h; JS side:
host_tools/sim/vdk/hal_video.mjs). Camera frames and JPEG data stay outside the MicroPython heap:
only RTP packets (at most mtu <= 1200 bytes) come in and out.

    tx = VideoSender(160, 120, quality=50)
    k = tx.capture(rtp_ts)          # camera frame k encoded and packetized, packets queued
    pkt = tx.poll()                 # the next RTP packet (bytes), None when the queue is empty
    n = tx.poll_into(buf)           # the same into a bytearray (no allocation), 0 when empty
    rx = VideoReceiver()
    rx.on_packet(pkt)               # True when it completed a frame (now on the display)

The camera is hal.vdk.camera's source (its test pattern, or the files of `sim start --camera DIR`)
in RGB565. Each capture appends "<unix s> <k> <rtp ts>" to the state folder's camera.times; each
completed frame becomes display/<seq:06d>.jpg there, with "<unix s> <rtp ts> <name> <bytes>" in
display.times. Bad arguments and use after close() raise ValueError; packets off the network never
raise (malformed ones are counted). States live in the codec library's memory until close().
"""
import array
import random

from _vdkhal import (
    video_free, video_rx_new, video_rx_packet, video_rx_stats, video_tx_capture, video_tx_new,
    video_tx_poll, video_tx_stats,
)

_SUBSAMPLING = {"420": 0, "422": 1}
_MAX_PACKET = 1200
_PKT = bytearray(_MAX_PACKET)  # poll output (calls are synchronous, so one buffer serves all)
_PKT_MV = memoryview(_PKT)
_TX_STATS = ("frames", "packets", "octets", "dropped_frames", "last_frame_bytes", "encode_us_last", "queued")
_RX_STATS = ("frames", "dropped", "malformed", "packets")
_ERRORS = {
    -1: "bad argument", -2: "buffer too small", -3: "state not initialised", -4: "malformed input",
    -5: "unsupported", -100: "a bytes-like object is required", -101: "closed",
    -102: "codec library not available (see the device log)", -103: "codec memory exhausted",
}


def _check(rc, what):
    if rc < 0:
        raise ValueError("%s: %s (%d)" % (what, _ERRORS.get(rc, "error"), rc))
    return rc


def _int(v, name, lo, hi, step=1):
    if type(v) is not int:
        raise ValueError("%s must be an int, got %s" % (name, type(v).__name__))
    if not lo <= v <= hi or v % step:
        extra = " and a multiple of %d" % step if step > 1 else ""
        raise ValueError("%s must be from %d to %d%s, got %d" % (name, lo, hi, extra, v))
    return v


def _stats(fn, h, names, what):
    words = array.array("I", bytes(4 * len(names)))
    _check(fn(h, id(words)), what)
    d = {}
    for i in range(len(names)):
        d[names[i]] = words[i]
    return d


class _Video:
    _h = 0
    _what = "video"

    def _handle(self):
        if not self._h:
            raise ValueError(self._what + " is closed")
        return self._h

    def close(self) -> None:
        """Gives the memory back to the codec library (packets still queued are discarded)."""
        if self._h:
            video_free(self._h)
            self._h = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoSender(_Video):
    """Camera frames of width x height (multiples of 8, up to 2040) -> baseline JPEG (quality
    1..100, subsampling "420" or "422", restart_interval MCUs, 0 = none) -> RTP/JPEG packets of at
    most mtu bytes (192..1200), payload type pt, SSRC ssrc (random when None)."""

    _what = "VideoSender"

    def __init__(self, width=160, height=120, quality=50, subsampling="420", restart_interval=0,
                 ssrc=None, pt=26, mtu=1200) -> None:
        w = _int(width, "width", 8, 2040, 8)
        h = _int(height, "height", 8, 2040, 8)
        q = _int(quality, "quality", 1, 100)
        if subsampling not in _SUBSAMPLING:
            raise ValueError("subsampling must be '420' or '422', got %r" % (subsampling,))
        ri = _int(restart_interval, "restart_interval", 0, 65535)
        self.ssrc = random.getrandbits(32) if ssrc is None else _int(ssrc, "ssrc", 0, 0xFFFFFFFF)
        _int(pt, "pt", 0, 127)
        _int(mtu, "mtu", 192, _MAX_PACKET)
        self.width, self.height, self.quality, self.subsampling = w, h, q, subsampling
        self.restart_interval, self.pt, self.mtu = ri, pt, mtu
        self._h = _check(video_tx_new(w, h, q, _SUBSAMPLING[subsampling], ri, self.ssrc, pt, mtu,
                                      random.getrandbits(16)), "VideoSender")

    def capture(self, rtp_ts) -> int:
        """Takes the next camera frame, encodes and packetizes it with RTP timestamp rtp_ts (the
        last packet has the marker bit); the packets queue for poll(). Returns the camera frame
        number k. More than 64 packets queued: the oldest whole frames not yet begun are dropped."""
        h = self._handle()
        ts = _int(rtp_ts, "rtp_ts", 0, 0xFFFFFFFF)
        return _check(video_tx_capture(h, ts), "VideoSender.capture")

    def poll(self):
        """The next RTP packet (bytes), or None when none is queued."""
        n = _check(video_tx_poll(self._handle(), id(_PKT)), "VideoSender.poll")
        return bytes(_PKT_MV[:n]) if n else None

    def poll_into(self, buf) -> int:
        """Writes the next RTP packet into the start of a writable buffer (bytearray, memoryview)
        of at least mtu bytes; returns its length, 0 when none is queued. Allocates nothing: a
        loop that sends many packets within one callback does not fill the heap (the devkit
        collects garbage only between callbacks)."""
        h = self._handle()
        if type(buf) is bytes:
            raise ValueError("VideoSender.poll_into: a writable buffer is required, got bytes")
        rc = video_tx_poll(h, id(buf))
        if rc == -100:
            raise ValueError("VideoSender.poll_into: a writable buffer of at least %d bytes is required" % self.mtu)
        return _check(rc, "VideoSender.poll_into")

    def stats(self) -> dict:
        """frames (captured), packets and octets (given out by poll), dropped_frames (queue full),
        last_frame_bytes (the last frame's JPEG scan, as RTP carries it), encode_us_last (its
        encoding time), queued (packets waiting)."""
        return _stats(video_tx_stats, self._handle(), _TX_STATS, "VideoSender.stats")


class VideoReceiver(_Video):
    """RTP/JPEG packets -> complete JPEG frames (at most max_frame_bytes, the JFIF header the
    receiver rebuilds included) -> the devkit's display."""

    _what = "VideoReceiver"

    def __init__(self, max_frame_bytes=65536) -> None:
        self.max_frame_bytes = _int(max_frame_bytes, "max_frame_bytes", 1024, 1 << 24)
        self._h = _check(video_rx_new(self.max_frame_bytes), "VideoReceiver")

    def on_packet(self, pkt) -> bool:
        """One RTP/JPEG packet (bytes-like); True when it completed a frame, which is then on the
        display. Malformed packets and incomplete frames are counted in stats(), never raised."""
        rc = video_rx_packet(self._handle(), id(pkt))
        if rc == -100:
            raise ValueError("VideoReceiver.on_packet: pkt must be bytes-like, got %s" % type(pkt).__name__)
        return _check(rc, "VideoReceiver.on_packet") == 1

    def stats(self) -> dict:
        """frames (displayed), dropped (frames given up incomplete: counted when the next frame
        starts), malformed (packets that do not parse), packets (all given to on_packet)."""
        return _stats(video_rx_stats, self._handle(), _RX_STATS, "VideoReceiver.stats")
