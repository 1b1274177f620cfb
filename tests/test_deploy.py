"""`edgecall deploy`: the firmware app copied to a blank virtual devkit over the raw REPL — a first
run writes and verifies every file, a second writes nothing, a file changed on the device is the
only one rewritten, and after a reset the deployed firmware answers `edgecall device info`."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.devkits import devkits
from host_tools.deploy.raw_repl import RawRepl
from host_tools.device.resolve import resolve
from host_tools.firmware import build
from host_tools.paths import ROOT

DEVICE = "deploy1"


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with devkits(tmp_path_factory.mktemp("sim"), [DEVICE], firmware=False) as root:
        yield root


def edgecall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "host_tools", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def deploy(*args: str) -> dict[str, Any]:
    p = edgecall("deploy", *args)
    assert p.returncode == 0, p.stdout + p.stderr
    out: dict[str, Any] = json.loads(p.stdout)
    return out


def test_deploy_skip_rewrite_and_run(sim_root: Path) -> None:
    files = build.files("devkit")
    first = deploy("--device", DEVICE, "--json")
    assert first["ok"] and first["variant"] == "devkit"
    by_path = {f["path"]: f for f in first["files"]}
    assert set(by_path) == set(files)
    for name, data in files.items():
        f = by_path[name]
        assert f["status"] == "written" and f["verified"], f
        assert f["device_sha256"] == f["sha256"] == hashlib.sha256(data).hexdigest()
    t = first["totals"]
    assert t["written"] == len(files) and t["unchanged"] == 0 and t["verified"] == len(files)
    assert t["bytes_written"] == sum(map(len, files.values())) and t["throughput_bytes_per_s"] > 0

    second = deploy("--device", DEVICE, "--json")
    assert second["totals"]["written"] == 0 and second["totals"]["unchanged"] == len(files)
    assert second["totals"]["bytes_written"] == 0

    with RawRepl(resolve(None, DEVICE).port) as repl:
        root = repl.eval("__import__('os').getcwd()")
        repl.exec(f"f = open({root + '/edgecall/version.mpy'!r}, 'wb')\nf.write(b'corrupt')\nf.close()")
    third = deploy("--device", DEVICE, "--json")
    written = [f["path"] for f in third["files"] if f["status"] == "written"]
    assert written == ["edgecall/version.mpy"] and third["ok"]
    assert third["totals"]["unchanged"] == len(files) - 1
    assert third["totals"]["bytes_written"] == len(files["edgecall/version.mpy"])

    with RawRepl(resolve(None, DEVICE).port) as repl:
        repl.reset()  # machine.reset(): the supervisor starts a new node, which runs main.py
    deadline = time.monotonic() + 30
    while True:
        p = edgecall("device", "info", "--device", DEVICE, "--json", "--timeout", "3")
        if p.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert p.returncode == 0, p.stdout + p.stderr
    info = json.loads(p.stdout)
    assert info["version"] == json.loads(files["manifest.json"])["version"] and info["backend"] == "devkit"
