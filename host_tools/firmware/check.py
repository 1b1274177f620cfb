"""Type-checks the firmware and the real-board hal backend against MicroPython's stubs for the
RP2040 (Pico W) and STM32 ports (PyPI micropython-*-stubs, installed into build/stubs/<port>),
with mypy --check-untyped-defs. Only errors in the project's own files count: the stub packages
carry a few errors of their own that mypy reports too."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from host_tools.paths import BUILD, ROOT

STUBS = {
    "rp2": "micropython-rp2-rpi-pico-w-stubs==1.29.0.post1",
    "stm32": "micropython-stm32-stubs==1.29.0.post1",
}
CHECKED = ["hal/__init__.py", "hal/storage.py", "hal/boot.py", "hal/boards.py", "hal/board", "hal/emu",
           "firmware/edgecall", "firmware/main.py", "firmware/boot.py"]


def stubs_dir(port: str) -> Path:
    """Installs the port's stubs once (pip --target) and returns the folder."""
    d = BUILD / "stubs" / port
    stamp = d / ".requirement"
    if stamp.exists() and stamp.read_text() == STUBS[port]:
        return d
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--upgrade", "--target", str(d), STUBS[port], _stdlib_stubs()], check=True, timeout=600)
    stamp.write_text(STUBS[port])
    return d


def _stdlib_stubs() -> str:
    return "micropython-stdlib-stubs==1.29.0.post2"


def typecheck(port: str) -> list[str]:
    """mypy's errors in project files for one port ([] when clean)."""
    d = stubs_dir(port)
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(d), str(ROOT / "hal" / "stubs"), str(ROOT / "firmware"), str(ROOT)]))
    cmd = [sys.executable, "-m", "mypy", "--python-version", "3.11", "--check-untyped-defs", "--no-error-summary",
           "--custom-typeshed-dir", str(d), "--no-site-packages", "--cache-dir", str(BUILD / "mypy-cache" / port),
           "--follow-imports=silent", *CHECKED]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    ours = ("hal/", "firmware/")
    return [ln for ln in p.stdout.splitlines() if ln.startswith(ours) and ": error:" in ln]
