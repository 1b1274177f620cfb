"""`edgecall rollout`: staged firmware rollout over virtual devkits.

Real devkits (host_tools/sim, MCUboot-style bootloader), real signed images, a real SQLite ledger;
nothing of the rollout is mocked. Devkits start as a factory leaves them: a signed image in the
primary slot, which the application confirms itself. The faulty image is built from a copy of
the firmware's selftest.py with a board-specific bug (rev-B boards: setting hw/rev = "B"), swapped
into the image's firmware (host_tools.firmware.image.build_image(overrides=…)).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools import cli
from host_tools.firmware import build, image
from host_tools.paths import ROOT
from host_tools.rollout import health, ledger, waves
from host_tools.rollout.device import DeviceRef, Link
from host_tools.rollout.ledger import RolloutLedger
from host_tools.sim import manager
from tests.devkits import sim_dir

BAUD = 921600
FAULT = '''

def _board_rev():
    """The board revision the factory wrote (setting hw/rev)."""
    import hal

    v = hal.part("storage").get("hw/rev")
    return bytes(v) if v else b""
'''


# ---------------------------------------------------------------- unit: waves
def test_wave_split_cumulative() -> None:
    assert waves.parse("10,50,100") == [10, 50, 100]
    assert waves.sizes(20, [10, 50, 100]) == [2, 8, 10]
    assert waves.sizes(4, [50, 100]) == [2, 2]
    assert waves.sizes(3, [10, 50, 100]) == [1, 1, 1]  # at least one device per wave
    assert waves.sizes(7, [1, 100]) == [1, 6]
    assert waves.sizes(1, [100]) == [1]
    items = [f"d{i}" for i in range(20)]
    groups = waves.split(items, [10, 50, 100])
    assert [len(g) for g in groups] == [2, 8, 10] and sum(groups, []) == items


@pytest.mark.parametrize("text", ["", "10,,100", "10,50", "50,10,100", "0,100", "10,50,101", "a,100", "10,10,100",
                                  "-5,100"])
def test_bad_wave_lists(text: str) -> None:
    with pytest.raises(waves.WaveError):
        waves.parse(text)


def test_more_waves_than_devices() -> None:
    with pytest.raises(waves.WaveError, match="at least 3 devices"):
        waves.sizes(2, [10, 50, 100])


def test_health_names() -> None:
    assert health.parse("boot,selftest") == ["boot", "selftest"]
    with pytest.raises(health.HealthError):
        health.parse("join-the-party")


# ---------------------------------------------------------------- unit: ledger
def _new(db: RolloutLedger, names: list[str]) -> ledger.Rollout:
    devs = [ledger.NewDevice(n, i // 2, "aa" * 32, "1.0.0") for i, n in enumerate(names)]
    key = ledger.rollout_key("bb" * 32, names, [50, 100], ["boot"])
    return db.create(key, "/x.bin", "bb" * 32, "2.0.0", [50, 100], ["boot"], devs)


def test_ledger_transitions_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    db = RolloutLedger(path)
    r = _new(db, ["a", "b", "c", "d"])
    assert [d.state for d in db.devices(r.id)] == ["pending"] * 4
    db.transition(r.id, "a", ledger.FLASHING)
    db.transition(r.id, "a", ledger.TESTING, flashed=True)
    db.transition(r.id, "a", ledger.PASSED)
    db.transition(r.id, "a", ledger.CONFIRMED)
    with pytest.raises(ledger.LedgerError, match="not a rollout step"):
        db.transition(r.id, "b", ledger.CONFIRMED)  # pending -> confirmed skips the test boot
    with pytest.raises(ledger.LedgerError):
        db.transition(r.id, "a", ledger.FLASHING)  # confirmed is final in a running rollout
    db.transition(r.id, "b", ledger.FLASHING)
    db.transition(r.id, "b", ledger.FAILED, error="health selftest: mismatch")
    db.transition(r.id, "b", ledger.ROLLING_BACK)
    db.transition(r.id, "b", ledger.ROLLED_BACK, "back")
    db.close()
    # another process (a resumed run) sees every committed step
    db2 = RolloutLedger(path)
    rows = {d.name: d for d in db2.devices(r.id)}
    assert rows["a"].state == "confirmed" and rows["a"].flashes == 1
    assert rows["b"].state == "rolled-back" and rows["b"].error == "health selftest: mismatch"
    assert db2.latest(r.key) == db2.rollout(r.id)
    assert db2.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [e["state"] for e in db2.events(r.id) if e["device"] == "b"][-1] == "rolled-back"
    db2.close()


def test_resume_steps() -> None:
    step = ledger.next_step
    assert step(ledger.RUNNING, ledger.PENDING) == ledger.FLASH
    assert step(ledger.RUNNING, ledger.FLASHING) == ledger.INSPECT  # died mid-upload: look first
    assert step(ledger.RUNNING, ledger.TESTING) == ledger.INSPECT
    assert step(ledger.RUNNING, ledger.PASSED) == ledger.CONFIRM
    assert step(ledger.RUNNING, ledger.CONFIRMED) == ledger.SKIP
    assert step(ledger.HALTING, ledger.PASSED) == ledger.ROLLBACK
    assert step(ledger.HALTING, ledger.FAILED) == ledger.ROLLBACK
    assert step(ledger.HALTING, ledger.ROLLING_BACK) == ledger.ROLLBACK
    assert step(ledger.HALTING, ledger.PENDING) == ledger.SKIP  # never touched: left alone
    assert step(ledger.HALTED, ledger.FAILED) == ledger.SKIP


def test_rollout_key_is_the_command() -> None:
    k = ledger.rollout_key("h", ["a", "b"], [50, 100], ["boot"])
    assert k == ledger.rollout_key("h", ["a", "b"], [50, 100], ["boot"])
    assert k != ledger.rollout_key("h", ["b", "a"], [50, 100], ["boot"])
    assert k != ledger.rollout_key("h2", ["a", "b"], [50, 100], ["boot"])


# ---------------------------------------------------------------- devkits and images
@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("rollout-images")
    built = {v: Path(image.build_image(version=v, out=out / f"{v}.bin").path) for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}
    # 2.0.0: the G.722 encoder's output is wrong on rev-B boards (a board-specific bug)
    src = (build.FIRMWARE / "edgecall" / "selftest.py").read_text()
    good = '    d["g722-enc"] = _d(g)\n'
    assert good in src
    faulty = src.replace(good, '    if _board_rev() == b"B":\n        g = bytes([g[0] ^ 1]) + g[1:]\n' + good) + FAULT
    built["2.0.0-revb-bug"] = Path(image.build_image(version="2.0.0", out=out / "2.0.0.bin",
                                                     overrides={"edgecall/selftest.py": faulty.encode()}).path)
    return built


def image_hash(path: Path) -> str:
    from host_tools.firmware import mcuboot

    return mcuboot.parse(path.read_bytes()).hash.hex()


def start_fleet(root: Path, ids: list[str], base: Path) -> Link:
    """Devkits with `base` in their primary slot (started together), each answering, confirmed."""
    for i in ids:
        boot = root / i / "boot"
        boot.mkdir(parents=True, exist_ok=True)
        (boot / "slot0.bin").write_bytes(base.read_bytes())
    manager.start(ids=ids, root=root, baud=BAUD)
    link = Link(sim_root=root, baud=BAUD)
    for i in ids:
        cur = link.wait_running(DeviceRef(i), 30, confirmed=True)
        assert cur is not None and cur.confirmed, f"{i} did not come up confirmed"
    return link


def rollout(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["rollout", *args, "--json", "--baud", str(BAUD)])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def device_args(ids: list[str]) -> list[str]:
    return [a for i in ids for a in ("--device", i)]


def assert_on(link: Link, ids: list[str], version: str, img_hash: str, checks: list[str]) -> None:
    for i in ids:
        with link.console(DeviceRef(i)) as c:
            res = health.run(checks, c, health.Expect(version, img_hash, confirmed=True))
        assert res.ok, f"{i}: {res.reason()}"


def flashed(root: Path, device_id: str) -> bool:
    """The bootloader's secondary slot has been written (an upload happened)."""
    return (root / device_id / "boot" / "slot1.bin").exists()


def run_until(cmd: list[str], db: Path, when: Callable[[list[ledger.DeviceRow]], bool],
              act: Callable[[subprocess.Popen[bytes], list[ledger.DeviceRow]], object], timeout: float = 90) -> subprocess.Popen[bytes]:
    """Starts the rollout command; once the ledger satisfies when(rows), calls act(proc, rows)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if not db.exists():
            continue
        view = RolloutLedger(db)
        r = view.latest()
        seen = view.devices(r.id) if r else []
        view.close()
        if when(seen):
            act(proc, seen)
            break
    return proc


# ---------------------------------------------------------------- a small fleet
SMALL = ["sf0", "sf1", "sf2", "sf3"]


@pytest.fixture(scope="class")
def fleet(tmp_path_factory: pytest.TempPathFactory, images: dict[str, Path]) -> Iterator[tuple[Path, Link]]:
    """Four devkits on 1.0.0, shared by TestSmallFleet's tests in order (bad input, success, resume)."""
    root = tmp_path_factory.mktemp("sim-small")
    with sim_dir(root):
        yield root, start_fleet(root, SMALL, images["1.0.0"])


class TestSmallFleet:
    IDS = SMALL

    def test_bad_input_touches_nothing(self, fleet: tuple[Path, Link], images: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
        root, link = fleet
        db = tmp_path / "l.sqlite3"
        common = ["--waves", "50,100", "--health", "boot", "--ledger", str(db), "--sim-root", str(root)]
        code, out = rollout([str(images["1.1.0"]), *device_args(["sf0", "nope"]), *common], capsys)
        assert code == 2 and "nope" in out["message"]
        data = images["1.1.0"].read_bytes()
        cut = tmp_path / "truncated.bin"
        cut.write_bytes(data[: len(data) // 2])
        code, out = rollout([str(cut), *device_args(self.IDS), *common], capsys)
        assert code == 2 and "not a valid MCUboot image" in out["message"] and "truncated" in out["message"]
        bad = bytearray(data)
        bad[len(bad) // 2] ^= 0xFF
        corrupt = tmp_path / "corrupt.bin"
        corrupt.write_bytes(bytes(bad))
        code, out = rollout([str(corrupt), *device_args(self.IDS), *common], capsys)
        assert code == 2 and "corrupt" in out["message"]
        code, out = rollout([str(tmp_path / "missing.bin"), *device_args(self.IDS), *common], capsys)
        assert code == 2 and "no such image" in out["message"]
        for w in ("10,50", "50,10,100", "x", "10,20,30,40,100"):  # the last: 5 waves over 4 devices
            code, out = rollout([str(images["1.1.0"]), *device_args(self.IDS), "--waves", w,
                                 "--health", "boot", "--ledger", str(db), "--sim-root", str(root)], capsys)
            assert code == 2 and "--waves" in out["message"], (w, out)
        code, out = rollout([str(images["1.1.0"]), *device_args(self.IDS), "--waves", "50,100", "--health", "nap",
                             "--ledger", str(db)], capsys)
        assert code == 2 and "--health" in out["message"]
        assert not db.exists() or RolloutLedger(db).latest() is None
        assert not any(flashed(root, i) for i in self.IDS)
        assert_on(link, self.IDS, "1.0.0", image_hash(images["1.0.0"]), ["boot"])

    def test_success(self, fleet: tuple[Path, Link], images: dict[str, Path], tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
        root, link = fleet
        db = tmp_path / "l.sqlite3"
        args = [str(images["1.1.0"]), *device_args(self.IDS), "--waves", "50,100", "--health", "boot,selftest",
                "--ledger", str(db), "--sim-root", str(root)]
        t0 = time.monotonic()
        code, out = rollout(args, capsys)
        print(f"4 devices, 2 waves: {time.monotonic() - t0:.1f} s")
        assert code == 0, out
        assert out["rollout"]["state"] == "complete"
        assert [(d["name"], d["wave"], d["state"], d["flashes"]) for d in out["devices"]] == \
            [("sf0", 0, "confirmed", 1), ("sf1", 0, "confirmed", 1), ("sf2", 1, "confirmed", 1), ("sf3", 1, "confirmed", 1)]
        assert_on(link, self.IDS, "1.1.0", image_hash(images["1.1.0"]), ["boot", "selftest"])
        # the same command again: complete already, nothing flashed
        code, out = rollout(args, capsys)
        assert code == 0 and "already complete" in out["message"]
        assert all(d["flashes"] == 1 for d in out["devices"])
        # status
        capsys.readouterr()
        assert cli.main(["rollout", "status", "--ledger", str(db), "--json"]) == 0
        st = json.loads(capsys.readouterr().out)
        assert st["rollout"]["state"] == "complete" and st["counts"] == {"confirmed": 4}

    @pytest.mark.slow
    def test_killed_rollout_resumes(self, fleet: tuple[Path, Link], images: dict[str, Path], tmp_path: Path) -> None:
        root, link = fleet
        db = tmp_path / "l.sqlite3"
        cmd = [sys.executable, "-m", "host_tools", "rollout", str(images["1.2.0"]), *device_args(self.IDS),
               "--waves", "25,100", "--health", "boot", "--ledger", str(db), "--sim-root", str(root),
               "--baud", str(BAUD), "--jobs", "2", "--json"]
        killed_during: list[str] = []

        def kill(proc: subprocess.Popen[bytes], rows: list[ledger.DeviceRow]) -> None:
            time.sleep(1.5)  # into the upload
            proc.send_signal(signal.SIGKILL)
            killed_during.extend(f"{d.name}:{d.state}" for d in rows)

        proc = run_until(cmd, db, lambda rows: any(d.wave == 1 and d.state == ledger.FLASHING for d in rows), kill)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, f"not killed during wave 2: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        view = RolloutLedger(db)
        r = view.latest()
        assert r is not None and r.state == ledger.RUNNING
        before = {d.name: d for d in view.devices(r.id)}
        view.close()
        assert before["sf0"].state == "confirmed", killed_during
        slot1_mtime = (root / "sf0" / "boot" / "slot1.bin").stat().st_mtime_ns
        t0 = time.monotonic()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        print(f"resume: {time.monotonic() - t0:.1f} s; killed during {killed_during}")
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout)
        rows = {d["name"]: d for d in out["devices"]}
        assert all(d["state"] == "confirmed" for d in rows.values())
        assert rows["sf0"]["flashes"] == 1  # confirmed before the kill: not flashed again
        assert (root / "sf0" / "boot" / "slot1.bin").stat().st_mtime_ns == slot1_mtime
        assert all(rows[i]["flashes"] == 1 for i in ("sf1", "sf2", "sf3"))  # an interrupted upload resumes
        assert_on(link, self.IDS, "1.2.0", image_hash(images["1.2.0"]), ["boot"])

    @pytest.mark.slow
    def test_port_gone_then_resumed(self, fleet: tuple[Path, Link], images: dict[str, Path], tmp_path: Path) -> None:
        """A devkit loses power in wave 2: exit 3, the ledger keeps the state; once it is back the
        same command finishes (the devices that had passed are checked again and confirmed)."""
        root, link = fleet
        db = tmp_path / "l.sqlite3"
        cmd = [sys.executable, "-m", "host_tools", "rollout", str(images["1.3.0"]), *device_args(self.IDS),
               "--waves", "25,100", "--health", "boot", "--ledger", str(db), "--sim-root", str(root),
               "--baud", str(BAUD), "--jobs", "2", "--json"]
        proc = run_until(cmd, db, lambda rows: any(d.wave == 1 and d.state == ledger.FLASHING for d in rows),
                         lambda proc, rows: manager.power_cut("sf3", root))
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 3, stderr.decode()[-3000:]
        out = json.loads(stdout)
        assert "sf3" in out["unreachable"] and "run the same command again" in out["message"]
        assert out["rollout"]["state"] == "running"
        manager.start(ids=["sf3"], root=root, baud=BAUD)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        rows = {d["name"]: d for d in json.loads(done.stdout)["devices"]}
        assert all(d["state"] == "confirmed" for d in rows.values()) and rows["sf0"]["flashes"] == 1
        assert_on(link, self.IDS, "1.3.0", image_hash(images["1.3.0"]), ["boot"])


# ---------------------------------------------------------------- the acceptance test
@pytest.mark.slow
def test_twenty_devkits_halt_and_roll_back(tmp_path: Path, images: dict[str, Path],
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "sim"
    monkeypatch.setenv("EDGECALL_SIM_DIR", str(root))
    ids = [f"rd{i}" for i in range(20)]
    rev_b = ["rd1", "rd7"]  # rd1 in wave 1, rd7 in wave 2
    t0 = time.monotonic()
    try:
        link = start_fleet(root, ids, images["1.0.0"])
        t_start = time.monotonic() - t0
        for i in rev_b:
            with link.console(DeviceRef(i)) as c:
                c.setting_set("hw/rev", b"B")
        db = tmp_path / "rollout.sqlite3"
        t1 = time.monotonic()
        code, out = rollout([str(images["2.0.0-revb-bug"]), "--devices", ",".join(ids), "--waves", "10,50,100",
                             "--health", "selftest", "--ledger", str(db), "--sim-root", str(root)], capsys)
        t_roll = time.monotonic() - t1
        print(json.dumps({k: out[k] for k in ("exit_code", "message", "failed")}, indent=1))
        print(f"devkits up in {t_start:.1f} s, rollout {t_roll:.1f} s")
        assert code == 1, out
        assert out["rollout"]["state"] == "halted" and out["rollout"]["halted_wave"] == 0
        assert [f["device"] for f in out["failed"]] == ["rd1"]
        assert "selftest" in out["failed"][0]["error"] and "g722-enc" in out["failed"][0]["error"]
        rows = {d["name"]: d for d in out["devices"]}
        assert rows["rd0"]["state"] == "rolled-back" and rows["rd0"]["error"] is None
        assert rows["rd1"]["state"] == "rolled-back"
        for i in ids[2:]:
            assert rows[i]["state"] == "pending" and rows[i]["flashes"] == 0 and not flashed(root, i), i
        # every device: the previous image, confirmed, healthy
        assert_on(link, ids, "1.0.0", image_hash(images["1.0.0"]), ["boot", "selftest"])
        print(f"total {time.monotonic() - t0:.1f} s")
    finally:
        manager.stop_all(root)
