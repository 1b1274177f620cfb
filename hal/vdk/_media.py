"""The media stack for hal.vdk.codec (which imports this on first use of MediaSender or
MediaReceiver): ec_media.h's sender and receiver in the devkit's wasm32 native_codec, with the
argument checks of the host binding native_codec/media.py. PCM is bytes-like int16 LE, packets
are bytes. Bad arguments raise ValueError (TypeError for an argument that is not bytes-like);
packets off the network never raise. States are in the codec library's memory until close().

codec="opus" (16 kHz, RFC 7587; the library links libopus): ptime 20 ms only, no RED or RFC 5109
FEC (its in-band FEC and PLC serve instead); the sender takes pt_opus, opus_bitrate,
opus_complexity, opus_loss_perc, the receiver pt_opus, as native_codec.media does; stats() adds
the Opus counters (recovered_opus_fec, ...).
"""
import array
import random

from _vdkhal import (
    codec_media_rx_feedback, codec_media_rx_frame, codec_media_rx_new, codec_media_rx_packet,
    codec_media_rx_pull, codec_media_stats, codec_media_tx_new, codec_media_tx_packet,
    codec_media_tx_poll, codec_media_tx_push,
)

try:
    from _vdkhal import codec_media_opus_stats
except ImportError:  # an older simulator
    codec_media_opus_stats = None

from hal.vdk._buf import nbytes
from hal.vdk.codec import _check, _Codec

CODECS = {"pcmu": 0, "pcma": 1, "g722": 2, "dvi4": 3, "opus": 4}
_BLOCK = {"pcmu": 80, "pcma": 80, "g722": 160, "dvi4": 80, "opus": 160}  # samples per 10 ms
_MAX_PACKET = 1024  # EC_MEDIA_MAX_PACKET
_PKT = bytearray(_MAX_PACKET)  # poll output (calls are synchronous, so one buffer serves all)
MAX_PACKET = _MAX_PACKET


def _packet_buffer(buf, what) -> None:
    if type(buf) is not bytearray or len(buf) < _MAX_PACKET:
        raise ValueError("%s: a bytearray of at least %d bytes is required" % (what, _MAX_PACKET))
_PKT_MV = memoryview(_PKT)
_RX_STATUS = {0: "media", 1: "rtcp", 2: "fec", 3: "late", 4: "duplicate", 5: "ignored",
              6: "overflow", -4: "malformed", -5: "unsupported"}
# The fields of ec_media_tx_stats / ec_media_rx_stats in struct order (all 32-bit; the test
# compares them with the C structs) and the signed ones.
_TX_STATS = (
    "packets", "octets", "media_packets", "fec_packets", "red_packets", "retransmissions",
    "sr_sent", "rr_received", "nack_received", "nack_seqs", "nack_unavailable", "fraction_lost",
    "cumulative_lost", "jitter", "rtt_ms", "level", "level_changes", "loss_smoothed_q8",
    "ptime_ms", "red", "fec_group", "g722_bitrate",
)
_RX_STATS = (
    "ssrc", "received", "expected", "lost", "fraction_lost", "ext_highest_seq", "jitter",
    "rtp_packets", "late", "duplicates", "overflow", "flushes", "recovered_red", "recovered_fec",
    "nack_recovered", "fec_packets", "red_packets", "played", "concealed", "stretched",
    "compressed", "skipped", "silent", "malformed", "ignored", "rtcp_packets", "sr_received",
    "nack_sent", "nack_seqs", "rr_sent", "ssrc_changes", "ts_jumps", "target_delay_ms",
    "delay_ms", "buffered_ms", "g722_bitrate",
)
_SIGNED = ("cumulative_lost", "rtt_ms", "lost", "target_delay_ms", "delay_ms", "buffered_ms")
# ec_media_opus_stats, in struct order, named as native_codec.media names them
_OPUS_RX = ("recovered_opus_fec", "opus_plc_frames", "opus_plc_blocks", "opus_bad_payloads", "opus_decode_errors")
_OPUS_TX = ("opus_bitrate", "opus_loss_perc", "opus_inband_fec", "opus_encode_errors")
_OPUS_WORDS = ("recovered_opus_fec", "opus_plc_frames", "opus_plc_blocks", "opus_bad_payloads",
               "opus_decode_errors", "opus_bitrate", "opus_loss_perc", "opus_inband_fec", "opus_encode_errors")


def _int(v, name, lo, hi, step=1):
    if type(v) is not int:
        raise ValueError("%s must be an int, got %s" % (name, type(v).__name__))
    if not lo <= v <= hi or (v - lo) % step:
        extra = " in steps of %d" % step if step > 1 else ""
        raise ValueError("%s must be from %d to %d%s, got %d" % (name, lo, hi, extra, v))
    return v


def _bool(v, name):
    if v is True or v is False or (type(v) is int and v in (0, 1)):
        return int(v)
    raise ValueError("%s must be True or False, got %r" % (name, v))


def _opt(v, name, bits):
    """A given id (0 .. 2**bits - 1) or a random one."""
    if v is None:
        return random.getrandbits(bits)
    return _int(v, name, 0, (1 << bits) - 1)


def _now(now_ms):
    if type(now_ms) is not int or now_ms < 0:
        raise ValueError("now_ms must be a non-negative int (milliseconds), got %r" % (now_ms,))
    return now_ms & 0xFFFFFFFF


def _codec(codec):
    if codec not in CODECS:
        raise ValueError("codec must be one of pcmu, pcma, g722, dvi4, opus, got %r" % (codec,))
    return codec


def _pt_opus(codec, pt_opus, pt_red, pt_fec):
    if codec != "opus":
        return 0
    pt = _int(pt_opus, "pt_opus", 96, 127)
    if pt == pt_red or pt == pt_fec:
        raise ValueError("pt_opus (%d) must differ from pt_red and pt_fec" % pt)
    return pt


def _opus_stats(h, d, names, what):
    if codec_media_opus_stats is None:
        return d
    words = array.array("i", bytes(4 * len(_OPUS_WORDS)))
    n = _check(codec_media_opus_stats(h, id(words)), what)
    for i in range(min(n, len(_OPUS_WORDS))):
        if _OPUS_WORDS[i] in names:
            d[_OPUS_WORDS[i]] = words[i] & 0xFFFFFFFF
    return d


def _pts(pt_red, pt_fec):
    if _int(pt_red, "pt_red", 96, 127) == _int(pt_fec, "pt_fec", 96, 127):
        raise ValueError("pt_red and pt_fec must differ")


def _stats(h, now, names, what):
    words = array.array("i", bytes(4 * len(names)))
    n = _check(codec_media_stats(h, now, id(words)), what)
    if n != len(names):
        raise ValueError("%s: the library has %d statistics, this module names %d" % (what, n, len(names)))
    d = {}
    for i in range(n):
        v = words[i]
        d[names[i]] = v if names[i] in _SIGNED else v & 0xFFFFFFFF
    return d


class MediaSender(_Codec):
    """Codec + RTP packetiser + RED/FEC + retransmission cache + RTCP SR + adaptation.

    push(pcm, now_ms) encodes a whole number of 10 ms blocks (up to max_ptime_ms; None: the
    larger of ptime_ms and 40); the packets it completes queue inside: call poll(now_ms) until it
    returns None (it also gives retransmissions asked for by on_packet and SRs when due).
    ssrc, seq, ts, fec_seq: the first identifiers, random when None."""

    def __init__(self, codec="g722", ptime_ms=20, red=False, fec_group=0, nack=True, *, adapt=True,
                 max_ptime_ms=None, g722_bitrate=64000, cache_packets=None, ssrc=None, seq=None,
                 ts=None, fec_seq=None, pt_red=96, pt_fec=97, rtcp_interval_ms=1000, pt_opus=111,
                 opus_bitrate=24000, opus_complexity=0, opus_loss_perc=0) -> None:
        self.codec = _codec(codec)
        ptime = _int(ptime_ms, "ptime_ms", 10, 60, 10)
        opus = self.codec == "opus"
        if opus and ptime != 20:
            raise ValueError("ptime_ms must be 20 for opus (one 20 ms frame per packet), got %d" % ptime)
        if opus and (red or fec_group):
            raise ValueError("red and fec_group are not used with opus (its in-band FEC is): leave them off")
        if max_ptime_ms is None:
            max_ptime_ms = max(ptime, 40)
        maxp = _int(max_ptime_ms, "max_ptime_ms", 10, 60, 10)
        if ptime > maxp:
            raise ValueError("ptime_ms (%d) must not exceed max_ptime_ms (%d)" % (ptime, maxp))
        fec = _int(fec_group, "fec_group", 0, 16)
        if fec == 1:
            raise ValueError("fec_group must be 0 (off) or from 2 to 16, got 1")
        if cache_packets is None:
            cache_packets = max(16, fec + 6)
        cache = _int(cache_packets, "cache_packets", 8, 1024)
        if cache < fec + 6:
            raise ValueError("cache_packets must be at least fec_group + 6 (%d), got %d" % (fec + 6, cache))
        if g722_bitrate not in (64000, 56000, 48000):
            raise ValueError("g722_bitrate must be 64000, 56000 or 48000, got %r" % (g722_bitrate,))
        _pts(pt_red, pt_fec)
        pto = _pt_opus(self.codec, pt_opus, pt_red, pt_fec)
        obr = _int(opus_bitrate, "opus_bitrate", 6000, 64000) if opus else 0
        ocx = _int(opus_complexity, "opus_complexity", 0, 10) if opus else 0
        olp = _int(opus_loss_perc, "opus_loss_perc", 0, 100) if opus else 0
        rtcp = _int(rtcp_interval_ms, "rtcp_interval_ms", 100, 60000)
        self.ssrc = _opt(ssrc, "ssrc", 32)
        self.block_samples = _BLOCK[self.codec]
        self.max_ptime_ms = maxp
        self.frame_bytes = 2 * self.block_samples * ptime // 10
        self._max_bytes = 2 * self.block_samples * maxp // 10
        self._h = _check(codec_media_tx_new(
            CODECS[self.codec], ptime, maxp, _bool(red, "red"), fec, _bool(nack, "nack"), cache,
            _bool(adapt, "adapt"), g722_bitrate, pt_red, pt_fec, rtcp, self.ssrc,
            _opt(ts, "ts", 32), _opt(seq, "seq", 16), _opt(fec_seq, "fec_seq", 16), pto, obr, ocx, olp),
            "MediaSender")

    def push(self, pcm, now_ms) -> None:
        """Encodes PCM captured at now_ms (int16 LE, whole 10 ms blocks, up to max_ptime_ms)."""
        now = _now(now_ms)
        n = nbytes(pcm)
        blk = 2 * self.block_samples
        if n == 0 or n % blk or n > self._max_bytes:
            raise ValueError("MediaSender.push: PCM must be whole 10 ms blocks of %d bytes, at most %d ms, got %d bytes"
                             % (blk, self.max_ptime_ms, n))
        _check(codec_media_tx_push(self._h, id(pcm), now), "MediaSender.push")

    def poll(self, now_ms):
        """The next packet to send (bytes), or None."""
        n = _check(codec_media_tx_poll(self._h, _now(now_ms), id(_PKT)), "MediaSender.poll")
        return bytes(_PKT_MV[:n]) if n else None

    def poll_into(self, buf, now_ms) -> int:
        """The next packet into buf (a bytearray of at least MAX_PACKET bytes); its length, 0 for
        none. Allocates nothing."""
        _packet_buffer(buf, "MediaSender.poll_into")
        return _check(codec_media_tx_poll(self._h, _now(now_ms), id(buf)), "MediaSender.poll_into")

    def on_packet(self, packet, now_ms) -> bool:
        """RTCP feedback (RR, NACK) from the receiver; False (and ignored) if it does not parse.
        Retransmissions it asks for come out of poll()."""
        rc = codec_media_tx_packet(self._h, id(packet), _now(now_ms))
        if rc == -4:
            return False
        _check(rc, "MediaSender.on_packet")
        return True

    def stats(self) -> dict:
        d = _stats(self._h, 0, _TX_STATS, "MediaSender.stats")
        return _opus_stats(self._h, d, _OPUS_TX, "MediaSender.stats") if self.codec == "opus" else d


class MediaReceiver(_Codec):
    """RTP/RTCP in, PCM out: depacketiser + RED/FEC recovery + NACK + jitter buffer + decoder +
    concealment. pull(now_ms) every ptime_ms gives frame_bytes of PCM. delay_ms: None for the
    adaptive buffer (within min_delay_ms .. max_delay_ms, 0: the ring's), or a fixed delay."""

    def __init__(self, codec="g722", ptime_ms=20, *, max_ptime_ms=60, buffer_ms=400, delay_ms=None,
                 min_delay_ms=0, max_delay_ms=0, nack=True, nack_retry_ms=100, fec_slots=2,
                 pt_red=96, pt_fec=97, rtcp_interval_ms=1000, ssrc=None, pt_opus=111) -> None:
        self.codec = _codec(codec)
        ptime = _int(ptime_ms, "ptime_ms", 10, 60, 10)
        maxp = _int(max_ptime_ms, "max_ptime_ms", 20 if self.codec == "opus" else 10, 60, 10)
        buf = _int(buffer_ms, "buffer_ms", max(80, 2 * maxp), 2000, 10)
        fixed = 0 if delay_ms is None else _int(delay_ms, "delay_ms", 1, buf - 20)
        _pts(pt_red, pt_fec)
        pto = _pt_opus(self.codec, pt_opus, pt_red, pt_fec)
        self.ssrc = _opt(ssrc, "ssrc", 32)
        self.ptime_ms = ptime
        self._h = _check(codec_media_rx_new(
            CODECS[self.codec], ptime, maxp, buf, fixed, _int(min_delay_ms, "min_delay_ms", 0, 2000),
            _int(max_delay_ms, "max_delay_ms", 0, 2000), _bool(nack, "nack"),
            _int(nack_retry_ms, "nack_retry_ms", 10, 1000), _int(fec_slots, "fec_slots", 0, 4),
            pt_red, pt_fec, _int(rtcp_interval_ms, "rtcp_interval_ms", 100, 60000), self.ssrc, pto),
            "MediaReceiver")
        self.frame_bytes = 2 * _check(codec_media_rx_frame(self._h), "MediaReceiver")
        self._now = 0

    def on_packet(self, packet, now_ms) -> str:
        """A packet arrived: "media", "rtcp", "fec", "late", "duplicate", "ignored", "overflow",
        "malformed" or "unsupported"."""
        self._now = _now(now_ms)
        rc = codec_media_rx_packet(self._h, id(packet), self._now)
        if rc in _RX_STATUS:
            return _RX_STATUS[rc]
        _check(rc, "MediaReceiver.on_packet")
        return "ignored"

    def pull_into(self, buf, now_ms) -> int:
        """Writes the next frame (frame_bytes) into the start of a writable buffer; returns the
        byte count."""
        self._now = _now(now_ms)
        if type(buf) is bytes or nbytes(buf) < self.frame_bytes:
            raise ValueError("MediaReceiver.pull_into: a writable buffer of %d bytes is required" % self.frame_bytes)
        return 2 * _check(codec_media_rx_pull(self._h, self._now, id(buf)), "MediaReceiver.pull")

    def pull(self, now_ms) -> bytes:
        """The next ptime_ms of audio (int16 LE), concealed when nothing arrived for it."""
        self._now = _now(now_ms)
        out = bytes(self.frame_bytes)
        _check(codec_media_rx_pull(self._h, self._now, id(out)), "MediaReceiver.pull")
        return out

    def poll_feedback(self, now_ms):
        """RTCP to send back now (RR + SDES, with a NACK when packets are missing), or None."""
        self._now = _now(now_ms)
        n = _check(codec_media_rx_feedback(self._h, self._now, id(_PKT)), "MediaReceiver.poll_feedback")
        return bytes(_PKT_MV[:n]) if n else None

    def poll_feedback_into(self, buf, now_ms) -> int:
        """poll_feedback() into buf (a bytearray of at least MAX_PACKET bytes); its length, 0 for none."""
        _packet_buffer(buf, "MediaReceiver.poll_feedback_into")
        self._now = _now(now_ms)
        return _check(codec_media_rx_feedback(self._h, self._now, id(buf)), "MediaReceiver.poll_feedback_into")

    def stats(self, now_ms=None) -> dict:
        now = self._now if now_ms is None else _now(now_ms)
        d = _stats(self._h, now, _RX_STATS, "MediaReceiver.stats")
        return _opus_stats(self._h, d, _OPUS_RX, "MediaReceiver.stats") if self.codec == "opus" else d
