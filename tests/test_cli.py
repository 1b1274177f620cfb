"""The command table: `build native` builds every target, `hil run` says it is not built yet,
usage errors exit 2 without echoing values."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from host_tools.paths import ROOT


def edgecall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "host_tools", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_build_native_all_targets() -> None:
    p = edgecall("build", "native", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) == {"host", "microbit", "mps2-an385", "mps2-an386", "wasm-vectors",
                        "natmod-armv6m", "natmod-armv7m", "natmod-armv7emsp"}
    assert all(Path(v).exists() for v in out.values())


def test_usage_errors() -> None:
    p = edgecall("frobnicate")
    assert p.returncode == 2
    p = edgecall("device", "info")
    assert p.returncode == 2 and "--port" in p.stderr
