"""`edgecall bench hil --quick`: real devkits in simultaneous calls; the JSON has every step's
figures and the answer (the largest count that stayed real-time). The full sweep runs only in
`./edgecall bench hil`."""
from __future__ import annotations

import json

import pytest

from host_tools.bench import hil

pytestmark = pytest.mark.slow


def test_quick_sweep_reports_steps_and_the_answer(capsys: pytest.CaptureFixture[str], testdata: object) -> None:
    assert hil.run(json_out=True, quick=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and out["late_limit_pct"] == 1.0
    assert [s["devices"] for s in out["steps"]][:1] == [2]
    for s in out["steps"]:
        assert s["calls"] == s["devices"] // 2
        assert s["packets_received"] > 0 and s["cpu_per_device_pct"] > 0
        assert s["ok"] == (s["calls_set_up"] == s["calls"] and s["late_pct"] < 1.0 and s["concealed_pct"] < 1.0
                           and s["mic_overruns"] == 0)
        assert 40 <= s["packets_per_device_s"] <= 55  # G.722 or Opus at 20 ms: 50 per second
    assert out["max_devices_in_calls"] == max([s["devices"] for s in out["steps"] if s["ok"]], default=0)
