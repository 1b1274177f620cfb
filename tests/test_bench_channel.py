"""`edgecall bench channel --quick --json`: the join latency with and without the join flood and
the relay's drops under the 10,000-datagram spoof run, through the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from host_tools.paths import ROOT


def test_quick_bench_reports_flood_latency_and_spoof_drops() -> None:
    p = subprocess.run([sys.executable, "-m", "host_tools", "bench", "channel", "--json", "--quick"], cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["bench"] == "channel" and r["ok"] and r["goal_met"] and r["spoof_all_dropped"]
    flood, calm = r["join"]["flood"], r["join"]["no_flood"]
    assert flood["samples"] == calm["samples"] == 5 and 0 < flood["median_ms"] < r["goal_ms"]
    assert r["flood"]["connections"] == 4 and r["flood"]["joins_each"] == 3
    assert r["flood"]["token_chars"] < 8192 and r["flood"]["inflates_to_bytes"] > 1_000_000
    assert sum(r["flood"]["refused"].values()) == 5 * 4 * 3  # every flood join refused
    assert r["spoof"] == {**r["spoof"], "sent": 10_000, "dropped": 10_000, "reached_attacker": 0}
    assert r["spoof"]["victim_media"]["received"] == r["spoof"]["victim_media"]["sent_by_peer"] > 0
    assert r["internal_errors"] == 0
