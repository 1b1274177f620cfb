"""Installs the virtual devkit's Node dependencies (`npm ci` in host_tools/sim/vdk)."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

VDK = Path(__file__).resolve().parent / "vdk"
LOCK = VDK / "package-lock.json"
MODULES = VDK / "node_modules"
STAMP = MODULES / ".edgecall-lock-sha256"
NPM_TIMEOUT = 600


def _lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def ensure_node_modules(force: bool = False) -> Path:
    """Runs `npm ci` when node_modules is missing or package-lock.json changed since the last run.

    Returns the node_modules folder. Raises RuntimeError (with npm's output) when npm fails.
    """
    digest = _lock_digest()
    if not force and STAMP.is_file() and STAMP.read_text().strip() == digest:
        return MODULES
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found: install Node.js 20 and npm (Debian: apt-get install nodejs npm)")
    proc = subprocess.run(
        [npm, "ci", "--prefix", str(VDK), "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=VDK, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm ci failed in {VDK}:\n{proc.stdout}{proc.stderr}")
    STAMP.write_text(digest + "\n")
    return MODULES
