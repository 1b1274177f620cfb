"""`edgecall bench farm`, small (2 hosts × 2 devkits, one round, `join`): the JSON has a step per
host count with growing lanes, a positive throughput, the scheduling overheads, the warm-up set-up
cost and the direct peer with its ratio, all from the same run. The full sweep runs only in
`./edgecall bench farm`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from host_tools.paths import ROOT

pytestmark = pytest.mark.slow


def test_small_farm_bench_reports_steps_overheads_and_the_peer() -> None:
    if os.geteuid() != 0:
        pytest.skip("bench farm needs root: the farm's hosts are network namespaces")
    r = subprocess.run([sys.executable, "-m", "host_tools", "bench", "farm", "--hosts", "2", "--per-host", "2",
                        "--rounds", "1", "--scenario", "join", "--json"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr[-5000:]
    out = json.loads(r.stdout)
    assert out["schema"] == 1 and out["bench"] == "farm" and out["all_passed"]
    assert out["cores"] == os.cpu_count() and str(out["cores"]) in out["note"] and out["method"]
    steps = out["steps"]
    assert [s["hosts"] for s in steps] == [1, 2]
    assert [s["places"] for s in steps] == [2, 4] and [s["lanes"] for s in steps] == [1, 2]
    for s in steps:
        assert s["scenarios"] == s["lanes"]  # one `join` per lane
        assert s["throughput_per_min"] > 0 and s["wall_s"] > 0
        for k in ("labgrid_s_per_scenario", "lane_overhead_s_per_scenario", "acquire_s", "release_s",
                  "reserve_to_allocated_s", "lane_setup_s"):
            assert s[k] is not None and s[k] >= 0, (k, s)
        assert s["labgrid_calls"] > 0
        assert len(s["rounds"]) == 1
        assert s["throughput_per_min"] == pytest.approx(s["rounds"][0]["throughput_per_min"])
        assert s["speedup"] == pytest.approx(s["throughput_per_min"] / steps[0]["throughput_per_min"], abs=1e-3)
    assert steps[0]["speedup"] == 1.0
    # warm-up per added host: its lanes with fresh devkits carry the flash
    assert [w["hosts"] for w in out["warmup"]] == [1, 2]
    assert any(ln["fresh"] and ln["setup_s"] > 0 for w in out["warmup"] for ln in w["lanes"])
    peer = out["peer"]
    assert len(peer["places"]) == 2 and all(u.startswith("rfc2217://") for u in peer["urls"])
    fw, dw = peer["farm_one_lane"]["wall_s"], peer["direct"]["wall_s"]
    assert fw > 0 and dw > 0 and peer["overhead_ratio"] == pytest.approx(fw / dw, abs=1e-3)
    assert peer["direct"]["scenarios"] == 1 and peer["direct"]["lane_setup_s"] > 0
