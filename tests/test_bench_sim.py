"""`edgecall bench sim --quick`: devkits' boot, memory and idle CPU; devkits in calls (instructions per frame, devkits holding calls in real time); the instruction
counter (QEMU plugin) and the -icount option behind them."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from host_tools.bench import insncount
from host_tools.deploy.raw_repl import RawRepl
from host_tools.paths import ROOT
from host_tools.sim import manager, qemu, state
from tests.devkits import sim_dir


def test_bench_sim_quick_measures_devkits_and_their_calls() -> None:
    proc = subprocess.run([str(ROOT / "edgecall"), "bench", "sim", "--quick", "--json"], capture_output=True,
                          text=True, timeout=1500, cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema"] == 4 and out["counts"] == [1, 4]
    for count in (1, 4):
        r = out["devkit"][f"devices_{count}"]
        assert 0 < r["boot_to_repl_s_median"] < 60
        assert 1 < r["rss_mib_per_device"] < 1024
        assert 0 <= r["idle_cpu_percent_per_device"] < 100

    # Instructions per 20 ms frame of the whole device: a call costs more than idling, Opus more
    # than G.722, and every figure is the mean of the pair's two devices.
    insns = out["instructions_per_frame"]
    assert "error" not in insns, insns
    assert insns["icount_shift"] == 0
    idle = insns["idle"]["instructions_per_frame"]
    g722 = insns["in_call"]["g722"]["instructions_per_frame"]
    opus = insns["in_call"]["opus"]["instructions_per_frame"]
    assert 0 < idle < g722 < opus < 20_000_000, insns
    for entry in (insns["idle"], *insns["in_call"].values()):
        per_device = [d["instructions_per_frame"] for d in entry["devices"]]
        assert len(per_device) == 2 and abs(entry["instructions_per_frame"] - sum(per_device) / 2) <= 1
        for d in entry["devices"]:
            assert 0.5 < d["device_clock_rate"] <= 1.05 and d["instructions"] > 0
    for d in insns["in_call"]["g722"]["devices"]:
        assert d["call"]["mic_overruns"] == 0 and d["call"]["packets_sent"] > 0

    # One pair in a call holds real time; --quick stops there, so the run is 14 devkits short of
    # the goal and says so.
    calls = out["calls_real_time"]
    assert calls["goal"] == 16 and not calls["goal_met"]
    (step,) = calls["steps"]
    assert step["devkits"] == 2 and step["calls_set_up"] == 1
    assert step["real_time"], json.dumps({k: step.get(k) for k in ("devices", "machine_busy_pct", "first_attempt")})
    assert step["mic_overruns"] == 0 and step["concealed_pct_max"] < 1.0
    assert [d["device"] for d in step["devices"]] == ["d0", "d1"] and all(d["in_call"] for d in step["devices"])
    assert all(0.5 < d["device_clock_rate"] <= 1.05 for d in step["devices"])
    assert calls["devkits_real_time"] == 2 and calls["short_of_goal"] == 14
    assert proc.returncode == 1
    assert "2 ARM devkits held calls in real time" in proc.stderr and "14 short" in proc.stderr


def test_the_instruction_counter_agrees_with_the_icount_clock(tmp_path: Path) -> None:
    """Under -icount shift=0 a CPU that never sleeps advances its clock 1 ns per instruction: a busy
    loop of 500 ms on the devkit's clock is 5e8 instructions counted by the plugin (the raw REPL's
    own work around it adds about 1 %)."""
    with sim_dir(tmp_path):
        (dev,) = manager.start(ids=["ic"], root=tmp_path, blank=True, baud=921600,
                               icount_shift=0, qemu_plugin=insncount.plugin_argument())
        assert "-icount" in Path(f"/proc/{_qemu_pid(tmp_path / 'ic')}/cmdline").read_bytes().decode()
        with RawRepl(dev.port or "", timeout=60) as repl:
            repl.exec("import time")
            t0 = time.monotonic_ns()
            busy_us = int(repl.exec("t = time.ticks_us()\n"
                                    "while time.ticks_diff(time.ticks_us(), t) < 500000:\n    pass\n"
                                    "print(time.ticks_diff(time.ticks_us(), t))"))
            t1 = time.monotonic_ns()
        samples = insncount.Samples.read_until(tmp_path / "ic", t1)
        counted = samples.at(t1) - samples.at(t0)
    assert 500_000 <= busy_us < 501_000
    assert busy_us * 1000 <= counted < busy_us * 1000 * 1.04, (counted, busy_us)


def _qemu_pid(device_dir: Path) -> int:
    pid = state.DeviceDir(device_dir.name, device_dir.parent).read().cpu_pid
    assert pid
    return pid


def test_the_plugin_refuses_unknown_arguments() -> None:
    proc = subprocess.run([qemu.binary(), "-M", qemu.MACHINE, "-display", "none", "-plugin",
                           f"{insncount.build()},out=x.log,colour=blue", "-kernel", "/nonexistent"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "unknown argument colour=blue" in proc.stderr
    proc = subprocess.run([qemu.binary(), "-M", qemu.MACHINE, "-display", "none", "-plugin",
                           f"{insncount.build()},out=x.log,period_ms=0", "-kernel", "/nonexistent"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "period_ms must be" in proc.stderr


def test_icount_shift_is_checked(tmp_path: Path) -> None:
    with pytest.raises(manager.SimError, match="icount shift must be 0..10") as e:
        manager.start(ids=["a"], root=tmp_path, icount_shift=11)
    assert e.value.exit_code == 2
    assert not (tmp_path / "a").exists()
    cmd = qemu.command(Path("fw.bin"), "u", 1, 3, icount_shift=0, plugin="p.so,out=f")
    assert cmd[-4:] == ["-icount", "shift=0", "-plugin", "p.so,out=f"]
    assert "-icount" not in qemu.command(Path("fw.bin"), "u", 1, 3) and "-plugin" not in qemu.command(Path("fw.bin"), "u", 1, 3)


def test_samples_interpolate_and_follow_a_reset(tmp_path: Path) -> None:
    log = tmp_path / insncount.OUT_FILE
    # first boot, then a reset (the count starts again), then a line still being written
    log.write_text("0 1000\n500 2000\n900 3000\n10 4000\n110 5000\n310 6000\n99")
    s = insncount.Samples.read(tmp_path)
    assert s.times_ns == [4000, 5000, 6000] and s.counts == [10, 110, 310]
    assert s.at(5000) == 110 and s.at(5500) == 210 and s.at(4250) == 35
    with pytest.raises(insncount.CounterError, match="no instruction samples around t=3999"):
        s.at(3999)
    with pytest.raises(insncount.CounterError, match="no sample after"):
        insncount.Samples.read_until(tmp_path, 7000, timeout=0.1)
    log.write_text("12 34 56\n")
    with pytest.raises(insncount.CounterError, match="bad sample line"):
        insncount.Samples.read(tmp_path)
    log.unlink()
    with pytest.raises(insncount.CounterError, match="no samples"):
        insncount.Samples.read(tmp_path)
