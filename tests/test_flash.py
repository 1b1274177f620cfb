"""Firmware images, the virtual devkit's MCUboot-like bootloader and `edgecall flash`.

Real ptys, real devkits (host_tools/sim), real imgtool signatures. Devices start at 921600 baud
with a signed image preloaded into the primary slot (as a factory would), in a per-test state
folder; every device is power-cut at teardown.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.firmware import archive, image, keys, mcuboot
from host_tools.flash.errors import FlashTimeout, ImageRejected
from host_tools.flash.session import Flasher
from host_tools.paths import ROOT
from host_tools.sim import manager
from host_tools.sim.bootloader.store import BootStore
from host_tools.transport import open_port

BAUD = 921600
Dev = Callable[..., manager.DeviceInfo]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("images")
    base = image.image_files("1.0.0")
    built = {v: Path(image.build_image(version=v, out=out / f"{v}.bin").path)
             for v in ("1.0.0", "1.1.0", "0.9.0")}
    other = keys.generate(out / "other.pem", "ecdsa-p256")
    built["other-key"] = Path(image.build_image(key=other, version="1.2.0", out=out / "other.bin").path)
    broken = dict(image.image_files("1.3.0"))
    broken["main.py"] = b"raise RuntimeError('this image is broken')\n"
    built["broken"] = Path(image.build_image(version="1.3.0", out=out / "broken.bin", files=broken).path)
    assert len(base) > 20
    return built


@pytest.fixture
def sim_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sim"
    monkeypatch.setenv("EDGECALL_SIM_DIR", str(root))
    return root


@pytest.fixture
def device(sim_root: Path, images: dict[str, Path]) -> Iterator[Dev]:
    started: list[str] = []

    def start(device_id: str = "fl0", preload: str = "1.0.0") -> manager.DeviceInfo:
        boot = sim_root / device_id / "boot"
        boot.mkdir(parents=True, exist_ok=True)
        (boot / "slot0.bin").write_bytes(images[preload].read_bytes())
        info = manager.start(ids=[device_id], root=sim_root, baud=BAUD)[0]
        started.append(device_id)
        return info

    yield start
    for d in started:
        manager.power_cut(d, sim_root)


def flasher(device_id: str, boot_timeout: float = 30.0) -> Flasher:
    t = resolve(None, device_id)
    return Flasher(t.port, t.allowed_holders, baud=BAUD, boot_timeout=boot_timeout)


def app_info(device_id: str, timeout: float = 30.0) -> dict[str, object]:
    t = resolve(None, device_id)
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        return DeviceConsole(port).wait_ready(timeout)


def reset(device_id: str) -> None:
    """An OS reset (group 0, command 5): served by the application or by the bootloader."""
    t = resolve(None, device_id)
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        DeviceConsole(port).reset()


def test_image_layout(images: dict[str, Path]) -> None:
    data = images["1.1.0"].read_bytes()
    img = mcuboot.verify(data, keys.public_der(keys.dev_key()))
    assert str(img.version) == "1.1.0" and img.hdr_size == image.HEADER_SIZE
    files = archive.unpack(img.payload)
    assert {"boot.py", "main.py", "edgecall/app.mpy", "hal/boot.mpy", "lib/native_codec.wasm"} <= set(files)
    assert json.loads(files["manifest.json"])["version"] == "1.1.0"


def test_boot_from_preloaded_image(device: Dev) -> None:
    device()
    info = app_info("fl0")
    assert info["version"] == "1.0.0"


def test_smpmgr_state_upload_test_confirm(device: Dev, images: dict[str, Path]) -> None:
    d = device()
    app_info("fl0")
    t = resolve(None, "fl0")
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        DeviceConsole(port).smp.write(0, 5, {"boot_mode": 1})
    deadline = time.monotonic() + 10
    while manager.list_devices()[0].status != "bootloader" and time.monotonic() < deadline:
        time.sleep(0.05)

    def smpmgr(*args: str) -> str:
        p = subprocess.run([str(Path(sys.executable).parent / "smpmgr"), "--port", d.port or "", "--baudrate", str(BAUD),
                            "--timeout", "10", *args], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    assert "1.0.0" in smpmgr("image", "state-read")
    smpmgr("image", "upload", str(images["1.1.0"]))
    new_hash = mcuboot.parse(images["1.1.0"].read_bytes()).hash.hex()
    out = smpmgr("image", "state-read")
    assert "1.1.0" in out
    smpmgr("image", "state-write", new_hash)
    assert "pending=True" in smpmgr("image", "state-read").replace(" ", "") or \
        BootStore(Path(d.flash).parent).trailer(1)["pending"]
    smpmgr("os", "reset")
    assert app_info("fl0")["version"] == "1.1.0"
    smpmgr("image", "state-write", "--confirm")
    state = smpmgr("image", "state-read")
    assert "1.1.0" in state and "confirmed=True" in state.replace(" ", "")


def test_flash_reset_new_version(device: Dev, images: dict[str, Path]) -> None:
    device()
    app_info("fl0")
    result = flasher("fl0").run(images["1.1.0"])
    assert (result.version_before, result.version_after, result.confirmed) == ("1.0.0", "1.1.0", True)
    reset("fl0")  # confirmed: it stays after another reset
    assert app_info("fl0")["version"] == "1.1.0"
    again = flasher("fl0").run(images["1.1.0"])  # the same image, confirmed: nothing to flash
    assert (again.version_before, again.version_after, again.uploaded, again.entered_bootloader) == \
        ("1.1.0", "1.1.0", 0, False)
    assert "nothing to flash" in again.events[-1]


def test_rejected_images_keep_old(device: Dev, images: dict[str, Path], tmp_path: Path) -> None:
    device()
    app_info("fl0")
    good = images["1.1.0"].read_bytes()
    rng = random.Random(os.getpid())
    at = rng.randrange(len(good))
    bad = {
        "corrupt": good[:at] + bytes([good[at] ^ (1 << rng.randrange(8))]) + good[at + 1:],
        "truncated": good[: rng.randrange(len(good) // 2, len(good) - 1)],
        "other-key": images["other-key"].read_bytes(),
        "downgrade": images["0.9.0"].read_bytes(),
    }
    messages = {}
    for name, data in bad.items():
        p = tmp_path / f"{name}.bin"
        p.write_bytes(data)
        with pytest.raises(ImageRejected) as exc:
            flasher("fl0").run(p)
        messages[name] = str(exc.value)
    assert "signature" in messages["other-key"]
    assert "downgrade" in messages["downgrade"]
    reset("fl0")
    assert app_info("fl0")["version"] == "1.0.0", messages


def test_broken_image_reverts_without_host(device: Dev, images: dict[str, Path], sim_root: Path) -> None:
    device()
    app_info("fl0")
    with pytest.raises(FlashTimeout):
        flasher("fl0", boot_timeout=6).run(images["broken"], mode="test")
    store = BootStore(sim_root / "fl0")
    assert str(mcuboot.parse(store.slot(0) or b"").version) == "1.3.0"  # it did boot, and failed
    manager.stop("fl0", sim_root)  # the next reset: power cycle
    manager.start(ids=["fl0"], root=sim_root, baud=BAUD)
    assert app_info("fl0")["version"] == "1.0.0"
    assert str(mcuboot.parse(store.slot(0) or b"").version) == "1.0.0"


def test_resume_after_killed_host(device: Dev, images: dict[str, Path], sim_root: Path) -> None:
    device()
    app_info("fl0")
    cmd = [sys.executable, "-m", "host_tools.flash", "--device", "fl0", str(images["1.1.0"]), "--json",
           "--baud", "115200"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    upload = sim_root / "fl0" / "boot" / "upload.json"
    size = images["1.1.0"].stat().st_size
    kill_at = random.Random().randrange(1, size - 1)
    deadline = time.monotonic() + 40
    off = 0
    while time.monotonic() < deadline:
        try:
            off = int(json.loads(upload.read_text())["off"])
        except (OSError, ValueError, KeyError):
            off = 0
        if off >= min(kill_at, 1):
            break
        time.sleep(0.02)
    time.sleep(random.Random().uniform(0.0, 1.0))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    device_off = int(json.loads(upload.read_text())["off"])
    assert 0 < device_off < size
    again = subprocess.run([*cmd[:-2], "--baud", str(BAUD)], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    result = json.loads(again.stdout)
    assert result["resumed_from"] >= device_off and result["version_after"] == "1.1.0"
