"""Issue 17, item 10: `edgecall flash` checks the image file before anything touches the device —
its bytes against the SHA-256 it carries (the "device already runs it" shortcut included) and its
signature when the key is known (`--key`, or the development key that built it). A corrupted file
is a clear error, exit 2, and the device is left alone: no bootloader entry, no reset. Real signed
images (imgtool), a real virtual devkit running one of them, the real CLI."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.firmware import image, keys, mcuboot
from host_tools.paths import ROOT
from host_tools.sim import manager
from host_tools.transport import open_port
from tests.devkits import sim_dir

DEVICE = "integ1"


def tlv_offset(data: bytes, kind: int) -> int:
    """Where the value of TLV `kind` starts in the (unprotected) TLV area of an image."""
    img = mcuboot.parse(data)
    pos = img.hdr_size + img.img_size + img.protect_tlv_size
    _magic, total = struct.unpack_from("<HH", data, pos)
    end, pos = pos + total, pos + 4
    while pos < end:
        t, n = struct.unpack_from("<HH", data, pos)
        if t == kind:
            return pos + 4
        pos += 4 + n
    raise AssertionError(f"no TLV {kind:#x}")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("images")
    good = Path(image.build_image(version="1.0.0", out=out / "good.bin").path)
    data = good.read_bytes()
    img = mcuboot.parse(data)
    corrupt = bytearray(data)
    corrupt[img.hdr_size + img.img_size // 2] ^= 0x40  # one bit of the payload; the hash TLV still names the good image
    (out / "corrupt.bin").write_bytes(bytes(corrupt))
    forged = bytearray(data)
    forged[tlv_offset(data, mcuboot.TLV_ED25519) + 5] ^= 0x01  # the signature, one bit
    (out / "badsig.bin").write_bytes(bytes(forged))
    other = keys.generate(out / "other.pem", "ecdsa-p256")
    image.build_image(key=other, version="1.0.1", out=out / "other.bin")
    return {"good": good, "corrupt": out / "corrupt.bin", "badsig": out / "badsig.bin", "other": out / "other.bin"}


def active(timeout: float = 30.0) -> dict[str, Any]:
    t = resolve(None, DEVICE)
    with open_port(t.port, ignore_pids=t.allowed_holders) as port:
        dev = DeviceConsole(port)
        info = dev.wait_ready(timeout)
        return {**dev.active_image(), "uptime_ms": int(info["uptime_ms"])}


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory, images: dict[str, Path]) -> Iterator[Path]:
    """A devkit running the good image from its primary slot, confirmed (as from the factory)."""
    root = tmp_path_factory.mktemp("sim")
    with sim_dir(root):
        boot = root / DEVICE / "boot"
        boot.mkdir(parents=True)
        (boot / "slot0.bin").write_bytes(images["good"].read_bytes())
        manager.start(ids=[DEVICE], root=root)
        deadline = time.monotonic() + 60
        while not active().get("confirmed"):  # the application confirms itself once healthy
            assert time.monotonic() < deadline, "the preloaded image was never confirmed"
            time.sleep(0.5)
        yield root


def flash(root: Path, img: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGECALL_SIM_DIR": str(root)}
    p = subprocess.run([sys.executable, "-m", "host_tools", "flash", "--device", DEVICE, str(img), "--json", *extra],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def untouched(root: Path, before: dict[str, Any]) -> None:
    now = active()
    assert now["hash"] == before["hash"] and now["confirmed"], now
    assert now["uptime_ms"] > before["uptime_ms"], "the device was reset"
    assert [d.status for d in manager.list_devices(root) if d.id == DEVICE] == ["running"]
    assert not (root / DEVICE / "boot" / "upload.json").exists(), "an upload was started"


def test_a_corrupt_copy_of_the_running_image_is_refused(device: Path, images: dict[str, Path]) -> None:
    before = active()
    assert before["hash"] == mcuboot.parse(images["corrupt"].read_bytes()).hash  # it claims to be what runs
    rc, out, err = flash(device, images["corrupt"])
    assert rc == 2 and out["error"] == "corrupt" and "corrupt" in out["message"], (rc, out)
    untouched(device, before)


def test_a_forged_signature_is_refused_before_the_device(device: Path, images: dict[str, Path]) -> None:
    before = active()
    rc, out, _ = flash(device, images["badsig"])  # the development key that built it is known
    assert rc == 2 and out["error"] == "signature" and "does not verify" in out["message"], (rc, out)
    rc, out, _ = flash(device, images["other"], "--key", str(keys.DEV_KEY))
    assert rc == 2 and out["error"] == "signature" and "is not signed with" in out["message"], (rc, out)
    untouched(device, before)


def test_the_genuine_image_still_takes_the_shortcut(device: Path, images: dict[str, Path]) -> None:
    rc, out, _ = flash(device, images["good"], "--key", str(keys.DEV_KEY))
    assert rc == 0 and out["ok"] and "nothing to flash" in out["events"][-1], out
