"""`edgecall bench resilience`: speech quality against packet loss, from a simulated call through
the media network stack (native_codec.media), scored with PESQ (ITU-T P.862 / P.862.2 via the
`pesq` package) and STOI (`pystoi`) against the original speech.

Speech: the wideband codecs are scored on the speech corpus (host_tools/speech.py): per language
(es, fr, it, ru) a 24 s clip of real 16 kHz recordings, the prompts of Debian's
asterisk-core-sounds-<lang>-g722 packages decoded with our G.722 decoder, joined by 300-700 ms
pauses and set to an active speech level of -26 dBov. G.711, narrowband, keeps the five 8 kHz
ITU-T P.862 originals (or105, or109, or114, u_af1s01, u_am1s01).
Codecs: G.722 at 16 kHz (PESQ-WB, P.862.2) on the corpus; G.711 µ-law at 8 kHz (PESQ-NB) on the
8 kHz originals; Opus (RFC 7587, libopus 1.3.1 fixed point, complexity 0, VBR) at 16 and
24 kbit/s, 16 kHz, on the corpus ("opus16", "opus24").
Statistics: every condition's figure (`averages`: PESQ, STOI, pesq_warp, delay_p95_ms, steps) is
the MEDIAN over files x seeds (seeds 1, 2, 3: 12 calls a condition for the wideband codecs, 15 for
G.711), with its spread as min-max (pesq_min/pesq_max, stoi_min/stoi_max) and as the interquartile
range (pesq_q1/pesq_q3, stoi_q1/stoi_q3); the printed tables give the median and min-max. The
targets are judged on the median; the ceiling is the median over the files. A missed target fails
the run (exit 1, stderr says which and by how much), in the quick run too.
The full run (4 codecs, 7 losses, 2 patterns, 3 seeds, 2 workers) costs about 20 CPU-minutes,
almost all of it PESQ and STOI: about 10 minutes on 2 idle cores (19 minutes measured on 2 cores
shared with other work); `--quick` (one language cut to 6 s, one seed, four losses) about 20 s.
Loss patterns, each at 0..50 % mean loss, with the same impairment on the return path:
- random: independent losses (netem `loss random`, a Gilbert–Elliott chain with p = 0 and
  1 − k = loss);
- bursty: Gilbert–Elliott with 1 − h = 1 (every packet lost in the bad state), 1 − k = 0, r = 1/3
  (mean burst 1/r = 3 packets) and p = loss · r / (1 − loss), which makes the stationary loss
  p / (p + r) equal to the random pattern's.
Delay: 30 ms ± 10 ms (normal, netem-style, so packets may reorder) one way in each direction: a
round trip of about 60 ms.

Modes (all with 20 ms packets and one RTP stream per call):
- zero-fill: no jitter buffer and no concealment. The media packets of the `plc` run's own
  channel (same losses) are decoded with nc.G722Decoder / nc.g711_decode in sequence order, every
  packet that arrived at any time is used (an ideal, infinitely patient buffer), and each lost
  packet's 20 ms is silence (the G.722 decoder simply skips it).
- plc: MediaSender without RED, FEC, NACK or adaptation; MediaReceiver with its adaptive jitter
  buffer and packet-loss concealment, no NACK.
- full: MediaSender(red=True, nack=True, adapt=True) (it starts with RED at 64 kbit/s and
  moves between FEC/RED/48 kbit/s/40 ms ptime from the receiver reports); MediaReceiver with NACK,
  the adaptive buffer and concealment at their defaults.
  For Opus, plc is Opus's own PLC (no in-band FEC: expected loss 0) and full is in-band FEC +
  NACK + adaptation: the sender starts at OPUS_SET_PACKET_LOSS_PERC 20 with FEC on (and so at
  least 32 kbit/s) and then follows the loss the reports show over whole loss windows (ec_media.h:
  FEC on from 3 % smoothed loss, off below 1 %, expected loss at most 30 %, 32 kbit/s while FEC is
  on); the receiver decodes a lost frame from the next packet's FEC when that packet is buffered,
  else conceals it. (libopus 1.3.1 codes FEC only above a rate threshold that depends on the
  loss percentage and the bitrate — see the diagnostics' recovered_opus_fec.) Zero-fill decodes
  the arrived Opus packets in order, silence for the lost. RTCP (reports, NACKs) goes back over the
  return link, retransmissions over the forward link; a retransmission counts only if the jitter
  buffer still has time to play it (else the receiver reports it late).
Everything runs in simulated time, 1 ms steps: the sender pushes a frame every 20 ms, packets are
delivered at the first millisecond after their link departure time, the receiver is pulled every
20 ms (10 ms after the push) and asked for feedback after each packet and each pull.

Alignment. Zero-fill output is on the source timeline already, shifted by the codec delay
(measured by cross-correlating a clean decode: 22 samples for G.722, 0 for G.711): both scores
use it after removing that shift. The receiver's output:
- PESQ gets it as heard, cut to the reference's length from the lag of the cross-correlation
  maximum (playout delay + codec delay + the concealer's 3.75 ms); P.862's own utterance
  alignment follows the adaptive buffer's later 10 ms steps, as it does for any VoIP capture.
- STOI, which compares frame by frame and cannot follow a delay step, gets it laid back onto the
  source timeline block by block (`Playout`, `warp_compensate`): after every pull, the next block
  the jitter buffer will play is the end of its newest stored block (known from the packets it
  accepted) minus its `buffered_ms`, and the statistics say what the two output blocks were
  (played, merged, stretched, concealed, skipped, silent). Each source 10 ms block gets the
  output block that played it (a merged block stands for both of its blocks), minus the codec
  and concealer delay; insertions (stretches, underrun waits) drop out and the blocks skipped
  after an underrun get the concealment heard in their place. With no jitter and no loss this
  reproduces the ceiling exactly (tests/test_bench_resilience.py).
  Rows of the receiver's modes also give `pesq_warp`, PESQ of this signal, as a bound on how much
  P.862's handling of the buffer's time-scale steps costs (P.862 is not validated for time
  warping). It is not the headline: the repeated merged block is a discontinuity that PESQ can
  punish far more than the merge itself (one took a 3 s clip from 4.3 to 2.2).
The ceiling is the loss-free decode (encoder and decoder only, pattern "none", loss 0).

Receiver delay: per call, the 95th percentile over the played output blocks of the time from the
block's send time (its packet's send time plus its offset in the packet) to when it plays, from
the same block mapping (`playout_delays`); it includes the link's 30 ms mean one-way delay. Rows of
the receiver's modes give it as `delay_p95_ms` (and the time-scale steps per call as `steps`); the
report prints it per condition and beside each target.

Caveat: STOI keeps every frame within 40 dB of the loudest, so the background noise of or105/or109
(−36 dB) counts as speech; codec noise there lowers their STOI even loss-free (G.711 ceiling 0.89).
"""
from __future__ import annotations

import heapq
import math
import os
import sys
import time
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from host_tools import speech
from host_tools.bench import emit
from host_tools.channel.impair import Impairment, Link
from host_tools.paths import BUILD, TESTDATA

PTIME_MS = 20
PULL_PHASE_MS = 10
BLOCK_MS = 10
DELAY_MS = 30.0
JITTER_MS = 10.0
BURST_PACKETS = 3.0
TAIL_MS = 1500
LOSSES = (0, 5, 10, 20, 30, 40, 50)
QUICK_LOSSES = (0, 10, 20, 40)
PATTERNS = ("random", "bursty")
MODES = ("zero-fill", "plc", "full")
SEEDS = (1, 2, 3)
MAX_LAG_MS = 1000
PLOT_PATH = BUILD / "bench" / "resilience.png"
QUICK_PLOT_PATH = BUILD / "bench" / "resilience-quick.png"  # so a smoke run keeps the full run's plot
SPEECH = TESTDATA / "speech"
NB_FILES = ("or105.wav", "or109.wav", "or114.wav", "u_af1s01.wav", "u_am1s01.wav")
WB_FILES = speech.LANGUAGES  # the speech corpus's 24 s clips (host_tools/speech.py)
OPUS_FULL_START_PERC = 20
# (codec, mode, pattern, loss %, minimum PESQ)
TARGETS = (("g722", "full", "random", 10, 3.5), ("g722", "full", "random", 20, 3.0),
           ("g722", "full", "bursty", 40, 2.5))


@dataclass(frozen=True)
class CodecSpec:
    name: str          # in the report
    media: str         # native_codec.media codec
    rate: int
    pesq_mode: str     # "wb" | "nb"
    files: tuple[str, ...]
    rtp_pt: int
    title: str = ""
    ticks_per_block: int = 80  # RTP ticks per 10 ms (8000 Hz clock; Opus: 48 kHz)
    bitrate: int = 0           # Opus only
    plc_delay_ms: float = 3.75  # the concealer's delay (ec_plc.h); Opus's PLC adds none

    @property
    def tx_kw(self) -> dict[str, Any]:
        return {"opus_bitrate": self.bitrate} if self.media == "opus" else {}


CODECS = {
    "g722": CodecSpec("g722", "g722", 16000, "wb", WB_FILES, 9, "G.722 16 kHz"),
    "g711": CodecSpec("g711", "pcmu", 8000, "nb", NB_FILES, 0, "G.711 µ-law 8 kHz"),
    "opus16": CodecSpec("opus16", "opus", 16000, "wb", WB_FILES, 111, "Opus 16 kbit/s, 16 kHz", 480, 16000, 0.0),
    "opus24": CodecSpec("opus24", "opus", 16000, "wb", WB_FILES, 111, "Opus 24 kbit/s, 16 kHz", 480, 24000, 0.0),
}


@dataclass(frozen=True)
class Config:
    codecs: tuple[str, ...] = ("g722", "g711", "opus16", "opus24")
    losses: tuple[int, ...] = LOSSES
    patterns: tuple[str, ...] = PATTERNS
    seeds: tuple[int, ...] = SEEDS
    files: Optional[dict[str, tuple[str, ...]]] = None  # codec -> files (None: all of CODECS)
    max_seconds: Optional[float] = None                 # cut each file (tests)
    workers: int = 2

    def files_of(self, codec: str) -> tuple[str, ...]:
        return self.files[codec] if self.files and codec in self.files else CODECS[codec].files


QUICK = Config(losses=QUICK_LOSSES, seeds=(1,), files={"g722": ("es",), "g711": ("or105.wav",),
                                                       "opus16": ("es",), "opus24": ("es",)}, max_seconds=6.0)


# ---- channel ---------------------------------------------------------------------------------

def impairment(pattern: str, loss_percent: float) -> Impairment:
    """The link of one direction: `pattern` loss with mean `loss_percent`, 30 ± 10 ms delay."""
    loss = loss_percent / 100.0
    if not 0.0 <= loss < 0.75:
        raise ValueError(f"loss must be from 0 to 75 %, got {loss_percent}")
    if pattern == "random" or loss == 0.0:
        return Impairment(p=0.0, loss_good=loss, delay_ms=DELAY_MS, jitter_ms=JITTER_MS)
    if pattern == "bursty":
        r = 1.0 / BURST_PACKETS
        return Impairment(p=loss * r / (1.0 - loss), r=r, loss_bad=1.0, loss_good=0.0,
                          delay_ms=DELAY_MS, jitter_ms=JITTER_MS)
    raise ValueError(f"pattern must be random or bursty, got {pattern!r}")


def link_seed(file: str, pattern: str, loss: int, seed: int) -> int:
    return zlib.crc32(f"{file}|{pattern}|{loss}|{seed}".encode())


@dataclass
class Network:
    """Two links (forward: sender to receiver; back: receiver to sender) and the packets in flight."""

    fwd: Link
    back: Link
    queue: list[tuple[int, int, str, bytes]] = field(default_factory=list)
    order: int = 0

    def send(self, to: str, packets: Iterable[bytes], now_ms: int) -> None:
        link = self.fwd if to == "rx" else self.back
        for p in packets:
            for departure in link.schedule(now_ms, len(p)):
                heapq.heappush(self.queue, (math.ceil(departure), self.order, to, p))
                self.order += 1

    def due(self, now_ms: int) -> Iterable[tuple[str, bytes]]:
        while self.queue and self.queue[0][0] <= now_ms:
            _, _, to, p = heapq.heappop(self.queue)
            yield to, p


# ---- the call --------------------------------------------------------------------------------

SSRC_TX, SSRC_RX, SEQ0, TS0 = 0x5EED, 0xFEED, 1000, 0
TICKS_PER_BLOCK = 80  # RTP clock 8000 Hz for every codec here
PT_RED, PT_FEC = 96, 97
PLC_DELAY_MS = 3.75   # ec_plc.h: the concealer delays its output by its longest overlap
BLOCK_KEYS = ("played", "concealed", "stretched", "compressed", "skipped", "silent", "recovered_fec")


@dataclass
class Playout:
    """Which source 10 ms blocks each output block of the receiver played, reconstructed from the
    receiver's statistics after each pull and the end of its buffer (tracked from the packets it
    stored: the newest stored block's end minus `buffered_ms` is the next block to play).

    Per pull of two blocks: a merge is always the first block and covers two source blocks, a
    stretch (or the silence before playout) is always the first block and covers none, an
    underrun concealment covers none and is never followed by anything else in the same pull,
    skipped blocks come just before a played one."""

    halves: bool = False             # Opus: 20 ms frames whose second 10 ms block is an odd index
    sent: dict[int, tuple[int, int]] = field(default_factory=dict)  # seq -> (first block, blocks)
    stored: set[int] = field(default_factory=set)
    fec_groups: list[list[int]] = field(default_factory=list)
    end: Optional[int] = None        # one past the newest stored block
    pos: Optional[int] = None        # the next block to play, after the last pull
    last: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BLOCK_KEYS, 0))
    source_of: list[list[int]] = field(default_factory=list)  # per output block

    def on_sent(self, packet: bytes, spec: CodecSpec) -> None:
        from native_codec.media import parse_red, parse_rtp

        if len(packet) < 12 or 192 <= packet[1] <= 223 or packet[1] & 0x7F not in (spec.rtp_pt, PT_RED):
            return
        h = parse_rtp(packet)
        payload = h["payload"] if h["pt"] == spec.rtp_pt else parse_red(h["payload"])[-1]["data"]
        if spec.media == "opus":  # one 20 ms frame per packet
            self.sent.setdefault(h["seq"], (((h["ts"] - TS0) & 0xFFFFFFFF) // spec.ticks_per_block, 2))
            return
        block_bytes = spec.rate // 100 // (2 if spec.media == "g722" else 1)
        self.sent.setdefault(h["seq"], ((h["ts"] - TS0) // TICKS_PER_BLOCK, len(payload) // block_bytes))

    def _store(self, seq: int) -> None:
        if seq in self.sent:
            self.stored.add(seq)
            first, n = self.sent[seq]
            self.end = first + n if self.end is None else max(self.end, first + n)

    def on_delivered(self, packet: bytes, result: str) -> None:
        from native_codec.media import parse_fec

        if len(packet) < 12 or 192 <= packet[1] <= 223:
            return
        seq = int.from_bytes(packet[2:4], "big")
        if result == "media":
            self._store(seq)
        elif result == "fec":
            self.fec_groups.append(parse_fec(packet[12:])["protected"])

    def _fec_recoveries(self) -> None:
        """The packet an FEC packet recovered is its group's one missing member."""
        for group in self.fec_groups:
            missing = [s for s in group if s not in self.stored]
            if len(missing) == 1:
                self._store(missing[0])

    def on_pull(self, stats: dict[str, Any]) -> None:
        d = {k: stats[k] - self.last[k] for k in BLOCK_KEYS}
        self.last = {k: stats[k] for k in BLOCK_KEYS}
        if d["recovered_fec"] > 0:
            self._fec_recoveries()
        if self.end is None:
            self.source_of += [[], []]
            return
        # before playout the next block is the earliest stored (playout starts from it)
        before = self.pos if self.pos is not None else min(self.sent[s][0] for s in self.stored)
        self.pos = max(before, self.end - stats["buffered_ms"] // BLOCK_MS)
        self.source_of += self._assign(before, self.pos - before, d, self.halves)

    @staticmethod
    def _assign(p: int, a: int, d: dict[str, int], halves: bool = False) -> list[list[int]]:
        """Source blocks of the two output blocks of a pull that moved playout from p by a blocks.
        With `halves` (Opus), a stretch at a frame's second half plays that half first and the
        concealment after it (the receiver keeps the decoder's order)."""
        if a <= 0:
            return [[], []]
        if halves and d["stretched"] and p % 2 == 1:
            return [[p], [p + a - 1] if a > 1 else []]
        if d["compressed"]:
            return [[p, p + 1], [p + a - 1] if a > 2 else []]
        if d["stretched"] or d["silent"]:
            return [[], [p + a - 1]]
        if a == 1:
            return [[p], []]
        if d["concealed"] and d["played"]:
            return [[p], [p + a - 1]]   # conceal, (skip), play
        return [[p + a - 2], [p + a - 1]]  # (skip), play, play


@dataclass
class CallResult:
    audio: np.ndarray                      # what the receiver played, from the first pull
    source_of: list[list[int]]             # per output 10 ms block: the source blocks it played
    media_arrivals: dict[int, bytes]       # frame index -> codec payload (first arrival)
    frames: int
    rx: dict[str, Any]
    tx: dict[str, Any]
    link_loss: float                       # forward link, all packets


EndpointConfig = tuple[dict[str, Any], dict[str, Any]]  # MediaSender and MediaReceiver keyword arguments
ENDPOINTS: dict[str, EndpointConfig] = {
    "plc": ({"red": False, "fec_group": 0, "nack": False, "adapt": False}, {"nack": False}),
    "full": ({"red": True, "fec_group": 0, "nack": True, "adapt": True}, {"nack": True}),
}
# Other settings of the same stack, run at the G.722 target points only (what would meet them):
# a jitter-buffer floor that leaves room for one retransmission round trip, and a deeper one with
# faster NACK retries and RED at a fixed 64 kbit/s (no 48 kbit/s / 40 ms adaptation level).
VARIANTS: dict[str, EndpointConfig] = {
    "full, rx min_delay_ms=120": ({"red": True, "fec_group": 0, "nack": True, "adapt": True},
                                  {"nack": True, "min_delay_ms": 120}),
    "RED 64 kbit/s (adapt off), rx min_delay_ms=300, nack_retry_ms=60": (
        {"red": True, "fec_group": 0, "nack": True, "adapt": False},
        {"nack": True, "min_delay_ms": 300, "nack_retry_ms": 60}),
}


# Opus's modes: plc without in-band FEC, full with it (and NACK, adaptation); RED/RFC 5109 FEC are
# not used with Opus.
OPUS_ENDPOINTS: dict[str, EndpointConfig] = {
    "plc": ({"nack": False, "adapt": False, "opus_loss_perc": 0}, {"nack": False}),
    "full": ({"nack": True, "adapt": True, "opus_loss_perc": OPUS_FULL_START_PERC}, {"nack": True}),
}


def endpoints_of(spec: CodecSpec, mode: str) -> EndpointConfig:
    """The sender and receiver settings of a mode ("plc", "full") for this codec."""
    return OPUS_ENDPOINTS[mode] if spec.media == "opus" else ENDPOINTS[mode]


def _endpoints(spec: CodecSpec, config: EndpointConfig) -> tuple[Any, Any]:
    import native_codec as nc

    tx_kw, rx_kw = config
    tx = nc.MediaSender(spec.media, PTIME_MS, ssrc=SSRC_TX, seq=SEQ0, ts=TS0, **spec.tx_kw, **tx_kw)
    rx = nc.MediaReceiver(spec.media, PTIME_MS, ssrc=SSRC_RX, **rx_kw)
    return tx, rx


def _note_media(packet: bytes, spec: CodecSpec, arrivals: dict[int, bytes]) -> None:
    """Keeps the first copy of each plain media packet (the zero-fill decoder's input)."""
    if len(packet) < 12 or 192 <= packet[1] <= 223 or packet[1] & 0x7F != spec.rtp_pt:
        return
    from native_codec.media import parse_rtp

    h = parse_rtp(packet)
    arrivals.setdefault((h["seq"] - SEQ0) & 0xFFFF, bytes(h["payload"]))


def simulate_call(spec: CodecSpec, config: EndpointConfig, pcm: np.ndarray, imp: Impairment, seed: int) -> CallResult:
    """One call in simulated time (1 ms steps): ENDPOINTS["plc"] (which also gives the zero-fill
    input), ENDPOINTS["full"] or a VARIANTS entry."""
    tx, rx = _endpoints(spec, config)
    net = Network(Link(imp, seed), Link(imp, seed ^ 0x9E3779B9))
    play = Playout(halves=spec.media == "opus")
    fs = tx.frame_samples
    frames = len(pcm) // fs
    out: list[np.ndarray] = []
    arrivals: dict[int, bytes] = {}

    def send(packets: list[bytes], t: int) -> None:
        for p in packets:
            play.on_sent(p, spec)
        net.send("rx", packets, t)

    blocks = frames * PTIME_MS // BLOCK_MS
    for t in range(frames * PTIME_MS + TAIL_MS):
        if play.pos is not None and play.pos >= blocks:
            break  # everything has been played (or given up)
        if t % PTIME_MS == 0 and t // PTIME_MS < frames:
            i = t // PTIME_MS
            send(tx.push(pcm[i * fs:(i + 1) * fs], t), t)
        for to, p in list(net.due(t)):
            if to == "rx":
                _note_media(p, spec, arrivals)
                play.on_delivered(p, rx.on_packet(p, t))
                net.send("tx", rx.poll_feedback(t), t)
            else:
                send(tx.on_packet(p, t), t)
        if t % PTIME_MS == PULL_PHASE_MS:
            out.append(rx.pull(t))
            play.on_pull(rx.stats(t))
            net.send("tx", rx.poll_feedback(t), t)
    st = net.fwd.stats
    return CallResult(np.concatenate(out), play.source_of, arrivals, frames, rx.stats(), tx.stats(),
                      st["lost"] / max(st["in"], 1))


def zero_fill_decode(spec: CodecSpec, arrivals: dict[int, bytes], frames: int) -> np.ndarray:
    """The received payloads decoded in order, silence for every missing frame."""
    import native_codec as nc

    fs = spec.rate * PTIME_MS // 1000
    dec = nc.G722Decoder(64000) if spec.media == "g722" else None
    opus_dec = nc.OpusDecoder(spec.rate) if spec.media == "opus" else None
    parts = []
    for i in range(frames):
        payload = arrivals.get(i)
        if payload is None:
            parts.append(np.zeros(fs, dtype=np.int16))
        elif opus_dec is not None:
            parts.append(opus_dec.decode(payload))
        elif dec is not None:
            parts.append(dec.decode(payload))
        else:
            parts.append(nc.g711_decode(payload, "ulaw"))
    return np.concatenate(parts)


def clean_decode(spec: CodecSpec, pcm: np.ndarray) -> np.ndarray:
    """The loss-free codec round trip (the ceiling)."""
    import native_codec as nc

    if spec.media == "g722":
        return nc.G722Decoder(64000).decode(nc.G722Encoder(64000).encode(pcm))
    if spec.media == "opus":  # the sender's settings without FEC
        enc, dec = nc.OpusEncoder(spec.rate, spec.bitrate, 0, fec=False), nc.OpusDecoder(spec.rate)
        fs = spec.rate * PTIME_MS // 1000
        n = len(pcm) // fs * fs
        return np.concatenate([dec.decode(enc.encode(pcm[i:i + fs])) for i in range(0, n, fs)] or
                              [np.zeros(0, np.int16)])
    return nc.g711_decode(nc.g711_encode(pcm, "ulaw"), "ulaw")


# ---- alignment and scoring -------------------------------------------------------------------

def codec_delay(spec: CodecSpec) -> int:
    """Samples by which the decoded signal lags its input (cross-correlation of a clean decode;
    for Opus, a speech-coding codec, libopus's own figure: the encoder's lookahead)."""
    if spec.media == "opus":
        import native_codec as nc

        return int(nc.OpusEncoder(spec.rate, spec.bitrate, 0).lookahead)
    rng = np.random.default_rng(7)
    x = (3000 * rng.standard_normal(spec.rate)).astype(np.int16)
    return lag_by_xcorr(x, clean_decode(spec, x), spec.rate // 100)


def lag_by_xcorr(ref: np.ndarray, out: np.ndarray, max_lag: int) -> int:
    """The delay (samples, 0..max_lag) of ref in out at the cross-correlation maximum."""
    from scipy.signal import correlate

    a = _window(out.astype(np.float64), 0, len(ref) + max_lag)
    c = correlate(a, ref.astype(np.float64), mode="full", method="fft")[len(ref) - 1:]  # c[k] = sum out[n+k] ref[n]
    return int(np.argmax(c[: max_lag + 1]))


def _window(x: np.ndarray, start: int, n: int) -> np.ndarray:
    """x[start:start + n] as float64, zero-padded where it runs off either end."""
    w = np.zeros(n, dtype=np.float64)
    lo, hi = max(start, 0), min(start + n, len(x))
    if hi > lo:
        w[lo - start:hi - start] = x[lo:hi]
    return w


def warp_compensate(out: np.ndarray, source_of: Sequence[Sequence[int]], n_source: int, spec: CodecSpec,
                    delay: int) -> np.ndarray:
    """The played audio laid out on the source timeline: each source 10 ms block gets the output
    block that played it (minus `delay`, the codec's and concealer's own delay); a block that was
    never played (skipped after an underrun) gets the output that followed the last one played,
    i.e. the concealment heard in its place; insertions (stretch, underrun waits) drop out."""
    bs = spec.rate * BLOCK_MS // 1000
    n_blocks = -(-n_source // bs)
    where: list[Optional[int]] = [None] * n_blocks
    for o, srcs in enumerate(source_of):
        for j in srcs:
            if 0 <= j < n_blocks and where[j] is None:
                where[j] = o
    aligned = np.zeros(n_blocks * bs, dtype=np.float64)
    anchor: Optional[tuple[int, int]] = None
    for j, played in enumerate(where):
        if played is not None:
            anchor = (j, played)
        if anchor is not None:
            o = anchor[1] + j - anchor[0]
            aligned[j * bs:(j + 1) * bs] = _window(out, o * bs + delay, bs)
    return aligned[:n_source].astype(np.int16)


@dataclass(frozen=True)
class Degraded:
    """What is scored: for PESQ the audio as heard, cut to the reference's span at the delay of the
    cross-correlation maximum (P.862 follows later delay changes itself); for STOI the same audio
    on the source timeline (STOI compares frame by frame and cannot follow a 10 ms step)."""

    for_pesq: np.ndarray
    for_stoi: np.ndarray


def raw_trimmed(ref: np.ndarray, out: np.ndarray, rate: int) -> np.ndarray:
    """len(ref) samples of out from the lag at which it best matches ref."""
    return _window(out, lag_by_xcorr(ref, out, rate * MAX_LAG_MS // 1000), len(ref)).astype(np.int16)


def score(ref: np.ndarray, deg: Degraded, spec: CodecSpec, stoi_too: bool = True) -> tuple[float, float]:
    """(PESQ MOS-LQO, STOI) against ref (STOI nan when not asked for)."""
    from pesq import pesq
    from pystoi import stoi

    r = ref.astype(np.float64) / 32768.0
    p = pesq(spec.rate, r, deg.for_pesq.astype(np.float64) / 32768.0, spec.pesq_mode)
    if not stoi_too:
        return float(p), float("nan")
    return float(p), float(stoi(r, deg.for_stoi.astype(np.float64) / 32768.0, spec.rate, extended=False))


# ---- one file ------------------------------------------------------------------------------

def load_speech(spec: CodecSpec, file: str, max_seconds: Optional[float] = None) -> np.ndarray:
    """A corpus language's clip (speech.LANGUAGES, 16 kHz) or a file of the shared test data, at the
    codec's rate (resampled when it differs), whole 20 ms frames."""
    from scipy.signal import resample_poly

    from host_tools.audiofiles import read_wav

    if file in speech.LANGUAGES:
        pcm, rate = speech.clip(file), speech.RATE
    else:
        pcm, rate = read_wav(SPEECH / file)
    if rate != spec.rate:
        x = resample_poly(pcm.astype(np.float64), spec.rate, rate)
        pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    if max_seconds is not None:
        pcm = pcm[: int(max_seconds * spec.rate)]
    fs = spec.rate * PTIME_MS // 1000
    return pcm[: len(pcm) // fs * fs].copy()


def _row(spec: CodecSpec, file: str, mode: str, pattern: str, loss: int, seed: int,
         ref: np.ndarray, deg: Degraded, extra: dict[str, Any]) -> dict[str, Any]:
    p, s = score(ref, deg, spec)
    row = {"codec": spec.name, "mode": mode, "pattern": pattern, "loss": loss, "pesq": round(p, 3),
           "stoi": round(s, 4), "file": file, "seed": seed, **extra}
    if deg.for_pesq is not deg.for_stoi:  # the receiver's output: also PESQ of the time-aligned signal
        row["pesq_warp"] = round(score(ref, Degraded(deg.for_stoi, deg.for_stoi), spec, stoi_too=False)[0], 3)
    return row


def playout_delays(source_of: Sequence[Sequence[int]]) -> list[int]:
    """Per played output block, ms from its packet's send time (plus the block's offset in the
    packet: its media time) to when it plays: output block j starts at PULL_PHASE_MS + 10 j (the
    first pull's first block), source block s was sent at 10 s. Includes the network's one-way
    delay; stretches and underrun waits play no source block and are not counted."""
    return [PULL_PHASE_MS + BLOCK_MS * (j - srcs[0]) for j, srcs in enumerate(source_of) if srcs]


def playout_delay_p95(source_of: Sequence[Sequence[int]]) -> float:
    d = playout_delays(source_of)
    return float(np.percentile(d, 95)) if d else float("nan")


def _diagnostics(call: CallResult) -> dict[str, Any]:
    rx, tx = call.rx, call.tx
    return {"link_loss": round(call.link_loss, 4), "delay_p95_ms": round(playout_delay_p95(call.source_of), 1),
            "steps": rx["stretched"] + rx["compressed"], "concealed_blocks": rx["concealed"], "late": rx["late"],
            "stretched": rx["stretched"], "compressed": rx["compressed"], "skipped": rx["skipped"],
            "recovered_red": rx["recovered_red"], "recovered_fec": rx["recovered_fec"],
            "nack_recovered": rx["nack_recovered"], "retransmissions": tx["retransmissions"],
            "target_delay_ms": rx["target_delay_ms"], "tx_level": tx["level"],
            **({"recovered_opus_fec": rx["recovered_opus_fec"], "opus_plc_frames": rx["opus_plc_frames"],
                "opus_loss_perc": tx["opus_loss_perc"], "opus_inband_fec": tx["opus_inband_fec"]}
               if "recovered_opus_fec" in rx else {})}


def received(spec: CodecSpec, call: CallResult, ref: np.ndarray) -> Degraded:
    """The receiver's output: as heard (cut at the cross-correlation lag) for PESQ, laid back on the
    source timeline for STOI."""
    delay = codec_delay(spec) + round(spec.plc_delay_ms * spec.rate / 1000)
    return Degraded(raw_trimmed(ref, call.audio, spec.rate),
                    warp_compensate(call.audio, call.source_of, len(ref), spec, delay))


def run_setting(spec: CodecSpec, file: str, pcm: np.ndarray, pattern: str, loss: int, seed: int) -> list[dict[str, Any]]:
    """The three modes at one loss setting (zero-fill and plc share one channel realisation)."""
    imp = impairment(pattern, loss)
    lseed = link_seed(file, pattern if loss else "none", loss, seed)
    plc = simulate_call(spec, endpoints_of(spec, "plc"), pcm, imp, lseed)
    full = simulate_call(spec, endpoints_of(spec, "full"), pcm, imp, lseed)
    zf = _window(zero_fill_decode(spec, plc.media_arrivals, plc.frames), codec_delay(spec), len(pcm)).astype(np.int16)
    zf_extra = {"link_loss": round(plc.link_loss, 4),
                "frames_lost": plc.frames - sum(1 for i in plc.media_arrivals if i < plc.frames)}
    return [_row(spec, file, "zero-fill", pattern, loss, seed, pcm, Degraded(zf, zf), zf_extra),
            _row(spec, file, "plc", pattern, loss, seed, pcm, received(spec, plc, pcm), _diagnostics(plc)),
            _row(spec, file, "full", pattern, loss, seed, pcm, received(spec, full, pcm), _diagnostics(full))]


def run_variants(spec: CodecSpec, file: str, pcm: np.ndarray, losses: Sequence[int], seed: int) -> list[dict[str, Any]]:
    """The VARIANTS at the target points of this codec (same channel seeds as the modes)."""
    rows = []
    for codec, _mode, pattern, loss, _min in TARGETS:
        if codec != spec.name or loss not in losses:
            continue
        imp = impairment(pattern, loss)
        for name, config in VARIANTS.items():
            call = simulate_call(spec, config, pcm, imp, link_seed(file, pattern, loss, seed))
            rows.append(_row(spec, file, name, pattern, loss, seed, pcm, received(spec, call, pcm),
                             _diagnostics(call)))
    return rows


@dataclass(frozen=True)
class Job:
    codec: str
    file: str
    seed: int
    losses: tuple[int, ...]
    patterns: tuple[str, ...]
    max_seconds: Optional[float]
    ceiling: bool


@dataclass
class JobResult:
    rows: list[dict[str, Any]]
    ceiling: list[dict[str, Any]]
    variants: list[dict[str, Any]]


def run_job(job: Job) -> JobResult:
    """Every pattern and loss of one file and seed, the variants, and (once per file) the ceiling."""
    spec = CODECS[job.codec]
    pcm = load_speech(spec, job.file, job.max_seconds)
    rows: list[dict[str, Any]] = []
    for loss in job.losses:
        for k, pattern in enumerate(job.patterns):
            if loss == 0 and k > 0:  # loss 0 is the same channel for every pattern
                rows += [{**r, "pattern": pattern} for r in rows[-3:]]
                continue
            rows += run_setting(spec, job.file, pcm, pattern, loss, job.seed)
    ceiling = []
    if job.ceiling:
        clean = _window(clean_decode(spec, pcm), codec_delay(spec), len(pcm)).astype(np.int16)
        p, s = score(pcm, Degraded(clean, clean), spec)
        ceiling.append({"codec": spec.name, "mode": "decode", "pattern": "none", "loss": 0, "pesq": round(p, 3),
                        "stoi": round(s, 4), "file": job.file})
    return JobResult(rows, ceiling, run_variants(spec, job.file, pcm, job.losses, job.seed))


# ---- the benchmark -------------------------------------------------------------------------

def jobs_of(cfg: Config) -> list[Job]:
    return [Job(codec, file, seed, cfg.losses, cfg.patterns, cfg.max_seconds, seed == cfg.seeds[0])
            for codec in cfg.codecs for file in cfg.files_of(codec) for seed in cfg.seeds]


def run_jobs(jobs: Sequence[Job], workers: int) -> JobResult:
    if workers <= 1:
        done = [run_job(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = list(pool.map(run_job, jobs))
    return JobResult([r for d in done for r in d.rows], [c for d in done for c in d.ceiling],
                     [v for d in done for v in d.variants])


def _median(values: Iterable[float], digits: int = 3) -> float:
    v = list(values)
    return round(float(np.median(v)), digits) if v else float("nan")


def _spread(name: str, values: Sequence[float], digits: int) -> dict[str, float]:
    """The median of `values` and their spread: min-max and the interquartile range (numpy's
    linear percentiles)."""
    q1, q3 = np.percentile(values, [25, 75])
    return {name: _median(values, digits), f"{name}_min": round(float(min(values)), digits),
            f"{name}_max": round(float(max(values)), digits), f"{name}_q1": round(float(q1), digits),
            f"{name}_q3": round(float(q3), digits)}


def _mode_order(mode: str) -> tuple[int, str]:
    return (MODES.index(mode), "") if mode in MODES else (len(MODES), mode)


def averages(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (codec, mode, pattern, loss), over files and seeds: the median PESQ and STOI with their
    spread (min-max, IQR), the median of pesq_warp, of the receiver delay and time-scale steps, of
    the Opus FEC counts; the mean link loss."""
    groups: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["codec"], r["mode"], r["pattern"], r["loss"]), []).append(r)
    out = []
    for (codec, mode, pattern, loss), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], _mode_order(kv[0][1]), kv[0][2], kv[0][3])):
        a = {"codec": codec, "mode": mode, "pattern": pattern, "loss": loss,
             **_spread("pesq", [r["pesq"] for r in rs], 3), **_spread("stoi", [r["stoi"] for r in rs], 4),
             "n": len(rs), "link_loss": round(float(np.mean([r["link_loss"] for r in rs])), 4)}
        if all("pesq_warp" in r for r in rs):
            a["pesq_warp"] = _median(r["pesq_warp"] for r in rs)
        if all("delay_p95_ms" in r for r in rs):
            a["delay_p95_ms"] = _median((r["delay_p95_ms"] for r in rs), 1)
            a["steps"] = _median((r["steps"] for r in rs), 1)
        if all("recovered_opus_fec" in r for r in rs):
            a["recovered_opus_fec"] = _median((r["recovered_opus_fec"] for r in rs), 1)
            a["opus_plc_frames"] = _median((r["opus_plc_frames"] for r in rs), 1)
        out.append(a)
    return out


def ceiling_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for codec in sorted({r["codec"] for r in rows}):
        rs = [r for r in rows if r["codec"] == codec]
        out[codec] = {"codec": codec, "mode": "decode", "pattern": "none", "loss": 0,
                      **_spread("pesq", [r["pesq"] for r in rs], 3), **_spread("stoi", [r["stoi"] for r in rs], 4),
                      "per_file": rs}
    return out


def _lookup(avg: Sequence[dict[str, Any]], codec: str, mode: str, pattern: str, loss: int) -> Optional[float]:
    hit = [a["pesq"] for a in avg if (a["codec"], a["mode"], a["pattern"], a["loss"]) == (codec, mode, pattern, loss)]
    return hit[0] if hit else None


def targets(avg: Sequence[dict[str, Any]], variant_avg: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Each target against the median PESQ over files and seeds (with its min-max); the variants'
    medians beside it."""
    out = []
    for codec, mode, pattern, loss, minimum in TARGETS:
        value = _lookup(avg, codec, mode, pattern, loss)
        hit = [a for a in avg if (a["codec"], a["mode"], a["pattern"], a["loss"]) == (codec, mode, pattern, loss)]
        out.append({"name": f"{codec} {mode} PESQ at {loss}% {pattern} loss", "codec": codec, "mode": mode,
                    "pattern": pattern, "loss": loss, "target": minimum, "value": value,
                    "value_min": hit[0]["pesq_min"] if hit else None, "value_max": hit[0]["pesq_max"] if hit else None,
                    "delay_p95_ms": hit[0].get("delay_p95_ms") if hit else None,
                    "met": None if value is None else value >= minimum,
                    "variants": {name: _lookup(variant_avg, codec, name, pattern, loss) for name in VARIANTS}})
    return out


def _plot_targets(ax: Any, variant_avg: Sequence[dict[str, Any]]) -> None:
    """The G.722 targets, and what the variants reach at those points."""
    for _c, _m, pattern, loss, minimum in TARGETS:
        ax.plot([loss], [minimum], marker="v" if pattern == "random" else "D", color="tab:blue", ms=9, ls="none",
                label=f"target (full), {pattern}")
    for (name, marker, color) in zip(VARIANTS, ("P", "X"), ("tab:purple", "tab:brown")):
        pts = [(a["loss"], a["pesq"]) for a in variant_avg if a["codec"] == "g722" and a["mode"] == name]
        if pts:
            ax.plot(*zip(*pts), marker=marker, color=color, ms=9, ls="none", label=f"variant: {name}")


def plot(avg: Sequence[dict[str, Any]], ceiling: dict[str, Any], path: Path,
         variant_avg: Sequence[dict[str, Any]] = ()) -> Path:
    """PESQ (top) and STOI (bottom) against loss, a column per codec, one legend below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codecs = [c for c in CODECS if any(a["codec"] == c for a in avg)]
    fig, axes = plt.subplots(2, len(codecs), figsize=(6.5 * len(codecs), 10), squeeze=False)
    colors = {"zero-fill": "tab:red", "plc": "tab:orange", "full": "tab:green"}
    styles = {"random": ("-", "o"), "bursty": ("--", "s")}
    for col, codec in enumerate(codecs):
        spec = CODECS[codec]
        for row, metric in enumerate(("pesq", "stoi")):
            ax = axes[row][col]
            for mode in MODES:
                for pattern, (ls, mk) in styles.items():
                    pts = sorted((a["loss"], a[metric]) for a in avg
                                 if (a["codec"], a["mode"], a["pattern"]) == (codec, mode, pattern))
                    if pts:
                        ax.plot(*zip(*pts), ls=ls, marker=mk, color=colors[mode], label=f"{mode}, {pattern} loss")
            if codec in ceiling:
                ax.axhline(ceiling[codec][metric], color="k", ls=":", label="ceiling: loss-free decode")
            if metric == "pesq" and codec == "g722":
                _plot_targets(ax, variant_avg)
            if codec == "g722":  # Opus with in-band FEC next to G.722's full stack (same files, PESQ-WB)
                for other, color in (("opus16", "tab:cyan"), ("opus24", "tab:purple")):
                    for pattern, (ls, mk) in styles.items():
                        pts = sorted((a["loss"], a[metric]) for a in avg
                                     if (a["codec"], a["mode"], a["pattern"]) == (other, "full", pattern))
                        if pts:
                            ax.plot(*zip(*pts), ls=ls, marker=mk, color=color, alpha=0.8,
                                    label=f"{CODECS[other].title}, in-band FEC (full), {pattern} loss")
            name = "PESQ-WB (P.862.2)" if spec.pesq_mode == "wb" else "PESQ-NB (P.862)"
            ax.set_title(f"{spec.title}: {name if metric == 'pesq' else 'STOI'} (median over files and seeds)",
                         fontsize=9)
            ax.set_xlabel("mean packet loss (%)")
            ax.set_ylabel("MOS-LQO" if metric == "pesq" else "STOI")
            ax.set_ylim((1.0, 4.6) if metric == "pesq" else (0.4, 1.0))
            ax.grid(alpha=0.3)
    labels: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            labels.setdefault(lab, h)
    fig.legend(list(labels.values()), list(labels), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("EdgeCall speech quality against packet loss (20 ms packets, 30±10 ms one-way jitter, RTT ≈ 60 ms)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def corpus_of(cfg: Config) -> dict[str, Any]:
    """The corpus clips the run uses, built (or checked in the cache) before the workers start: per
    language its package, version, length, prompts and PCM digest."""
    langs = sorted({f for c in cfg.codecs for f in cfg.files_of(c) if f in speech.LANGUAGES})
    out = {}
    for lang in langs:
        m = speech.load_clip(lang).manifest
        out[lang] = {k: m[k] for k in ("package", "version", "seconds", "active_level_dbov", "pcm_sha256")}
        out[lang]["prompts"] = [p["file"] for p in m["prompts"]]
    return out


def benchmark(cfg: Config, plot_path: Path = PLOT_PATH) -> dict[str, Any]:
    t0 = time.monotonic()
    corpus = corpus_of(cfg)
    done = run_jobs(jobs_of(cfg), cfg.workers)
    avg = averages(done.rows)
    variant_avg = averages(done.variants)
    ceiling = ceiling_summary(done.ceiling)
    return {
        "schema": 1,
        "bench": "resilience",
        "setup": {"ptime_ms": PTIME_MS, "delay_ms": DELAY_MS, "jitter_ms": JITTER_MS, "jitter_dist": "normal",
                  "rtt_ms": 2 * DELAY_MS, "bursty": {"r": round(1 / BURST_PACKETS, 4), "mean_burst_packets": BURST_PACKETS,
                                                     "p": "loss * r / (1 - loss)", "loss_bad": 1.0, "loss_good": 0.0},
                  "losses": list(cfg.losses), "patterns": list(cfg.patterns), "seeds": list(cfg.seeds),
                  "files": {c: list(cfg.files_of(c)) for c in cfg.codecs}, "workers": cfg.workers,
                  "max_seconds": cfg.max_seconds, "corpus": corpus,
                  "statistic": "median over files x seeds (averages' pesq, stoi, pesq_warp, delay_p95_ms, steps)",
                  "spread": "min-max (pesq_min/pesq_max, stoi_min/stoi_max) and IQR (pesq_q1/pesq_q3, stoi_q1/stoi_q3), "
                            "over files x seeds; the printed tables give min-max"},
        "results": done.rows,
        "averages": avg,
        "ceiling": ceiling,
        "targets": targets(avg, variant_avg),
        "variants": {"settings": {name: {"sender": tx, "receiver": rx} for name, (tx, rx) in VARIANTS.items()},
                     "averages": variant_avg, "results": done.variants},
        "plot": str(plot(avg, ceiling, plot_path, variant_avg)),
        "seconds": round(time.monotonic() - t0, 1),
    }


def run(json_out: bool, quick: bool = False) -> int:
    if not SPEECH.is_dir():
        print(f"edgecall bench resilience: speech test data not found at {SPEECH}", file=sys.stderr)
        return 2
    cfg = replace(QUICK if quick else Config(), workers=max(1, min(2, os.cpu_count() or 1)))
    try:
        result = benchmark(cfg, QUICK_PLOT_PATH if quick else PLOT_PATH)
    except speech.SpeechCorpusError as e:
        print(f"edgecall bench resilience: {e}", file=sys.stderr)
        return 2
    emit(result, json_out, _print_human)
    return 1 if report_missed(result.get("targets") or []) else 0


def report_missed(targets: Sequence[dict[str, Any]]) -> bool:
    """Says on stderr which targets the medians missed and by how much; True if any."""
    missed = [t for t in targets if not t["met"]]
    for t in missed:
        print(f"edgecall bench resilience: MISSED {t['name']}: median {t['value']} against {t['target']}, "
              f"{round(t['target'] - t['value'], 3)} short", file=sys.stderr)
    return bool(missed)


def cell_pesq(a: dict[str, Any]) -> str:
    """A table cell's PESQ: the median and its min-max over files and seeds."""
    return f"{a['pesq']:.2f} ({a['pesq_min']:.2f}-{a['pesq_max']:.2f})"


def _print_human(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    for codec in r["ceiling"]:
        c = r["ceiling"][codec]
        t = Table(title=f"{codec}: median PESQ (min-max) / STOI / receiver delay p95 (send to playout, with the "
                        f"{DELAY_MS:.0f} ms one-way network delay) over files and seeds "
                        f"(ceiling {c['pesq']:.2f} / {c['stoi']:.3f})")
        t.add_column("loss %")
        cols = [(m, p) for m in MODES for p in r["setup"]["patterns"]]
        for m, p in cols:
            t.add_column(f"{m} {p}")
        for loss in r["setup"]["losses"]:
            cells = []
            for m, p in cols:
                a = [x for x in r["averages"] if (x["codec"], x["mode"], x["pattern"], x["loss"]) == (codec, m, p, loss)]
                delay = f" / {a[0]['delay_p95_ms']:.0f} ms" if a and "delay_p95_ms" in a[0] else ""
                cells.append(f"{cell_pesq(a[0])} / {a[0]['stoi']:.3f}{delay}" if a else "-")
            t.add_row(str(loss), *cells)
        con.print(t)
    for row in r["targets"]:
        spread = f" (min-max {row['value_min']}-{row['value_max']})" if row["value"] is not None else ""
        con.print(f"{'met   ' if row['met'] else 'MISSED'} {row['name']}: median {row['value']}{spread} "
                  f"(target ≥ {row['target']}), receiver delay p95 {row['delay_p95_ms']} ms")
        for name, value in row["variants"].items():
            con.print(f"         with {name}: {value}")
    for lang, c in r["setup"].get("corpus", {}).items():
        con.print(f"corpus {lang}: {c['seconds']} s, {len(c['prompts'])} prompts of {c['package']} {c['version']}")
    con.print(f"plot: {r['plot']}   ({r['seconds']} s)")
