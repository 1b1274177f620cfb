"""The guest instruction counter of an ARM devkit: the QEMU TCG plugin host_tools/bench/insn_count.c,
built here into build/bench/, and its samples read back.

The plugin appends "<instructions> <CLOCK_MONOTONIC ns>" lines to a file in the device folder every
PERIOD_MS; `Samples.at(t)` gives the count at any moment t of this process's time.monotonic_ns()
(the same clock), interpolated between the two samples around it.
"""
from __future__ import annotations

import bisect
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from host_tools.paths import BUILD

SOURCE = Path(__file__).with_name("insn_count.c")
LIBRARY = BUILD / "bench" / "libinsn_count.so"
OUT_FILE = "insns.log"  # in the device folder (QEMU's working directory)
PERIOD_MS = 20
CFLAGS = ["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
          "-pthread", "-fvisibility=hidden"]


class CounterError(RuntimeError):
    """The plugin did not build, or its samples do not cover the moment asked for."""


def build() -> Path:
    """The plugin's shared library, (re)built when the source is newer."""
    if LIBRARY.is_file() and LIBRARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return LIBRARY
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise CounterError("no C compiler (cc) to build the instruction-counting QEMU plugin")
    LIBRARY.parent.mkdir(parents=True, exist_ok=True)
    tmp = LIBRARY.with_suffix(".tmp.so")
    proc = subprocess.run([cc, *CFLAGS, str(SOURCE), "-o", str(tmp)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise CounterError(f"the instruction-counting QEMU plugin did not build:\n{proc.stderr}")
    tmp.replace(LIBRARY)
    return LIBRARY


def plugin_argument(period_ms: int = PERIOD_MS) -> str:
    """QEMU's -plugin argument: the library, its output file (relative: the device folder)."""
    lib = str(build())
    if "," in lib:
        raise CounterError(f"{lib}: QEMU's -plugin option cannot take a path with a comma")
    return f"{lib},out={OUT_FILE},period_ms={period_ms}"


@dataclass(frozen=True)
class Samples:
    """One device's (monotonic ns, instructions) samples, in time order."""

    times_ns: list[int]
    counts: list[int]

    @staticmethod
    def read(device_dir: Path) -> Samples:
        """The samples written so far; a half-written last line is left out. The count restarts
        from 0 when QEMU does (a reset): only the samples of the last boot are kept."""
        try:
            text = (device_dir / OUT_FILE).read_text()
        except FileNotFoundError as e:
            raise CounterError(f"{device_dir / OUT_FILE}: no samples (was the devkit started with the plugin?)") from e
        times: list[int] = []
        counts: list[int] = []
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            fields = line.split()
            if len(fields) != 2 or not all(f.isdigit() for f in fields):
                raise CounterError(f"{device_dir / OUT_FILE}: bad sample line {line!r}")
            n, t = int(fields[0]), int(fields[1])
            if counts and n < counts[-1]:  # a new QEMU process: a reset
                times, counts = [], []
            times.append(t)
            counts.append(n)
        return Samples(times, counts)

    @staticmethod
    def read_until(device_dir: Path, t_ns: int, timeout: float = 2.0) -> Samples:
        """The samples once they reach past monotonic time t_ns (the plugin writes every PERIOD_MS)."""
        deadline = time.monotonic() + timeout
        while True:
            s = Samples.read(device_dir)
            if s.times_ns and s.times_ns[-1] >= t_ns:
                return s
            if time.monotonic() > deadline:
                raise CounterError(f"{device_dir / OUT_FILE}: no sample after t={t_ns} ns within {timeout} s "
                                   "(is the devkit's QEMU running?)")
            time.sleep(PERIOD_MS / 1000)

    def at(self, t_ns: int) -> float:
        """Instructions run up to monotonic time t_ns (interpolated)."""
        if len(self.times_ns) < 2 or not self.times_ns[0] <= t_ns <= self.times_ns[-1]:
            span = f"{self.times_ns[0]}..{self.times_ns[-1]}" if self.times_ns else "none"
            raise CounterError(f"no instruction samples around t={t_ns} ns (samples cover {span})")
        i = bisect.bisect_left(self.times_ns, t_ns)
        if self.times_ns[i] == t_ns:
            return float(self.counts[i])
        t0, t1 = self.times_ns[i - 1], self.times_ns[i]
        c0, c1 = self.counts[i - 1], self.counts[i]
        return c0 + (c1 - c0) * (t_ns - t0) / (t1 - t0)
