# video.py (board) — RTP/JPEG video (RFC 2435), on a board whose
# native codec module has the JPEG encoder and RTP/JPEG (ec_jpeg, ec_rtpjpeg: the _nc of the ARM
# devkit's firmware, the armv7emsp _nc.mpy) and which has a camera and a display:
#
#   camera frame (RGB565) -> _nc JPEG encoder (scan only) -> RTP/JPEG packets, the encoder writing
#   each packet's payload straight into a slot of the packet queue (no JPEG buffer);
#   packet -> _nc depacketizer (reassembly buffer) -> a complete JFIF frame -> the display.
#
# The camera frame, the queue (QUEUE slots of mtu bytes) and the reassembly buffer (max_frame_bytes)
# are allocated once per sender / receiver; nothing is allocated per frame or per packet (poll(),
# which returns new bytes, and stats() aside; a _nc.mpy's argument check allocates for an RTP
# timestamp of 2**30 or more, a long int, where the firmware's _nc does not). capture() encodes and packetizes the whole frame at
# once; when the queue is full the oldest frames are dropped (counted in dropped_frames), a frame
# partly given out losing its remaining packets, and a frame that alone needs more than QUEUE
# packets is dropped itself. Packets off the network never raise: malformed ones are counted.
#
# What a board gives video are the methods _camera, _buffer, _release, _captured and _show, which a
# board's backend overrides (hal.emu.video: the ARM devkit's camera, frame memory and display
# files). The supported real boards have no camera driver and no display yet (hal.board.camera),
# so here opening a sender or receiver fails with OSError(ENODEV) saying what is missing, rather
# than pretending to capture or display.
import array
import random
import time

try:
    import _nc
except ImportError:
    _nc = None  # type: ignore[assignment]

_ENODEV = 19
_VIDEO_FUNCTIONS = ("jpeg_enc_new", "rtpjpeg_pack_new", "rtpjpeg_depack_new")
_SUBSAMPLING = {"420": 0, "422": 1}
_RGB565LE = 1  # _nc.jpeg_enc_new's fmt: 16-bit little-endian RGB565 (the camera's)
MAX_PACKET = 1200  # the largest mtu
QUEUE = 64  # packet slots of a sender


def _unavailable(what, missing):
    return OSError(_ENODEV, "hal.board.video.%s is not available: %s (use a virtual devkit)"
                   % (what, missing))


def _lib(what):
    """_nc, when it has the video functions; else OSError(ENODEV) saying what is missing."""
    if _nc is None:
        raise _unavailable(what, "the native codec module _nc.mpy is not installed")
    for f in _VIDEO_FUNCTIONS:
        if not hasattr(_nc, f):
            raise _unavailable(what, "this board's _nc.mpy has no JPEG encoder / RTP-JPEG (ec_jpeg, ec_rtpjpeg) "
                                     "functions")
    return _nc


def _c():
    """_nc, once _lib() has found its video functions (untyped: states are the stub's _nc.State)."""
    return _nc


def _int(v, name, lo, hi, step=1):
    if type(v) is not int:
        raise ValueError("%s must be an int, got %s" % (name, type(v).__name__))
    if not lo <= v <= hi or (step > 1 and v % step):
        extra = " and a multiple of %d" % step if step > 1 else ""
        raise ValueError("%s must be from %d to %d%s, got %d" % (name, lo, hi, extra, v))
    return v


class _Video:
    _what = "video"
    _open = False
    _buffers = ()  # type: tuple

    def _handle(self):
        if not self._open:
            raise ValueError(self._what + " is closed")

    # ---- what the board gives (overridden by a board's backend) ----
    def _camera(self, width, height):
        """A camera of width x height RGB565 frames: frame_into(buf) -> frame number k, close()."""
        raise _unavailable(self._what, "there is no camera driver for this board")

    def _display(self):
        """Raises when the board has no display for _show."""
        raise _unavailable(self._what, "there is no display for this board")

    def _buffer(self, nbytes):
        """A writable buffer of nbytes, kept until _release."""
        return bytearray(nbytes)

    def _release(self, buf):
        pass

    def _captured(self, k, rtp_ts):
        """Camera frame k was taken for RTP timestamp rtp_ts."""

    def _show(self, frame, n, pkt):
        """Shows the JFIF frame[0:n] that packet pkt completed; False when it could not."""
        return False

    # ----

    def _free_buffers(self):
        bufs, self._buffers = self._buffers, ()
        for b in bufs:
            self._release(b)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass


class VideoSender(_Video):
    """Camera frames of width x height (multiples of 8, up to 2040) -> baseline JPEG (quality
    1..100, subsampling "420" or "422", restart_interval MCUs, 0 = none) -> RTP/JPEG packets of at
    most mtu bytes (192..1200), payload type pt, SSRC ssrc (random when None)."""

    _what = "VideoSender"
    _cam = None  # type: object
    _enc = None  # type: object
    _pack = None  # type: object

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
        _int(mtu, "mtu", 192, MAX_PACKET)
        self.width, self.height, self.quality, self.subsampling = w, h, q, subsampling
        self.restart_interval, self.pt, self.mtu = ri, pt, mtu
        lib = _lib(self._what)
        self._cam = self._camera(w, h)
        self._open = True
        try:
            sub = _SUBSAMPLING[subsampling]
            self._enc = lib.jpeg_enc_new(w, h, _RGB565LE, sub, q, True, ri)
            self._pack = lib.rtpjpeg_pack_new(w, h, sub, q, ri, self.ssrc, pt, mtu, random.getrandbits(16))
            self._frame = self._buffer(w * h * 2)
            self._buffers = (self._frame,)
            self._ring = self._buffer(QUEUE * mtu)
            self._buffers = (self._frame, self._ring)
        except BaseException:
            self.close()
            raise
        ring = memoryview(self._ring)
        self._slots = [ring[i * mtu:(i + 1) * mtu] for i in range(QUEUE)]
        self._lens = array.array("H", bytes(2 * QUEUE))  # packet length per slot
        self._first = bytearray(QUEUE)  # 1: the slot holds the first packet of a frame
        self._head = 0  # the oldest queued slot
        self._count = 0  # packets queued
        self._frames = self._packets = self._octets = self._dropped = 0
        self._last_bytes = self._encode_us = 0

    def capture(self, rtp_ts) -> int:
        """Takes the next camera frame, encodes and packetizes it with RTP timestamp rtp_ts (the
        last packet has the marker bit); the packets queue for poll(). Returns the camera frame
        number k."""
        self._handle()
        ts = _int(rtp_ts, "rtp_ts", 0, 0xFFFFFFFF)
        k = self._cam.frame_into(self._frame)  # type: ignore[attr-defined]
        self._captured(k, ts)
        t0 = time.ticks_us()
        lib = _c()
        lib.rtpjpeg_pack_stream(self._pack, self._enc, ts)
        slots, lens, first = self._slots, self._lens, self._first
        mine = 0  # packets of this frame queued
        while True:
            if self._count == QUEUE and not self._drop_oldest(mine):
                self._count -= mine  # this frame alone needs more than the queue
                self._dropped += 1
                mine = -1
                break
            slot = (self._head + self._count) % QUEUE
            n = lib.rtpjpeg_pack_encode_into(self._pack, self._enc, self._frame, slots[slot])
            if n == 0:
                break
            lens[slot] = n
            first[slot] = 0 if mine else 1
            self._count += 1
            mine += 1
        self._encode_us = time.ticks_diff(time.ticks_us(), t0)
        self._frames += 1
        if mine > 0:
            self._last_bytes = lib.rtpjpeg_pack_sent(self._pack)
        return k

    def _drop_oldest(self, current):
        """Drops the oldest frame queued (what is left of it) unless only the current frame's
        `current` packets are; True when it did."""
        if self._count <= current:
            return False
        while True:
            self._head = (self._head + 1) % QUEUE
            self._count -= 1
            if self._count == current or self._first[self._head]:
                break
        self._dropped += 1
        return True

    def _take(self):
        """The length of the next packet (in slot _head), which leaves the queue."""
        n = self._lens[self._head]
        self._head = (self._head + 1) % QUEUE
        self._count -= 1
        self._packets += 1
        self._octets += n
        return n

    def poll(self):
        """The next RTP packet (bytes), or None when none is queued."""
        self._handle()
        if not self._count:
            return None
        slot = self._head
        return bytes(self._slots[slot][:self._take()])

    def poll_into(self, buf) -> int:
        """Writes the next RTP packet into the start of a writable buffer (bytearray, memoryview)
        of at least mtu bytes; returns its length, 0 when none is queued. Allocates nothing."""
        self._handle()
        if type(buf) is bytes:
            raise ValueError("VideoSender.poll_into: a writable buffer is required, got bytes")
        try:
            size = len(buf)
        except TypeError:
            size = -1
        if size < self.mtu:
            raise ValueError("VideoSender.poll_into: a writable buffer of at least %d bytes is required" % self.mtu)
        if not self._count:
            return 0
        try:
            buf[0:self.mtu] = self._slots[self._head]
        except (TypeError, ValueError, RuntimeError):  # read-only, or a view of wider items
            raise ValueError("VideoSender.poll_into: a writable buffer of bytes is required, got %s"
                             % type(buf).__name__)
        return self._take()

    def stats(self) -> dict:
        """frames (captured), packets and octets (given out by poll), dropped_frames (queue full),
        last_frame_bytes (the last frame's JPEG scan, as RTP carries it), encode_us_last (its
        encoding and packetizing time), queued (packets waiting)."""
        self._handle()
        return {"frames": self._frames, "packets": self._packets, "octets": self._octets,
                "dropped_frames": self._dropped, "last_frame_bytes": self._last_bytes,
                "encode_us_last": self._encode_us, "queued": self._count}

    def close(self) -> None:
        """Gives the memory back (packets still queued are discarded)."""
        self._open = False
        self._slots = []
        self._count = 0
        for st in (self._enc, self._pack):
            if st is not None:
                _c().media_free(st)
        self._enc = self._pack = None
        if self._cam is not None:
            self._cam.close()  # type: ignore[attr-defined]
            self._cam = None
        self._free_buffers()


class VideoReceiver(_Video):
    """RTP/JPEG packets -> complete JPEG frames (at most max_frame_bytes, the JFIF header the
    receiver rebuilds included) -> the board's display."""

    _what = "VideoReceiver"
    _st = None  # type: object

    def __init__(self, max_frame_bytes=65536) -> None:
        self.max_frame_bytes = _int(max_frame_bytes, "max_frame_bytes", 1024, 1 << 24)
        lib = _lib(self._what)
        self._display()
        self._open = True
        try:
            self._st = lib.rtpjpeg_depack_new()
            self._frame = self._buffer(self.max_frame_bytes)
            self._buffers = (self._frame,)
        except BaseException:
            self.close()
            raise
        self._packets = self._malformed = self._display_errors = 0

    def on_packet(self, pkt) -> bool:
        """One RTP/JPEG packet (bytes-like); True when it completed a frame, which is then on the
        display. Malformed packets and incomplete frames are counted in stats(), never raised."""
        self._handle()
        try:
            n = _c().rtpjpeg_depack_push(self._st, pkt, self._frame)
        except TypeError:
            raise ValueError("VideoReceiver.on_packet: pkt must be bytes-like, got %s" % type(pkt).__name__)
        self._packets += 1
        if n <= 0:
            if n < 0:
                self._malformed += 1
            return False
        if not self._show(self._frame, n, pkt):
            self._display_errors += 1
        return True

    def stats(self) -> dict:
        """frames (completed and displayed), dropped (frames given up incomplete: counted when the
        next frame starts), malformed (packets that do not parse), packets (all given to
        on_packet), display_errors (completed frames the display could not show)."""
        self._handle()
        d = _c().rtpjpeg_depack_stats(self._st)
        d["malformed"] = self._malformed
        d["packets"] = self._packets
        d["display_errors"] = self._display_errors
        return d

    def close(self) -> None:
        """Gives the memory back."""
        self._open = False
        if self._st is not None:
            _c().media_free(self._st)
            self._st = None
        self._free_buffers()
