"""libFuzzer targets of every parser of the media network stack (tests/fuzz/*.c: RTP, RTCP, RED,
FEC, and the receiver's whole packet path), built with clang -fsanitize=fuzzer,address,undefined
and run for a short, deterministic session each (100,000 executions — 10,000 for the receive path —
from seed corpora of valid packets). `edgecall bench netstack --fuzz` runs each for 1,000,000 (host_tools/bench/netstack.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from host_tools.bench import netstack

RUNS = {"media_rx": 10_000}  # the whole receive path, decoding included, is slower per run
DEFAULT_RUNS = 100_000

@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return netstack.write_seeds(tmp_path_factory.mktemp("seeds"))


@pytest.mark.parametrize("name", netstack.FUZZERS)
def test_fuzzer_short_run(name: str, seeds: dict[str, Path], tmp_path: Path) -> None:
    runs = RUNS.get(name, DEFAULT_RUNS)
    res = netstack.run_fuzzer(name, runs, tmp_path, seeds[name], timeout=300)
    assert res["crashes"] == 0, res.get("log", "")
    assert res["executions"] >= runs
    assert res.get("coverage_edges", 0) > 20
