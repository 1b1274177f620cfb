"""The resilience benchmark's simulation and scoring pipeline on the speech corpus and short cuts
of it (the full sweep of codecs, languages, loss patterns, rates and seeds runs in
`./edgecall bench resilience`), and its statistics: the median over files and seeds with the spread."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from host_tools import speech
from host_tools.audiofiles import read_wav
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


def _near_steps(source_of: list[list[int]]) -> set[int]:
    """Source blocks next to a time-scale step (a merged output block, or an inserted one between
    played blocks): their audio is a cross-fade, not the clean decode."""
    started = next(o for o, srcs in enumerate(source_of) if srcs)
    out: set[int] = set()
    for o in range(started + 1, len(source_of) - 1):
        if len(source_of[o]) > 1 or not source_of[o]:
            for srcs in source_of[o - 1:o + 2]:
                out |= {j + k for j in srcs for k in (-1, 0, 1)}
    return out


def test_loss_free_call_reproduces_the_ceiling(testdata: Path) -> None:
    """No loss, no jitter, a whole corpus clip: the receiver's output laid back on the source
    timeline is the clean decode wherever the buffer made no time-scale step (so the alignment is
    exact). plc makes none and scores the ceiling. full makes some (its sender drops RED after
    ~12 s of loss-free reports and the buffer then lowers its delay): its STOI is the ceiling's,
    its PESQ the ceiling's only if it made no step, else lower (what the steps cost as heard)."""
    spec = res.CODECS["g722"]
    pcm = res.load_speech(spec, "es")
    assert len(pcm) >= 24 * spec.rate
    clean, (ceil_pesq, ceil_stoi) = _ceiling(spec, pcm)
    assert 4.0 < ceil_pesq <= PESQ_RANGE[1] and ceil_stoi > 0.99
    bs = spec.rate // 100
    for mode in ("plc", "full"):
        call = res.simulate_call(spec, res.ENDPOINTS[mode], pcm, Impairment(delay_ms=30.0), seed=1)
        deg = res.received(spec, call, pcm)
        steps = call.rx["stretched"] + call.rx["compressed"]
        skip = _near_steps(call.source_of)
        assert (steps == 0) == (not skip) and len(skip) <= 9 * steps, (mode, steps, sorted(skip))
        keep = np.zeros(len(pcm), dtype=bool)
        for j in range(10, len(pcm) // bs - 10):
            keep[j * bs:(j + 1) * bs] = j not in skip
        err = clean[keep].astype(np.float64) - deg.for_stoi[keep]
        assert 10 * np.log10(np.sum(clean[keep].astype(np.float64) ** 2) / max(np.sum(err ** 2), 1.0)) > 40, mode
        p, s = res.score(pcm, deg, spec)
        assert abs(s - ceil_stoi) < 0.005, (mode, s, ceil_stoi)
        if mode == "plc" or steps == 0:
            assert steps == 0 and abs(p - ceil_pesq) < 0.05, (mode, p, ceil_pesq)
        else:
            assert ceil_pesq - 0.5 < p < ceil_pesq + 0.05, (mode, p, ceil_pesq, steps)


@pytest.mark.parametrize("codec", ["g722", "opus24"])
def test_receiver_delay_is_send_to_playout(testdata: Path, codec: str) -> None:
    """A fixed 60 ms buffer on a 30 ms link without jitter or loss: every block plays exactly 90 ms
    after its media time was sent, so the delay is 90 ms for all of them and their p95; an adaptive
    buffer that steps (jitter) has blocks at more than one delay."""
    spec = res.CODECS[codec]
    pcm = res.load_speech(spec, "es", max_seconds=3.0)
    tx_kw = res.endpoints_of(spec, "plc")[0]
    call = res.simulate_call(spec, (tx_kw, {"nack": False, "delay_ms": 60}), pcm, Impairment(delay_ms=30.0), seed=1)
    delays = res.playout_delays(call.source_of)
    assert len(delays) == len(pcm) // (spec.rate // 100) and set(delays) == {90}
    assert res.playout_delay_p95(call.source_of) == 90.0
    jittery = res.simulate_call(spec, res.endpoints_of(spec, "plc"), pcm, res.impairment("random", 0), seed=1)
    steps = jittery.rx["stretched"] + jittery.rx["compressed"]
    assert steps > 0 and len(set(res.playout_delays(jittery.source_of))) > 1


def test_loss_zero_with_jitter_is_near_the_ceiling(testdata: Path) -> None:
    """G.711 on the five 8 kHz originals (4 s each) x 3 seeds, jitter alone (30 +- 10 ms,
    reordering): the buffer's few late packets, underrun waits and time-scale steps cost the
    median call less than 0.35 PESQ below the median ceiling and no call more than 0.8 (steps in
    speech cost a 4 s call up to 1.7); STOI stays close."""
    spec = res.CODECS["g711"]
    ceilings, plcs, fulls = [], [], []
    for file in res.NB_FILES:
        pcm = res.load_speech(spec, file, max_seconds=4.0)
        _clean, (ceil_pesq, ceil_stoi) = _ceiling(spec, pcm)
        for seed in (1, 2, 3):
            zero_fill, plc, full = res.run_setting(spec, file, pcm, "random", 0, seed=seed)
            assert zero_fill["pesq"] == round(ceil_pesq, 3) and zero_fill["stoi"] == round(ceil_stoi, 4)
            for row in (plc, full):
                assert row["link_loss"] == 0.0
                assert PESQ_RANGE[0] <= row["pesq"] <= ceil_pesq + 0.05, row
                assert ceil_pesq - 0.8 < row["pesq"], (row, ceil_pesq)
                assert abs(row["stoi"] - ceil_stoi) < 0.03, row
            ceilings.append(ceil_pesq)
            plcs.append(plc["pesq"])
            fulls.append(full["pesq"])
    for mode in (plcs, fulls):
        assert float(np.median(mode)) > float(np.median(ceilings)) - 0.35, (mode, ceilings)


def test_concealment_beats_zero_fill_at_30_percent(testdata: Path) -> None:
    for codec, file in (("g711", "or105.wav"), ("g722", "fr")):
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
                     files={"g722": ("it",), "g711": ("or109.wav",)}, max_seconds=3.0, workers=1)
    report = json.loads(json.dumps(res.benchmark(cfg, plot_path=tmp_path / "r.png")))
    assert {"results", "averages", "ceiling", "targets", "plot"} <= set(report)
    corpus = report["setup"]["corpus"]
    assert set(corpus) == {"it"} and corpus["it"]["package"] == speech.PACKAGES["it"] and corpus["it"]["seconds"] >= 24
    assert "median" in report["setup"]["statistic"] and "min-max" in report["setup"]["spread"]
    results = report["results"]
    assert len(results) == 2 * 2 * 2 * len(res.MODES)  # codecs × patterns × losses × modes
    for r in results:
        assert {"codec", "mode", "pattern", "loss", "pesq", "stoi", "file"} <= set(r)
        assert r["codec"] in ("g722", "g711") and r["mode"] in res.MODES and r["pattern"] in ("random", "bursty")
        assert r["loss"] in (0, 30) and PESQ_RANGE[0] <= r["pesq"] <= PESQ_RANGE[1] and 0 <= r["stoi"] <= 1
    keys = {(a["codec"], a["mode"], a["pattern"], a["loss"]) for a in report["averages"]}
    for a in report["averages"]:
        assert a["pesq_min"] <= a["pesq_q1"] <= a["pesq"] <= a["pesq_q3"] <= a["pesq_max"], a
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
            assert f"{a['pesq']:.2f} ({a['pesq_min']:.2f}-{a['pesq_max']:.2f}) / {a['stoi']:.3f} / " \
                   f"{a['delay_p95_ms']:.0f} ms" in printed, a
    png = Path(report["plot"])
    assert png == tmp_path / "r.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_opus_rows_with_inband_fec(testdata: Path, tmp_path: Path) -> None:
    """Opus at 16 and 24 kbit/s runs through the same modes and loss patterns as G.722; at 24 kbit/s
    its full mode (in-band FEC from the start) rebuilds lost frames from the next packet, and the
    report's averages and plot include both Opus rates."""
    cfg = res.Config(codecs=("g722", "opus16", "opus24"), losses=(20,), patterns=("random",), seeds=(1,),
                     files={c: ("ru",) for c in ("g722", "opus16", "opus24")}, max_seconds=3.0,
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


def test_wideband_codecs_score_the_corpus_over_three_seeds(testdata: Path) -> None:
    """G.722 and Opus run on the four corpus languages (16 kHz recordings); G.711 keeps the 8 kHz
    P.862 originals; the full run has at least 3 seeds; the quick run is one language, cut short."""
    for codec in ("g722", "opus16", "opus24"):
        assert res.CODECS[codec].files == speech.LANGUAGES == ("es", "fr", "it", "ru")
    assert res.CODECS["g711"].files == res.NB_FILES
    for f in res.NB_FILES:
        assert read_wav(res.SPEECH / f)[1] == 8000
    assert len(res.Config().seeds) >= 3 and res.Config().max_seconds is None
    assert res.QUICK.files_of("g722") == ("es",) and res.QUICK.max_seconds is not None
    g722 = res.load_speech(res.CODECS["g722"], "ru")
    assert np.array_equal(g722[:16000], speech.clip("ru")[:16000]) and len(g722) % 320 == 0


def _row(pesq: float, stoi: float, delay: float, **kw: object) -> dict[str, object]:
    return {"codec": "g722", "mode": "full", "pattern": "random", "loss": 10, "pesq": pesq, "stoi": stoi,
            "link_loss": 0.1, "delay_p95_ms": delay, "steps": 2, "pesq_warp": pesq, **kw}


def test_averages_are_medians_with_their_spread() -> None:
    """The figure of a condition is the median over its rows (not the mean: one outlier call must
    not move it), with min-max and the interquartile range beside it; a target is judged on it."""
    rows = [_row(p, s, d) for p, s, d in ((2.0, 0.90, 100.0), (3.6, 0.95, 120.0), (3.7, 0.96, 400.0),
                                          (3.6, 0.91, 110.0), (3.8, 0.97, 130.0))]
    (a,) = res.averages(rows)
    assert (a["pesq"], a["pesq_min"], a["pesq_max"], a["pesq_q1"], a["pesq_q3"]) == (3.6, 2.0, 3.8, 3.6, 3.7)
    assert (a["stoi"], a["stoi_min"], a["stoi_max"]) == (0.95, 0.90, 0.97) and a["n"] == 5
    assert a["delay_p95_ms"] == 120.0 and a["pesq_warp"] == 3.6 and a["steps"] == 2
    target = res.targets([a])[0]
    assert target["name"] == "g722 full PESQ at 10% random loss" and target["met"] is True  # the mean, 3.34, misses 3.5
    assert (target["value"], target["value_min"], target["value_max"]) == (3.6, 2.0, 3.8)
    ceiling = res.ceiling_summary([{**r, "mode": "decode", "file": str(i)} for i, r in enumerate(rows)])["g722"]
    assert (ceiling["pesq"], ceiling["pesq_min"], ceiling["pesq_max"]) == (3.6, 2.0, 3.8)


def test_missing_corpus_package_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str], testdata: Path) -> None:
    monkeypatch.setitem(speech.PACKAGES, "es", "edgecall-no-such-package")
    assert res.run(json_out=True, quick=True) == 2
    err = capsys.readouterr().err
    assert "edgecall-no-such-package is not installed" in err and "apt-get install -y edgecall-no-such-package" in err


def test_a_missed_target_fails_the_run_and_says_by_how_much(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    targets = [{"name": "g722 full PESQ at 10% random loss", "target": 3.5, "value": 3.6, "met": True},
               {"name": "g722 full PESQ at 40% bursty loss", "target": 2.5, "value": 1.714, "met": False}]
    assert res.report_missed(targets)
    err = capsys.readouterr().err
    assert "MISSED g722 full PESQ at 40% bursty loss: median 1.714 against 2.5, 0.786 short" in err
    assert "10% random" not in err
    assert not res.report_missed(targets[:1])
    monkeypatch.setattr(res, "benchmark", lambda cfg, plot: {"targets": targets})
    monkeypatch.setattr(res, "emit", lambda result, json_out, human: None)
    assert res.run(json_out=True, quick=True) == 1
    monkeypatch.setattr(res, "benchmark", lambda cfg, plot: {"targets": targets[:1]})
    assert res.run(json_out=True, quick=True) == 0
