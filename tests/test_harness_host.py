"""The C harness on the host, under ASan and UBSan: every vector's digest is the independently
computed one (the ITU reference files where they exist), and every API error path is clean."""
from __future__ import annotations

from pathlib import Path

import pytest

from host_tools.native import host
from tests.vector_digests import expected, result_lines


@pytest.fixture(scope="module")
def harness() -> Path:
    return host.build_harness("vectors", sanitize=True)


def test_vectors_match_references(harness: Path, testdata: Path) -> None:
    code, out = host.run_harness(harness, "vectors ../shared/testdata")
    assert code == 0, out
    assert result_lines(out) == expected(testdata)


def test_error_paths(harness: Path) -> None:
    code, out = host.run_harness(harness, "errors")
    assert code == 0, out
    (line,) = result_lines(out)
    assert line.startswith("errors ") and line.endswith(" ok")
    assert int(line.split()[1]) >= 30


def test_missing_data_is_reported(harness: Path, tmp_path: Path) -> None:
    code, out = host.run_harness(harness, f"vectors {tmp_path}")
    assert code == 1
    assert "FAIL" in out and "sweep.src" in out
