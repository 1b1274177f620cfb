"""MicroPython's own test runner (`tests/run-tests.py` of the pinned source tree) against a device's
serial port, as MicroPython's developers run it against a board (`-t port:PATH`): each test is
sent over the raw REPL after a soft reset and its output compared with CPython's or the `.exp`
file. Used as the judge of an ARM devkit's fidelity by tests/test_devkit_arm.py (a subset) and by
`edgecall bench sim --micropython-suite` (the whole default suite).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

from host_tools.native import micropython

SUMMARY = re.compile(r"^(\d+) tests (performed|passed|failed|skipped)", re.M)


@dataclass
class Result:
    performed: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    returncode: int = 0
    tail: str = ""

    def add(self, other: Result) -> None:
        self.performed += other.performed
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.failures += other.failures
        self.seconds += other.seconds
        self.returncode = self.returncode or other.returncode
        self.tail = other.tail if other.returncode else self.tail or other.tail

    def as_dict(self) -> dict[str, object]:
        return {"performed": self.performed, "passed": self.passed, "failed": self.failed,
                "skipped": self.skipped, "failures": self.failures, "seconds": round(self.seconds, 1)}


def run(port: str, selection: list[str], baud: int = 921600, timeout: float = 3600) -> Result:
    """Runs run-tests.py on `selection` (its arguments: `-d DIR ...` or test files relative to
    MicroPython's tests/ folder; empty: the default suite) against `port`."""
    tests = micropython.source() / "tests"
    cmd = [sys.executable, "run-tests.py", "-t", f"port:{port}", "-b", str(baud), *selection]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tests)
    out = Result(seconds=time.monotonic() - t0, returncode=proc.returncode,
                 tail=(proc.stdout + proc.stderr)[-2000:])
    for m in SUMMARY.finditer(proc.stdout):
        setattr(out, m.group(2), int(m.group(1)))
    out.failures = [line.split(None, 1)[1].strip() for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    if out.performed == 0 and proc.returncode != 0:
        out.failed = max(out.failed, 1)  # the runner itself failed (no device, no raw REPL)
    return out
