"""The tio port on every target: host, Cortex-M0/M3/M4 under QEMU (PlatformIO builds) and wasm32.

tests/c/tio_selftest.c reads a test-data file through the port and prints its length and FNV-1a
digest; each target's output must equal the host build's (gcc with ASan/UBSan, same sources) and
the digest Python computes (the host build is host_tools.native.host.build_harness). The exit status must come back through QEMU and Node, and on QEMU
the SysTick instruction counter must measure a loop of 2,000,000 instructions to one tick.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from host_tools.native import cortexm, host, wasm
from host_tools.paths import ROOT

QEMU_ENVS = list(cortexm.MACHINES)
TARGETS = ["host", *QEMU_ENVS, "wasm32"]
DATA_FILE = "speech/or105.wav"  # 134,484 bytes: many full reads and a short one
TESTS_C = ROOT / "tests" / "c"

Runner = Callable[[str], tuple[int, str]]


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def _runner(target: str) -> Runner:
    if target == "host":
        exe = host.build_harness("tio_selftest", sanitize=True)
        return lambda cmdline: host.run_harness(exe, cmdline, timeout=60)
    if target == "wasm32":
        module = wasm.build_harness("tio_selftest")
        return lambda cmdline: wasm.run_harness(module, cmdline, timeout=60)
    elf = cortexm.build(target, "tio_selftest")
    machine = cortexm.MACHINES[target][0]
    return lambda cmdline: cortexm.run(elf, machine, cmdline, timeout=60)


@pytest.fixture(scope="module")
def runners() -> dict[str, Runner]:
    """Build each target once per module (lazily), keyed by target name."""
    return {}


def runner(runners: dict[str, Runner], target: str) -> Runner:
    if target not in runners:
        runners[target] = _runner(target)
    return runners[target]


@pytest.fixture(scope="module")
def data_path(testdata: Path) -> str:
    """The data file's path relative to the project root, as every target opens it."""
    return os.path.relpath(testdata / DATA_FILE, ROOT)


def portable_lines(out: str) -> list[str]:
    """The target-independent lines: "args ..." and "file ..."."""
    return [line for line in out.splitlines() if line.startswith(("args ", "file "))]


@pytest.mark.parametrize("target", TARGETS)
def test_selftest_output_matches_host(runners: dict[str, Runner], target: str, testdata: Path, data_path: str) -> None:
    status, out = runner(runners, target)(data_path)
    assert status == 0, out
    assert (
        out.splitlines()[0]
        == f"# tio_selftest on {cortexm.MACHINES[target][1] if target in cortexm.MACHINES else target}"
    )
    data = (testdata / DATA_FILE).read_bytes()
    expected = [f"args {data_path}", f"file {data_path} bytes={len(data)} fnv1a32={fnv1a32(data):08x}"]
    assert portable_lines(out) == expected
    if target != "host":
        assert portable_lines(out) == portable_lines(runner(runners, "host")(data_path)[1])


@pytest.mark.parametrize("target", TARGETS)
def test_exit_status_propagates(runners: dict[str, Runner], target: str, data_path: str) -> None:
    run = runner(runners, target)
    assert run(f"{data_path} 7")[0] == 7
    assert run(f"{data_path} 255")[0] == 255
    assert run("")[0] == 2  # usage error
    status, out = run("no/such/file")
    assert status == 3 and "error: cannot open no/such/file" in out


@pytest.mark.parametrize("env", QEMU_ENVS)
def test_instruction_counter_calibrates(runners: dict[str, Runner], env: str, data_path: str) -> None:
    status, out = runner(runners, env)(data_path)
    assert status == 0, out
    m = re.search(r"^calib expected=(\d+) measured=(\d+) empty=(\d+)$", out, re.MULTILINE)
    assert m, out
    expected, measured, empty = map(int, m.groups())
    tick = math.ceil(cortexm.INSTRUCTIONS_PER_TICK[env])
    assert expected == 2_000_000
    assert abs(measured - expected) <= tick, f"{env}: {measured} instructions for a {expected}-instruction loop"
    assert empty <= tick, f"{env}: two back-to-back readings differ by {empty}"
