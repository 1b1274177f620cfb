"""The same C harness on Cortex-M0/M3/M4 (QEMU) and wasm32 (Node) prints exactly the host's lines:
every codec vector bit-exact with the ITU references on every target, and the same error paths."""
from __future__ import annotations

from pathlib import Path

import pytest

from host_tools.native import host
from tests import targets
from tests.targets import CPU, TARGETS
from tests.vector_digests import expected, result_lines



def run_on(target: str, cmdline: str) -> tuple[int, str]:
    return targets.run_on(target, "vectors", cmdline)


@pytest.mark.parametrize("target", TARGETS)
def test_vectors_identical_to_host_and_references(target: str, testdata: Path) -> None:
    code, out = run_on(target, "vectors ../shared/testdata")
    assert code == 0, out
    assert out.splitlines()[0] == f"# native_codec harness on {CPU[target]}"
    lines = result_lines(out)
    assert lines == expected(testdata)
    _, host_out = host.run_harness(host.build_harness("vectors"), "vectors ../shared/testdata")
    assert lines == result_lines(host_out)


@pytest.mark.parametrize("target", TARGETS)
def test_error_paths_identical_to_host(target: str) -> None:
    code, out = run_on(target, "errors")
    _, host_out = host.run_harness(host.build_harness("vectors"), "errors")
    assert code == 0, out
    assert result_lines(out) == result_lines(host_out)
