"""Flash benchmark (`edgecall bench flash`): SMP upload throughput as a fraction of the emulated
line rate (baud/10 bytes/s) at 115200 and 921600 baud, the time of a full flash cycle (upload,
swap, boot, confirm), and — with `powercuts` (or `python -m host_tools.bench.flash --powercuts N`)
a power-cut campaign: N power cuts at random moments during uploads and swaps; after each the
device must boot a valid signed image (its primary slot verifies, the firmware QEMU booted is
that image's and the application reports its version).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.firmware import image, keys, mcuboot
from host_tools.flash.session import Flasher
from host_tools.sim import manager, state
from host_tools.sim.bootloader import install
from host_tools.sim.bootloader.store import BootStore, write_config
from host_tools.transport import open_port

BAUDS = (115200, 921600)
DEVICE = "flashbench"


def _images(tmp: Path) -> dict[str, bytes]:
    return {v: Path(image.build_image(version=v, out=tmp / f"{v}.bin").path).read_bytes() for v in ("1.0.0", "1.1.0")}


def _start(root: Path, slot0: bytes, baud: int, swap_step_ms: int = 0) -> manager.DeviceInfo:
    os.environ["EDGECALL_SIM_DIR"] = str(root)  # resolve() finds the benchmark's device
    d = root / DEVICE
    (d / "boot").mkdir(parents=True, exist_ok=True)
    (d / "boot" / "slot0.bin").write_bytes(slot0)
    key = keys.dev_key()
    write_config(d, keys.public_der(key), keys.key_hash(key), allow_downgrade=True, swap_step_ms=swap_step_ms)
    return manager.start(ids=[DEVICE], root=root, baud=baud)[0]


def throughput(root: Path, imgs: dict[str, bytes], tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for baud in BAUDS:
        _start(root, imgs["1.0.0"], baud)
        try:
            t = resolve(None, DEVICE)
            p = tmp / "1.1.0.bin"
            r = Flasher(t.port, t.allowed_holders, baud=baud).run(p)
            line_rate = baud / 10
            rows.append({"baud": baud, "image_bytes": r.size, "upload_s": round(r.upload_seconds, 3),
                         "payload_Bps": round(r.throughput), "fraction_of_line_rate": round(r.throughput / line_rate, 3),
                         "cycle_s": round(r.seconds, 2), "version_after": r.version_after, "confirmed": r.confirmed})
        finally:
            manager.power_cut(DEVICE, root)
    return rows


# ---- the power-cut campaign
def _check(root: Path, expect: set[str]) -> str:
    """The device booted a valid signed image: returns its version."""
    st = manager.list_devices(root)[0]
    if st.status != state.STATUS_RUNNING:
        raise AssertionError(f"device is {st.status} after a power cut")
    store = BootStore(root / DEVICE)
    img = mcuboot.verify(store.slot(0) or b"", store.public_der)
    if install.installed_binary(store.dir).get("hash") != img.hash.hex():
        raise AssertionError("the firmware QEMU booted is not the primary image's")
    t = resolve(None, DEVICE)
    with open_port(t.port, st.baud, ignore_pids=t.allowed_holders) as port:
        version = str(DeviceConsole(port).wait_ready(20)["version"])
    if version != str(img.version) or version not in expect:
        raise AssertionError(f"running {version}, primary slot {img.version}")
    return version


def _enter_bootloader(root: Path, baud: int) -> DeviceConsole:
    t = resolve(None, DEVICE)
    port = open_port(t.port, baud, ignore_pids=t.allowed_holders)
    con = DeviceConsole(port, timeout=10)
    con.smp.write(0, 5, {"boot_mode": 1})
    deadline = time.monotonic() + 10
    while manager.list_devices(root)[0].status != state.STATUS_BOOTLOADER:
        if time.monotonic() > deadline:
            raise AssertionError("device did not enter its bootloader")
        time.sleep(0.02)
    return con


def _upload(con: DeviceConsole, data: bytes, chunk: int = 8192) -> None:
    import hashlib

    sha = hashlib.sha256(data).digest()
    rsp = con.smp.write(1, 1, {"off": 0, "len": len(data), "sha": sha, "data": b""})
    off = int(rsp["off"])
    while off < len(data):
        req: dict[str, Any] = {"off": off, "data": data[off : off + chunk]}
        if off == 0:
            req.update(len=len(data), sha=sha)
        off = int(con.smp.write(1, 1, req)["off"])


def powercut_campaign(cuts: int = 200, seed: int = 1, baud: int = 921600, root: Path | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        imgs = _images(tmp)
        root = root or tmp / "sim"
        by_version = {str(mcuboot.parse(v).version): v for v in imgs.values()}
        _start(root, imgs["1.0.0"], baud, swap_step_ms=40)
        done = {"upload": 0, "swap": 0}
        boots: dict[str, int] = {}
        t0 = time.monotonic()
        try:
            running = _check(root, set(by_version))
            for _ in range(cuts):
                target = by_version["1.1.0" if running == "1.0.0" else "1.0.0"]
                con = _enter_bootloader(root, baud)
                phase = rng.choice(("upload", "swap"))
                if phase == "upload":
                    worker = threading.Thread(target=_swallow, args=(_upload, con, target), daemon=True)
                    worker.start()
                    time.sleep(rng.uniform(0.0, len(target) * 1.4 / (baud / 10)))
                else:
                    _upload(con, target)
                    h = mcuboot.parse(target).hash
                    con.smp.write(1, 0, {"hash": h, "confirm": rng.random() < 0.5, "force": True})
                    con.smp.write(0, 5, {})
                    time.sleep(rng.uniform(0.0, 0.25))  # the swap: 4 steps of 40 ms + install
                manager.power_cut(DEVICE, root)
                con.smp.transport.close()  # type: ignore[attr-defined]
                done[phase] += 1
                manager.start(ids=[DEVICE], root=root, baud=baud)
                running = _check(root, set(by_version))
                boots[running] = boots.get(running, 0) + 1
        finally:
            manager.power_cut(DEVICE, root)
        return {"power_cuts": sum(done.values()), "during_upload": done["upload"], "during_swap": done["swap"],
                "valid_boots": sum(boots.values()), "booted_versions": boots,
                "seconds": round(time.monotonic() - t0, 1)}


def _swallow(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - the power went away mid-upload (termios.error included)
        pass


def run(json_out: bool = False, quick: bool = False, powercuts: int = 0) -> int:
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        imgs = _images(tmp)
        result: dict[str, Any] = {"throughput": throughput(tmp / "sim", imgs, tmp)}
    if powercuts:
        result["powercut"] = powercut_campaign(powercuts)
    if json_out:
        print(json.dumps(result))
        return 0
    t = Table(title="flash over SMP (virtual devkit)")
    for col in ("baud", "image B", "upload s", "payload B/s", "fraction of baud/10", "full cycle s"):
        t.add_column(col)
    for r in result["throughput"]:
        t.add_row(str(r["baud"]), str(r["image_bytes"]), str(r["upload_s"]), str(r["payload_Bps"]),
                  str(r["fraction_of_line_rate"]), str(r["cycle_s"]))
    Console().print(t)
    if "powercut" in result:
        Console().print(f"power cuts: {result['powercut']}")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--powercuts", type=int, default=0)
    ap.add_argument("--only-powercuts", action="store_true")
    a = ap.parse_args()
    if a.only_powercuts:
        print(json.dumps(powercut_campaign(a.powercuts or 200)))
    else:
        raise SystemExit(run(a.json, powercuts=a.powercuts))
