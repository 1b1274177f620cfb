# codec.py (board) — the C codecs and media stack of native_codec through the _nc module: `_nc.mpy`
# on a stock MicroPython board (installed into /lib by `edgecall deploy`, built for the board's
# architecture by host_tools/native/natmod.py) or `_nc` compiled into the firmware (the devkit's),
# so the firmware runs unchanged on either: PCM is bytes-like little-endian int16, results are bytes, bad
# arguments raise ValueError (TypeError for what is not bytes-like), packets off the network
# never raise. States live in _nc.State objects on the MicroPython heap; close() (or `with`)
# releases one at once, else the garbage collector does. The media states are the exception: the
# last closed sender's and receiver's states are kept, and the next MediaSender/MediaReceiver
# uses their memory again when it is large enough (_nc's spare argument), so a device that made
# its largest call states once while its heap was whole (the firmware does at start) never
# needs tens of KiB in one piece again.
#
# OPUS is True when this _nc carries libopus (the armv7emsp _nc.mpy and the devkit's firmware):
# calls then offer Opus (RFC 7587) first. The _into methods write into the caller's buffer and
# allocate nothing, for the media path; poll()/pull()/poll_feedback() return new bytes. The
# media objects keep the _nc functions a call runs every frame (push, poll_into, on_packet,
# pull_into, poll_feedback_into) as attributes: one lookup a call instead of _lib()'s.
import random

try:
    import _nc
except ImportError:
    _nc = None  # type: ignore[assignment]

OPUS = _nc is not None and hasattr(_nc, "opus_version")

_LAWS = {"ulaw": 0, "alaw": 1}
CODECS = {"pcmu": 0, "pcma": 1, "g722": 2, "dvi4": 3, "opus": 4}
_BLOCK = {"pcmu": 80, "pcma": 80, "g722": 160, "dvi4": 80, "opus": 160}  # samples per 10 ms
_RX_STATUS = {0: "media", 1: "rtcp", 2: "fec", 3: "late", 4: "duplicate", 5: "ignored",
              6: "overflow", -4: "malformed", -5: "unsupported"}
_closed = None  # a closed state stands in for the states of closed objects (calls raise ValueError)
_spare = {}  # type: dict[str, object]  # "tx"/"rx": the last closed media state, memory for the next


def _lib():
    if _nc is None:
        raise OSError(19, "native codec module _nc.mpy is not installed on this board")
    return _nc


def library_bytes() -> int:
    """Memory the codec library holds outside the MicroPython heap: none, states are on it."""
    return 0


def _law(law):
    if law not in _LAWS:
        raise ValueError("law must be 'ulaw' or 'alaw', got %r" % (law,))
    return _LAWS[law]


def g711_encode(pcm, law="ulaw"):
    """G.711: one byte per sample."""
    return _lib().g711_encode(_law(law), pcm)


def g711_decode(data, law="ulaw"):
    """G.711: one int16 sample per byte."""
    return _lib().g711_decode(_law(law), data)


class _Codec:
    _st = None  # type: object
    _spare_key = None  # type: str | None

    def close(self):
        """Releases the state; later calls raise ValueError."""
        global _closed
        if self._st is not None and self._st is not _closed:
            lib = _lib()
            lib.media_free(self._st)
            if self._spare_key is not None:
                _spare[self._spare_key] = self._st
            if _closed is None:
                _closed = lib.adpcm_new()
                lib.media_free(_closed)
            self._st = _closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class G722Encoder(_Codec):
    """G.722 at 16 kHz: every two samples give one codeword byte; state carries over."""

    def __init__(self, bitrate=64000):
        self.bitrate = bitrate
        self._st = _lib().g722_enc_new(bitrate)

    def encode(self, pcm):
        return _lib().g722_encode(self._st, pcm)

    def encode_into(self, pcm, out):
        """Codewords into out; returns their count."""
        return _lib().g722_encode_into(self._st, pcm, out)


class G722Decoder(_Codec):
    """G.722 decoder in mode 1, 2 or 3 (64000, 56000, 48000): each byte gives two samples."""

    def __init__(self, bitrate=64000):
        self.bitrate = bitrate
        self._st = _lib().g722_dec_new(bitrate)

    def decode(self, data):
        return _lib().g722_decode(self._st, data)

    def decode_into(self, data, out):
        """PCM into out; returns its byte count."""
        return _lib().g722_decode_into(self._st, data, out)


def _layout(layout, block_size):
    if layout not in ("dvi4", "ima-wav"):
        raise ValueError("layout must be 'dvi4' or 'ima-wav', got %r" % (layout,))
    if type(block_size) is not int or not 5 <= block_size <= 65536:
        raise ValueError("block_size must be 5 to 65536 bytes")
    return (block_size - 4) * 2 + 1


class AdpcmEncoder(_Codec):
    """IMA ADPCM. "dvi4": encode(pcm) gives one DVI4 RTP payload (RFC 3551) for an even number of
    samples. "ima-wav": encode() gives the whole WAV IMA blocks of block_size bytes that the
    samples so far fill; flush() the last one, zero-padded."""

    def __init__(self, layout="dvi4", block_size=256):
        self.samples_per_block = _layout(layout, block_size)
        self.layout = layout
        self.block_size = block_size
        self._pending = bytearray()
        self._st = _lib().adpcm_new()

    def encode(self, pcm):
        lib = _lib()
        if self.layout == "dvi4":
            return lib.dvi4_encode(self._st, pcm)
        if len(memoryview(pcm)) & 1:
            raise ValueError("AdpcmEncoder.encode: PCM must be whole int16 samples")
        self._pending.extend(pcm)
        blk = 2 * self.samples_per_block
        count = len(self._pending) // blk
        out = bytearray()
        src = memoryview(self._pending)
        for i in range(count):
            out.extend(lib.ima_encode(self._st, src[i * blk:(i + 1) * blk], self.block_size))
        self._pending = self._pending[count * blk:]
        return bytes(out)

    def flush(self):
        """ima-wav: the last block, padded with zero samples; b"" if nothing is pending."""
        if self.layout != "ima-wav" or not self._pending:
            return b""
        self._pending.extend(bytes(2 * self.samples_per_block - len(self._pending)))
        out = _lib().ima_encode(self._st, self._pending, self.block_size)
        self._pending = bytearray()
        return out


class AdpcmDecoder(_Codec):
    """IMA ADPCM: one DVI4 payload per decode() (its header resets the state), or whole WAV
    IMA blocks."""

    def __init__(self, layout="dvi4", block_size=256):
        self.samples_per_block = _layout(layout, block_size)
        self.layout = layout
        self.block_size = block_size
        self._st = _lib().adpcm_new()

    def decode(self, payload):
        lib = _lib()
        if self.layout == "dvi4":
            return lib.dvi4_decode(self._st, payload)
        src = memoryview(payload)
        bs = self.block_size
        if len(src) % bs:
            raise ValueError("AdpcmDecoder.decode: ima-wav data must be whole blocks")
        out = bytearray()
        for i in range(len(src) // bs):
            out.extend(lib.ima_decode(self._st, src[i * bs:(i + 1) * bs]))
        return bytes(out)


class Plc(_Codec):
    """Packet-loss concealment on decoded PCM (G.711 Appendix I at 8 kHz, its wideband scaling
    at 16 kHz). Frames are frame_ms long (a multiple of 10 ms); the output lags by 3.75 ms."""

    def __init__(self, rate=8000, frame_ms=10):
        if rate not in (8000, 16000):
            raise ValueError("rate must be 8000 or 16000")
        if type(frame_ms) is not int or frame_ms <= 0 or frame_ms % 10:
            raise ValueError("frame_ms must be a positive multiple of 10")
        lib = _lib()
        self.rate = rate
        self._st = lib.plc_new(rate)
        self.frame_size = lib.plc_frame(self._st) * frame_ms // 10
        self._frame_bytes = 2 * self.frame_size

    def _frame(self, frame, what):
        if len(memoryview(frame)) != self._frame_bytes:
            raise ValueError("%s: a frame is %d bytes" % (what, self._frame_bytes))

    def good(self, frame):
        """A received frame in, the (delayed, smoothed) frame out."""
        self._frame(frame, "Plc.good")
        return _lib().plc_good(self._st, frame)

    def good_into(self, frame, out):
        """good() into out (which may be the frame); returns the bytes written."""
        self._frame(frame, "Plc.good_into")
        return _lib().plc_good_into(self._st, frame, out)

    def lost(self):
        """A concealed frame for a lost one."""
        out = bytearray(self._frame_bytes)
        _lib().plc_lost_into(self._st, out)
        return bytes(out)

    def lost_into(self, out):
        """A concealed frame into out (frame_size samples); returns the bytes written."""
        self._frame(out, "Plc.lost_into")
        return _lib().plc_lost_into(self._st, out)


# ---- the media stack (ec_media.h) ----

def _codec(codec):
    if codec not in CODECS:
        raise ValueError("codec must be one of pcmu, pcma, g722, dvi4, opus, got %r" % (codec,))
    return codec


def _media_new(new, key, *args):
    """A media state made by new(spare, *args) in the memory of the spare state `key` when it is
    large enough; the spare stays for later if new() refuses the arguments."""
    spare = _spare.pop(key, None)
    try:
        return new(spare, *args)
    except (ValueError, TypeError):
        if spare is not None:
            _spare[key] = spare
        raise


def _opt(v, bits):
    """A given id (checked by _nc) or a random one."""
    return random.getrandbits(bits) if v is None else v


class MediaSender(_Codec):
    """Codec + RTP packetiser + RED/FEC + retransmission cache + RTCP SR + adaptation.

    push(pcm, now_ms) encodes a whole number of 10 ms blocks (up to max_ptime_ms; None: the
    larger of ptime_ms and 40); the packets it completes queue inside: call poll(now_ms) (or
    poll_into) until it returns None (0); it also gives retransmissions asked for by on_packet
    and SRs when due. ssrc, seq, ts, fec_seq: the first identifiers, random when None."""

    _spare_key = "tx"

    def __init__(self, codec="g722", ptime_ms=20, red=False, fec_group=0, nack=True, *, adapt=True,
                 max_ptime_ms=None, g722_bitrate=64000, cache_packets=None, ssrc=None, seq=None,
                 ts=None, fec_seq=None, pt_red=96, pt_fec=97, rtcp_interval_ms=1000, pt_opus=111,
                 opus_bitrate=24000, opus_complexity=0, opus_loss_perc=0):
        lib = _lib()
        self.codec = _codec(codec)
        if max_ptime_ms is None:  # (a ptime_ms of another type reaches _nc, which names it)
            max_ptime_ms = max(ptime_ms, 40) if type(ptime_ms) is int else ptime_ms
        if cache_packets is None:
            cache_packets = max(16, fec_group + 6) if type(fec_group) is int else 16
        self.ssrc = _opt(ssrc, 32)
        self._st = _media_new(lib.media_tx_new, "tx", CODECS[codec], ptime_ms, max_ptime_ms, red, fec_group,
                              nack, cache_packets, adapt, g722_bitrate, pt_red, pt_fec, rtcp_interval_ms,
                              self.ssrc, _opt(ts, 32), _opt(seq, 16), _opt(fec_seq, 16), pt_opus,
                              opus_bitrate, opus_complexity, opus_loss_perc)
        # _nc's functions of the media path, read once: push and poll_into run every frame
        self._push, self._poll_into, self._on_packet = (lib.media_tx_push, lib.media_tx_poll_into,
                                                        lib.media_tx_on_packet)
        self.block_samples = _BLOCK[codec]
        self.max_ptime_ms = max_ptime_ms
        self.frame_bytes = 2 * self.block_samples * ptime_ms // 10

    def push(self, pcm, now_ms):
        """Encodes PCM captured at now_ms (int16 LE, whole 10 ms blocks, up to max_ptime_ms)."""
        self._push(self._st, pcm, now_ms)

    def poll(self, now_ms):
        """The next packet to send (bytes), or None."""
        return _lib().media_tx_poll(self._st, now_ms)

    def poll_into(self, buf, now_ms):
        """The next packet into buf (MAX_PACKET bytes always suffice); its length, 0 for none."""
        return self._poll_into(self._st, buf, now_ms)

    def on_packet(self, packet, now_ms):
        """RTCP feedback (RR, NACK) from the receiver; False (and ignored) if it does not parse.
        Retransmissions it asks for come out of poll()."""
        return self._on_packet(self._st, packet, now_ms)

    def stats(self):
        return _lib().media_tx_stats(self._st)


class MediaReceiver(_Codec):
    """RTP/RTCP in, PCM out: depacketiser + RED/FEC recovery + NACK + jitter buffer + decoder +
    concealment. pull(now_ms) every ptime_ms gives frame_bytes of PCM. delay_ms: None for the
    adaptive buffer (within min_delay_ms .. max_delay_ms, 0: the ring's), or a fixed delay."""

    _spare_key = "rx"

    def __init__(self, codec="g722", ptime_ms=20, *, max_ptime_ms=60, buffer_ms=400, delay_ms=None,
                 min_delay_ms=0, max_delay_ms=0, nack=True, nack_retry_ms=100, fec_slots=2,
                 pt_red=96, pt_fec=97, rtcp_interval_ms=1000, ssrc=None, pt_opus=111):
        lib = _lib()
        self.codec = _codec(codec)
        self.ssrc = _opt(ssrc, 32)
        self.ptime_ms = ptime_ms
        self._st = _media_new(lib.media_rx_new, "rx", CODECS[codec], ptime_ms, max_ptime_ms, buffer_ms,
                              delay_ms, min_delay_ms, max_delay_ms, nack, nack_retry_ms, fec_slots, pt_red,
                              pt_fec, rtcp_interval_ms, self.ssrc, pt_opus)
        self.frame_bytes = lib.media_rx_frame_bytes(self._st)
        self._now = 0
        # _nc's functions of the media path, read once: they run every frame
        self._packet, self._pull_into, self._feedback_into = (lib.media_rx_packet, lib.media_rx_pull_into,
                                                              lib.media_rx_poll_feedback_into)

    def on_packet(self, packet, now_ms):
        """A packet arrived: "media", "rtcp", "fec", "late", "duplicate", "ignored", "overflow",
        "malformed" or "unsupported"."""
        rc = self._packet(self._st, packet, now_ms)
        self._now = now_ms
        return _RX_STATUS.get(rc, "ignored")

    def pull_into(self, buf, now_ms):
        """Writes the next frame (frame_bytes) into the start of a writable buffer; returns the
        byte count."""
        n = self._pull_into(self._st, buf, now_ms)
        self._now = now_ms
        return n

    def pull(self, now_ms):
        """The next ptime_ms of audio (int16 LE), concealed when nothing arrived for it."""
        out = _lib().media_rx_pull(self._st, now_ms)
        self._now = now_ms
        return out

    def poll_feedback(self, now_ms):
        """RTCP to send back now (RR + SDES, with a NACK when packets are missing), or None."""
        out = _lib().media_rx_poll_feedback(self._st, now_ms)
        self._now = now_ms
        return out

    def poll_feedback_into(self, buf, now_ms):
        """poll_feedback() into buf; its length, 0 for none."""
        n = self._feedback_into(self._st, buf, now_ms)
        self._now = now_ms
        return n

    def stats(self, now_ms=None):
        return _lib().media_rx_stats(self._st, self._now if now_ms is None else now_ms)
