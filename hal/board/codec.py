# codec.py (board) — the C codecs as a MicroPython native module (`_nc.mpy`, native_codec built
# for the board's architecture with MicroPython's natmod tooling), wrapped in the same API as the
# vdk backend: PCM is bytes of little-endian int16.
import random

try:
    import _nc
except ImportError:
    _nc = None  # type: ignore[assignment]


OPUS = False  # no board's _nc.mpy carries libopus yet: calls offer G.722


def _lib():
    if _nc is None:
        raise OSError(19, "native codec module _nc.mpy is not installed on this board")
    return _nc


def g711_encode(pcm, law="ulaw"):
    return _lib().g711_encode(0 if law == "ulaw" else 1, pcm)


def g711_decode(data, law="ulaw"):
    return _lib().g711_decode(0 if law == "ulaw" else 1, data)


class G722Encoder:
    def __init__(self, bitrate=64000):
        self._st = _lib().g722_enc_new(bitrate)

    def encode(self, pcm):
        return _lib().g722_encode(self._st, pcm)


class G722Decoder:
    def __init__(self, bitrate=64000):
        self._st = _lib().g722_dec_new(bitrate)

    def decode(self, data):
        return _lib().g722_decode(self._st, data)


class AdpcmEncoder:
    def __init__(self, layout="dvi4"):
        self._st = _lib().adpcm_new()

    def encode(self, pcm):
        return _lib().dvi4_encode(self._st, pcm)


class AdpcmDecoder:
    def __init__(self, layout="dvi4"):
        self._st = _lib().adpcm_new()

    def decode(self, data):
        return _lib().dvi4_decode(self._st, data)


class Plc:
    def __init__(self, rate=8000):
        self._st = _lib().plc_new(rate)

    def good(self, frame):
        return _lib().plc_good(self._st, frame)

    def lost(self):
        return _lib().plc_lost(self._st)


# ---- media stack (ec_media.h): the same classes and signatures as hal.vdk.codec; _nc checks the
# configuration (ValueError) and returns the statistics structs as dicts.

CODECS = {"pcmu": 0, "pcma": 1, "g722": 2, "dvi4": 3}
_BLOCK = {"pcmu": 80, "pcma": 80, "g722": 160, "dvi4": 80}  # samples per 10 ms
_RX_STATUS = {0: "media", 1: "rtcp", 2: "fec", 3: "late", 4: "duplicate", 5: "ignored",
              6: "overflow", -4: "malformed", -5: "unsupported"}


def _codec(codec):
    if codec not in CODECS:
        raise ValueError("codec must be one of pcmu, pcma, g722, dvi4, got %r" % (codec,))
    return CODECS[codec]


def _no_opus(codec):
    # The board's _nc.mpy is the media stack without libopus (the pt_opus/opus_* parameters are
    # there to keep the signatures of hal.vdk.codec, whose wasm32 library links libopus).
    if codec == "opus":
        raise ValueError("codec 'opus' is not in this board's _nc.mpy (built without libopus)")


def _opt(v, bits):
    return random.getrandbits(bits) if v is None else v


class _Media:
    _st = None  # type: object

    def close(self):
        if self._st is not None:
            _lib().media_free(self._st)
            self._st = None

    def _state(self):
        if self._st is None:
            raise ValueError("media state is closed")
        return self._st

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MediaSender(_Media):
    def __init__(self, codec="g722", ptime_ms=20, red=False, fec_group=0, nack=True, *, adapt=True,
                 max_ptime_ms=None, g722_bitrate=64000, cache_packets=None, ssrc=None, seq=None,
                 ts=None, fec_seq=None, pt_red=96, pt_fec=97, rtcp_interval_ms=1000, pt_opus=111,
                 opus_bitrate=24000, opus_complexity=0, opus_loss_perc=0):
        lib = _lib()
        _no_opus(codec)
        if max_ptime_ms is None:
            max_ptime_ms = max(ptime_ms, 40)
        if cache_packets is None:
            cache_packets = max(16, fec_group + 6)
        self.ssrc = _opt(ssrc, 32)
        self.max_ptime_ms = max_ptime_ms
        self._st = lib.media_tx_new(_codec(codec), ptime_ms, max_ptime_ms, int(red), fec_group, int(nack),
                                    cache_packets, int(adapt), g722_bitrate, pt_red, pt_fec, rtcp_interval_ms,
                                    self.ssrc, _opt(ts, 32), _opt(seq, 16), _opt(fec_seq, 16))
        self.frame_bytes = 2 * _BLOCK[codec] * ptime_ms // 10

    def push(self, pcm, now_ms):
        _lib().media_tx_push(self._state(), pcm, now_ms)

    def poll(self, now_ms):
        return _lib().media_tx_poll(self._state(), now_ms)

    def on_packet(self, packet, now_ms):
        return _lib().media_tx_on_packet(self._state(), packet, now_ms)

    def stats(self):
        return _lib().media_tx_stats(self._state())


class MediaReceiver(_Media):
    def __init__(self, codec="g722", ptime_ms=20, *, max_ptime_ms=60, buffer_ms=400, delay_ms=None,
                 min_delay_ms=0, max_delay_ms=0, nack=True, nack_retry_ms=100, fec_slots=2,
                 pt_red=96, pt_fec=97, rtcp_interval_ms=1000, ssrc=None, pt_opus=111):
        lib = _lib()
        _no_opus(codec)
        self.ssrc = _opt(ssrc, 32)
        self.ptime_ms = ptime_ms
        self._st = lib.media_rx_new(_codec(codec), ptime_ms, max_ptime_ms, buffer_ms,
                                    0 if delay_ms is None else delay_ms, min_delay_ms, max_delay_ms, int(nack),
                                    nack_retry_ms, fec_slots, pt_red, pt_fec, rtcp_interval_ms, self.ssrc)
        self.frame_bytes = lib.media_rx_frame_bytes(self._st)
        self._now = 0

    def on_packet(self, packet, now_ms):
        self._now = now_ms
        rc = _lib().media_rx_packet(self._state(), packet, now_ms)
        if rc not in _RX_STATUS:
            raise ValueError("MediaReceiver.on_packet: error %d" % rc)
        return _RX_STATUS[rc]

    def pull_into(self, buf, now_ms):
        self._now = now_ms
        return _lib().media_rx_pull_into(self._state(), buf, now_ms)

    def pull(self, now_ms):
        out = bytearray(self.frame_bytes)
        self.pull_into(out, now_ms)
        return bytes(out)

    def poll_feedback(self, now_ms):
        self._now = now_ms
        return _lib().media_rx_poll_feedback(self._state(), now_ms)

    def stats(self, now_ms=None):
        return _lib().media_rx_stats(self._state(), self._now if now_ms is None else now_ms)
