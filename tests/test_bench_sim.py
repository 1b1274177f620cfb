"""`edgecall bench sim --quick`: both kinds of devkit measured in one run, with the ratios."""
from __future__ import annotations

import json
import subprocess

from host_tools.paths import ROOT


def test_bench_sim_quick_measures_both_kinds() -> None:
    proc = subprocess.run([str(ROOT / "edgecall"), "bench", "sim", "--quick", "--json"], capture_output=True,
                          text=True, timeout=900, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema"] == 2 and out["counts"] == [1, 4]
    for kind in ("arm", "wasm"):
        for count in (1, 4):
            r = out[kind][f"devices_{count}"]
            assert 0 < r["boot_to_repl_s_median"] < 60
            assert 1 < r["rss_mib_per_device"] < 1024
            assert 0 <= r["idle_cpu_percent_per_device"] < 100
    # An ARM devkit is QEMU (one process, a 4 MiB machine), far smaller than Node with a wasm heap.
    assert out["arm_over_wasm"]["devices_1"]["rss_mib_per_device"] < 1
    assert (proc.returncode == 0) == out["boot_target_met"]
