"""The netstack harness (tests/c/netstack.c) gives the same output on every target: the host
build (gcc, ASan + UBSan), Cortex-M0 (QEMU microbit, 16 KB RAM), Cortex-M3 (mps2-an385),
Cortex-M4 (mps2-an386) and wasm32 (Node). Each line digests a trace-driven scenario — loss,
bursts, jitter, reordering, duplication, sequence and timestamp wrap, timestamp jump, SSRC change,
RED, FEC, NACK, adaptation — down to every output sample and every packet, so an identical line
means identical behaviour. The bench command prints instructions per 20 ms frame on Cortex-M."""
from __future__ import annotations

import re

import pytest

from tests import targets
from tests.targets import CPU, TARGETS

SCENARIOS = ["pcmu-clean-fixed", "pcma-loss10-jitter40", "g722-ge-red", "dvi4-fec4-jitter", "g722-nack",
             "g722-adapt", "pcmu-dup-reorder-wrap", "pcma-tsjump-ssrc", "malformed"]
LINE = re.compile(r"^(\S+) ((?:\w+=-?\w+ ?)+)$")


def run_on(target: str, cmdline: str) -> tuple[int, str]:
    return targets.run_on(target, "netstack", cmdline)


@pytest.fixture(scope="module")
def host_lines() -> list[str]:
    code, out = run_on("host", "scenarios")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "# netstack harness on host"
    return lines[1:]


def fields(line: str) -> tuple[str, dict[str, str]]:
    m = LINE.match(line)
    assert m, line
    return m.group(1), dict(kv.split("=") for kv in m.group(2).split())


def test_host_scenarios(host_lines: list[str]) -> None:
    """Under ASan/UBSan, every scenario runs and does what it is there for."""
    assert not [ln for ln in host_lines if ln.startswith("FAIL")]
    got = dict(fields(ln) for ln in host_lines)
    assert list(got) == SCENARIOS
    num = {name: {k: int(v) for k, v in f.items() if k not in ("pcm", "net", "digest")} for name, f in got.items()}
    assert num["pcmu-clean-fixed"]["lost"] == 0 and num["pcmu-clean-fixed"]["late"] == 0
    assert num["g722-ge-red"]["rec"] > 0 and num["dvi4-fec4-jitter"]["rec"] > 0
    assert num["g722-nack"]["nack"] > 0
    assert num["pcmu-dup-reorder-wrap"]["lost"] < 0  # duplicates count as received (RFC 3550 A.3)
    assert num["malformed"]["bad"] > 0 and num["malformed"]["media"] > 0


@pytest.mark.parametrize("target", TARGETS)
def test_scenarios_identical_to_host(target: str, host_lines: list[str]) -> None:
    code, out = run_on(target, "scenarios")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == f"# netstack harness on {CPU[target]}"
    assert lines[1:] == host_lines


def test_bench_counts_instructions_on_cortex_m4() -> None:
    code, out = run_on("mps2-an386", "bench")
    assert code == 0, out
    rows = {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^bench (\S+) frames=\d+ mean=(\d+) max=(\d+)$", out, re.M)}
    assert set(rows) == {"g722-send", "g722-receive", "pcmu-send", "pcmu-receive"}
    for mean, worst in rows.values():
        assert 0 < mean <= worst
    assert rows["g722-receive"][0] > rows["pcmu-receive"][0]
