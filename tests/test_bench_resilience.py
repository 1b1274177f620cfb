"""The resilience benchmark's simulation and scoring pipeline on short clips (the full sweep of
codecs, files, loss patterns and rates runs in `./edgecall bench resilience`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from host_tools.bench import resilience as res
from host_tools.channel.impair import Impairment

PESQ_RANGE = (1.0, 4.65)  # MOS-LQO of P.862 (NB) and P.862.2 (WB)


def _ceiling(spec: res.CodecSpec, pcm: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    clean = res._window(res.clean_decode(spec, pcm), res.codec_delay(spec), len(pcm)).astype(np.int16)
    return clean, res.score(pcm, res.Degraded(clean, clean), spec)


def test_bursty_pattern_has_the_mean_loss_and_burst_length() -> None:
    for loss in (5, 20, 40):
        imp = res.impairment("bursty", loss)
        assert abs(imp.mean_loss() - loss / 100) < 1e-9 and abs(1 / imp.r - 3) < 1e-9
        assert res.impairment("random", loss).mean_loss() == loss / 100


def test_loss_free_call_reproduces_the_ceiling(testdata: Path) -> None:
    """No loss, no jitter: the receiver's output laid back on the source timeline is the clean
    decode (so the alignment is exact), and both scores equal the ceiling's."""
    spec = res.CODECS["g722"]
    pcm = res.load_speech(spec, "speech_16k.wav")
    clean, (ceil_pesq, ceil_stoi) = _ceiling(spec, pcm)
    assert 4.0 < ceil_pesq <= PESQ_RANGE[1] and ceil_stoi > 0.99
    for mode in ("plc", "full"):
        call = res.simulate_call(spec, res.ENDPOINTS[mode], pcm, Impairment(delay_ms=30.0), seed=1)
        deg = res.received(spec, call, pcm)
        body = slice(spec.rate // 10, len(pcm) - spec.rate // 10)
        err = clean[body].astype(np.float64) - deg.for_stoi[body]
        assert 10 * np.log10(np.sum(clean[body].astype(np.float64) ** 2) / max(np.sum(err ** 2), 1.0)) > 40, mode
        p, s = res.score(pcm, deg, spec)
        assert abs(p - ceil_pesq) < 0.05 and abs(s - ceil_stoi) < 0.005, (mode, p, s, ceil_pesq, ceil_stoi)


@pytest.mark.parametrize("codec", ["g722", "opus24"])
def test_receiver_delay_is_send_to_playout(testdata: Path, codec: str) -> None:
    """A fixed 60 ms buffer on a 30 ms link without jitter or loss: every block plays exactly 90 ms
    after its media time was sent, so the delay is 90 ms for all of them and their p95; an adaptive
    buffer that steps (jitter) has blocks at more than one delay."""
    spec = res.CODECS[codec]
    pcm = res.load_speech(spec, "speech_16k.wav", max_seconds=3.0)
    tx_kw = res.endpoints_of(spec, "plc")[0]
    call = res.simulate_call(spec, (tx_kw, {"nack": False, "delay_ms": 60}), pcm, Impairment(delay_ms=30.0), seed=1)
    delays = res.playout_delays(call.source_of)
    assert len(delays) == len(pcm) // (spec.rate // 100) and set(delays) == {90}
    assert res.playout_delay_p95(call.source_of) == 90.0
    jittery = res.simulate_call(spec, res.endpoints_of(spec, "plc"), pcm, res.impairment("random", 0), seed=1)
    steps = jittery.rx["stretched"] + jittery.rx["compressed"]
    assert steps > 0 and len(set(res.playout_delays(jittery.source_of))) > 1


def test_loss_zero_with_jitter_is_near_the_ceiling(testdata: Path) -> None:
    spec = res.CODECS["g711"]
    pcm = res.load_speech(spec, "or105.wav", max_seconds=4.0)
    _clean, (ceil_pesq, ceil_stoi) = _ceiling(spec, pcm)
    zero_fill, plc, full = res.run_setting(spec, "or105.wav", pcm, "random", 0, seed=1)
    assert zero_fill["pesq"] == round(ceil_pesq, 3) and zero_fill["stoi"] == round(ceil_stoi, 4)
    # jitter alone (30 ± 10 ms, reordering): a few late packets and the buffer's 10 ms steps
    assert ceil_pesq - 0.5 < plc["pesq"] <= ceil_pesq + 0.05, plc
    # the full stack pays more for reordering (NACKs for reordered packets keep them out of the
    # buffer's delay statistics: more late packets and time-scale steps); its STOI stays close
    assert PESQ_RANGE[0] <= full["pesq"] <= ceil_pesq + 0.05, full
    for row in (plc, full):
        assert row["link_loss"] == 0.0
        assert abs(row["stoi"] - ceil_stoi) < 0.03, row


def test_concealment_beats_zero_fill_at_30_percent(testdata: Path) -> None:
    for codec, file in (("g711", "or105.wav"), ("g722", "speech_16k.wav")):
        spec = res.CODECS[codec]
        pcm = res.load_speech(spec, file, max_seconds=4.0)
        rows = {r["mode"]: r for r in res.run_setting(spec, file, pcm, "random", 30, seed=1)}
        assert set(rows) == set(res.MODES)
        assert 0.2 < rows["plc"]["link_loss"] < 0.4
        assert rows["zero-fill"]["pesq"] < rows["plc"]["pesq"], rows
        assert rows["zero-fill"]["stoi"] < rows["plc"]["stoi"], rows
        for r in rows.values():
            assert PESQ_RANGE[0] <= r["pesq"] <= PESQ_RANGE[1] and 0.0 <= r["stoi"] <= 1.0, r


def test_report_structure(testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = res.Config(codecs=("g722", "g711"), losses=(0, 30), seeds=(1,),
                     files={"g722": ("speech_16k.wav",), "g711": ("or109.wav",)}, max_seconds=3.0, workers=1)
    report = json.loads(json.dumps(res.benchmark(cfg, plot_path=tmp_path / "r.png")))
    assert {"results", "averages", "ceiling", "targets", "plot"} <= set(report)
    results = report["results"]
    assert len(results) == 2 * 2 * 2 * len(res.MODES)  # codecs × patterns × losses × modes
    for r in results:
        assert {"codec", "mode", "pattern", "loss", "pesq", "stoi", "file"} <= set(r)
        assert r["codec"] in ("g722", "g711") and r["mode"] in res.MODES and r["pattern"] in ("random", "bursty")
        assert r["loss"] in (0, 30) and PESQ_RANGE[0] <= r["pesq"] <= PESQ_RANGE[1] and 0 <= r["stoi"] <= 1
    keys = {(a["codec"], a["mode"], a["pattern"], a["loss"]) for a in report["averages"]}
    assert keys == {(r["codec"], r["mode"], r["pattern"], r["loss"]) for r in results}
    for codec in ("g722", "g711"):
        c = report["ceiling"][codec]
        assert c["pattern"] == "none" and c["loss"] == 0 and PESQ_RANGE[0] <= c["pesq"] <= PESQ_RANGE[1]
    assert [t["target"] for t in report["targets"]] == [3.5, 3.0, 2.5]
    assert all(t["value"] is None and t["met"] is None for t in report["targets"])  # 10/20/40 % not run
    for r in results:  # the receiver's modes give their delay: above the 30 ms one-way network delay
        assert ("delay_p95_ms" in r) == (r["mode"] != "zero-fill"), r
        assert ("steps" in r) == (r["mode"] != "zero-fill"), r  # time-scale steps per call, counted
        assert r.get("delay_p95_ms", 40) > res.DELAY_MS and r.get("steps", 0) >= 0
    assert all("delay_p95_ms" in a for a in report["averages"] if a["mode"] != "zero-fill")
    monkeypatch.setenv("COLUMNS", "300")  # rich: one line per table row
    res._print_human(report)  # the printed tables carry each receiver mode's delay
    printed = capsys.readouterr().out
    for a in report["averages"]:
        if a["mode"] != "zero-fill":
            assert f"{a['pesq']:.2f} / {a['stoi']:.3f} / {a['delay_p95_ms']:.0f} ms" in printed, a
    png = Path(report["plot"])
    assert png == tmp_path / "r.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_opus_rows_with_inband_fec(testdata: Path, tmp_path: Path) -> None:
    """Opus at 16 and 24 kbit/s runs through the same modes and loss patterns as G.722; at 24 kbit/s
    its full mode (in-band FEC from the start) rebuilds lost frames from the next packet, and the
    report's averages and plot include both Opus rates."""
    cfg = res.Config(codecs=("g722", "opus16", "opus24"), losses=(20,), patterns=("random",), seeds=(1,),
                     files={c: ("speech_16k.wav",) for c in ("g722", "opus16", "opus24")}, max_seconds=3.0,
                     workers=1)
    report = json.loads(json.dumps(res.benchmark(cfg, plot_path=tmp_path / "r.png")))
    rows = {(r["codec"], r["mode"]): r for r in report["results"]}
    assert set(rows) == {(c, m) for c in ("g722", "opus16", "opus24") for m in res.MODES}
    assert rows[("opus24", "full")]["recovered_opus_fec"] > 0 and rows[("opus24", "plc")]["recovered_opus_fec"] == 0
    assert rows[("opus24", "full")]["opus_inband_fec"] == 1
    for c in ("opus16", "opus24"):
        assert PESQ_RANGE[0] <= report["ceiling"][c]["pesq"] <= PESQ_RANGE[1]
        assert all(PESQ_RANGE[0] <= rows[(c, m)]["pesq"] <= PESQ_RANGE[1] for m in res.MODES)
    assert Path(report["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
