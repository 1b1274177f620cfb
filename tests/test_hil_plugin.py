"""The pytest plugin as a user meets it: a test project of its own, with no conftest, run by
pytest in a subprocess; the plugin comes from the installed package's pytest11 entry point."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host_tools.paths import ROOT

pytestmark = pytest.mark.slow

USER_TESTS = '''
import pytest
from host_tools.hil import calls


def test_one_device_answers(dut):
    info = dut.info()
    assert info["backend"] == "devkit"
    assert dut.call_status()["state"] == "joined"


def test_a_call_between_the_pair(dut_pair, channel_server):
    a, b = dut_pair
    assert channel_server.profile == "clean"
    r = calls.call(a, b, hold_s=1.0)
    assert r.ok, r.error
    assert r.stats[b.id]["rx"]["played"] > 0


@pytest.mark.impairment("lossy-30")
def test_impairment_mark_reaches_the_relay(dut_pair, channel_server):
    a, b = dut_pair
    assert channel_server.profile == "lossy-30"
    r = calls.call(a, b, hold_s=2.0)
    assert r.ok, r.error
    rx = r.stats[b.id]["rx"]
    assert rx["lost"] + rx["recovered_red"] + rx["recovered_fec"] + rx["nack_recovered"] > 0


def test_this_one_fails_on_purpose(dut):
    assert dut.info()["version"] == "no-such-version"
'''


def test_entry_point_is_registered() -> None:
    eps = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "edgecall"]
    assert eps and eps[0].value == "host_tools.hil.pytest_plugin"


def test_user_project_with_fixtures_and_marks(tmp_path: Path, testdata: Path) -> None:
    (tmp_path / "test_my_device.py").write_text(USER_TESTS)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("EDGECALL_SIM_DIR", None)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    assert "1 failed, 3 passed" in out, out[-4000:]
    assert "no-such-version" in out
    help_text = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60).stdout
    assert "--port=P" in help_text and "EdgeCall hardware-in-the-loop" in help_text
