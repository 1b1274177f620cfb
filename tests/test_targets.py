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


def test_wasm_library_needs_no_imports() -> None:
    """native_codec.wasm instantiates with no imports and its allocator hands out aligned memory."""
    module = wasm.build_library()
    node = shutil.which("node")
    assert node, "node not found (./edgecall installs nodejs)"
    script = """
const fs = require('fs');
const mod = new WebAssembly.Module(fs.readFileSync(process.argv[1]));
const imports = WebAssembly.Module.imports(mod);
if (imports.length) { console.log('imports', JSON.stringify(imports)); process.exit(1); }
const x = new WebAssembly.Instance(mod, {}).exports;
const heap = x.__heap_base.value;
const a = x.ec_wasm_alloc(10), b = x.ec_wasm_alloc(200000);
x.ec_wasm_reset();
const c = x.ec_wasm_alloc(1);
console.log(JSON.stringify({heap, a, b, c, pages: x.memory.buffer.byteLength / 65536}));
"""
    proc = subprocess.run([node, "-e", script, str(module)], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    r = json.loads(proc.stdout)
    assert r["a"] >= r["heap"] and r["a"] % 16 == 0
    assert r["b"] >= r["a"] + 10 and r["b"] % 16 == 0
    assert r["pages"] * 65536 >= r["b"] + 200000  # memory grew for the large block
    assert r["c"] == r["a"]  # reset starts over


def test_wasm_library_runs_the_g722_reference(testdata: Path) -> None:
    """The library module (what the virtual devkit loads) encodes inpsp.bin to codspw.cod and
    decodes it to outsp1/2/3.bin exactly, driven from JavaScript through its exports."""
    module = wasm.build_library()
    node = shutil.which("node")
    assert node, "node not found (./edgecall installs nodejs)"
    script = ROOT / "tests" / "wasm" / "g722_library.mjs"
    proc = subprocess.run([node, str(script), str(module), str(testdata)], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r == {"samples": r["samples"], "encode_equal": True, "decode_mode1_equal": True,
                 "decode_mode2_equal": True, "decode_mode3_equal": True}
    assert r["samples"] > 10000
