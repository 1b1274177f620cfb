"""The media stack of `_nc.mpy` through the board backend (hal/board/codec.py) on MicroPython's stock
ports/qemu in QEMU, against the host binding (native_codec.media, the same C code): for each of
the three .mpy files (armv6m, armv7m, armv7emsp; Opus on the last) the packets, PCM, feedback,
statuses and statistics of a scenario are those of the host. A scenario runs on the host first,
recorded as events (PCM pushed, feedback, packets, pulls, feedback polls, each with its now_ms);
the device replays them from a host file (semihosting) and writes what came out. Also: the board
backend's argument checks, closing, OPUS, and a media path that allocates nothing. The same runs
on the firmware with _nc compiled in (the user C module form of the binding, "builtin")."""
from __future__ import annotations

import json
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from host_tools.native import mpqemu, natmod
from native_codec._nc import ffi
from native_codec.media import MediaReceiver, MediaSender
from tests.devkits import unframe
from tests.natmods import board, builtin_board, hal_mpy_files  # noqa: F401

PUSH, FEEDBACK, PACKET, PULL, POLL_FB = range(5)
FEEDBACK_DELAY_MS = 40
IDS = {"ssrc": 0x8BADF00D, "seq": 65530, "ts": 0xFFFFF000, "fec_seq": 40000}  # all wrap during a run


@dataclass
class Scenario:
    """One host run: the events for the device and what the host's objects gave."""

    tx_kw: dict[str, Any]
    rx_kw: dict[str, Any]
    end_ms: int
    events: list[tuple[int, int, bytes]] = field(default_factory=list)
    tx_out: list[bytes] = field(default_factory=list)
    rx_status: list[str] = field(default_factory=list)
    rx_pcm: bytearray = field(default_factory=bytearray)
    rx_fb: list[bytes] = field(default_factory=list)
    tx_stats: dict[str, Any] = field(default_factory=dict)
    rx_stats: dict[str, Any] = field(default_factory=dict)
    dropped: int = 0

    def encode(self) -> bytes:
        return b"".join(struct.pack("<BIH", k, now, len(d)) + d for k, now, d in self.events)


def _is_rtcp(pkt: bytes) -> bool:
    return len(pkt) > 1 and 200 <= pkt[1] <= 206


def run_host(sc: Scenario, pcm: np.ndarray, frame: int, drop: set[int]) -> Scenario:
    """The sender's packets reach the receiver at once, but for the media packets whose index in
    the sender's output is in `drop`; the receiver's feedback reaches the sender FEEDBACK_DELAY_MS
    later. The receiver plays 20 ms frames."""
    tx, rx = MediaSender(**sc.tx_kw), MediaReceiver(**sc.rx_kw)
    back: list[tuple[int, bytes]] = []

    def deliver(pkts: list[bytes], now: int, droppable: bool) -> None:
        for p in pkts:
            idx = len(sc.tx_out)
            sc.tx_out.append(p)
            if droppable and idx in drop and not _is_rtcp(p):
                sc.dropped += 1
                continue
            sc.events.append((PACKET, now, p))
            sc.rx_status.append(rx.on_packet(p, now))

    for i in range(sc.end_ms // 20):
        now = 20 * i
        chunk = pcm[i * frame:(i + 1) * frame]
        if len(chunk) == frame:
            sc.events.append((PUSH, now, chunk.astype("<i2").tobytes()))
            deliver(tx.push(chunk, now), now, True)
        else:
            sc.events.append((PUSH, now, b""))  # a poll only (SRs when due)
            deliver(tx.poll(now), now, True)
        sc.events.append((PULL, now, b""))
        sc.rx_pcm += rx.pull(now).astype("<i2").tobytes()
        while back and back[0][0] <= now:
            fb = back.pop(0)[1]
            sc.events.append((FEEDBACK, now, fb))
            deliver(tx.on_packet(fb, now), now, False)
        sc.events.append((POLL_FB, now, b""))
        for fb in rx.poll_feedback(now):
            sc.rx_fb.append(fb)
            back.append((now + FEEDBACK_DELAY_MS, fb))
    sc.tx_stats = tx.stats()
    sc.rx_stats = rx.stats(sc.end_ms)
    return sc


def speech(testdata: Path, ms: int) -> np.ndarray:
    with wave.open(str(testdata / "speech" / "speech_16k.wav"), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
        return np.frombuffer(w.readframes(16 * ms), "<i2").copy()


def scenarios(testdata: Path) -> dict[str, Scenario]:
    pcm16 = speech(testdata, 800)
    pcm8 = pcm16[::2].copy()  # 8 kHz audio for the narrowband codecs
    return {
        # adaptive G.722 with NACK; reports and NACKs looped back; 1 packet in 6 lost (2 s: the
        # sender adapts once per loss window of about 1 s of reports)
        "loop": run_host(Scenario(dict(codec="g722", ptime_ms=20, adapt=True, max_ptime_ms=40, rtcp_interval_ms=200,
                                       **IDS),
                                  dict(codec="g722", ptime_ms=20, min_delay_ms=100, rtcp_interval_ms=200,
                                       ssrc=0x12345678), 2000),
                         speech(testdata, 2000), 320, {i for i in range(3, 120) if i % 6 == 3}),
        # fixed RED + FEC, DVI4 in 30 ms packets, a 20 ms receiver with a fixed delay
        "redfec": run_host(Scenario(dict(codec="dvi4", ptime_ms=30, red=True, fec_group=3, adapt=False, **IDS),
                                    dict(codec="dvi4", ptime_ms=20, delay_ms=60, nack=False, ssrc=7), 900),
                           pcm8, 240, {4, 9, 10}),
        # G.711 A-law without NACK: packets lost and concealed
        "pcma": run_host(Scenario(dict(codec="pcma", ptime_ms=20, adapt=False, **IDS),
                                  dict(codec="pcma", ptime_ms=20, nack=False, ssrc=1), 600),
                         pcm8, 160, {7, 8}),
        # Opus (RFC 7587) with in-band FEC at a fixed 20 % expected loss; lost packets rebuilt from
        # the next packet's FEC or concealed by Opus's PLC
        "opus": run_host(Scenario(dict(codec="opus", ptime_ms=20, adapt=False, opus_loss_perc=20, opus_bitrate=24000,
                                       rtcp_interval_ms=200, **IDS),
                                  dict(codec="opus", ptime_ms=20, nack=False, min_delay_ms=40, rtcp_interval_ms=200,
                                       ssrc=9), 1000),
                         pcm16, 320, {6, 11, 17, 18, 25, 33}),
    }


# The device side: replays <name>.ev through hal.board.codec, writes <name>.tx (the sender's
# packets, each after a 16-bit length), <name>.pcm and <name>.fb, returns statuses and statistics.
# Odd turns use the allocating calls, even ones the _into calls, so both are compared.
REPLAY = r'''
import struct, json
from hal.board import codec

def replay(ev, out, txkw, rxkw, end_ms):
    tx = codec.MediaSender(**txkw)
    rx = codec.MediaReceiver(**rxkw)
    buf = bytearray(rx.frame_bytes)
    pkt = bytearray(codec._nc.MAX_PACKET)
    status = []
    turn = 0
    data = sh_read(ev)
    ot, op, of = ShFile(out + '.tx'), ShFile(out + '.pcm'), ShFile(out + '.fb')
    i = 0
    while i < len(data):
        k, now, n = struct.unpack_from('<BIH', data, i)
        d = memoryview(data)[i + 7:i + 7 + n]
        i += 7 + n
        turn += 1
        if k == 0 and n:
            tx.push(d, now)
        elif k == 1:
            tx.on_packet(d, now)
        elif k == 2:
            status.append(rx.on_packet(d, now))
        elif k == 3:
            if turn & 1:
                op.write(rx.pull(now))
            else:
                rx.pull_into(buf, now)
                op.write(buf)
        if k == 4:
            while True:
                if turn & 1:
                    p = rx.poll_feedback(now)
                else:
                    m = rx.poll_feedback_into(pkt, now)
                    p = bytes(pkt[:m]) if m else None
                if p is None:
                    break
                of.write(struct.pack('<H', len(p)))
                of.write(p)
        elif k < 2:
            while True:
                if turn & 1:
                    p = tx.poll(now)
                else:
                    m = tx.poll_into(pkt, now)
                    p = bytes(pkt[:m]) if m else None
                if p is None:
                    break
                ot.write(struct.pack('<H', len(p)))
                ot.write(p)
    for f in (ot, op, of):
        f.close()
    res = json.dumps([status, tx.stats(), rx.stats(end_ms)])
    tx.close()
    rx.close()
    return res
'''


@pytest.fixture(scope="module")
def hal_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hal_mpy_files(tmp_path_factory.mktemp("hal"), "codec")


@pytest.fixture(scope="module")
def scs(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Scenario], Path]:
    d = tmp_path_factory.mktemp("scenarios")
    out = scenarios(testdata)
    for name, sc in out.items():
        (d / f"{name}.ev").write_bytes(sc.encode())
    return out, d




# The three .mpy files, and "builtin": the user C module form of the same binding (with Opus).
TARGETS = [*natmod.ARCHS, "builtin"]


def has_opus(target: str) -> bool:
    return target in natmod.OPUS_ARCHS or target == "builtin"


def load(request: pytest.FixtureRequest, target: str, hal_files: dict[str, Path]) -> mpqemu.Board:
    """A fresh heap with hal's board backend (and build/natmod/<arch>/_nc.mpy) mounted at /nc."""
    board: mpqemu.Board = request.getfixturevalue("builtin_board" if target == "builtin" else "board")
    board.soft_reset()
    if target == "builtin":
        board.load("/nc", hal_files)
        want = "None"
    else:
        board.load("/nc", {"_nc.mpy": natmod.path(target), **hal_files})
        want = "/nc/_nc.mpy"
    assert board.exec("from hal.board import codec\nprint(getattr(codec._nc, '__file__', None))").strip() == want
    return board


def _names(ctype: str) -> set[str]:
    return {n for n, _f in ffi.typeof(ctype).fields}


OPUS_TX = {"opus_bitrate", "opus_loss_perc", "opus_inband_fec", "opus_encode_errors"}
OPUS_RX = {"recovered_opus_fec", "opus_plc_frames", "opus_plc_blocks", "opus_bad_payloads", "opus_decode_errors"}


@pytest.mark.parametrize("arch", TARGETS)
def test_media_scenarios_equal_host(request: pytest.FixtureRequest, arch: str, hal_files: dict[str, Path],
                                    scs: tuple[dict[str, Scenario], Path], tmp_path: Path) -> None:
    scenarios_, evdir = scs
    board = load(request, arch, hal_files)
    board.exec(REPLAY)
    names = [n for n in scenarios_ if n != "opus" or has_opus(arch)]
    for name in names:
        sc = scenarios_[name]
        out = tmp_path / name
        got = json.loads(board.exec(
            f"print(replay({str(evdir / (name + '.ev'))!r}, {str(out)!r}, {sc.tx_kw!r}, {sc.rx_kw!r}, {sc.end_ms}))",
            timeout=300))
        status, tx_stats, rx_stats = got
        tx = unframe(out.with_suffix(".tx").read_bytes())
        assert len(tx) == len(sc.tx_out), name
        assert tx == sc.tx_out, name
        assert status == sc.rx_status, name
        assert out.with_suffix(".pcm").read_bytes() == bytes(sc.rx_pcm), name
        assert unframe(out.with_suffix(".fb").read_bytes()) == sc.rx_fb, name
        opus = name == "opus"
        assert set(tx_stats) == _names("ec_media_tx_stats") | (OPUS_TX if opus else set())
        assert set(rx_stats) == _names("ec_media_rx_stats") | (OPUS_RX if opus else set())
        assert tx_stats == {k: sc.tx_stats[k] for k in tx_stats}, name
        assert rx_stats == {k: sc.rx_stats[k] for k in rx_stats}, name


def test_scenarios_exercise_the_stack(scs: tuple[dict[str, Scenario], Path]) -> None:
    s, _ = scs
    loop = s["loop"]
    assert loop.dropped >= 5 and loop.tx_stats["retransmissions"] > 0 and loop.tx_stats["level"] > 0
    assert loop.rx_stats["nack_recovered"] > 0 and loop.tx_stats["rtt_ms"] >= 0
    assert s["redfec"].rx_stats["recovered_red"] + s["redfec"].rx_stats["recovered_fec"] > 0
    assert s["pcma"].rx_stats["concealed"] >= 4
    opus = s["opus"]
    assert opus.rx_stats["recovered_opus_fec"] >= 2 and opus.tx_stats["opus_inband_fec"] == 1


# hal.board.codec's constructors and methods with bad arguments: ValueError (the same cases as
# the vdk backend's), TypeError for what is not bytes-like.
BAD = [
    "codec.MediaSender(codec='speex')", "codec.MediaSender(ptime_ms=25)", "codec.MediaSender(ptime_ms=0)",
    "codec.MediaSender(ptime_ms=60, max_ptime_ms=40)", "codec.MediaSender(fec_group=1)",
    "codec.MediaSender(fec_group=17)", "codec.MediaSender(g722_bitrate=32000)",
    "codec.MediaSender(pt_red=97, pt_fec=97)", "codec.MediaSender(pt_red=95)",
    "codec.MediaSender(rtcp_interval_ms=50)", "codec.MediaSender(ssrc=2 ** 32)", "codec.MediaSender(ssrc=-1)",
    "codec.MediaSender(red=2)", "codec.MediaSender(seq=70000)", "codec.MediaSender(cache_packets=7)",
    "codec.MediaSender(ptime_ms='20')", "codec.MediaSender(fec_group='2')",
    "codec.MediaReceiver(codec='pcm')", "codec.MediaReceiver(buffer_ms=70)",
    "codec.MediaReceiver(max_ptime_ms=60, buffer_ms=100)", "codec.MediaReceiver(delay_ms=390)",
    "codec.MediaReceiver(delay_ms=0)", "codec.MediaReceiver(nack_retry_ms=5)", "codec.MediaReceiver(fec_slots=5)",
    "codec.MediaReceiver(max_delay_ms=3000)", "codec.MediaReceiver(nack=None)",
    "tx.push(bytes(100), 0)", "tx.push(bytes(0), 0)", "tx.push(bytes(320 * 5), 0)", "tx.push(bytes(640), -1)",
    "tx.push(bytes(640), 1.5)", "tx.poll(None)", "rx.pull(-5)", "rx.pull_into(bytearray(100), 0)",
    "rx.pull_into(bytes(640), 0)", "rx.on_packet(b'', -1)",
    "codec.G722Encoder(8000)", "codec.G722Encoder(64000).encode(bytes(6))", "codec.Plc(11025)", "codec.Plc(8000, 15)",
    "codec.Plc(8000).good(bytes(100))", "codec.AdpcmEncoder('wav')", "codec.AdpcmDecoder('ima-wav', 4)",
    "codec.AdpcmDecoder('ima-wav', 164).decode(bytes(100))", "codec.g711_encode(bytes(4), 'mulaw')",
]
OPUS_BAD = [
    "codec.MediaSender(codec='opus', ptime_ms=40)", "codec.MediaSender(codec='opus', red=True)",
    "codec.MediaSender(codec='opus', opus_bitrate=5000)", "codec.MediaSender(codec='opus', pt_opus=96)",
    "codec.MediaReceiver(codec='opus', max_ptime_ms=10)",
]
ERR = (
    "def err(src):\n"
    "    try:\n        eval(src)\n    except ValueError as e:\n        return 'V'\n"
    "    except Exception as e:\n        return type(e).__name__\n    return '-'\n"
)


@pytest.mark.parametrize("arch", TARGETS)
def test_board_backend_checks_arguments(request: pytest.FixtureRequest, arch: str, hal_files: dict[str, Path]) -> None:
    board = load(request, arch, hal_files)
    cases = BAD + (OPUS_BAD if has_opus(arch) else ["codec.MediaSender(codec='opus')"])
    board.exec(ERR + "tx = codec.MediaSender(codec='g722', ptime_ms=20)\nrx = codec.MediaReceiver(codec='g722')\n")
    results = board.exec(f"print(''.join(err(s) for s in {cases!r}))").strip()
    assert results == "V" * len(cases), [c for c, r in zip(cases, results) if r != "V"]
    msg = board.exec("try:\n    codec.MediaSender(ptime_ms=25)\nexcept ValueError as e:\n    print(e)").strip()
    assert msg == "ptime_ms must be from 10 to 60 in steps of 10, got 25"
    types = board.exec("print(err('rx.on_packet(\"text\", 0)'), err('tx.push([0] * 320, 0)'))").split()
    assert types == ["TypeError", "TypeError"]
    assert board.exec("print(codec.OPUS)").strip() == str(has_opus(arch))


def test_close_and_context_manager(request: pytest.FixtureRequest, hal_files: dict[str, Path]) -> None:
    board = load(request, "armv7m", hal_files)
    out = board.exec(
        ERR +
        "tx = codec.MediaSender()\nrx = codec.MediaReceiver()\ntx.close()\nrx.close()\ntx.close()\n"
        "e = codec.G722Encoder()\ne.close()\n"
        "print(''.join(err(s) for s in ('tx.push(bytes(640), 0)', 'tx.poll(0)', 'tx.on_packet(b\"x\", 0)',\n"
        "    'tx.stats()', 'rx.on_packet(b\"x\", 0)', 'rx.pull(0)', 'rx.pull_into(bytearray(640), 0)',\n"
        "    'rx.poll_feedback(0)', 'rx.stats()', 'e.encode(bytes(4))')))\n"
        "with codec.MediaSender(fec_group=16, max_ptime_ms=60) as a, codec.MediaReceiver(buffer_ms=2000) as b:\n"
        "    a.push(bytes(640), 0)\n    print(b.on_packet(a.poll(0), 0))\n"
        "print(err('a.stats()'), err('b.stats()'))\n")
    assert out.split() == ["V" * 10, "media", "V", "V"]


@pytest.mark.parametrize("arch", TARGETS)
def test_media_path_allocates_nothing(request: pytest.FixtureRequest, arch: str, hal_files: dict[str, Path]) -> None:
    """100 frames of a call with the collector off leave the heap as it was: push + poll_into at
    the sender; on_packet + pull_into + poll_feedback_into at the receiver (fed packets recorded
    before from a sender of the same configuration)."""
    board = load(request, arch, hal_files)
    codecs = ["g722", "pcmu"] + (["opus"] if has_opus(arch) else [])
    out = board.exec(
        "import gc\n"
        "def run(name):\n"
        "    kw = dict(codec=name, ssrc=1, seq=1, ts=1, fec_seq=1)\n"
        "    rec = codec.MediaSender(**kw)\n"
        "    pcm = bytes(rec.frame_bytes)\n"
        "    pkts = []\n"
        "    for i in range(120):\n"
        "        rec.push(pcm, 20 * i)\n"
        "        got = []\n"
        "        p = rec.poll(20 * i)\n"
        "        while p is not None:\n"
        "            got.append(p)\n"
        "            p = rec.poll(20 * i)\n"
        "        pkts.append(got)\n"
        "    tx = codec.MediaSender(**kw)\n"
        "    rx = codec.MediaReceiver(codec=name, ssrc=2)\n"
        "    buf = bytearray(codec._nc.MAX_PACKET)\n    out = bytearray(rx.frame_bytes)\n"
        "    def send(now):\n"
        "        tx.push(pcm, now)\n"
        "        while tx.poll_into(buf, now):\n"
        "            pass\n"
        "    def receive(now, got):\n"
        "        for p in got:\n"
        "            rx.on_packet(p, now)\n"
        "        rx.pull_into(out, now)\n"
        "        while rx.poll_feedback_into(buf, now):\n"
        "            pass\n"
        "    for i in range(20):\n"
        "        send(20 * i)\n        receive(20 * i, pkts[i])\n"
        "    gc.collect()\n    gc.disable()\n    f0 = gc.mem_free()\n"
        "    for i in range(20, 120):\n        send(20 * i)\n"
        "    f1 = gc.mem_free()\n"
        "    for i in range(20, 120):\n        receive(20 * i, pkts[i])\n"
        "    f2 = gc.mem_free()\n    gc.enable()\n"
        "    return f0 - f1, f1 - f2, rx.stats()['played'], tx.stats()['media_packets']\n"
        f"print([run(c) for c in {codecs!r}])")
    got = eval(out.strip())  # noqa: S307 - a list of int tuples from our device
    assert len(got) == len(codecs)
    for name, (tx_bytes, rx_bytes, played, sent) in zip(codecs, got):
        assert played >= 200 and sent >= 100, name  # the frames were really sent and played
        assert (tx_bytes, rx_bytes) == (0, 0), name
