"""Opus in the media network stack (ec_media.h with EC_MEDIA_WITH_OPUS, host binding
native_codec.media through native_codec._opus): RFC 7587 packets, the receiver's in-band FEC
before PLC, concealment in decoder order (a stretch on a frame's second half), the sender's
adaptation from receiver reports, malformed payloads, and that the
build without libopus (native_codec._nc) refuses the codec and keeps its state sizes."""
from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from host_tools.bench import resilience as res
import native_codec as nc
from native_codec.media import MediaReceiver, MediaSender, parse_rtcp, parse_rtp

SPEC = res.CODECS["opus24"]


@pytest.fixture(scope="module")
def speech(testdata: Path) -> np.ndarray:
    return res.load_speech(SPEC, "speech_16k.wav", max_seconds=8.0)


def call(pcm: np.ndarray, loss: float, loss_perc: int, seed: int = 3, bitrate: int = 24000) -> tuple[np.ndarray, dict]:
    """Sender -> receiver (fixed 60 ms playout delay, no jitter), each media packet lost with
    probability `loss` (the same packets for the same seed)."""
    rng = random.Random(seed)
    tx = MediaSender("opus", 20, seq=1, ts=0, ssrc=1, opus_bitrate=bitrate, opus_loss_perc=loss_perc, nack=False)
    rx = MediaReceiver("opus", 20, delay_ms=60, nack=False)
    n = len(pcm) // 320
    drops = [rng.random() < loss for _ in range(n)]
    out = []
    for i in range(n + 10):
        now = 20 * i
        for p in tx.push(pcm[i * 320:(i + 1) * 320], now) if i < n else tx.poll(now):
            if p[1] & 0x7F == 111 and drops[i]:
                continue
            rx.on_packet(p, now)
        out.append(rx.pull(now + 10))
    return np.concatenate(out), rx.stats()


def pesq_wb(ref: np.ndarray, out: np.ndarray) -> float:
    deg = res.raw_trimmed(ref, out, 16000)
    return res.score(ref, res.Degraded(deg, deg), SPEC, stoi_too=False)[0]


def snr_db(ref: np.ndarray, out: np.ndarray) -> float:
    deg = res.raw_trimmed(ref, out, 16000).astype(np.float64)
    r = ref.astype(np.float64)
    return float(10 * np.log10(np.sum(r ** 2) / max(np.sum((r - deg) ** 2), 1.0)))


def test_rfc7587_packets() -> None:
    tx = MediaSender("opus", 20, seq=65534, ts=0xFFFFFC00, ssrc=0xABCD, pt_opus=120)
    pkts = []
    for i in range(6):  # 10 ms pushes: a packet every second one
        pkts += tx.push(np.full(160, 1000 * (i % 3), np.int16), 10 * i)
    media = [parse_rtp(p) for p in pkts if p[1] & 0x7F == 120]
    assert len(media) == 3
    assert [h["seq"] for h in media] == [65534, 65535, 0]
    assert [h["ts"] for h in media] == [0xFFFFFC00, (0xFFFFFC00 + 960) & 0xFFFFFFFF, (0xFFFFFC00 + 1920) & 0xFFFFFFFF]
    assert [h["marker"] for h in media] == [1, 0, 0]
    assert all(h["ssrc"] == 0xABCD and 2 <= len(h["payload"]) <= 160 for h in media)
    assert all(h["payload"][0] & 0x03 == 0 for h in media)  # TOC code 0: one frame
    st = tx.stats()
    assert st["ptime_ms"] == 20 and st["opus_bitrate"] == 24000 and st["opus_inband_fec"] == 0
    # the SR's RTP timestamp is on the 48 kHz clock too
    sr = [p for p in tx.poll(10_000) if 200 <= p[1] <= 204]
    assert sr and parse_rtcp(sr[0])["sr"]["rtp_ts"] == (0xFFFFFC00 + 2880) & 0xFFFFFFFF


def test_inband_fec_beats_plc_on_the_same_loss(speech: np.ndarray) -> None:
    clean, clean_st = call(speech, 0.0, 0)
    plc, plc_st = call(speech, 0.1, 0)
    fec, fec_st = call(speech, 0.1, 20)
    assert plc_st["lost"] == fec_st["lost"] > 10 and clean_st["lost"] == 0
    assert plc_st["recovered_opus_fec"] == 0 and plc_st["opus_plc_frames"] >= plc_st["lost"]
    assert fec_st["recovered_opus_fec"] > plc_st["lost"] // 3
    assert fec_st["recovered_opus_fec"] + fec_st["opus_plc_frames"] >= fec_st["lost"]
    assert fec_st["malformed"] == 0 and fec_st["opus_decode_errors"] == 0
    p_plc, p_fec = pesq_wb(speech, plc), pesq_wb(speech, fec)
    assert p_fec > p_plc + 0.5, (p_plc, p_fec)
    assert snr_db(speech, fec) > snr_db(speech, plc), (snr_db(speech, plc), snr_db(speech, fec))


def _exchange(tx: MediaSender, rx: MediaReceiver, frames: range, lost: Callable[[int], bool]) -> None:
    z = np.zeros(320, np.int16)
    for i in frames:
        for p in tx.push(z, 20 * i):
            if not lost(i):
                rx.on_packet(p, 20 * i)
        rx.pull(20 * i)
        for fb in rx.poll_feedback(20 * i):
            tx.on_packet(fb, 20 * i + 5)


def test_sender_adapts_loss_perc_and_fec_from_reports() -> None:
    """Half the packets lost: after a loss window (about 1 s of reports) in-band FEC is on, the
    expected loss capped, the bitrate raised to what FEC needs; when the loss ends, after two
    quiet windows, FEC is off and the bitrate back to the configured one."""
    tx = MediaSender("opus", 20, adapt=True, ssrc=5, seq=0, ts=0)
    rx = MediaReceiver("opus", 20, ssrc=6, rtcp_interval_ms=100, nack=False)
    _exchange(tx, rx, range(40), lambda i: i % 2 == 1)
    assert tx.stats()["opus_inband_fec"] == 0  # less than one loss window of reports yet
    _exchange(tx, rx, range(40, 150), lambda i: i % 2 == 1)
    st = tx.stats()
    assert st["rr_received"] > 0 and st["opus_inband_fec"] == 1
    assert st["opus_loss_perc"] == 30  # capped
    assert st["opus_bitrate"] == 32000  # 24 kbit/s configured: raised while FEC is on
    assert st["level"] == 1 and st["red"] == 0 and st["fec_group"] == 0
    _exchange(tx, rx, range(150, 600), lambda i: False)
    st = tx.stats()
    assert st["opus_inband_fec"] == 0 and st["opus_loss_perc"] == 0 and st["opus_bitrate"] == 24000, st


def test_sender_keeps_fec_off_when_only_short_reports_show_loss() -> None:
    """Reports every 100 ms, each with a fraction lost of 20 % (what an early RR shows while a
    packet that is merely reordered is missing), and a cumulative number lost that does not grow:
    no loss over any loss window, so FEC stays off and the bitrate as configured."""
    tx = MediaSender("opus", 20, adapt=True, ssrc=5, seq=0, ts=0)
    for i in range(50):
        rr = struct.pack("!BBHI", 0x81, 201, 7, 9) + struct.pack("!IIIIII", 5, 51 << 24, 5 * i, 0, 0, 0)
        tx.on_packet(rr, 100 * i)
    st = tx.stats()
    assert st["rr_received"] == 50 and st["fraction_lost"] == 51
    assert st["opus_inband_fec"] == 0 and st["opus_loss_perc"] == 0 and st["opus_bitrate"] == 24000, st
    assert st["level_changes"] == 0, st


def rtp(payload: bytes, seq: int, pt: int = 111, ts: int = 0) -> bytes:
    return bytes([0x80, pt]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big") + (7).to_bytes(4, "big") + payload


def test_malformed_and_unsupported_payloads_are_counted() -> None:
    rx = MediaReceiver("opus", 20, ssrc=1)
    bad = [  # TOC 0x48: config 9 (SILK wideband, 20 ms), mono, code 0; code in the low 2 bits
        bytes([0x48 | 0x03, 0x00]),           # code 3, frame count 0: invalid
        bytes([0x48 | 0x03, 0x3F]) + bytes(3),  # code 3, 63 frames: more than 120 ms
        bytes([0x48 | 0x02, 0xFF, 0xFF]),     # code 2, first frame longer than the packet
        bytes([0x48 | 0x01, 0x00, 0x00, 0x00]),  # code 1 (two equal frames), odd remainder
    ]
    unsupported = [
        bytes([0x48]),                        # a valid packet of the TOC byte only (DTX): not stored
        bytes([0x40, 0x11, 0x22]),            # 10 ms SILK frame (config 8): not 20 ms
        bytes([0x48 | 0x01, 0x11, 0x22]),     # two 20 ms frames (40 ms)
        bytes([0x48]) + bytes(200),           # longer than EC_MEDIA_OPUS_MAX_PAYLOAD
    ]
    got = [rx.on_packet(rtp(p, i), 0) for i, p in enumerate(bad + unsupported)]
    assert got == ["malformed"] * len(bad) + ["unsupported"] * len(unsupported)
    st = rx.stats()
    assert st["malformed"] == len(bad) and st["opus_bad_payloads"] == len(bad) + len(unsupported)
    assert rx.on_packet(rtp(bytes([0x48, 0x11, 0x22]), 100, pt=96), 0) == "ignored"  # RED is not used with Opus


def test_random_payloads_never_crash() -> None:
    rng = np.random.default_rng(11)
    rx = MediaReceiver("opus", 20, ssrc=1, delay_ms=40)
    seen = set()
    for i in range(3000):
        n = int(rng.integers(0, 200))
        payload = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        seen.add(rx.on_packet(rtp(payload, i & 0xFFFF, ts=960 * i), 20 * i))
        out = rx.pull(20 * i)
        assert len(out) == 320
    assert {"media", "malformed", "unsupported"} <= seen
    st = rx.stats()
    assert st["played"] + st["concealed"] + st["silent"] >= 2 * 3000 - 4


def test_bad_configurations() -> None:
    with pytest.raises(ValueError, match="ptime_ms must be 20"):
        MediaSender("opus", 40)
    with pytest.raises(ValueError, match="red and fec_group"):
        MediaSender("opus", 20, red=True)
    with pytest.raises(ValueError, match="pt_opus"):
        MediaSender("opus", 20, pt_opus=96)
    with pytest.raises(ValueError, match="opus_bitrate"):
        MediaSender("opus", 20, opus_bitrate=100_000)
    with pytest.raises(ValueError, match="max_ptime_ms"):
        MediaReceiver("opus", 20, max_ptime_ms=10)


def test_states_hold_the_opus_states_and_the_build_without_opus_refuses_it() -> None:
    from native_codec._nc import ffi as nffi, lib as nlib
    from native_codec._opus import lib as olib

    tx, rx = MediaSender("opus", 20), MediaReceiver("opus", 20)
    assert tx.state_bytes > olib.opus_encoder_get_size(1) and rx.state_bytes > olib.opus_decoder_get_size(1)
    # native_codec._nc is built without EC_MEDIA_WITH_OPUS: codec 4 is an invalid configuration
    tc = nffi.new("ec_media_tx_config *", {"codec": 4, "ptime_ms": 20, "max_ptime_ms": 20, "cache_packets": 16,
                                           "pt_red": 96, "pt_fec": 97, "rtcp_interval_ms": 1000})
    assert nlib.ec_media_tx_state_size(tc) == 0
    # the other codecs have the same state sizes in both builds
    from native_codec._opus import ffi as offi

    for codec in (0, 2, 3):
        t = {"codec": codec, "ptime_ms": 20, "max_ptime_ms": 40, "red": 1, "fec_group": 4, "cache_packets": 16,
             "g722_bitrate": 64000, "pt_red": 96, "pt_fec": 97, "rtcp_interval_ms": 1000}
        r = {"codec": codec, "ptime_ms": 20, "max_ptime_ms": 60, "buffer_ms": 400, "nack_retry_ms": 100,
             "fec_slots": 2, "pt_red": 96, "pt_fec": 97, "rtcp_interval_ms": 1000}
        sizes = [(lb.ec_media_tx_state_size(f.new("ec_media_tx_config *", t)),
                  lb.ec_media_rx_state_size(f.new("ec_media_rx_config *", r))) for f, lb in ((nffi, nlib), (offi, olib))]
        assert sizes[0] == sizes[1] and sizes[0][0] > 0 and sizes[0][1] > 0, (codec, sizes)


def test_concealment_plays_in_order_after_a_frames_second_half() -> None:
    """Issue 16, cause 4: a stretch (or an underrun) that falls on the second 10 ms of a frame
    plays that half first and the concealment (which libopus continues from the frame's end)
    after it. Checked bit-exactly against an independent model: a separate decoder fed the same
    packets and the same number of 10 ms concealments per pull, every block played in the order
    the decoder made it."""
    tone = (8000 * np.sin(2 * np.pi * 425.0 * np.arange(16000 * 11) / 16000)).astype(np.int16)
    tx = MediaSender("opus", 20, seq=1, ts=0, ssrc=1, opus_bitrate=24000, opus_loss_perc=0, nack=False)
    rx = MediaReceiver("opus", 20, nack=False)
    frames = len(tone) // 320
    pending: list[tuple[int, bytes]] = []
    payloads: list[bytes] = []
    pulls: list[tuple[np.ndarray, int, int]] = []  # (output, 10 ms concealments, silent blocks)
    last = {"stretched": 0, "concealed": 0, "silent": 0}
    for t in range(frames * 20 + 200):
        if t % 20 == 0 and t // 20 < frames:
            i = t // 20
            # the path gets 40 ms slower after 1 s: an underrun, then (once the old minimum
            # transit ages out of the 4..8 s window) the target stays above the delay: stretches
            for p in tx.push(tone[i * 320:(i + 1) * 320], t):
                if p[1] & 0x7F == 111:
                    payloads.append(bytes(parse_rtp(p)["payload"]))
                pending.append((t + 20 + (40 if i >= 50 else 0), p))
        for _, p in [x for x in pending if x[0] == t]:
            rx.on_packet(p, t)
        pending = [x for x in pending if x[0] > t]
        if t % 20 == 10:
            out = rx.pull(t)
            st = rx.stats()
            pulls.append((out, st["stretched"] - last["stretched"] + st["concealed"] - last["concealed"],
                          st["silent"] - last["silent"]))
            last = {k: st[k] for k in last}
    st = rx.stats()
    assert st["stretched"] >= 2 and st["compressed"] == 0 and st["skipped"] == 0 and st["late"] == 0

    dec = nc.OpusDecoder(16000)
    queue: list[np.ndarray] = []
    expected: list[np.ndarray] = []
    nxt = inside = 0
    for _, n_plc, n_silent in pulls:
        for _k in range(2):
            if n_silent > 0:
                n_silent -= 1
                expected.append(np.zeros(160, np.int16))
                continue
            if not queue and n_plc > 0:
                n_plc -= 1
                queue.append(dec._run(None, 160, 0, "10 ms of PLC"))
            elif not queue:
                f = dec.decode(payloads[nxt])
                nxt += 1
                queue += [f[:160], f[160:]]
            elif n_plc > 0:
                inside += 1  # a concealment while a frame's second half waits: the case under test
            expected.append(queue.pop(0))
    assert inside >= 1, "no concealment fell on a second half: the check would prove nothing"
    got = np.concatenate([o for o, _, _ in pulls])
    bad = np.nonzero(got != np.concatenate(expected))[0]
    assert bad.size == 0, f"output out of decoder order from block {bad[0] // 160}"
