"""`edgecall hil run` end to end, as a user runs it: real devkits (blank, flashed over SMP through
their bootloader), the station's tokens in a SQLite ledger, the channel server with its relay
and impairment, calls with speech scored by PESQ/STOI, the three reports. Shortened: fewer
cycles and reboots than the default suite, scored calls of 4 s under 2 seeds instead of the whole
24 s corpus clips under 3 (the mechanics: per-seed calls, medians, min-max, mouth-to-ear; the
figures' worth is the full run's), every scenario still runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from host_tools.hil import report
from host_tools.paths import ROOT

pytestmark = pytest.mark.slow


def hil(tmp: Path, *args: str, timeout: float = 900, sim_dir: Path | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp / "reports"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("EDGECALL_SIM_DIR", None)
    if sim_dir is not None:
        env["EDGECALL_SIM_DIR"] = str(sim_dir)
    cmd = [sys.executable, "-m", "host_tools", "hil", "run", "--json", str(out / "r.json"), "--html",
           str(out / "r.html"), "--junit", str(out / "r.xml"), *args]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return p, out


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args, why in ((["--scenario", "nope"], "no scenario matches nope"),
                      (["--impair", "marsnet"], "unknown impairment profile"),
                      (["--devices", "1"], "at least 2 devices"),
                      (["--duration", "0"], "--duration must be positive"),
                      (["--mic", str(tmp_path / "none.wav")], "none.wav not found")):
        p, out = hil(tmp_path, *args, timeout=60)
        assert p.returncode == 2, p.stderr
        assert why in p.stderr
        assert not (out / "r.json").exists()


def test_standard_suite_on_two_devkits(tmp_path: Path, testdata: Path) -> None:
    p, out = hil(tmp_path, "--cycles", "4", "--reboots", "3", "--stress", "2", "--duration", "4", "--seed", "1",
                 "--seed", "2")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-6000:]
    result = json.loads((out / "r.json").read_text())
    assert report.validate(result) == []
    names = [s["name"] for s in result["scenarios"]]
    for want in ("setup", "join", "call-cycles-clean", "call-cycles-wifi-busy", "call-clean", "call-wifi-busy",
                 "call-cellular-edge", "call-lossy-30", "video-wifi-busy", "reconnect", "token-renewal", "refused-token", "power-cut",
                 "serial-stress"):
        assert want in names
    assert result["passed"] and all(s["passed"] for s in result["scenarios"])
    for dev in result["devices"]:  # the report names the firmware build and the machine
        assert dev["arch"] == "armv7e-m" and "Cortex-M4" in dev["machine"]
        assert dev["micropython"].startswith("v1.27.0") and dev["version"]
    m = result["metrics"]
    assert m["join_ms"]["p95"] <= 600 and len(m["join_ms"]["samples"]) >= 10
    assert m["first_audio_ms"]["p50"] is not None
    assert set(m["pesq_wb"]) == {"clean", "wifi-busy", "cellular-edge", "lossy-30"}
    assert m["pesq_wb"]["clean"] > m["pesq_wb"]["lossy-30"]
    assert set(m["netstack_pesq_wb"]) == set(m["pesq_wb"])
    for p_name, sp in m["speech"].items():  # per profile: 2 seeds x 2 directions of corpus speech
        assert sp["seeds"] == [1, 2] and sp["speech"] == ["es", "fr", "it"], sp
        for key in ("pesq_wb", "stoi", "netstack_pesq_wb"):
            assert sp[key]["n"] == 4 and sp[key]["min"] <= sp[key]["median"] <= sp[key]["max"], (p_name, sp)
        assert sp["pesq_wb"]["median"] == m["pesq_wb"][p_name] and sp["stoi"]["median"] == m["stoi"][p_name]
        assert 20 <= sp["mouth_to_ear_ms"]["median"] <= sp["mouth_to_ear_ms"]["max"] <= 1500, sp
        assert 2.5 <= sp["speech_s"] <= 4.0  # what a 4 s call had time to carry
    calls = next(s for s in result["scenarios"] if s["name"] == "call-clean")["metrics"]["calls"]
    assert [c["seed"] for c in calls] == [1, 2]
    assert [(d["from"], d["to"], d["speech"]) for d in calls[1]["directions"]] == [("hil0", "hil1", "fr"),
                                                                                   ("hil1", "hil0", "it")]
    assert set(m["codec"].values()) == {"opus"}  # both devkits have Opus: the call negotiates it
    assert set(m["call_success"]) == {"clean", "wifi-busy"}
    assert m["serial"]["lost"] == 0 and m["serial"]["mismatched"] == 0 and m["serial"]["reboots"] == 3
    assert result["series"]["heap"] and result["series"]["jb"]["clean"]
    video = m["video"]["wifi-busy"]
    assert video["fps"] >= 3 and video["psnr_db"] >= 25 and video["frames_shown"] > 0
    refused = next(s for s in result["scenarios"] if s["name"] == "refused-token")["metrics"]["reasons"]
    assert "signature" in refused["forged"] and "expired" in refused["expired"]
    suites = ET.parse(out / "r.xml").getroot()
    assert int(suites.get("tests") or 0) == len(names) and int(suites.get("failures") or 0) == 0
    assert "<svg" in (out / "r.html").read_text()
    assert "call-lossy-30" in p.stdout and "mouth-to-ear: clean " in p.stdout  # the summary table


def test_failed_scenario_attaches_a_diagnostic_bundle(tmp_path: Path, testdata: Path) -> None:
    """A relay that loses every packet: the call is set up, but no audio arrives."""
    p, out = hil(tmp_path, "--scenario", "call-custom", "--impair", '{"loss_good": 1.0}', "--duration", "3")
    assert p.returncode == 1, p.stderr[-3000:]
    result = json.loads((out / "r.json").read_text())
    assert not result["passed"]
    failed = [s for s in result["scenarios"] if not s["passed"]]
    assert [s["name"] for s in failed] == ["call-custom"]
    assert "not receiving audio" in failed[0]["error"]
    bundle = failed[0]["diagnostics"]
    assert set(bundle) == {"hil0", "hil1"}
    for dev in bundle.values():
        assert dev["info"]["version"] and dev["log"] and dev["heap_history"]
        assert dev["call_stats"]["state"] == "joined"
        assert any(" tx " in line for line in dev["transcript"]) and any(" rx " in line for line in dev["transcript"])
    case = [c for c in ET.parse(out / "r.xml").getroot().iter("testcase") if c.get("name") == "call-custom"][0]
    assert case.find("failure") is not None


def test_boards_by_port_are_flashed_provisioned_and_called(tmp_path: Path, testdata: Path) -> None:
    """--port takes serial ports of boards; here the ptys of devkits started on their own (their
    supervisors may hold them). Scenarios that need a devkit's power switch or speaker recording
    are reported as skipped with the reason; the rest run as on boards."""
    from host_tools.sim import manager

    root = tmp_path / "boards"
    infos = manager.start(count=2, root=root, baud=115200, blank=True, factory_image=manager.factory_image())
    try:
        # the devkits reach this machine at 10.0.2.2 (QEMU's user-mode network)
        p, out = hil(tmp_path, *[a for i in infos for a in ("--port", i.port or "")], "--server-host", "10.0.2.2",
                     "--scenario", "join",
                     "--scenario", "call-cycles-clean", "--scenario", "power-cut", "--cycles", "3", sim_dir=root)
        assert p.returncode == 0, p.stderr[-3000:]
        result = json.loads((out / "r.json").read_text())
        assert [d["kind"] for d in result["devices"]] == ["board", "board"]
        by = {s["name"]: s for s in result["scenarios"]}
        assert by["call-cycles-clean"]["passed"] and not by["call-cycles-clean"].get("skipped")
        assert by["power-cut"]["skipped"] == "needs virtual devkits (power control)"
        skipped = [c for c in ET.parse(out / "r.xml").getroot().iter("testcase") if c.find("skipped") is not None]
        assert [c.get("name") for c in skipped] == ["power-cut"]
        # the boards keep their call settings: `edgecall device call` shows the service
        env = dict(os.environ, PYTHONPATH=str(ROOT), EDGECALL_SIM_DIR=str(root))
        dev = [sys.executable, "-m", "host_tools", "device", "call", "--port", infos[0].port or ""]
        st = subprocess.run([*dev, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert st.returncode == 0 and json.loads(st.stdout)["service"] == "running", st.stderr
        bad = subprocess.run([*dev, "invite"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "callee's uid" in bad.stderr
    finally:
        manager.stop_all(root)
