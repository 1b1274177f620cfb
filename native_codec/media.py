"""native_codec.media — Python binding of the media network stack (C: ec_media.h and friends).

    tx = MediaSender(codec="g722", ptime_ms=20, red=True, fec_group=0, nack=True)
    packets = tx.push(pcm_frame, now_ms)        # -> list[bytes]: RTP (media, FEC) and RTCP SR when due
    packets = tx.on_packet(rtcp_bytes, now_ms)  # feedback in -> retransmissions / reports out
    rx = MediaReceiver(codec="g722")
    rx.on_packet(rtp_or_rtcp_bytes, now_ms)     # -> "media" | "rtcp" | "fec" | "late" | "duplicate" | ...
    frame = rx.pull(now_ms)                     # one ptime of int16 PCM, concealed if needed
    feedback = rx.poll_feedback(now_ms)         # -> list[bytes]: RTCP RR (+ NACK) to send back
    rx.stats()                                  # dict: received, lost, recovered, concealed, late, jitter_ms, ...

Codecs: "pcmu", "pcma", "dvi4" (8 kHz PCM), "g722" and "opus" (16 kHz PCM). PCM is a 1-D numpy int16
array: push() takes any whole number of 10 ms (up to max_ptime_ms), pull() returns ptime_ms of audio.

Opus (RFC 7587: RTP clock 48 kHz, dynamic payload type pt_opus, default 111; one 20 ms frame per
packet, so ptime_ms must be 20) runs in native_codec._opus, the media stack built with libopus
(host_tools/native/opus.py); the other codecs in native_codec._nc. Its sender takes opus_bitrate
(6000..64000), opus_complexity (0..10) and opus_loss_perc (the initial expected loss; in-band FEC
is on while it is above 0); with adapt=True both follow the receiver reports (smoothed loss, at
most 30 %). RED and RFC 5109 FEC are not used with Opus (red/fec_group must be off; the receiver
ignores fec_slots): its own in-band FEC is the receiver's first recovery, before PLC. stats() adds
the Opus counters (recovered_opus_fec, opus_plc_frames, ... on the receiver; opus_bitrate,
opus_loss_perc, opus_inband_fec on the sender).
Times are integer milliseconds of one clock shared by the caller's simulation or event loop; call
pull() every ptime_ms. Nothing here opens sockets: feed packets in, send what comes out.

Bad arguments raise ValueError saying what was expected. Packets off the network are never an
error: the receiver reports what it did with each one ("malformed" for bytes that do not parse).
Also here: parse_rtp / parse_rtcp / parse_red / parse_fec, the C parsers as dicts (ValueError
when the packet is malformed), for tools and tests.
"""
from __future__ import annotations

import random
from typing import Any, Optional, Union

import numpy as np

from native_codec._nc import ffi, lib

__all__ = ["MediaSender", "MediaReceiver", "CODECS", "parse_rtp", "parse_rtcp", "parse_red", "parse_fec"]

Bytes = Union[bytes, bytearray, memoryview]

CODECS = {"pcmu": 0, "pcma": 1, "g722": 2, "dvi4": 3, "opus": 4}
RATES = {"pcmu": 8000, "pcma": 8000, "g722": 16000, "dvi4": 8000, "opus": 16000}
RTP_CLOCK = {"pcmu": 8000, "pcma": 8000, "g722": 8000, "dvi4": 8000, "opus": 48000}  # RFC 3551 §4.5.2, RFC 7587
_MAX_PACKET = int(lib.EC_MEDIA_MAX_PACKET)
_RX_STATUS = {0: "media", 1: "rtcp", 2: "fec", 3: "late", 4: "duplicate", 5: "ignored", 6: "overflow",
              -4: "malformed", -5: "unsupported"}
_ERRORS = {-1: "bad argument", -2: "buffer too small", -3: "state not initialised", -4: "malformed input",
           -5: "unsupported"}


class MediaError(RuntimeError):
    """A C call failed in a way the wrapper's own checks should have prevented."""


def _check(rc: int, what: str) -> int:
    if rc < 0:
        raise MediaError(f"{what}: {_ERRORS.get(rc, 'error')} ({rc})")
    return rc


def _codec(codec: object) -> str:
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, got {codec!r}")
    return str(codec)


def _int(value: object, name: str, lo: int, hi: int, step: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    v = int(value)
    if not lo <= v <= hi or (v - lo) % step:
        extra = f" in steps of {step}" if step > 1 else ""
        raise ValueError(f"{name} must be from {lo} to {hi}{extra}, got {v}")
    return v


def _bool(value: object, name: str) -> int:
    if not isinstance(value, (bool, int, np.integer)) or int(value) not in (0, 1):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return int(value)


def _u32(value: object, name: str) -> int:
    return _int(value, name, 0, 0xFFFFFFFF)


def _now(now_ms: object) -> int:
    if isinstance(now_ms, bool) or not isinstance(now_ms, (int, np.integer)) or int(now_ms) < 0:
        raise ValueError(f"now_ms must be a non-negative int (milliseconds), got {now_ms!r}")
    return int(now_ms) & 0xFFFFFFFF


def _bytes(data: object, name: str = "packet") -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{name} must be bytes, got {type(data).__name__}")
    return bytes(data)


def _struct_dict(obj: Any, ctype: str, ffi_: Any = ffi) -> dict[str, Any]:
    return {name: getattr(obj, name) for name, _f in ffi_.typeof(ctype).fields}


def _backend(codec: str) -> tuple[Any, Any]:
    """(ffi, lib) of the extension that runs this codec: native_codec._opus (the media stack built
    with libopus, -DEC_MEDIA_WITH_OPUS) for "opus", native_codec._nc for the others."""
    if codec != "opus":
        return ffi, lib
    try:
        from native_codec._opus import ffi as offi, lib as olib
    except ImportError as exc:  # pragma: no cover - only before the first build
        raise ImportError("codec='opus' needs native_codec's Opus extension; run ./edgecall (it fetches libopus "
                          "from Debian's source package) or python -m host_tools.native.opus") from exc
    return offi, olib


def _opus_pt(pt_opus: object, pt_red: int, pt_fec: int) -> int:
    pt = _int(pt_opus, "pt_opus", 96, 127)
    if pt in (pt_red, pt_fec):
        raise ValueError(f"pt_opus ({pt}) must differ from pt_red and pt_fec")
    return pt


class _State:
    def _alloc(self, ctype: str, size: int) -> Any:
        self._mem = self._ffi.new("uint64_t[]", (size + 7) // 8)
        self.state_bytes = size
        return self._ffi.cast(f"{ctype} *", self._mem)


class MediaSender(_State):
    """Codec + RTP packetiser + RED/FEC + retransmission cache + RTCP SR + adaptation (ec_media.h).

    red: RFC 2198 with the previous frame as redundancy. fec_group: 0 or 2..16 media packets per
    RFC 5109 parity packet. nack: answer generic NACKs from a cache of `cache_packets` packets.
    adapt: switch FEC/RED, the G.722 mode (64/56/48 kbit/s) and the ptime (20/40 ms) from the
    loss in receiver reports. max_ptime_ms bounds the ptime (and sizes the cache). ssrc, seq, ts,
    fec_seq (the FEC packets' own sequence numbers): the first identifiers, random when None."""

    def __init__(self, codec: str = "pcmu", ptime_ms: int = 20, red: bool = False, fec_group: int = 0,
                 nack: bool = True, *, adapt: bool = False, g722_bitrate: int = 64000,
                 max_ptime_ms: Optional[int] = None, cache_packets: Optional[int] = None,
                 ssrc: Optional[int] = None, seq: Optional[int] = None, ts: Optional[int] = None,
                 fec_seq: Optional[int] = None, pt_red: int = 96, pt_fec: int = 97,
                 rtcp_interval_ms: int = 1000, pt_opus: int = 111, opus_bitrate: int = 24000,
                 opus_complexity: int = 0, opus_loss_perc: int = 0) -> None:
        self.codec = _codec(codec)
        self._ffi, self._lib = _backend(self.codec)
        self.sample_rate = RATES[self.codec]
        if self.codec == "opus":
            if ptime_ms != 20:
                raise ValueError(f"ptime_ms must be 20 for opus (one 20 ms frame per packet), got {ptime_ms!r}")
            if red or fec_group:
                raise ValueError("red and fec_group are not used with opus (its in-band FEC is): leave them off")
        ptime = _int(ptime_ms, "ptime_ms", 10, 60, 10)
        max_ptime = max(ptime, 40) if max_ptime_ms is None else _int(max_ptime_ms, "max_ptime_ms", 10, 60, 10)
        if ptime > max_ptime:
            raise ValueError(f"ptime_ms ({ptime}) must not exceed max_ptime_ms ({max_ptime})")
        fec = _int(fec_group, "fec_group", 0, 16)
        if fec == 1:
            raise ValueError("fec_group must be 0 (off) or from 2 to 16, got 1")
        cache = max(16, fec + 6) if cache_packets is None else _int(cache_packets, "cache_packets", 8, 1024)
        if cache < fec + 6:
            raise ValueError(f"cache_packets must be at least fec_group + 6 ({fec + 6}), got {cache}")
        if g722_bitrate not in (64000, 56000, 48000):
            raise ValueError(f"g722_bitrate must be 64000, 56000 or 48000, got {g722_bitrate!r}")
        pt_r = _int(pt_red, "pt_red", 96, 127)
        pt_f = _int(pt_fec, "pt_fec", 96, 127)
        if pt_r == pt_f:
            raise ValueError("pt_red and pt_fec must differ")
        cfg = self._ffi.new("ec_media_tx_config *")
        cfg.codec = CODECS[self.codec]
        cfg.ptime_ms = ptime
        cfg.max_ptime_ms = max_ptime
        cfg.red = _bool(red, "red")
        cfg.fec_group = fec
        cfg.nack = _bool(nack, "nack")
        cfg.cache_packets = cache
        cfg.adapt = _bool(adapt, "adapt")
        cfg.g722_bitrate = g722_bitrate
        cfg.pt_red = pt_r
        cfg.pt_fec = pt_f
        cfg.rtcp_interval_ms = _int(rtcp_interval_ms, "rtcp_interval_ms", 100, 60000)
        cfg.ssrc = random.getrandbits(32) if ssrc is None else _u32(ssrc, "ssrc")
        cfg.ts0 = random.getrandbits(32) if ts is None else _u32(ts, "ts")
        cfg.seq0 = random.getrandbits(16) if seq is None else _int(seq, "seq", 0, 0xFFFF)
        cfg.fec_seq0 = random.getrandbits(16) if fec_seq is None else _int(fec_seq, "fec_seq", 0, 0xFFFF)
        if self.codec == "opus":
            cfg.pt_opus = _opus_pt(pt_opus, pt_r, pt_f)
            cfg.opus_bitrate = _int(opus_bitrate, "opus_bitrate", 6000, 64000)
            cfg.opus_complexity = _int(opus_complexity, "opus_complexity", 0, 10)
            cfg.opus_loss_perc = _int(opus_loss_perc, "opus_loss_perc", 0, 100)
        self.ssrc = int(cfg.ssrc)
        self.max_ptime_ms = max_ptime
        self.block_samples = int(self._lib.ec_media_block_samples(cfg.codec))
        size = int(self._lib.ec_media_tx_state_size(cfg))
        if size == 0:
            raise ValueError("inconsistent sender configuration")
        self._st = self._alloc("ec_media_tx", size)
        _check(self._lib.ec_media_tx_init(self._st, size, cfg), "MediaSender")
        self._out = self._ffi.new("uint8_t[]", _MAX_PACKET)
        self.frame_samples = self.block_samples * ptime // 10

    def _drain(self, now: int) -> list[bytes]:
        out: list[bytes] = []
        while True:
            n = _check(self._lib.ec_media_tx_poll(self._st, now, self._out, _MAX_PACKET), "MediaSender.poll")
            if n == 0:
                return out
            out.append(bytes(self._ffi.buffer(self._out, n)))

    def push(self, pcm_frame: np.ndarray, now_ms: int) -> list[bytes]:
        """Encode a frame (10 ms multiples, up to max_ptime_ms); returns the packets to send now."""
        now = _now(now_ms)
        if not isinstance(pcm_frame, np.ndarray) or pcm_frame.dtype != np.int16 or pcm_frame.ndim != 1:
            raise ValueError("pcm_frame must be a one-dimensional numpy array of int16")
        n = len(pcm_frame)
        bs = self.block_samples
        if n == 0 or n % bs or n // bs > self.max_ptime_ms // 10:
            raise ValueError(
                f"pcm_frame must hold a whole number of 10 ms blocks ({bs} samples at {self.sample_rate} Hz), "
                f"at most {self.max_ptime_ms} ms, got {n} samples")
        a = np.ascontiguousarray(pcm_frame)
        _check(self._lib.ec_media_tx_push(self._st, self._ffi.from_buffer("int16_t[]", a), n, now), "MediaSender.push")
        return self._drain(now)

    def on_packet(self, packet: Bytes, now_ms: int) -> list[bytes]:
        """RTCP feedback from the receiver (RR, NACK); returns retransmissions and reports to send.
        Bytes that are not valid RTCP are ignored."""
        raw = _bytes(packet)
        now = _now(now_ms)
        self._lib.ec_media_tx_on_packet(self._st, raw, len(raw), now)
        return self._drain(now)

    def poll(self, now_ms: int) -> list[bytes]:
        """Packets due without new input (an SR when its interval has passed)."""
        return self._drain(_now(now_ms))

    def stats(self) -> dict[str, Any]:
        s = self._ffi.new("ec_media_tx_stats *")
        _check(self._lib.ec_media_tx_get_stats(self._st, s), "MediaSender.stats")
        d = _struct_dict(s, "ec_media_tx_stats", self._ffi)
        d["fraction_lost_ratio"] = d["fraction_lost"] / 256.0
        d["jitter_ms"] = d["jitter"] * 1000.0 / RTP_CLOCK[self.codec]
        if self.codec == "opus":
            o = self._ffi.new("ec_media_opus_stats *")
            _check(self._lib.ec_media_tx_opus_stats(self._st, o), "MediaSender.stats")
            d.update(opus_bitrate=o.bitrate, opus_loss_perc=o.loss_perc, opus_inband_fec=o.inband_fec,
                     opus_encode_errors=o.encode_errors)
        d["state_bytes"] = self.state_bytes
        return d


class MediaReceiver(_State):
    """RTP/RTCP in, PCM out: depacketiser + RED/FEC recovery + NACK + adaptive jitter buffer +
    decoder + concealment (ec_media.h, ec_jb.h).

    delay_ms: None for the adaptive buffer (target = 97th percentile of the first-arrival delays plus a recovery allowance, within
    [min_delay_ms, max_delay_ms]), or a fixed playout delay in ms. buffer_ms: ring capacity.
    max_ptime_ms: the longest packet accepted. fec_slots: FEC packets kept while their group is
    incomplete. Statistics count packets, except played/concealed/stretched/compressed/skipped/
    silent, which count 10 ms blocks."""

    def __init__(self, codec: str = "pcmu", ptime_ms: int = 20, *, delay_ms: Optional[int] = None,
                 min_delay_ms: int = 0, max_delay_ms: int = 0, buffer_ms: int = 400,
                 max_ptime_ms: int = 60, nack: bool = True, nack_retry_ms: int = 100, fec_slots: int = 2,
                 pt_red: int = 96, pt_fec: int = 97, rtcp_interval_ms: int = 1000,
                 ssrc: Optional[int] = None, pt_opus: int = 111) -> None:
        self.codec = _codec(codec)
        self._ffi, self._lib = _backend(self.codec)
        self.sample_rate = RATES[self.codec]
        cfg = self._ffi.new("ec_media_rx_config *")
        cfg.codec = CODECS[self.codec]
        cfg.ptime_ms = _int(ptime_ms, "ptime_ms", 10, 60, 10)
        cfg.max_ptime_ms = _int(max_ptime_ms, "max_ptime_ms", 10, 60, 10)
        cfg.buffer_ms = _int(buffer_ms, "buffer_ms", max(80, 2 * cfg.max_ptime_ms), 2000, 10)
        cfg.fixed_delay_ms = 0 if delay_ms is None else _int(delay_ms, "delay_ms", 1, cfg.buffer_ms - 20)
        cfg.min_delay_ms = _int(min_delay_ms, "min_delay_ms", 0, 2000)
        cfg.max_delay_ms = _int(max_delay_ms, "max_delay_ms", 0, 2000)
        cfg.nack = _bool(nack, "nack")
        cfg.nack_retry_ms = _int(nack_retry_ms, "nack_retry_ms", 10, 1000)
        cfg.fec_slots = _int(fec_slots, "fec_slots", 0, 4)
        cfg.pt_red = _int(pt_red, "pt_red", 96, 127)
        cfg.pt_fec = _int(pt_fec, "pt_fec", 96, 127)
        if cfg.pt_red == cfg.pt_fec:
            raise ValueError("pt_red and pt_fec must differ")
        cfg.rtcp_interval_ms = _int(rtcp_interval_ms, "rtcp_interval_ms", 100, 60000)
        cfg.ssrc = random.getrandbits(32) if ssrc is None else _u32(ssrc, "ssrc")
        if self.codec == "opus":
            if cfg.max_ptime_ms < 20:
                raise ValueError(f"max_ptime_ms must be at least 20 for opus, got {cfg.max_ptime_ms}")
            cfg.pt_opus = _opus_pt(pt_opus, cfg.pt_red, cfg.pt_fec)
        self.ssrc = int(cfg.ssrc)
        size = int(self._lib.ec_media_rx_state_size(cfg))
        if size == 0:
            raise ValueError("inconsistent receiver configuration")
        self._st = self._alloc("ec_media_rx", size)
        _check(self._lib.ec_media_rx_init(self._st, size, cfg), "MediaReceiver")
        self.frame_samples = int(self._lib.ec_media_rx_frame_samples(self._st))
        self.ptime_ms = int(cfg.ptime_ms)
        self._out = self._ffi.new("uint8_t[]", _MAX_PACKET)
        self._now = 0

    def on_packet(self, packet: Bytes, now_ms: int) -> str:
        """A packet arrived; returns what became of it: "media", "rtcp", "fec", "late",
        "duplicate", "ignored" (other SSRC or payload type), "overflow", "malformed", "unsupported"."""
        raw = _bytes(packet)
        self._now = _now(now_ms)
        rc = self._lib.ec_media_rx_packet(self._st, raw, len(raw), self._now)
        if rc not in _RX_STATUS:
            _check(rc, "MediaReceiver.on_packet")
        return _RX_STATUS[rc]

    def pull(self, now_ms: int) -> np.ndarray:
        """The next ptime_ms of audio (int16 at the codec's rate)."""
        self._now = _now(now_ms)
        out = np.empty(self.frame_samples, dtype=np.int16)
        _check(self._lib.ec_media_rx_pull(self._st, self._now, self._ffi.from_buffer("int16_t[]", out), len(out)),
               "MediaReceiver.pull")
        return out

    def poll_feedback(self, now_ms: int) -> list[bytes]:
        """RTCP to send back now: RR + SDES (every rtcp_interval_ms), with a NACK when packets are missing."""
        self._now = _now(now_ms)
        out: list[bytes] = []
        while len(out) < 4:
            n = _check(self._lib.ec_media_rx_poll_feedback(self._st, self._now, self._out, _MAX_PACKET),
                       "MediaReceiver.poll_feedback")
            if n == 0:
                break
            out.append(bytes(self._ffi.buffer(self._out, n)))
        return out

    def stats(self, now_ms: Optional[int] = None) -> dict[str, Any]:
        now = self._now if now_ms is None else _now(now_ms)
        s = self._ffi.new("ec_media_rx_stats *")
        _check(self._lib.ec_media_rx_get_stats(self._st, now, s), "MediaReceiver.stats")
        d = _struct_dict(s, "ec_media_rx_stats", self._ffi)
        d["recovered"] = d["recovered_red"] + d["recovered_fec"]
        d["jitter_ms"] = d["jitter"] * 1000.0 / RTP_CLOCK[self.codec]
        if self.codec == "opus":
            o = self._ffi.new("ec_media_opus_stats *")
            _check(self._lib.ec_media_rx_opus_stats(self._st, o), "MediaReceiver.stats")
            d.update(recovered_opus_fec=o.recovered_fec, opus_plc_frames=o.plc_frames, opus_plc_blocks=o.plc_blocks,
                     opus_bad_payloads=o.bad_payloads, opus_decode_errors=o.decode_errors)
            d["recovered"] += o.recovered_fec
        d["loss_fraction"] = d["lost"] / d["expected"] if d["expected"] else 0.0
        d["state_bytes"] = self.state_bytes
        return d


# ---- parsers (tools and tests) ---------------------------------------------------------------

def _malformed(rc: int, what: str) -> None:
    if rc < 0:
        raise ValueError(f"{what}: {_ERRORS.get(rc, 'error')} ({rc})")


def parse_rtp(packet: Bytes) -> dict[str, Any]:
    raw = _bytes(packet)
    h = ffi.new("ec_rtp_header *")
    _malformed(lib.ec_rtp_parse(raw, len(raw), h), "RTP")
    d = _struct_dict(h, "ec_rtp_header")
    d["csrc"] = [h.csrc[i] for i in range(h.cc)]
    d["payload"] = raw[h.payload_off:h.payload_off + h.payload_len]
    return d


def parse_rtcp(packet: Bytes) -> dict[str, Any]:
    raw = _bytes(packet)
    info = ffi.new("ec_rtcp_info *")
    _malformed(lib.ec_rtcp_parse(raw, len(raw), info), "RTCP")
    return {
        "flags": info.flags,
        "ssrc": info.ssrc,
        "sr": _struct_dict(info.sr, "ec_rtcp_sender_info") if info.flags & 1 else None,
        "blocks": [_struct_dict(info.blocks[i], "ec_rtcp_block") for i in range(info.n_blocks)],
        "nack_media": info.nack_media,
        "nack": [(info.nack[i].pid, info.nack[i].blp) for i in range(info.n_nack)],
        "packets": info.n_packets,
    }


def parse_red(payload: Bytes) -> list[dict[str, Any]]:
    raw = _bytes(payload, "payload")
    blocks = ffi.new("ec_red_block[]", int(lib.EC_RED_MAX_BLOCKS))
    n = lib.ec_red_parse(raw, len(raw), blocks, int(lib.EC_RED_MAX_BLOCKS))
    _malformed(n, "RED")
    return [dict(_struct_dict(blocks[i], "ec_red_block"), data=raw[blocks[i].off:blocks[i].off + blocks[i].len])
            for i in range(n)]


def parse_fec(payload: Bytes) -> dict[str, Any]:
    raw = _bytes(payload, "payload")
    h = ffi.new("ec_fec_header *")
    _malformed(lib.ec_fec_parse(raw, len(raw), h), "FEC")
    d = _struct_dict(h, "ec_fec_header")
    d["protected"] = [(h.sn_base + i) & 0xFFFF for i in range(48) if h.mask >> i & 1]
    return d
