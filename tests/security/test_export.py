"""Issue 17, item 11: flashing over a network serial port and `sim export`, as a farm uses them.

- The `rfc2217://` URLs `sim export` prints (ser2net, no labgrid) work as printed with stock
  mpremote and pyserial, and stopping the export stops the devkits it started, not the others of
  the same checkout.
- A flash over such a URL whose server goes away mid-upload ends with exit 3 and a message that
  says what to do, no traceback.
- Ctrl-C (SIGINT) stops a flash at once, exit 130 — in the upload, and while waiting for the new
  image to boot — and the next run resumes the upload from the device's offset.
Real devkits, real ser2net, real stock clients, the real CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from host_tools.device.console import DeviceConsole
from host_tools.firmware import image
from host_tools.netaddr import free_port
from host_tools.paths import ROOT
from host_tools.sim import manager
from host_tools.transport import SerialTransport
from tests.devkits import devkits, sim_dir

BYSTANDER = "bystander"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("images")
    broken = {"edgecall/app.py": b"raise RuntimeError('this image never comes up')\n"}
    return {"1.0.0": Path(image.build_image(version="1.0.0", out=out / "1.0.0.bin").path),
            "1.1.0": Path(image.build_image(version="1.1.0", out=out / "1.1.0.bin").path),
            "broken": Path(image.build_image(version="1.3.0", out=out / "broken.bin", overrides=broken).path)}


@pytest.fixture()
def root(tmp_path: Path) -> Iterator[Path]:
    """A sim root with a devkit that no export started (it must survive every export)."""
    with devkits(tmp_path / "sim", [BYSTANDER], firmware=False) as r:
        yield r


def env_for(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "EDGECALL_SIM_DIR": str(root)}


def export(root: Path, name: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "sim", "export", "--count", "1", "--name", name,
                             "--bind", "127.0.0.1", "--base-port", str(free_port()), "--json"],
                            cwd=ROOT, env=env_for(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return proc, json.loads(line)


def running(root: Path) -> set[str]:
    return {d.id for d in manager.list_devices(root) if d.pid is not None}


def test_printed_urls_work_with_stock_clients_and_the_export_stops_only_its_own(root: Path) -> None:
    proc, info = export(root, "desk")
    try:
        url = info["devices"][0]["url"]
        assert running(root) == {BYSTANDER, "desk-vdk0"}
        port = serial.serial_for_url(url, baudrate=115200, timeout=0.1)  # stock pyserial, the URL as printed
        with SerialTransport(port, url) as tr:
            assert DeviceConsole(tr, timeout=10).wait_ready(30)["backend"] == "devkit"
        # stock mpremote, the URL as printed (it interrupts the application, as on a board)
        p = subprocess.run([sys.executable, "-m", "mpremote", "connect", url, "exec", "print(6 * 7)"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "42", p.stdout + p.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    assert rc == 0
    assert running(root) == {BYSTANDER}


def test_a_server_lost_mid_flash_is_exit_3_with_a_message(root: Path, images: dict[str, Path]) -> None:
    proc, info = export(root, "far")
    try:
        url = info["devices"][0]["url"]
        flash = subprocess.Popen([sys.executable, "-m", "host_tools", "flash", "--port", url, str(images["1.1.0"]), "--json"],
                                 cwd=ROOT, env=env_for(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        upload_offset(root / "far-vdk0", 20_000, flash)
        os.killpg(int(info["exporter_pid"]), signal.SIGKILL)  # ser2net and its exporter group go
        t0 = time.monotonic()
        out, err = flash.communicate(timeout=120)
        took = time.monotonic() - t0
        assert flash.returncode == 3, out + err
        assert "Traceback" not in err and url.split("?")[0] in err and "went away" in err and "again" in err, err
        assert json.loads(out)["error"] == "disconnected"
        assert took < 30
        assert proc.wait(30) == 3  # the export saw its server die, and stopped its device ...
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    assert running(root) == {BYSTANDER}  # ... and only its device


def upload_offset(device_dir: Path, at_least: int, proc: subprocess.Popen[str], timeout: float = 90) -> int:
    """The device's offset of the upload in progress, once it reaches `at_least`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the flash ended before the upload got there"
        try:
            off = int(json.loads((device_dir / "boot" / "upload.json").read_text())["off"])
        except (OSError, ValueError, KeyError):
            off = 0
        if off >= at_least:
            return off
        time.sleep(0.02)
    raise AssertionError(f"the upload did not reach {at_least} bytes within {timeout:.0f} s")


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str, str, float]:
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err, time.monotonic() - t0


def test_ctrl_c_stops_a_flash_at_once_and_the_next_run_resumes(tmp_path: Path, images: dict[str, Path]) -> None:
    root = tmp_path / "sim"
    with sim_dir(root):
        boot = root / "int1" / "boot"
        boot.mkdir(parents=True)
        (boot / "slot0.bin").write_bytes(images["1.0.0"].read_bytes())
        manager.start(ids=["int1"], root=root, baud=921600)

        def flash(img: Path) -> subprocess.Popen[str]:
            return subprocess.Popen([sys.executable, "-m", "host_tools", "flash", "--device", "int1", str(img), "--json",
                                     "--baud", "921600"], cwd=ROOT, env=env_for(root), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)

        # in the upload
        first = flash(images["1.1.0"])
        upload_offset(root / "int1", 30_000, first)
        rc, out, err, took = interrupt(first)
        assert rc == 130 and "interrupted" in err and "Traceback" not in err, out + err
        assert took < 2.0, f"Ctrl-C took {took:.1f} s to stop the flash"
        kept = int(json.loads((boot / "upload.json").read_text())["off"])
        again = flash(images["1.1.0"])
        out, err = again.communicate(timeout=180)
        assert again.returncode == 0, out + err
        result = json.loads(out)
        assert result["resumed_from"] >= kept >= 30_000 and result["version_after"] == "1.1.0", result

        # while waiting for the new image to come up (it never does): not after the boot timeout
        broken = flash(images["broken"])
        seen_bootloader = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = [d.status for d in manager.list_devices(root) if d.id == "int1"]
            seen_bootloader = seen_bootloader or status == ["bootloader"]
            if seen_bootloader and status == ["running"]:
                break  # the new image boots; the flash waits for its application
            assert broken.poll() is None, broken.communicate()
            time.sleep(0.05)
        else:
            raise AssertionError("the broken image was never booted")
        time.sleep(1.0)
        rc, out, err, took = interrupt(broken)
        assert rc == 130 and "Traceback" not in err, out + err
        assert took < 2.0, f"Ctrl-C took {took:.1f} s to stop the flash waiting for the boot"
