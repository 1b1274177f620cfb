"""HIL reports: JSON (strict, validated, atomic), JUnit XML, the self-contained HTML page (rendered
by headless Chromium) and the terminal summary."""
from __future__ import annotations

import copy
import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from host_tools.hil import report
from host_tools.paths import BUILD

PROFILES = ("clean", "lossy5", "jitter40", "3g")
INJECTED = '<script>document.title="pwned"</script> & "quotes"'


def sample_result() -> dict[str, Any]:
    """A full run: four scenarios (one failed with a diagnostic bundle), every metric and series."""
    join = [780.0 + (i * 37) % 410 for i in range(40)]
    jb = {p: [{"t_s": t * 0.5, "delay_ms": 40 + k * 25 + 10 * math.sin(t / 4), "loss_pct": k * 1.5 + (t % 7) * 0.2,
               "late": t % 3, "concealed": k * t // 10} for t in range(60)] for k, p in enumerate(PROFILES)}
    heap = {d: [[t * 1.0, 96_000 + 4_000 * j + 1_500 * math.sin(t / 5)] for t in range(45)]
            for j, d in enumerate(("vdk-0", "vdk-1"))}
    bundle = {
        "info": {"version": "1.2.0", "uid": "e6614103e7452d2f", "heap_free": 61234},
        "log": [[i, 1000 + 17 * i, "INFO" if i % 5 else "WARN", f"call: event {i}"] for i in range(30)]
        + [[30, 1600, "ERROR", "call: no media for 3000 ms"]],
        "call_stats": {"rx_packets": 812, "lost": 97, "late": 4, "concealed": 101},
        "heap_history": [[t * 250, 98_000 - t * 10] for t in range(20)],
        "transcript": ["0.001 > 7b226964223a317d", "0.004 < {\"id\": 1, \"ok\": true}"],
    }
    return {
        "schema": 1, "tool": "edgecall hil", "version": "0.3.0", "started": "2026-11-22T05:00:00Z",
        "duration_s": 123.4, "command": "edgecall hil run --devices 2", "passed": False,
        "devices": [{"id": "vdk-0", "kind": "virtual", "port": "/dev/pts/5", "version": "1.2.0", "uid": "e661410"},
                    {"id": "vdk-1", "kind": "virtual", "port": "/dev/pts/6", "version": "1.2.0", "uid": "e661411"}],
        "scenarios": [
            {"name": "serial-soak", "passed": True, "devices": ["vdk-0"], "duration_s": 20.5, "error": None,
             "metrics": {"p99_ms": 8.4}, "diagnostics": None},
            {"name": "call-clean", "passed": True, "devices": ["vdk-0", "vdk-1"], "duration_s": 9.1, "error": None,
             "metrics": {"pesq_wb": 4.12, "join_ms": {"p50": 812.0}}, "diagnostics": None},
            {"name": "call-3g", "passed": False, "devices": ["vdk-0", "vdk-1"], "duration_s": 31.7,
             "error": f"no audio for 3000 ms on vdk-1\nlast frame at t=1.6 s {INJECTED}",
             "metrics": {"pesq_wb": 2.1}, "diagnostics": {"vdk-1": bundle}},
            {"name": "reconnect", "passed": True, "devices": ["vdk-1"], "duration_s": 12.0, "error": None,
             "metrics": {"rejoin_ms": 640}, "diagnostics": None},
        ],
        "metrics": {
            "join_ms": {"p50": 905.0, "p95": 1150.0, "samples": join},
            "first_audio_ms": {"p50": 140.0, "p95": 260.0, "samples": [140.0, 150.0, 260.0]},
            "pesq_wb": {"clean": 4.12, "lossy5": 3.55, "jitter40": 3.71, "3g": 2.1},
            "netstack_pesq_wb": {"clean": 4.2, "lossy5": 3.61, "jitter40": 3.8, "3g": 3.02},
            "stoi": {"clean": 0.97, "lossy5": 0.92, "jitter40": 0.93, "3g": 0.81},
            "call_success": {"clean": 1.0, "lossy5": 1.0, "jitter40": 0.95, "3g": 0.6},
            "codec": {"clean": "opus", "lossy5": "g722", "jitter40": "g722", "3g": "g722"},
            "speech": {"clean": {"pesq_wb": {"median": 4.12, "min": 3.98, "max": 4.31, "n": 6},
                                 "stoi": {"median": 0.97, "min": 0.955, "max": 0.981, "n": 6},
                                 "mouth_to_ear_ms": {"median": 182.4, "max": 236.0, "n": 6},
                                 "netstack_pesq_wb": {"median": 4.2, "min": 4.1, "max": 4.25, "n": 6},
                                 "seeds": [1, 2, 3], "speech_s": 24.413, "speech": ["es", "fr", "it", "ru"]}},
            "serial": {"requests": 4120, "p50_ms": 2.9, "p99_ms": 8.4, "lost": 0, "mismatched": 0},
            "video": {"wifi-busy": {"fps": 9.4, "psnr_db": 33.1, "psnr_min_db": 30.2, "frames_shown": 56,
                                    "frames_sent": 60, "dropped": 3}},
        },
        "series": {"jb": jb, "heap": heap},
    }


def minimal_result() -> dict[str, Any]:
    """One scenario, no series, no samples: what a short run may give."""
    return {"schema": 1, "passed": True,
            "scenarios": [{"name": "serial-only", "passed": True, "devices": ["vdk-0"], "duration_s": 3.0,
                           "error": None}],
            "metrics": {"join_ms": {"p50": None, "p95": None}, "first_audio_ms": {"p50": None, "p95": None},
                        "pesq_wb": {}, "call_success": {}}}


# ---------------------------------------------------------------------------------------------- JSON


def test_sample_writes_three_reports_and_json_round_trips(tmp_path: Path) -> None:
    r = sample_result()
    assert report.validate(r) == []
    paths = [report.write_json(r, tmp_path / "out" / "hil.json"), report.write_junit(r, tmp_path / "out" / "hil.xml"),
             report.write_html(r, tmp_path / "out" / "hil.html")]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hil.html", "hil.json", "hil.xml"]  # no tmp left
    back = json.loads(paths[0].read_text())
    assert back == json.loads(json.dumps(r)) and report.validate(back) == []
    keys = list(back)
    assert keys == sorted(keys)


def test_invalid_result_refused_naming_the_missing_key(tmp_path: Path) -> None:
    r = sample_result()
    del r["metrics"]["join_ms"]["p95"]
    del r["scenarios"][1]["duration_s"]
    problems = report.validate(r)
    assert any("join_ms" in p and "p95" in p for p in problems)
    assert any("scenarios[1]" in p and "duration_s" in p for p in problems)
    target = tmp_path / "hil.json"
    with pytest.raises(ValueError, match=r"join_ms.*p95"):
        report.write_json(r, target)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert report.validate({"schema": 2, "passed": "yes"}) == [
        "schema: expected 1, got 2", "passed: expected a bool, got str 'yes'", "scenarios: missing key 'scenarios'",
        "metrics: missing key 'metrics'"]
    assert report.validate([]) == ["result: expected a dict, got list"]


def test_nan_written_as_null_and_json_is_strict(tmp_path: Path) -> None:
    r = sample_result()
    r["metrics"]["pesq_wb"]["3g"] = float("nan")
    r["metrics"]["join_ms"]["p95"] = float("inf")
    r["series"]["jb"]["clean"][0]["delay_ms"] = float("nan")
    p = report.write_json(r, tmp_path / "hil.json")
    text = p.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert back["metrics"]["pesq_wb"]["3g"] is None and back["metrics"]["join_ms"]["p95"] is None
    assert back["series"]["jb"]["clean"][0]["delay_ms"] is None


def test_json_keeps_odd_text(tmp_path: Path) -> None:
    r = sample_result()
    r["scenarios"][2]["error"] = "ctl \x00\x1b[0m, undecodable \udcff, unicode …"
    back = json.loads(report.write_json(r, tmp_path / "hil.json").read_bytes().decode("utf-8"))
    assert back["scenarios"][2]["error"] == r["scenarios"][2]["error"]
    page = report.write_html(r, tmp_path / "hil.html").read_bytes().decode("utf-8")
    assert "ctl \\x00\\x1b[0m, undecodable \\udcff, unicode …" in page


def test_json_replaces_existing_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "hil.json"
    target.write_text("old")
    report.write_json(minimal_result(), target)
    assert json.loads(target.read_text())["scenarios"][0]["name"] == "serial-only"
    assert [p.name for p in tmp_path.iterdir()] == ["hil.json"]


# ---------------------------------------------------------------------------------------------- JUnit


def test_junit_counts_failure_and_bundle(tmp_path: Path) -> None:
    r = sample_result()
    root = ET.parse(report.write_junit(r, tmp_path / "hil.xml")).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    for el in (root, suite):
        assert el.get("tests") == "4" and el.get("failures") == "1" and el.get("errors") == "0"
    assert suite.get("timestamp") == "2026-11-22T05:00:00" and suite.get("hostname")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["serial-soak", "call-clean", "call-3g", "reconnect"]
    assert all(float(c.get("time", "x")) >= 0 and c.get("classname") for c in cases)
    assert [c.get("name") for c in cases if c.find("failure") is not None] == ["call-3g"]
    failed = cases[2]
    fail = failed.find("failure")
    assert fail is not None
    assert fail.get("message") == "no audio for 3000 ms on vdk-1"
    assert fail.text == r["scenarios"][2]["error"]
    out = failed.find("system-out")
    assert out is not None and out.text
    assert json.loads(out.text) == r["scenarios"][2]["diagnostics"]
    assert cases[0].find("system-out") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["metrics.join_ms.p50"] == "905.0" and props["metrics.pesq_wb.3g"] == "2.1"
    assert props["metrics.call_success.3g"] == "0.6" and props["passed"] == "false"
    assert not any("samples" in str(k) for k in props)
    r["scenarios"][2]["traceback"] = "Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: x"
    root = ET.fromstring(report.to_junit(r))
    text = root.findtext("testsuite/testcase[@name='call-3g']/failure") or ""
    assert text.startswith(r["scenarios"][2]["error"]) and text.endswith("RuntimeError: x")


def test_junit_survives_control_characters(tmp_path: Path) -> None:
    r = sample_result()
    r["scenarios"][2]["error"] = "bad byte \x00\x07\x1b[31m here\ud800 \ufffe end"
    r["scenarios"][2]["diagnostics"]["vdk-1"]["log"].append([99, 9, "ERROR", "raw \x01\x02 junk"])
    r["scenarios"][2]["name"] = "call\x0b-3g"
    root = ET.parse(report.write_junit(r, tmp_path / "hil.xml")).getroot()
    fail = root.find("testsuite/testcase/failure")
    assert fail is not None and fail.text is not None
    assert fail.text.startswith("bad byte \\x00\\x07\\x1b[31m here\\ud800 \\ufffe end")
    out = root.find("testsuite/testcase[@name='call\\x0b-3g']/system-out")
    assert out is not None and out.text  # the bundle's JSON escapes controls itself, and round-trips
    assert json.loads(out.text)["vdk-1"]["log"][-1] == [99, 9, "ERROR", "raw \x01\x02 junk"]


def test_junit_of_minimal_result(tmp_path: Path) -> None:
    root = ET.parse(report.write_junit(minimal_result(), tmp_path / "hil.xml")).getroot()
    assert root.get("tests") == "1" and root.get("failures") == "0"


# ---------------------------------------------------------------------------------------------- HTML


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg\b[^>]*>.*?</svg>", page, flags=re.S)


def test_html_has_tables_plots_and_escaped_details(tmp_path: Path) -> None:
    page = report.write_html(sample_result(), tmp_path / "hil.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<title>EdgeCall HIL report: FAIL</title>" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page), "external resource in the report"
    assert "<script" not in page
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    svgs = _svgs(page)
    titles = [m.group(1) for s in svgs if (m := re.search(r"<title>(.*?)</title>", s))]
    assert titles == ["Join time distribution", "PESQ-WB per network profile", "Jitter-buffer delay per profile",
                      "Packet loss per profile", "Heap in use per device"]
    for s in svgs:
        n = int(re.search(r'data-points="(\d+)"', s).group(1))  # type: ignore[union-attr]
        assert n > 0 and ("<polyline" in s or 'class="bar"' in s)
        assert s.count("<text") >= 8  # title, tick labels, axis labels
    assert _svgs(page)[0].count('data-points="40"') == 1
    assert svgs[1].count('class="bar"') == 8 and "netstack bench" in svgs[1]
    assert svgs[2].count("<polyline") == 4 and svgs[4].count("<polyline") == 2
    # metrics table: PESQ beside the netstack figure, availability as a percentage; a profile
    # without per-call figures shows its medians alone
    assert re.search(r"<td>3g</td><td>g722</td><td class=\"num\">2.10</td><td class=\"num\">3.02</td>"
                     r"<td class=\"num\">0.810</td><td class=\"num\">n/a</td><td class=\"num\">n/a</td>"
                     r"<td class=\"num\"></td><td class=\"num\">60.0 %</td>", page)
    # one with them: median (min-max) over seeds and directions, mouth-to-ear median / max, the
    # speech scored and the seeds
    assert re.search(r"<td>clean</td><td>opus</td><td class=\"num\">4.12 \(3.98-4.31\)</td>"
                     r"<td class=\"num\">4.20 \(4.10-4.25\)</td><td class=\"num\">0.970 \(0.955-0.981\)</td>"
                     r"<td class=\"num\">182 / 236 ms</td><td class=\"num\">24.4 s × 6</td>"
                     r"<td class=\"num\">1, 2, 3</td><td class=\"num\">100.0 %</td>", page)
    assert "speech_s" not in page.split("Other metrics", 1)[-1]  # not repeated among the other metrics
    details = page[page.index("Failed scenarios"):]
    assert "<details" in details and "call: no media for 3000 ms" in details and "rx_packets" in details
    assert "vdk-1" in details and "serial-soak" not in details


def test_html_shows_video_figures(tmp_path: Path) -> None:
    page = report.to_html(sample_result())
    video = page.split("<h3>Video</h3>", 1)[1].split("</table>", 1)[0]
    assert "frames shown / s" in video and "wifi-busy" in video and "9.4" in video and "33.1 dB" in video


def test_html_with_empty_series_says_no_data(tmp_path: Path) -> None:
    page = report.write_html(minimal_result(), tmp_path / "hil.html").read_text()
    assert _svgs(page) == []
    assert page.count("no data") >= 5
    assert "PASS" in page and "serial-only" in page and "Failed scenarios" not in page
    bare = report.to_html({"schema": 1, "passed": False})  # writers cope with anything missing
    assert "no scenarios ran" in bare and bare.count("no data") >= 5


# ---------------------------------------------------------------------------------------------- terminal


def test_summary_table() -> None:
    text = report.summary_table(sample_result())
    lines = text.splitlines()
    assert lines[0].split() == ["scenario", "result", "duration", "key", "metric"]
    row = next(line for line in lines if line.startswith("call-3g"))
    assert "FAIL" in row and "31.7 s" in row and "pesq_wb 2.1" in row
    assert any(line.strip() == "error: no audio for 3000 ms on vdk-1" for line in lines)
    assert any(line.startswith("reconnect") and "rejoin_ms 640" in line for line in lines)
    assert "HIL run: FAIL (3/4 scenarios passed) in 123.4 s" in text
    assert "p50 905 ms, p95 1150 ms (n=40)" in text
    assert "3g 2.10 (netstack 3.02)" in text and "3g 60.0 %" in text
    assert "clean 4.12 (3.98-4.31) (netstack 4.20)" in text and "STOI:         clean 0.970 (0.955-0.981)" in text
    assert "mouth-to-ear: clean 182 / 236 ms (median / max)" in text
    assert "4120 requests" in text
    assert "video:        wifi-busy 9.4 frames/s shown, median PSNR 33.1 dB" in text
    short = report.summary_table(minimal_result())
    assert "serial-only" in short and "p50 n/a" in short


# ---------------------------------------------------------------------------------------------- Chromium


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe, "chromium not found on PATH: run ./edgecall once (its bootstrap installs the Debian package)"
    cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def _console_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    out_dir = BUILD / "hil"
    out_dir.mkdir(parents=True, exist_ok=True)
    page = report.write_html(sample_result(), out_dir / "report-sample.html")
    shot = out_dir / "report-screenshot.png"
    shot.unlink(missing_ok=True)
    p = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert p.returncode == 0, p.stderr[-2000:]
    assert _console_problems(p.stderr) == []
    assert shot.is_file(), f"no screenshot written; chromium said:\n{p.stderr[-2000:]}"
    with Image.open(shot) as img:
        assert img.size == (1280, 2000)
        rgb = img.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50, "screenshot is (nearly) one flat colour"
        assert rgb.getextrema() != ((255, 255), (255, 255), (255, 255))

    d = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert d.returncode == 0, d.stderr[-2000:]
    assert _console_problems(d.stderr) == []
    dom = d.stdout
    assert "<title>EdgeCall HIL report: FAIL</title>" in dom
    assert len(re.findall(r'<svg[^>]*class="plot"', dom)) == 5
    assert 'id="verdict">FAIL<' in dom and "<script" not in dom.lower()


def test_minimal_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = report.write_html(minimal_result(), tmp_path / "min.html")
    d = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert d.returncode == 0, d.stderr[-2000:]
    assert _console_problems(d.stderr) == []
    assert "<title>EdgeCall HIL report: PASS</title>" in d.stdout and d.stdout.count("no data") >= 5


def test_writers_do_not_mutate_the_result() -> None:
    r = sample_result()
    before = copy.deepcopy(r)
    report.to_json(r), report.to_junit(r), report.to_html(r), report.summary_table(r)
    assert r == before
