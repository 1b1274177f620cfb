"""Media network stack (native_codec/src/{rtp,rtcp,red,fec,jb,media}.c through native_codec.media):
trace-driven tests with no sockets.

A sender's packets go through a simulated channel (random loss, Gilbert-Elliott bursts, jitter,
reordering, duplication, sequence wrap, timestamp jumps, SSRC change) into a receiver with a fixed
playout delay. Everything the receiver reports — RFC 3550 statistics (received, expected, lost,
fraction lost, cumulative lost, A.8 jitter), RED/FEC recoveries, late, duplicate, played and
concealed blocks — and every RR it sends is compared with an independent computation in Python
(`Model`, written from the RFCs and the documented playout rules, not from the C). The adaptive
buffer, NACK/retransmission and sender adaptation are tested by their behaviour; the parsers by
round trips and by malformed packets, which must be rejected with EC_ERR_MALFORMED.
"""
from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pytest

import native_codec as nc
from native_codec import media
from native_codec._nc import ffi, lib

MALFORMED = -4
PT = {"pcmu": 0, "pcma": 8, "g722": 9, "dvi4": 5}
PT_RED, PT_FEC = 96, 97
FRAME_MS = 20


# ---- signal and channel ---------------------------------------------------------------------

def speechlike(rate: int, seconds: float, seed: int = 1) -> np.ndarray:
    """Voiced, pitch-varying harmonic signal with an amplitude envelope (enough for codecs/PLC)."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 2.1 * t)
    return (6000 * env * x + 200 * rng.standard_normal(n)).astype(np.int16)


@dataclass
class Sent:
    time: int
    data: bytes


def run_sender(tx: nc.MediaSender, pcm: np.ndarray, frames: int) -> list[Sent]:
    fs = tx.frame_samples
    out = []
    for i in range(frames):
        for p in tx.push(pcm[i * fs:(i + 1) * fs], i * FRAME_MS):
            out.append(Sent(i * FRAME_MS, p))
    return out


def gilbert_elliott(n: int, p: float, r: float, one_minus_h: float, one_minus_k: float,
                    rng: random.Random) -> list[bool]:
    """netem's 4-parameter Gilbert-Elliott loss model: True = lost."""
    bad, out = False, []
    for _ in range(n):
        if not bad:
            bad = rng.random() < p
            out.append(rng.random() < one_minus_k)
        else:
            bad = not (rng.random() < r)
            out.append(rng.random() < one_minus_h)
    return out


def channel(sent: list[Sent], rng: random.Random, loss: Optional[list[bool]] = None, base: int = 20,
            jitter: int = 0, dup: float = 0.0) -> list[tuple[int, int, bytes]]:
    """(arrival ms, order, packet) sorted by arrival; jitter uniform in [0, jitter] ms."""
    arrivals = []
    for i, s in enumerate(sent):
        if loss is not None and loss[i]:
            continue
        t = s.time + base + (rng.randint(0, jitter) if jitter else 0)
        arrivals.append((t, len(arrivals), s.data))
        if dup and rng.random() < dup:
            arrivals.append((t + rng.randint(0, 30), len(arrivals), s.data))
    return sorted(arrivals)


def rewrite(pkt: bytes, ssrc: Optional[int] = None, seq_add: int = 0, ts_add: int = 0) -> bytes:
    b = bytearray(pkt)
    if ssrc is not None:
        b[8:12] = struct.pack("!I", ssrc)
    b[2:4] = struct.pack("!H", (struct.unpack("!H", b[2:4])[0] + seq_add) & 0xFFFF)
    b[4:8] = struct.pack("!I", (struct.unpack("!I", b[4:8])[0] + ts_add) & 0xFFFFFFFF)
    return bytes(b)


# ---- the independent model ------------------------------------------------------------------

def s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


@dataclass
class Rfc3550:
    """RFC 3550 receiver statistics of one source: A.1 counting (no probation, small gaps), A.3
    loss, A.8 jitter as the floating-point formula J += (|D| - J) / 16."""
    base: int = -1
    max_ext: int = -1
    received: int = 0
    exp_prior: int = 0
    rec_prior: int = 0
    jitter: float = 0.0
    last_transit: Optional[int] = None

    def packet(self, seq: int, ts: int, arrival_ms: int) -> tuple[bool, int]:
        """Returns (in order, extended seq)."""
        if self.base < 0:
            self.base = self.max_ext = seq
            ext, in_order = seq, True
        else:
            cycle = self.max_ext & ~0xFFFF
            ext = min((cycle - 0x10000 + seq, cycle + seq, cycle + 0x10000 + seq), key=lambda e: abs(e - self.max_ext))
            in_order = ext > self.max_ext
            self.max_ext = max(self.max_ext, ext)
        self.received += 1
        transit = arrival_ms * 8 - ts
        if self.last_transit is not None:
            self.jitter += (abs(s32(transit - self.last_transit)) - self.jitter) / 16
        self.last_transit = transit
        return in_order, ext

    @property
    def expected(self) -> int:
        return self.max_ext - self.base + 1

    def report(self) -> tuple[int, int]:
        expected = self.expected
        e_int, r_int = expected - self.exp_prior, self.received - self.rec_prior
        self.exp_prior, self.rec_prior = expected, self.received
        lost_int = e_int - r_int
        fraction = 0 if e_int == 0 or lost_int <= 0 else (lost_int << 8) // e_int
        return fraction, expected - self.received


@dataclass
class Model:
    """The receiver with a fixed playout delay, from the documented rules (ec_jb.h, ec_media.h):
    playout starts at the first pull where now - (first timestamp + minimum transit before the start)
    reaches `delay`; then each pull plays 2 blocks of 10 ms in timestamp order, a block missing at its
    pull is concealed. A packet whose first block has been played out is late. RED blocks fill a
    missing earlier frame (sequence number - 1); an FEC packet (kept in up to `fec_slots` slots)
    recovers the one missing packet of its group as soon as the others are there."""
    delay: int
    codec_pt: int
    fec_slots: int = 2
    ssrc: Optional[int] = None
    cand: Optional[tuple[int, int]] = None  # (ssrc, seq) of a one-packet candidate
    src: Rfc3550 = field(default_factory=Rfc3550)
    offset: int = 0
    last: Optional[tuple[int, int, int]] = None  # (ext seq, raw ts, duration) of the last in-order packet
    rebase: bool = False
    started: bool = False
    playing: bool = False
    play_ts: int = 0
    end_ts: int = 0
    transit_ref: int = 0
    present: dict = field(default_factory=dict)   # block ts -> seq
    first_of: dict = field(default_factory=dict)  # seq -> ts of its first block
    media_ts: dict = field(default_factory=dict)  # seq -> timeline ts (ground truth for FEC)
    fec: list = field(default_factory=list)       # FEC groups waiting: lists of protected seqs
    n: dict = field(default_factory=lambda: dict(late=0, duplicates=0, recovered_red=0, recovered_fec=0,
                                                 played=0, concealed=0, silent=0, ssrc_changes=0, ts_jumps=0,
                                                 fec_packets=0, ignored=0))
    lsr: Optional[tuple[int, int]] = None  # (middle 32 bits, arrival ms)

    def lt(self, a: int, b: int) -> bool:
        return s32(a - b) < 0

    def passed(self, ts: int) -> bool:
        return self.playing and self.lt(ts, self.play_ts)

    def insert(self, now: int, ts: int, seq: int, blocks: int, first_arrival: bool) -> str:
        ts &= 0xFFFFFFFF
        transit = (now * 8 - ts) & 0xFFFFFFFF
        if not self.started:
            self.started, self.play_ts, self.end_ts, self.transit_ref = True, ts, ts, transit
        if not self.playing and self.lt(ts, self.play_ts):
            self.play_ts = ts
        rel = s32(ts - self.play_ts) // 80
        stored = dups = 0
        for i in range(blocks):
            t = (ts + 80 * i) & 0xFFFFFFFF
            if rel + i < 0:
                continue
            if t in self.present:
                dups += 1
            else:
                self.present[t] = seq
                if i == 0:
                    self.first_of[seq] = t
                stored += 1
                if self.lt(self.end_ts, t + 80):
                    self.end_ts = (t + 80) & 0xFFFFFFFF
        if rel < 0:
            self.n["late"] += 1
        if first_arrival and (stored or not dups) and not self.playing and self.lt(transit, self.transit_ref):
            self.transit_ref = transit
        if stored == 0:
            if dups:
                self.n["duplicates"] += 1
                return "duplicate"
            return "late"
        return "media"

    def complete(self, seq: int) -> bool:
        t = self.first_of.get(seq)
        return t is not None and self.present.get(t) == seq and self.present.get((t + 80) & 0xFFFFFFFF) == seq

    def try_fec(self, now: int) -> None:
        progress = True
        while progress:
            progress = False
            for group in list(self.fec):
                missing = [s for s in group if not self.complete(s)]
                if len(missing) > 1:
                    continue
                self.fec.remove(group)
                progress = True
                if missing:
                    ts = self.media_ts[missing[0]]
                    if not self.passed(ts) and self.insert(now, ts, missing[0], 2, False) == "media":
                        self.n["recovered_fec"] += 1

    def packet(self, pkt: bytes, now: int, truth_ts: dict) -> None:
        b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", pkt[:12])
        if 192 <= b1 <= 223:
            if b1 == 200 and self.ssrc == struct.unpack("!I", pkt[4:8])[0]:
                sec, frac = struct.unpack("!II", pkt[8:16])
                self.lsr = (((sec & 0xFFFF) << 16) | (frac >> 16), now)
            return
        pt, marker = b1 & 0x7F, b1 >> 7
        if pt == PT_FEC:
            if ssrc != self.ssrc:
                self.n["ignored"] += 1
                return
            self.n["fec_packets"] += 1
            sn_base, mask = struct.unpack("!H", pkt[14:16])[0], struct.unpack("!H", pkt[24:26])[0]
            group = [(sn_base + i) & 0xFFFF for i in range(16) if mask >> (15 - i) & 1]
            self.fec.append(group)
            if len(self.fec) > self.fec_slots:
                self.fec.pop(0)
            self.try_fec(now)
            return
        if self.ssrc is None:
            self.ssrc = ssrc
        elif ssrc != self.ssrc:
            if self.cand and self.cand[0] == ssrc and seq == (self.cand[1] + 1) & 0xFFFF:
                self.ssrc, self.cand, self.src, self.rebase, self.last = ssrc, None, Rfc3550(), True, None
                self.fec, self.lsr = [], None
                self.n["ssrc_changes"] += 1
            else:
                self.cand = (ssrc, seq)
                self.n["ignored"] += 1
                return
        in_order, ext = self.src.packet(seq, ts, now)
        red = []
        if pt == PT_RED:
            off, hdrs = 12, []
            while pkt[off] & 0x80:
                w = struct.unpack("!I", pkt[off:off + 4])[0]
                hdrs.append(((w >> 10) & 0x3FFF, w & 0x3FF))
                off += 4
            red = hdrs
        if self.rebase:
            self.offset = (self.end_ts - ts) & 0xFFFFFFFF
            self.rebase = False
        elif in_order and self.last is not None:
            g, d = ext - self.last[0], s32(ts - self.last[1])
            if (d < g * 80 or d > g * 480) and not (marker and d > 0):
                self.offset = (self.offset + self.last[1] + g * self.last[2] - ts) & 0xFFFFFFFF
                self.n["ts_jumps"] += 1
        mts = (ts + self.offset) & 0xFFFFFFFF
        if in_order:
            self.last = (ext, ts, 160)
        for s, t in truth_ts.items():  # timeline timestamps of this source's packets, for FEC
            self.media_ts.setdefault(s, (t + self.offset) & 0xFFFFFFFF)
        self.insert(now, mts, seq, 2, True)
        for i, (tso, _ln) in enumerate(red):
            rts, rseq = (mts - tso) & 0xFFFFFFFF, (seq - (len(red) - i)) & 0xFFFF
            if rts in self.present or rseq in self.first_of and self.present.get(self.first_of[rseq]) == rseq \
                    or self.passed(rts):
                continue
            if self.insert(now, rts, rseq, 2, False) == "media":
                self.n["recovered_red"] += 1
        self.try_fec(now)

    def pull(self, now: int) -> None:
        if not self.started:
            self.n["silent"] += 2
            return
        if not self.playing:
            if s32(now * 8 - self.play_ts - self.transit_ref) < self.delay * 8:
                self.n["silent"] += 2
                return
            self.playing = True
        for _ in range(2):
            self.n["played" if self.play_ts in self.present else "concealed"] += 1
            self.play_ts = (self.play_ts + 80) & 0xFFFFFFFF


def parse_rr(pkt: bytes) -> dict:
    """Our own reading of the RR compound's first packet (RFC 3550 §6.4.2)."""
    b0, pt, length, ssrc = struct.unpack("!BBHI", pkt[:8])
    assert b0 >> 6 == 2 and pt == 201 and (b0 & 0x1F) == 1, pkt.hex()
    src, w, ext, jit, lsr, dlsr = struct.unpack("!IIIIII", pkt[8:32])
    cl = w & 0xFFFFFF
    return dict(ssrc=src, fraction=w >> 24, cumulative=cl - (1 << 24) if cl & 0x800000 else cl, ext=ext,
                jitter=jit, lsr=lsr, dlsr=dlsr)


def simulate(codec: str, arrivals: list[tuple[int, int, bytes]], truth: dict, delay: int, frames: int,
             fec_slots: int = 2, buffer_ms: int = 2000, check_rr_every: int = 1) -> tuple[nc.MediaReceiver, Model, int]:
    rx = nc.MediaReceiver(codec, 20, delay_ms=delay, buffer_ms=buffer_ms, nack=False, fec_slots=fec_slots,
                          rtcp_interval_ms=500, ssrc=0xABCDEF01)
    model = Model(delay, PT[codec], fec_slots)
    i, rr_checked = 0, 0
    end = frames * FRAME_MS + 400
    for t in range(0, end):
        while i < len(arrivals) and arrivals[i][0] <= t:
            pkt = arrivals[i][2]
            status = rx.on_packet(pkt, t)
            assert status in ("media", "rtcp", "fec", "late", "duplicate", "ignored"), status
            ssrc = struct.unpack("!I", pkt[8:12])[0]
            model.packet(pkt, t, truth.get(ssrc, {}))
            i += 1
        if t % FRAME_MS == 7:
            rx.pull(t)
            model.pull(t)
            for fb in rx.poll_feedback(t):
                rr = parse_rr(fb)
                fraction, cumulative = model.src.report()
                assert rr["ssrc"] == model.ssrc
                assert (rr["fraction"], rr["cumulative"]) == (fraction, cumulative), (t, rr)
                assert rr["ext"] == model.src.max_ext & 0xFFFFFFFF
                assert abs(rr["jitter"] - model.src.jitter) <= max(1.0, 0.03 * model.src.jitter), (rr, model.src.jitter)
                if model.lsr:
                    assert rr["lsr"] == model.lsr[0]
                    assert rr["dlsr"] == ((t - model.lsr[1]) << 16) // 1000
                else:
                    assert rr["lsr"] == 0 and rr["dlsr"] == 0
                rr_checked += 1
    return rx, model, rr_checked


def check_against_model(rx: nc.MediaReceiver, model: Model) -> dict:
    st = rx.stats()
    src = model.src
    assert st["received"] == src.received
    assert st["expected"] == src.expected
    assert st["lost"] == src.expected - src.received
    assert st["ext_highest_seq"] == src.max_ext & 0xFFFFFFFF
    assert abs(st["jitter"] - src.jitter) <= max(1.0, 0.03 * src.jitter)
    for k, v in model.n.items():
        assert st[k] == v, (k, st[k], v)
    assert st["recovered"] == model.n["recovered_red"] + model.n["recovered_fec"]
    return st


def truth_of(sent: list[Sent], ssrc_map=None) -> dict:
    """ssrc -> {seq: raw ts} of every media packet sent (what an FEC recovery yields)."""
    out: dict = {}
    for s in sent:
        b1, seq, ts, ssrc = s.data[1], *struct.unpack("!HII", s.data[2:12])
        if 192 <= b1 <= 223 or b1 & 0x7F == PT_FEC:
            continue
        out.setdefault(ssrc, {})[seq] = ts
    return out


SCENARIOS = {
    # name: (codec, sender options, channel options)
    "random-loss": ("pcmu", dict(), dict(loss=("random", 0.12), jitter=30)),
    "gilbert-elliott": ("g722", dict(), dict(loss=("ge", 0.05, 0.35, 0.7, 0.01), jitter=25)),
    "jitter-reorder": ("pcma", dict(), dict(loss=("random", 0.03), jitter=90)),
    "duplication": ("dvi4", dict(), dict(loss=("random", 0.05), jitter=20, dup=0.1)),
    "red-bursts": ("g722", dict(red=True), dict(loss=("ge", 0.08, 0.5, 0.8, 0.02), jitter=30)),
    "fec-random": ("pcmu", dict(fec_group=4), dict(loss=("random", 0.08), jitter=40)),
    "red-fec-dup": ("pcma", dict(red=True, fec_group=3), dict(loss=("random", 0.15), jitter=50, dup=0.05)),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("seq0", [100, 65500])
def test_stats_match_independent_model(name: str, seq0: int) -> None:
    codec, txo, cho = SCENARIOS[name]
    rng = random.Random(f"{name}-{seq0}")
    frames = 1500
    tx = nc.MediaSender(codec, 20, nack=False, ssrc=0x1234, seq=seq0, ts=0xFFFFF000, rtcp_interval_ms=700, **txo)
    sent = run_sender(tx, speechlike(tx.sample_rate, frames * 0.02), frames)
    kind, *args = cho["loss"]
    loss = [rng.random() < args[0] for _ in sent] if kind == "random" else gilbert_elliott(len(sent), *args, rng)
    arrivals = channel(sent, rng, loss, jitter=cho.get("jitter", 0), dup=cho.get("dup", 0.0))
    rx, model, rrs = simulate(codec, arrivals, truth_of(sent), delay=60, frames=frames)
    st = check_against_model(rx, model)
    print(name, {k: v for k, v in st.items() if v and k in model.n or k in ("lost", "jitter")})
    assert rrs >= 50
    assert st["concealed"] > 0
    if not cho.get("dup"):
        assert st["lost"] > 0  # with duplicates it may be negative: they count as received (A.3)
    assert st["played"] + st["concealed"] + st["silent"] == 2 * (frames + 20)
    if txo.get("red") or txo.get("fec_group"):
        assert st["recovered"] > 0
    if cho.get("dup"):
        assert st["duplicates"] > 0
    if cho.get("jitter", 0) > 60:
        assert st["late"] > 0


def test_sequence_wrap_timestamp_wrap() -> None:
    """seq 65530.. and timestamps across 2^32, no loss: everything played, nothing lost."""
    tx = nc.MediaSender("g722", 20, nack=False, ssrc=7, seq=65530, ts=0xFFFFFF00)
    sent = run_sender(tx, speechlike(16000, 2.0), 100)
    arrivals = channel(sent, random.Random(3), None, jitter=5)
    rx, model, _ = simulate("g722", arrivals, truth_of(sent), delay=40, frames=100)
    st = check_against_model(rx, model)
    assert st["lost"] == 0 and st["played"] == 200 and st["ext_highest_seq"] == 65530 + 99
    assert st["expected"] == 100


@pytest.mark.parametrize("jump", [16000, -8000, 0x7FFF0000, 333])
def test_timestamp_jump(jump: int) -> None:
    """The sender's timestamps jump (clock reset) at packet 150: playout stays continuous; the RFC
    jitter sees the jump (it is computed on raw timestamps) and the receiver reports one ts jump."""
    tx = nc.MediaSender("pcmu", 20, nack=False, ssrc=9, seq=1000, ts=5000)
    sent = run_sender(tx, speechlike(8000, 6.0), 300)
    for k in range(150, len(sent)):
        if sent[k].data[1] < 192:
            sent[k] = Sent(sent[k].time, rewrite(sent[k].data, ts_add=jump))
    rng = random.Random(jump)
    loss = [rng.random() < 0.05 for _ in sent]
    arrivals = channel(sent, rng, loss, jitter=15)
    rx, model, _ = simulate("pcmu", arrivals, {}, delay=50, frames=300)
    st = check_against_model(rx, model)
    assert st["ts_jumps"] == 1
    assert st["played"] + st["concealed"] + st["silent"] == 2 * 320


def test_ssrc_change() -> None:
    """The sender restarts with a new SSRC, sequence and timestamp at packet 200: the receiver
    switches after two packets in sequence, restarts the RFC statistics and keeps playing."""
    tx = nc.MediaSender("pcma", 20, nack=False, ssrc=0xAAAA, seq=10, ts=0)
    sent = run_sender(tx, speechlike(8000, 8.0), 400)
    for k in range(200, len(sent)):
        if sent[k].data[1] < 192:
            sent[k] = Sent(sent[k].time, rewrite(sent[k].data, ssrc=0xBBBB, seq_add=30000, ts_add=123456 * 80))
    rng = random.Random(11)
    loss = [rng.random() < 0.04 for _ in sent]
    arrivals = channel(sent, rng, loss, jitter=20)
    rx, model, _ = simulate("pcma", arrivals, {}, delay=60, frames=400)
    st = check_against_model(rx, model)
    assert st["ssrc"] == 0xBBBB and st["ssrc_changes"] == 1
    new = sum(1 for s in sent if s.data[1] < 192 and s.data[8:12] == b"\x00\x00\xbb\xbb")
    assert new - 10 < st["expected"] <= new - 1


def test_played_audio_is_the_decoded_stream() -> None:
    """No impairment: the receiver's output is the codec's own decode, delayed by the PLC's 3.75 ms
    and the silent start (for every codec and several packet times)."""
    for codec in ("pcmu", "pcma", "g722", "dvi4"):
        for ptime in (10, 20, 40, 60):
            tx = nc.MediaSender(codec, ptime, ssrc=1, seq=65000, ts=4000000000)
            rx = nc.MediaReceiver(codec, 20, delay_ms=40, ssrc=2)
            rate = tx.sample_rate
            pcm = speechlike(rate, 1.2)
            fs = rate // 50
            out = []
            for i in range(len(pcm) // fs):
                for p in tx.push(pcm[i * fs:(i + 1) * fs], i * 20):
                    assert rx.on_packet(p, i * 20 + 3) in ("media", "rtcp")
                out.append(rx.pull(i * 20 + 3))
            y = np.concatenate(out)
            if codec == "g722":
                ref = nc.G722Decoder().decode(nc.G722Encoder().encode(pcm))
            elif codec == "dvi4":
                e, d = nc.AdpcmEncoder(), nc.AdpcmDecoder()
                ref = np.concatenate([d.decode(e.encode(pcm[i:i + 80])) for i in range(0, len(pcm), 80)])
            else:
                law = codec[3] + "law"
                ref = nc.g711_decode(nc.g711_encode(pcm, law), law)
            st = rx.stats()
            skip = st["silent"] * rate // 100 + rate * 3 // 800
            m = len(y) - skip - fs
            assert np.array_equal(y[skip:skip + m], ref[:m]), (codec, ptime)
            assert st["concealed"] == 0 and st["lost"] == 0


# ---- adaptive jitter buffer -----------------------------------------------------------------

def drive(rx: nc.MediaReceiver, arrivals: list, until_ms: int, start_ms: int = 0, pull_phase: int = 7) -> int:
    i = 0
    while i < len(arrivals) and arrivals[i][0] < start_ms:
        i += 1
    pulls = 0
    for t in range(start_ms, until_ms):
        while i < len(arrivals) and arrivals[i][0] <= t:
            rx.on_packet(arrivals[i][2], t)
            i += 1
        if t % 20 == pull_phase:
            rx.pull(t)
            pulls += 1
    return pulls


def test_adaptive_target_follows_jitter() -> None:
    """Calm (5 ms jitter), then 100 ms jitter, then calm again: the target delay rises to cover the
    95th percentile, few packets come late, and the target falls again (forgetting factor)."""
    tx = nc.MediaSender("pcmu", 20, nack=False, ssrc=5, seq=1, ts=1)
    frames = 8000
    sent = run_sender(tx, speechlike(8000, frames * 0.02), frames)
    rng = random.Random(5)
    arrivals = []
    for k, s in enumerate(sent):
        j = 100 if 20000 <= s.time < 60000 else 5
        arrivals.append((s.time + 20 + rng.randint(0, j), k, s.data))
    arrivals.sort()
    rx = nc.MediaReceiver("pcmu", 20, ssrc=6, nack=False)
    drive(rx, arrivals, 20000)
    calm = rx.stats()
    assert calm["target_delay_ms"] <= 20 and calm["late"] == 0 and calm["concealed"] == 0
    drive(rx, arrivals, 60000, 20000)
    jittery = rx.stats()
    assert 80 <= jittery["target_delay_ms"] <= 120, jittery
    late_share = (jittery["concealed"] - calm["concealed"]) / (2 * 2000)
    assert late_share < 0.08, jittery
    # the delay followed the target up (by stretches in quiet blocks or underrun waits)
    assert jittery["delay_ms"] >= 0.6 * jittery["target_delay_ms"] and jittery["ts_jumps"] == 0, jittery
    drive(rx, arrivals, 90000, 60000)
    assert rx.stats()["target_delay_ms"] < jittery["target_delay_ms"]
    drive(rx, arrivals, 160000, 90000)
    after = rx.stats()
    assert after["target_delay_ms"] <= 30, after
    assert after["compressed"] > 0 and after["delay_ms"] <= 60
    # every output block is accounted for
    pulls = 160000 // 20
    assert after["silent"] + after["played"] - after["compressed"] + after["concealed"] + after["stretched"] == 2 * pulls


def test_merges_wait_for_a_pause() -> None:
    """Talk in 0.6 s bursts with 0.4 s pauses; a 300 ms stall delivers its packets in one lump, so
    the buffer holds far more than its target: it plays the excess off by merges, each one in a
    pause (the output around it quiet), none inside a burst."""
    tx = nc.MediaSender("g722", 20, nack=False, ssrc=5, seq=1, ts=1)
    n = 16000 * 12
    t = np.arange(n) / 16000
    pcm = (speechlike(16000, 12.0).astype(np.float64) * ((t % 1.0) < 0.6)).astype(np.int16)
    sent = run_sender(tx, pcm, 600)
    arrivals = [(max(s.time + 20, 3320) if 3000 <= s.time < 3300 else s.time + 20, k, s.data)
                for k, s in enumerate(sent)]
    arrivals.sort()
    rx = nc.MediaReceiver("g722", 20, ssrc=6, nack=False)
    i, merged_out, loud = 0, [], []
    for now in range(0, 12000):
        while i < len(arrivals) and arrivals[i][0] <= now:
            rx.on_packet(arrivals[i][2], now)
            i += 1
        if now % 20 == 7:
            before = rx.stats()["compressed"]
            out = rx.pull(now).astype(np.float64)
            level = float(np.sqrt(np.mean(out ** 2)))
            (merged_out if rx.stats()["compressed"] > before else loud).append(level)
    st = rx.stats()
    assert st["compressed"] >= 10 and st["concealed"] <= 32, st  # the stall: underrun waits, then merges
    assert st["delay_ms"] <= st["target_delay_ms"] + 40, st  # the 300 ms excess played off
    peak = max(loud)
    assert max(merged_out) < 0.01 * peak, (merged_out, peak)


def test_adaptive_underrun_and_burst_recovery() -> None:
    """A 200 ms outage: the buffer conceals, and when packets come back it skips what was lost and
    plays on at about the same delay (no doubled concealment)."""
    tx = nc.MediaSender("g722", 20, nack=False, ssrc=5, seq=1, ts=1)
    sent = run_sender(tx, speechlike(16000, 6.0), 300)
    arrivals = [(s.time + 30, k, s.data) for k, s in enumerate(sent) if not 2000 <= s.time < 2200]
    rx = nc.MediaReceiver("g722", 20, ssrc=6, nack=False)
    drive(rx, arrivals, 6000)
    st = rx.stats()
    assert st["concealed"] == 20 and st["skipped"] == 20 and st["stretched"] == 0
    assert st["late"] == 0 and st["lost"] == 10 and abs(st["delay_ms"] - 7) <= 10


def test_delay_spike_plays_late_packets() -> None:
    """A delay spike of 120 ms on a few packets: the adaptive buffer waits (expands) instead of
    dropping them, so nothing is late; the fixed buffer drops them as late."""
    tx = nc.MediaSender("pcma", 20, nack=False, ssrc=5, seq=1, ts=1)
    sent = run_sender(tx, speechlike(8000, 6.0), 300)
    arrivals = sorted((s.time + 20 + (120 - 20 * (k - 150) if 150 <= k < 156 else 0), k, s.data)
                      for k, s in enumerate(sent))
    adaptive = nc.MediaReceiver("pcma", 20, ssrc=6, nack=False)
    fixed = nc.MediaReceiver("pcma", 20, ssrc=6, nack=False, delay_ms=40)
    drive(adaptive, arrivals, 6400)
    drive(fixed, arrivals, 6400)
    assert adaptive.stats()["late"] == 0 and adaptive.stats()["lost"] == 0
    assert fixed.stats()["late"] >= 4


# ---- NACK, retransmission, RTCP round trip, adaptation ----------------------------------------

def call(tx: nc.MediaSender, rx: nc.MediaReceiver, pcm: np.ndarray, frames: int, fwd_loss, rtt_half: int = 20,
         jitter: int = 10, seed: int = 1, back_loss: float = 0.0,
         media_delay: Optional[Callable[[int], int]] = None) -> list[np.ndarray]:
    """Both directions through a lossy channel; feedback flows back to the sender. media_delay(i):
    the forward delay of frame i's first transmission instead of rtt_half + jitter."""
    rng = random.Random(seed)
    fs = tx.frame_samples
    queue: list[tuple[int, int, str, bytes]] = []
    order = 0
    out = []
    for t in range(0, frames * 20 + 300):
        if t % 20 == 0 and t // 20 < frames:
            i = t // 20
            for p in tx.push(pcm[i * fs:(i + 1) * fs], t):
                if not fwd_loss(rng, t):
                    delay = media_delay(i) if media_delay else rtt_half + rng.randint(0, jitter)
                    queue.append((t + delay, order, "rx", p))
                    order += 1
        queue.sort()
        while queue and queue[0][0] <= t:
            _, _, who, p = queue.pop(0)
            if who == "rx":
                rx.on_packet(p, t)
            else:
                for q in tx.on_packet(p, t):
                    if not fwd_loss(rng, t):
                        queue.append((t + rtt_half + rng.randint(0, jitter), order, "rx", q))
                        order += 1
        if t % 20 == 10:
            out.append(rx.pull(t))
            for fb in rx.poll_feedback(t):
                if rng.random() >= back_loss:
                    queue.append((t + rtt_half, order, "tx", fb))
                    order += 1
            for q in tx.poll(t):
                queue.append((t + rtt_half, order, "rx", q))
                order += 1
    return out


def test_nack_retransmission_recovers_losses() -> None:
    tx = nc.MediaSender("g722", 20, nack=True, ssrc=0x51, seq=65000, ts=77)
    rx = nc.MediaReceiver("g722", 20, ssrc=0x52, nack=True, min_delay_ms=150, nack_retry_ms=60)
    pcm = speechlike(16000, 12.0)
    call(tx, rx, pcm, 600, lambda rng, t: rng.random() < 0.08)
    st, ts = rx.stats(), tx.stats()
    assert st["nack_sent"] > 0 and ts["nack_received"] > 0 and ts["retransmissions"] > 0
    assert st["nack_recovered"] >= 0.7 * st["lost"] + 1, (st, ts)
    assert st["concealed"] < 2 * 0.4 * 0.08 * 600
    assert ts["rr_received"] > 0 and ts["rtt_ms"] >= 40 and ts["rtt_ms"] < 80
    assert st["sr_received"] > 0


def test_rr_counts_the_loss_of_first_transmissions() -> None:
    """8 % of first transmissions lost, most recovered by NACK: the RR's cumulative number lost is
    the link's (retransmissions are not counted as received: the sender adapts to the link), while
    the receiver's own lost count is what NACK left."""
    tx = nc.MediaSender("g722", 20, nack=True, ssrc=0x51, seq=65000, ts=77)
    rx = nc.MediaReceiver("g722", 20, ssrc=0x52, nack=True, min_delay_ms=150, nack_retry_ms=60)
    dropped = [0]

    def loss(rng: random.Random, t: int) -> bool:
        lost = rng.random() < 0.08
        if lost and t % 20 == 0:  # a first transmission (retransmissions leave at t % 20 == 10)
            dropped[0] += 1
        return lost

    call(tx, rx, speechlike(16000, 12.0), 600, loss)
    rr = media.parse_rtcp(rx.poll_feedback(600 * 20 + 2000)[0])
    st = rx.stats()
    assert st["nack_recovered"] > 0 and st["duplicates"] == 0, st
    assert rr["blocks"][0]["cumulative_lost"] == dropped[0] > st["lost"], (rr, dropped, st)


def test_a_late_original_is_a_first_arrival_and_its_retransmission_recovers_nothing() -> None:
    """Packet 50 comes 45 ms late: after the next packet, and after the receiver asked for it
    (at the first pull 2 ms or more after that packet showed the gap). Coming 15 ms after the
    request (sooner than a retransmission over this 40 ms round trip could), it is the original:
    no NACK recovery, and no recovery allowance lifts the target above its 60 ms floor; the
    retransmission the request brings 40 ms later is a copy."""
    tx = nc.MediaSender("g722", 20, nack=True, ssrc=5, seq=1, ts=1)
    rx = nc.MediaReceiver("g722", 20, ssrc=6, nack=True, min_delay_ms=60)
    call(tx, rx, speechlike(16000, 4.0), 180, lambda rng, t: False, jitter=0,
         media_delay=lambda i: 65 if i == 50 else 20)
    st, ts = rx.stats(), tx.stats()
    assert st["nack_sent"] >= 1 and ts["retransmissions"] >= 1, (st, ts)
    assert st["nack_recovered"] == 0 and st["duplicates"] == 1 and st["late"] == 0, st
    assert st["target_delay_ms"] == 60, st  # the floor: no allowance for a recovery that was none


def test_sender_adaptation_levels() -> None:
    """Heavy loss (25 %, no NACK): the sender turns on RED of distance 2 and drops G.722 to 56 kbit/s
    (the receiver sees the mode in the codewords), packets stay 20 ms; when the loss stops it steps
    back down to plain 64 kbit/s."""
    tx = nc.MediaSender("g722", 20, nack=False, adapt=True, ssrc=0x61, seq=1, ts=1, rtcp_interval_ms=500)
    rx = nc.MediaReceiver("g722", 20, ssrc=0x62, nack=False, rtcp_interval_ms=500)
    pcm = speechlike(16000, 40.0)
    levels = []

    def loss(rng, t):
        return t < 15000 and rng.random() < 0.25

    fs = tx.frame_samples
    rng = random.Random(2)
    queue = []
    for t in range(0, 40000):
        if t % 20 == 0:
            i = t // 20
            for p in tx.push(pcm[i * fs:(i + 1) * fs], t):
                if not loss(rng, t):
                    queue.append((t + 20, p))
        while queue and queue[0][0] <= t:
            rx.on_packet(queue.pop(0)[1], t)
        if t % 20 == 10:
            rx.pull(t)
            for fb in rx.poll_feedback(t):
                tx.on_packet(fb, t + 20)
            levels.append(tx.stats()["level"])
            if t == 14010:
                high = (tx.stats(), rx.stats())
    tst, rst = high
    assert tst["level"] == 3 and tst["red"] == 2 and tst["g722_bitrate"] == 56000 and tst["ptime_ms"] == 20
    assert rst["recovered_red"] > 0 and rst["g722_bitrate"] == 56000
    assert max(levels) == 3 and levels[-1] == 0
    assert tx.stats()["g722_bitrate"] == 64000 and tx.stats()["ptime_ms"] == 20
    assert rx.stats()["g722_bitrate"] == 64000


def test_red_distance_follows_the_loss_bursts() -> None:
    """Bursty loss of 3 packets in a row (30 % on average), NACKs looped back: the sender sees runs
    of 3 in the NACKs and sends RED of distance 3, and the receiver rebuilds whole bursts from it;
    with single losses (25 %) the distance is the level's least, 2."""
    def run(lost_at: Callable[[int], bool]) -> tuple[dict, dict]:
        tx = nc.MediaSender("g722", 20, nack=True, adapt=True, ssrc=0x61, seq=1, ts=1, rtcp_interval_ms=500)
        rx = nc.MediaReceiver("g722", 20, ssrc=0x62, nack=True, rtcp_interval_ms=500, min_delay_ms=100)
        pcm = speechlike(16000, 12.0)
        fs = tx.frame_samples
        queue: list[tuple[int, int, bytes]] = []
        order = 0
        for t in range(0, 12000):
            if t % 20 == 0:
                i = t // 20
                for p in tx.push(pcm[i * fs:(i + 1) * fs], t):
                    if not lost_at(i):
                        queue.append((t + 20, order, p))
                        order += 1
            queue.sort()
            while queue and queue[0][0] <= t:
                rx.on_packet(queue.pop(0)[2], t)
            if t % 20 == 10:
                rx.pull(t)
                for fb in rx.poll_feedback(t):
                    for q in tx.on_packet(fb, t + 20):
                        queue.append((t + 40, order, q))
                        order += 1
        return tx.stats(), rx.stats()

    tst, rst = run(lambda i: i % 10 in (3, 4, 5))
    assert tst["level"] == 3 and tst["red"] == 3, tst
    assert rst["recovered_red"] > 100 and rst["concealed"] < 20, rst
    tst, rst = run(lambda i: i % 4 == 1)
    assert tst["level"] == 3 and tst["red"] == 2, tst


def _rr(fraction: int, lost: int, ext_seq: int) -> bytes:
    """An RR from SSRC 9 with one report block on SSRC 1."""
    return struct.pack("!BBHI", 0x81, 201, 7, 9) + struct.pack("!IIIIII", 1, fraction << 24 | lost, ext_seq, 0, 0, 0)


def test_fec_adaptation_level() -> None:
    """The level follows the loss of whole loss windows (cumulative lost over expected between
    reports EC_MEDIA_LOSS_WINDOW_MS apart), smoothed s = (s + loss) / 2, and not the reports'
    fraction lost (an early RR's covers a few packets)."""
    tx = nc.MediaSender("pcmu", 20, nack=False, adapt=True, ssrc=1, seq=1, ts=1)
    tx.on_packet(_rr(0, 0, 1000), 0)  # the first window starts
    lost = 0
    for i, (pct, level) in enumerate(((12, 1), (6, 1), (6, 1), (0, 1), (0, 1), (0, 0))):
        tx.on_packet(_rr(255, lost + pct // 2, 1000 + 100 * i + 50), 1000 * i + 500)  # inside the window
        assert tx.stats()["level"] == (0 if i == 0 else [1, 1, 1, 1, 1, 0][i - 1]), (i, tx.stats())
        lost += pct
        tx.on_packet(_rr(0, lost, 1000 + 100 * (i + 1)), 1000 * (i + 1))
        st = tx.stats()
        assert st["level"] == level, (i, st)
        if i == 2:
            assert st["fec_group"] == 4 and st["red"] == 0
    assert tx.stats()["fec_group"] == 0


def test_sender_ignores_the_fraction_lost_of_short_reports() -> None:
    """Reports every 100 ms with a fraction lost of 20 % each (an early RR's few packets, one of
    them merely reordered) and a cumulative number lost that does not grow: the level stays 0."""
    tx = nc.MediaSender("g722", 20, nack=True, adapt=True, ssrc=1, seq=1, ts=1)
    for i in range(50):
        tx.on_packet(_rr(51, 0, 1000 + 5 * i), 100 * i)
    st = tx.stats()
    assert st["rr_received"] == 50 and st["level"] == 0 and st["level_changes"] == 0, st


# ---- parsers: round trips -------------------------------------------------------------------

def rtp_packet(cc: int = 0, ext_words: Optional[int] = None, pad: int = 0, payload: bytes = b"abcd",
               marker: int = 0, pt: int = 0, version: int = 2) -> bytes:
    b0 = (version << 6) | (0x20 if pad else 0) | (0x10 if ext_words is not None else 0) | cc
    out = struct.pack("!BBHII", b0, (marker << 7) | pt, 0xBEEF, 0xDEADBEEF, 0x11223344)
    out += b"".join(struct.pack("!I", 0x1000 + i) for i in range(cc))
    if ext_words is not None:
        out += struct.pack("!HH", 0xBEDE, ext_words) + b"\x00" * 4 * ext_words
    out += payload
    if pad:
        out += b"\x00" * (pad - 1) + bytes([pad])
    return out


def test_rtp_round_trip() -> None:
    h = ffi.new("ec_rtp_header *")
    h.cc, h.marker, h.pt, h.seq, h.ts, h.ssrc = 3, 1, 9, 65535, 0xFFFFFFFF, 42
    for i in range(3):
        h.csrc[i] = 100 + i
    out = ffi.new("uint8_t[]", 64)
    n = lib.ec_rtp_write(h, b"xyz", 3, out, 64)
    assert n == 12 + 12 + 3
    d = media.parse_rtp(bytes(ffi.buffer(out, n)))
    assert (d["cc"], d["marker"], d["pt"], d["seq"], d["ts"], d["ssrc"], d["csrc"], d["payload"]) == \
        (3, 1, 9, 65535, 0xFFFFFFFF, 42, [100, 101, 102], b"xyz")
    d = media.parse_rtp(rtp_packet(cc=2, ext_words=3, pad=5, payload=b"hello"))
    assert d["payload"] == b"hello" and d["pad_len"] == 5 and d["ext_words"] == 3 and d["ext_profile"] == 0xBEDE
    assert lib.ec_rtp_write(h, b"xyz", 3, out, 26) == -2


def test_rtcp_round_trip() -> None:
    buf = ffi.new("uint8_t[]", 512)
    si = ffi.new("ec_rtcp_sender_info *", dict(ntp_sec=1, ntp_frac=2, rtp_ts=3, packets=4, octets=5))
    blocks = ffi.new("ec_rtcp_block[2]")
    blocks[0].ssrc, blocks[0].fraction_lost, blocks[0].cumulative_lost = 7, 25, -3
    blocks[1].ssrc, blocks[1].cumulative_lost, blocks[1].jitter = 8, 10_000_000, 99
    n = lib.ec_rtcp_write_sr(0x55, si, blocks, 2, buf, 512)
    n += lib.ec_rtcp_write_sdes_cname(0x55, b"host@x", 6, buf + n, 512 - n)
    fci = ffi.new("ec_rtcp_nack_fci[2]", [dict(pid=65535, blp=0x8001), dict(pid=100, blp=0)])
    n += lib.ec_rtcp_write_nack(0x55, 0x66, fci, 2, buf + n, 512 - n)
    n += lib.ec_rtcp_write_bye(0x55, buf + n, 512 - n)
    d = media.parse_rtcp(bytes(ffi.buffer(buf, n)))
    assert d["packets"] == 4 and d["ssrc"] == 0x55
    assert d["sr"] == dict(ntp_sec=1, ntp_frac=2, rtp_ts=3, packets=4, octets=5)
    assert [(b["ssrc"], b["fraction_lost"], b["cumulative_lost"]) for b in d["blocks"]] == [(7, 25, -3), (8, 0, 0x7FFFFF)]
    assert d["nack_media"] == 0x66 and d["nack"] == [(65535, 0x8001), (100, 0)]
    n = lib.ec_rtcp_write_rr(0x77, blocks, 1, buf, 512)
    assert media.parse_rtcp(bytes(ffi.buffer(buf, n)))["blocks"][0]["cumulative_lost"] == -3


def test_red_round_trip() -> None:
    blocks = ffi.new("ec_red_block[3]", [dict(pt=0, ts_offset=320, len=5), dict(pt=0, ts_offset=160, len=0),
                                        dict(pt=0, len=7)])
    data = [ffi.new("uint8_t[]", b"11111"), ffi.new("uint8_t[]", b"\x00"), ffi.new("uint8_t[]", b"2222222")]
    ptrs = ffi.new("const uint8_t *[3]", data)
    out = ffi.new("uint8_t[]", 64)
    n = lib.ec_red_write(blocks, ptrs, 3, out, 64)
    assert n == 4 + 4 + 1 + 5 + 7
    parsed = media.parse_red(bytes(ffi.buffer(out, n)))
    assert [(b["ts_offset"], b["len"], b["primary"], b["data"]) for b in parsed] == \
        [(320, 5, 0, b"11111"), (160, 0, 0, b""), (0, 7, 1, b"2222222")]
    blocks[0].ts_offset = 0x4000
    assert lib.ec_red_write(blocks, ptrs, 3, out, 64) == -1


@pytest.mark.parametrize("k", [1, 2, 4, 16, 17, 48])
def test_fec_round_trip_recovers_each_packet(k: int) -> None:
    rng = random.Random(k)
    base = 65530
    pkts = [dict(seq=(base + i * (2 if k == 17 else 1)) & 0xFFFF, marker=rng.randint(0, 1), pt=rng.randint(0, 127),
                 ts=rng.getrandbits(32), payload=bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60))))
            for i in range(k)]
    keep = [ffi.new("uint8_t[]", p["payload"] or b"\x00") for p in pkts]
    src = ffi.new("ec_fec_source[]", k)
    for i, p in enumerate(pkts):
        src[i].seq, src[i].marker, src[i].pt, src[i].ts = p["seq"], p["marker"], p["pt"], p["ts"]
        src[i].payload, src[i].len = keep[i], len(p["payload"])
    out = ffi.new("uint8_t[]", 256)
    if k == 17:  # spans 33 sequence numbers: a 48-bit mask
        n = lib.ec_fec_write(src, k, base & 0xFFFF, out, 256)
        assert media.parse_fec(bytes(ffi.buffer(out, n)))["long_mask"] == 1
    n = lib.ec_fec_write(src, k, base & 0xFFFF, out, 256)
    fec = bytes(ffi.buffer(out, n))
    h = ffi.new("ec_fec_header *")
    assert lib.ec_fec_parse(fec, n, h) == 0
    assert sorted(media.parse_fec(fec)["protected"]) == sorted(p["seq"] for p in pkts)
    rec = ffi.new("ec_fec_recovered *")
    buf = ffi.new("uint8_t[]", 128)
    for miss in range(k):
        present = ffi.new("ec_fec_source[]", max(k - 1, 1))
        j = 0
        for i in range(k):
            if i != miss:
                present[j] = src[i]
                j += 1
        r = lib.ec_fec_recover(h, fec, n, present, k - 1, rec, buf, 128)
        p = pkts[miss]
        assert r == len(p["payload"])
        assert (rec.seq, rec.marker, rec.pt, rec.ts) == (p["seq"], p["marker"], p["pt"], p["ts"])
        assert bytes(ffi.buffer(buf, r)) == p["payload"]


# ---- malformed packets ------------------------------------------------------------------------

def rtp_parse_rc(pkt: bytes) -> int:
    return lib.ec_rtp_parse(pkt, len(pkt), ffi.new("ec_rtp_header *"))


def test_malformed_rtp_rejected() -> None:
    good = rtp_packet(cc=2, ext_words=1, pad=4)
    assert rtp_parse_rc(good) == 0
    for bad in (
        b"", b"\x80", good[:11],                              # truncated
        rtp_packet(version=1), rtp_packet(version=3),         # bad version
        rtp_packet(cc=15, payload=b"")[:12 + 4 * 14],         # CSRC count beyond length
        rtp_packet(ext_words=3, payload=b"")[:12 + 4 + 8],    # extension beyond length
        bytes([0x90]) + rtp_packet(payload=b"")[1:12] + b"\xbe\xde",  # extension header cut short
        rtp_packet(pad=1, payload=b"")[:-1] + b"\x00",        # padding count 0
        rtp_packet(pad=4, payload=b"")[:-1] + b"\x30",        # padding beyond length
    ):
        assert rtp_parse_rc(bad) == MALFORMED, bad.hex()


def rtcp_rc(pkt: bytes) -> int:
    return lib.ec_rtcp_parse(pkt, len(pkt), ffi.new("ec_rtcp_info *"))


def test_malformed_rtcp_rejected() -> None:
    rr = struct.pack("!BBHI", 0x81, 201, 7, 1) + bytes(24)
    sdes = struct.pack("!BBHI", 0x81, 202, 3, 1) + b"\x01\x02ab" + b"\x00" * 4
    nack = struct.pack("!BBHIIHH", 0x81, 205, 3, 1, 2, 5, 0)
    assert rtcp_rc(rr + sdes + nack) == 3
    for bad in (
        rr[:-4], rr + b"\x81", b"", rr[:3],
        bytes([0x41]) + rr[1:],                                   # version 1
        struct.pack("!BBHI", 0x82, 201, 7, 1) + bytes(24),        # 2 report blocks, room for 1
        struct.pack("!BBHI", 0x81, 200, 7, 1) + bytes(24),        # SR without room for sender info
        struct.pack("!BBHI", 0xA1, 201, 7, 1) + bytes(24) + sdes, # padding on a non-last packet
        struct.pack("!BBHI", 0xA0, 201, 1, 1)[:-1] + b"\x09",     # padding count beyond length
        struct.pack("!BBHI", 0x81, 202, 2, 1) + b"\x01\x09ab",    # SDES item beyond length
        struct.pack("!BBHI", 0x81, 202, 1, 1),                    # SDES without null item
        struct.pack("!BBHII", 0x81, 205, 2, 1, 2),                # NACK without FCI
        struct.pack("!BBHI", 0x82, 203, 1, 1),                    # BYE count beyond length
        struct.pack("!BBHI", 0x81, 203, 2, 1) + b"\x09abc",       # BYE reason beyond length
        struct.pack("!BBHI", 0x81, 201, 200, 1) + bytes(24),      # length beyond the buffer
    ):
        assert rtcp_rc(bad) == MALFORMED, bad.hex()


def red_rc(payload: bytes) -> int:
    return lib.ec_red_parse(payload, len(payload), ffi.new("ec_red_block[8]"), 8)


def test_malformed_red_rejected() -> None:
    hdr = lambda ts, ln: struct.pack("!I", 0x80000000 | (ts << 10) | ln)  # noqa: E731
    assert red_rc(hdr(160, 2) + b"\x00" + b"ab" + b"cd") == 2
    for bad in (
        b"", hdr(160, 2)[:3], hdr(160, 2),                        # chain runs past the payload
        hdr(160, 2) + b"\x00" + b"a",                             # block length beyond the payload
        hdr(160, 600) + hdr(320, 600) + b"\x00" + bytes(700),     # lengths add up beyond
        b"".join(hdr(80 * i, 0) for i in range(8)) + b"\x00",     # more than 8 blocks
    ):
        assert red_rc(bad) == MALFORMED, bad.hex()


def fec_rc(payload: bytes) -> int:
    return lib.ec_fec_parse(payload, len(payload), ffi.new("ec_fec_header *"))


def test_malformed_fec_rejected() -> None:
    good = bytes(10) + struct.pack("!HH", 4, 0x8000) + b"abcd"
    assert fec_rc(good) == 0
    for bad in (
        b"", good[:9], good[:13],                                 # truncated headers
        bytes([0x80]) + good[1:],                                 # E bit set
        bytes(10) + struct.pack("!HH", 5, 0x8000) + b"abcd",      # protection length beyond payload
        bytes(10) + struct.pack("!HH", 4, 0) + b"abcd",           # empty mask
        bytes([0x40]) + good[1:10] + struct.pack("!HH", 4, 0x8000) + b"abcd",  # L=1: mask cut short
        good + struct.pack("!HH", 9, 1) + b"x",                   # level 1 beyond the payload
    ):
        assert fec_rc(bad) == MALFORMED, bad.hex()


def test_receiver_counts_malformed_and_survives_garbage() -> None:
    rx = nc.MediaReceiver("g722", 20, ssrc=1)
    tx = nc.MediaSender("g722", 20, red=True, fec_group=2, ssrc=2, seq=1, ts=1)
    pcm = speechlike(16000, 0.4)
    good = [p for i in range(20) for p in tx.push(pcm[i * 320:(i + 1) * 320], i * 20)]
    for p in good[:5]:
        rx.on_packet(p, 100)
    before = rx.stats()
    red = [p for p in good if p[1] & 0x7F == PT_RED][1]
    fec = next(p for p in good if p[1] & 0x7F == PT_FEC)
    for bad in (red[:13], red[:12] + b"\x80\x00\x00", fec[:20], rtp_packet(version=1),
                struct.pack("!BBHI", 0x81, 201, 9, 1)):
        assert rx.on_packet(bad, 101) == "malformed"
    st = rx.stats()
    assert st["malformed"] == 5 and st["received"] == before["received"]
    rng = random.Random(9)
    for _ in range(4000):
        p = bytearray(rng.choice(good))
        for _ in range(rng.randint(1, 6)):
            op = rng.randint(0, 2)
            if op == 0 and p:
                p[rng.randrange(len(p))] = rng.getrandbits(8)
            elif op == 1:
                del p[rng.randrange(len(p) + 1):]
            else:
                p += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
        rx.on_packet(bytes(p), rng.randint(100, 2000))
        tx.on_packet(bytes(p), 100)
        if rng.random() < 0.05:
            assert len(rx.pull(rng.randint(100, 2000))) == 320
            rx.poll_feedback(rng.randint(100, 2000))


# ---- Python argument checking ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(codec="speex"), dict(codec="opus", ptime_ms=40), dict(codec="opus", fec_group=4), dict(ptime_ms=25),
    dict(ptime_ms=0), dict(ptime_ms=80), dict(fec_group=1),
    dict(fec_group=17), dict(red="yes"), dict(g722_bitrate=32000), dict(ptime_ms=60, max_ptime_ms=40),
    dict(cache_packets=4), dict(ssrc=-1), dict(seq=70000), dict(pt_red=97, pt_fec=97), dict(pt_red=50),
    dict(rtcp_interval_ms=10), dict(ptime_ms=20.0),
])
def test_sender_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        nc.MediaSender(**kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(codec="g729"), dict(ptime_ms=15), dict(delay_ms=0), dict(delay_ms=5000), dict(buffer_ms=50),
    dict(buffer_ms=405), dict(fec_slots=9), dict(nack_retry_ms=1), dict(min_delay_ms=-1), dict(ssrc="a"),
    dict(max_ptime_ms=70),
])
def test_receiver_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        nc.MediaReceiver(**kwargs)


def test_methods_reject_bad_arguments() -> None:
    tx = nc.MediaSender("g722", 20)
    rx = nc.MediaReceiver("g722", 20)
    for bad in (np.zeros(320, np.int32), np.zeros(321, np.int16), np.zeros((2, 160), np.int16),
                np.zeros(0, np.int16), np.zeros(320 * 4, np.int16), [0] * 320):
        with pytest.raises(ValueError):
            tx.push(bad, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        tx.push(np.zeros(320, np.int16), -1)
    with pytest.raises(ValueError):
        tx.on_packet("rtcp", 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        rx.on_packet(None, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        rx.pull(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        rx.poll_feedback(-5)
    with pytest.raises(ValueError):
        media.parse_rtp(b"\x00" * 12)
    assert tx.on_packet(b"not rtcp", 0) == []


def test_state_sizes() -> None:
    """A G.722 receiver with a 20-packet (400 ms) buffer fits the Cortex-M4 budget of 24 KB."""
    rx = nc.MediaReceiver("g722", 20, buffer_ms=400, max_ptime_ms=40)
    tx = nc.MediaSender("g722", 20, red=True, fec_group=4, max_ptime_ms=40)
    assert rx.state_bytes <= 24 * 1024 and tx.state_bytes <= 8 * 1024


def test_c_api_error_paths() -> None:
    """The C API directly: bad configurations size to 0, short states and buffers are refused,
    an uninitialised state is detected, and nothing is written on error."""
    tc = ffi.new("ec_media_tx_config *", dict(codec=2, ptime_ms=20, max_ptime_ms=40, red=1, fec_group=4, nack=1,
                                             cache_packets=10, adapt=0, g722_bitrate=64000, pt_red=96, pt_fec=97,
                                             rtcp_interval_ms=500, ssrc=1, ts0=0, seq0=0, fec_seq0=0))
    size = lib.ec_media_tx_state_size(tc)
    assert size > 0
    for field_name, bad in (("codec", 9), ("ptime_ms", 50), ("fec_group", 1), ("cache_packets", 9), ("pt_fec", 96),
                            ("g722_bitrate", 8000), ("rtcp_interval_ms", 50)):
        saved = getattr(tc, field_name)
        setattr(tc, field_name, bad)
        assert lib.ec_media_tx_state_size(tc) == 0, field_name
        setattr(tc, field_name, saved)
    mem = ffi.new("uint64_t[]", size // 8 + 1)
    st = ffi.cast("ec_media_tx *", mem)
    pcm = ffi.new("int16_t[]", 320)
    out = ffi.new("uint8_t[]", 64)
    assert lib.ec_media_tx_push(st, pcm, 320, 0) == -3
    assert lib.ec_media_tx_init(st, size - 1, tc) == -2
    assert lib.ec_media_tx_init(ffi.NULL, size, tc) == -1
    assert lib.ec_media_tx_init(st, size, tc) == 0
    assert lib.ec_media_tx_push(st, pcm, 321, 0) == -1
    assert lib.ec_media_tx_push(st, pcm, 160 * 5, 0) == -1
    assert lib.ec_media_tx_push(st, ffi.NULL, 320, 0) == -1
    assert lib.ec_media_tx_push(st, pcm, 320, 0) == 0
    assert lib.ec_media_tx_poll(st, 0, out, 64) == -2
    assert bytes(out) == bytes(64)
    big = ffi.new("uint8_t[]", 1024)
    assert lib.ec_media_tx_poll(st, 0, big, 1024) == 12 + 1 + 160
    assert lib.ec_media_tx_on_packet(st, b"\x80\x00", 2, 0) == -4

    rc = ffi.new("ec_media_rx_config *", dict(codec=0, ptime_ms=20, max_ptime_ms=20, buffer_ms=100, fixed_delay_ms=0,
                                             min_delay_ms=0, max_delay_ms=0, nack=1, nack_retry_ms=50, fec_slots=1,
                                             pt_red=96, pt_fec=97, rtcp_interval_ms=500, ssrc=2))
    size = lib.ec_media_rx_state_size(rc)
    assert size > 0
    for field_name, bad in (("buffer_ms", 30), ("fixed_delay_ms", 90), ("fec_slots", 5), ("nack_retry_ms", 5)):
        saved = getattr(rc, field_name)
        setattr(rc, field_name, bad)
        assert lib.ec_media_rx_state_size(rc) == 0, field_name
        setattr(rc, field_name, saved)
    mem = ffi.new("uint64_t[]", size // 8 + 1)
    rx = ffi.cast("ec_media_rx *", mem)
    pcm = ffi.new("int16_t[]", 160)
    assert lib.ec_media_rx_pull(rx, 0, pcm, 160) == -3
    assert lib.ec_media_rx_init(rx, size, rc) == 0
    assert lib.ec_media_rx_pull(rx, 0, pcm, 159) == -2
    assert lib.ec_media_rx_pull(rx, 0, pcm, 160) == 160
    assert lib.ec_media_rx_packet(rx, ffi.NULL, 0, 0) == -1
    assert lib.ec_media_rx_poll_feedback(rx, 0, big, 1024) == 0  # nothing heard yet
