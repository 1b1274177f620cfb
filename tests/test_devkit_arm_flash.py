"""Flashing ARM devkits: boot state in MCUboot's image trailer (the last bytes of fixed-size slot
files), confirmed by the firmware itself (hal/devkit/slot.c through hal/boot.py), the swap of
MCUboot's swap-using-scratch, serial recovery with direct image upload and image state — seen by
`edgecall flash`, the application's mcumgr image group and unmodified smpmgr.

The first tests drive the bootloader's own code on real files (no CPU): the trailer's bytes, the
swap types of MCUboot's tables, a power cut after every swap step, serial recovery's direct upload
into the primary slot. The rest run real devkits (QEMU mps2-an386) at 921600 baud with signed ARM
images built from the working tree, preloaded into the primary slot as a factory would.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.firmware import armimage, image, keys, mcuboot
from host_tools.flash.errors import FlashTimeout, ImageRejected
from host_tools.flash.session import Flasher
from host_tools.paths import ROOT
from host_tools.rollout.device import DeviceRef, Link
from host_tools.sim import manager, state
from host_tools.sim.bootloader import Bootloader, trailer as tr
from host_tools.sim.bootloader.slots import SlotFiles
from host_tools.sim.bootloader.smp_server import SmpServer
from host_tools.sim.bootloader.store import BootStore, write_config
from host_tools.smp.client import SmpError
from host_tools.smp.serial import OP_READ, OP_WRITE, FrameDecoder, Header, encode_frames
from host_tools.transport import open_port

BAUD = 921600
SLOT = 1024 * 1024
SMPMGR = str(Path(sys.executable).parent / "smpmgr")
Dev = Callable[..., manager.DeviceInfo]


# ---------------------------------------------------------------- images
@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Signed ARM images of the working tree's firmware: 1.0.0, 1.1.0; 1.0.0's firmware signed for
    another machine (board TLV mps2-an385), with another key, and as 0.9.0 (a downgrade)."""
    out = tmp_path_factory.mktemp("armimages")
    built = {v: Path(image.build_image(version=v, out=out / f"{v}.bin").path) for v in ("1.0.0", "1.1.0")}
    payload = mcuboot.parse(built["1.0.0"].read_bytes()).payload
    board = {armimage.BOARD_TLV: armimage.MACHINE}
    signed = {"other-board": (keys.dev_key(), "1.2.0", {armimage.BOARD_TLV: b"mps2-an385"}),
              "other-key": (keys.generate(out / "other.pem", "ecdsa-p256"), "1.2.0", board),
              "0.9.0": (keys.dev_key(), "0.9.0", board)}
    for name, (key, version, tlvs) in signed.items():
        built[name] = out / f"{name}.bin"
        image.sign(payload, key, version, built[name], image.SLOT_SIZE, tlvs)
    return built


def image_hash(path: Path) -> bytes:
    return mcuboot.parse(path.read_bytes()).hash


def test_image_layout(images: dict[str, Path]) -> None:
    """The image is the firmware: MCUboot's header, the board TLV, a Cortex-M vector table."""
    data = images["1.1.0"].read_bytes()
    img = mcuboot.verify(data, keys.public_der(keys.dev_key()))
    assert str(img.version) == "1.1.0" and img.hdr_size == image.HEADER_SIZE
    assert img.tlvs[armimage.BOARD_TLV] == armimage.MACHINE
    armimage.check(img)
    assert b"MicroPython" in img.payload and len(data) < image.SLOT_SIZE


# ---------------------------------------------------------------- the bootloader on files
def _device_dir(tmp: Path, slot0: bytes | None, slot_size: int = SLOT) -> Path:
    d = tmp / "dev"
    (d / "boot").mkdir(parents=True)
    key = keys.dev_key()
    write_config(d, keys.public_der(key), keys.key_hash(key), slot_size)
    if slot0 is not None:
        (d / "boot" / "slot0.bin").write_bytes(slot0)
    return d


def _smp(server: SmpServer, group: int, cmd: int, body: dict[str, Any], write: bool = True) -> dict[str, Any]:
    payload = cbor2.dumps(body)
    hdr = Header(OP_WRITE if write else OP_READ, 0, len(payload), group, 1, cmd, 0)
    frames = b"".join(encode_frames(hdr.pack() + payload))
    (rsp,) = FrameDecoder().feed(server.feed(frames))
    return dict(cbor2.loads(rsp[8:]))


def _upload(server: SmpServer, data: bytes, image_no: int, chunk: int = 4096) -> dict[str, Any]:
    sha = hashlib.sha256(data).digest()
    rsp = _smp(server, 1, 1, {"off": 0, "len": len(data), "sha": sha, "data": data[:chunk], "image": image_no})
    while "rc" not in rsp and rsp["off"] < len(data):
        off = rsp["off"]
        rsp = _smp(server, 1, 1, {"off": off, "data": data[off:off + chunk]})
    return rsp


def test_trailer_bytes_are_mcuboots() -> None:
    t = tr.Trailer(tr.Magic.GOOD, tr.Flag.SET, tr.Flag.SET, 0x02, 12345).encode()
    assert len(t) == tr.FIELDS == 48
    assert t[-16:].hex() == "77c295f360d2ef7f3552500f2cb67980"  # the four magic words, little-endian
    assert t[-24:-16] == b"\x01" + b"\xff" * 7  # image_ok, padded to BOOT_MAX_ALIGN
    assert t[-32:-24] == b"\x01" + b"\xff" * 7  # copy_done
    assert t[-40:-32] == b"\x02" + b"\xff" * 7  # swap_info: image 0, BOOT_SWAP_TYPE_TEST
    assert t[:8] == (12345).to_bytes(4, "little") + b"\xff" * 4  # swap size
    assert tr.parse(b"\xff" * 100) == tr.ERASED_TRAILER
    assert tr.parse(t) == tr.Trailer(tr.Magic.GOOD, tr.Flag.SET, tr.Flag.SET, 0x02, 12345)
    assert tr.parse(b"\x00" * 48).magic is tr.Magic.BAD and tr.parse(b"\x00" * 48).image_ok is tr.Flag.BAD
    # 256 sectors of 4 KiB, three 8-byte records each, and the fixed fields
    assert tr.trailer_size(SLOT) == 256 * 3 * 8 + 48
    with pytest.raises(ValueError, match="last 48 bytes"):
        tr.parse(b"\xff" * 47)


def test_swap_types_follow_mcuboots_tables() -> None:
    good, unset = tr.Magic.GOOD, tr.Magic.UNSET
    S, U = tr.Flag.SET, tr.Flag.UNSET
    erased = tr.ERASED_TRAILER
    assert tr.swap_type(erased, erased) is tr.SwapType.NONE  # state IV: a programmed image
    assert tr.swap_type(erased, tr.Trailer(good, U)) is tr.SwapType.TEST  # state I
    assert tr.swap_type(tr.Trailer(good, U, S), tr.Trailer(good, S)) is tr.SwapType.PERM  # state II
    assert tr.swap_type(tr.Trailer(good, U, S), tr.Trailer(unset)) is tr.SwapType.REVERT  # state III
    assert tr.swap_type(tr.Trailer(good, S, S), erased) is tr.SwapType.NONE  # confirmed after a test
    assert tr.swap_type(tr.Trailer(good, U, U), erased) is tr.SwapType.NONE  # copy not done: no revert
    flags = {n: tr.slot_flags(n, tr.SwapType.REVERT) for n in (0, 1)}
    assert flags[0] == tr.SlotFlags(False, False, False) and flags[1] == tr.SlotFlags(True, False, False)
    assert tr.slot_flags(1, tr.SwapType.PERM) == tr.SlotFlags(False, True, True)


@pytest.mark.parametrize("cut_after", [0, 1, 2, 3])
def test_power_cut_after_each_swap_step(tmp_path: Path, images: dict[str, Path], cut_after: int) -> None:
    """The swap is interrupted after step `cut_after` (0: before the first completes); the next reset
    finishes it and boots the new image (not reverted at once: it has not had its test boot), the
    old one whole in the secondary slot."""
    old, new = images["1.0.0"].read_bytes(), images["1.1.0"].read_bytes()
    d = _device_dir(tmp_path, old)

    class PowerCut(Exception):
        pass

    boot = Bootloader(d)
    assert boot.on_reset().run  # the programmed image: padded into a slot file, its trailer erased
    files = SlotFiles(boot.store)
    assert (d / "boot" / "slot0.bin").stat().st_size == SLOT and files.trailer(0) == tr.ERASED_TRAILER
    files.program(1, new)
    boot.mcuboot.set_pending(permanent=False)  # type: ignore[union-attr]
    assert files.trailer(1).magic is tr.Magic.GOOD and files.swap_type() is tr.SwapType.TEST

    def cut(kind: str, step: int) -> None:
        if step >= cut_after:
            raise PowerCut

    if cut_after == 0:  # during step 1: the swap is recorded, nothing of it written yet
        (d / "boot" / "swap.json").write_text(json.dumps({"kind": "test", "step": 0, "size": len(new)}))
    else:
        boot.step_hook = cut
        with pytest.raises(PowerCut):
            boot.on_reset()
        assert json.loads((d / "boot" / "swap.json").read_text())["step"] == cut_after
    again = Bootloader(d)
    decision = again.on_reset()
    assert decision.run and decision.reason == "booting 1.1.0"
    assert again.store.slot(0) == new and again.store.slot(1) == old
    t0, t1 = files.trailer(0), files.trailer(1)
    assert (t0.magic, t0.image_ok, t0.copy_done, t0.swap_type) == (tr.Magic.GOOD, tr.Flag.UNSET, tr.Flag.SET, 2)
    assert t1 == tr.ERASED_TRAILER
    assert not (d / "boot" / "swap.json").exists() and not (d / "boot" / "scratch.bin").exists()
    # not confirmed: the next reset reverts, and the old image comes back confirmed
    assert files.swap_type() is tr.SwapType.REVERT
    assert Bootloader(d).on_reset().reason == "booting 1.0.0"
    t0 = files.trailer(0)
    assert (t0.magic, t0.image_ok, t0.copy_done) == (tr.Magic.GOOD, tr.Flag.SET, tr.Flag.SET)
    assert files.image(1) == new


def test_serial_recovery_lists_and_marks_from_the_trailers(tmp_path: Path, images: dict[str, Path]) -> None:
    old, new = images["1.0.0"].read_bytes(), images["1.1.0"].read_bytes()
    d = _device_dir(tmp_path, old)
    boot = Bootloader(d)
    boot.on_reset()
    server = SmpServer(boot)
    rsp = _upload(server, new, image_no=2)
    assert rsp == {"off": len(new), "match": True}
    listed = _smp(server, 1, 0, {}, write=False)
    assert "splitStatus" not in listed  # MCUboot's serial recovery answers only the list
    assert listed["images"] == [
        {"slot": 0, "version": "1.0.0", "hash": image_hash(images["1.0.0"]), "bootable": True, "confirmed": True},
        {"slot": 1, "version": "1.1.0", "hash": image_hash(images["1.1.0"]), "bootable": True}]
    refused = _smp(server, 1, 0, {"hash": image_hash(images["1.0.0"]), "confirm": False})
    assert refused["rc"] == 3 and "primary" in refused["rsn"]  # the primary cannot be marked for test
    marked = _smp(server, 1, 0, {"hash": image_hash(images["1.1.0"]), "confirm": True})
    assert marked["images"][1] == {"slot": 1, "version": "1.1.0", "hash": image_hash(images["1.1.0"]),
                                   "bootable": True, "pending": True, "permanent": True}
    t1 = SlotFiles(boot.store).trailer(1)
    assert (t1.magic, t1.image_ok, t1.swap_type) == (tr.Magic.GOOD, tr.Flag.SET, int(tr.SwapType.PERM))
    assert _smp(server, 1, 5, {})["rc"] == 6  # a pending secondary is not erased
    assert _smp(server, 0, 8, {"query": "mode"}, write=False)["mode"] == 1  # swap using scratch
    assert _smp(server, 0, 7, {"format": "i"}, write=False) == {"output": "mps2-an386"}
    # No JSON state beside the slots: the trailers are the whole boot state (app.bin and app.json:
    # the primary's firmware as QEMU loads it, and which image that is).
    assert sorted(p.name for p in (d / "boot").iterdir()) == \
        ["app.bin", "app.json", "config.json", "slot0.bin", "slot1.bin"]


def test_serial_recovery_writes_the_primary_directly(tmp_path: Path, images: dict[str, Path]) -> None:
    """Upload "image" 0 in serial recovery: straight into the primary slot, started over by every
    chunk at offset 0, not verified until the next boot."""
    old, new = images["1.0.0"].read_bytes(), images["1.1.0"].read_bytes()
    d = _device_dir(tmp_path, old)
    boot = Bootloader(d)
    boot.on_reset()
    server = SmpServer(boot)
    first = _smp(server, 1, 1, {"off": 0, "len": len(new), "data": new[:1000], "image": 0})
    assert first == {"off": 1000}
    assert _smp(server, 1, 1, {"off": 5000, "data": new[5000:6000]}) == {"off": 1000}  # the offset it expects
    restart = _smp(server, 1, 1, {"off": 0, "len": len(new), "data": new[:500], "image": 0})
    assert restart == {"off": 500}  # offset 0 again: the upload starts over (no resume)
    assert _upload(server, new, image_no=0) == {"off": len(new)}
    assert boot.store.slot(0) == new and not (d / "boot" / "upload.json").exists()
    assert Bootloader(d).on_reset().reason == "booting 1.1.0"
    # A corrupt image written there is refused at boot: the board stays in serial recovery.
    bad = bytearray(new)
    bad[len(bad) // 2] ^= 1
    assert _upload(SmpServer(boot), bytes(bad), image_no=0) == {"off": len(bad)}
    decision = Bootloader(d).on_reset()
    assert not decision.run and decision.reason == "primary image invalid"
    too_big = _smp(server, 1, 1, {"off": 0, "len": tr.max_image_size(SLOT) + 1, "data": b"", "image": 0})
    assert too_big["rc"] == 2 and "too large" in too_big["rsn"]
    assert _smp(server, 1, 1, {"off": 0, "len": 10, "data": b"", "image": 3})["rc"] == 5


def test_invalid_or_downgraded_pending_image_is_erased(tmp_path: Path, images: dict[str, Path]) -> None:
    new, old = images["1.1.0"].read_bytes(), images["1.0.0"].read_bytes()
    d = _device_dir(tmp_path, new)
    boot = Bootloader(d)
    boot.on_reset()
    files = SlotFiles(boot.store)
    files.program(1, old)
    boot.mcuboot.set_pending(permanent=True)  # type: ignore[union-attr]
    assert Bootloader(d).on_reset().reason == "booting 1.1.0"  # downgrade refused: erased
    assert files.image(1) is None and files.trailer(1) == tr.ERASED_TRAILER
    files.program(1, images["other-board"].read_bytes())
    boot.mcuboot.set_pending(permanent=False)  # type: ignore[union-attr]
    assert Bootloader(d).on_reset().reason == "booting 1.1.0"  # another board's: erased
    assert files.image(1) is None


# ---------------------------------------------------------------- devkits
@pytest.fixture
def sim_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sim"
    monkeypatch.setenv("EDGECALL_SIM_DIR", str(root))
    return root


@pytest.fixture
def device(sim_root: Path, images: dict[str, Path]) -> Iterator[Dev]:
    started: list[str] = []

    def start(device_id: str = "af0", preload: str = "1.0.0", **config: Any) -> manager.DeviceInfo:
        if config:
            key = keys.dev_key()
            write_config(sim_root / device_id, keys.public_der(key), keys.key_hash(key), SLOT, **config)
        info = manager.start(ids=[device_id], root=sim_root, baud=BAUD, slot_size=SLOT,
                             factory_image=images[preload].read_bytes())
        started.append(device_id)
        return info

    yield start
    for d in started:
        manager.power_cut(d, sim_root)


def restart(device_id: str, sim_root: Path) -> None:
    """Power on again (no factory image: the slots as they are)."""
    manager.start(ids=[device_id], root=sim_root, baud=BAUD)


def flasher(device_id: str, boot_timeout: float = 30.0) -> Flasher:
    t = resolve(None, device_id)
    return Flasher(t.port, t.allowed_holders, baud=BAUD, boot_timeout=boot_timeout)


def app(device_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The application's info and image state, once it answers."""
    t = resolve(None, device_id)
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        con = DeviceConsole(port)
        info = con.wait_ready(timeout)
        info["images"] = con.smp.read(1, 0)["images"]
        return info


def slots(sim_root: Path, device_id: str = "af0") -> SlotFiles:
    return SlotFiles(BootStore(sim_root / device_id))


def wait_for(what: Callable[[], bool], timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def mpremote(port: str, *args: str, timeout: float = 60) -> str:
    p = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def port_of(device_id: str) -> str:
    return resolve(None, device_id).port


def test_factory_image_boot_state_is_in_the_trailer(device: Dev, sim_root: Path, images: dict[str, Path]) -> None:
    device()
    info = app("af0")
    assert info["version"] == "1.0.0"
    (img,) = info["images"]
    assert (img["slot"], img["version"], bytes(img["hash"]), img["active"], img["confirmed"]) == \
        (0, "1.0.0", image_hash(images["1.0.0"]), True, True)
    files = slots(sim_root)
    assert files.path(0).stat().st_size == SLOT and files.trailer(0) == tr.ERASED_TRAILER  # state IV
    boot_dir = sim_root / "af0" / "boot"
    assert not list(boot_dir.glob("trailer*.json"))
    # The application's filesystem holds no boot state.
    listing = mpremote(port_of("af0"), "exec", "import os; print(sorted(os.listdir('/')))")
    assert ".boot" not in listing and "image_ok" not in listing


def test_test_boot_confirms_itself_and_survives_a_reset(device: Dev, sim_root: Path,
                                                         images: dict[str, Path]) -> None:
    device()
    app("af0")
    result = flasher("af0").run(images["1.1.0"], mode="test")
    assert (result.version_before, result.version_after) == ("1.0.0", "1.1.0")
    files = slots(sim_root)
    t0 = files.trailer(0)
    assert (t0.magic, t0.copy_done, t0.swap_type) == (tr.Magic.GOOD, tr.Flag.SET, int(tr.SwapType.TEST))
    # The firmware writes image_ok itself once its console has been healthy for CONFIRM_AFTER_MS.
    wait_for(lambda: files.trailer(0).image_ok is tr.Flag.SET, 15, "the test image did not confirm itself")
    state_now = app("af0")["images"]
    assert [(i["slot"], i["version"], i["confirmed"], i["pending"]) for i in state_now] == \
        [(0, "1.1.0", True, False), (1, "1.0.0", False, False)]
    t = resolve(None, "af0")
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        assert DeviceConsole(port).reboot()["version"] == "1.1.0"  # an OS reset: the bootloader keeps it
    assert files.image(0) == images["1.1.0"].read_bytes() and files.image(1) == images["1.0.0"].read_bytes()
    listing = mpremote(port_of("af0"), "exec", "import os; print(sorted(os.listdir('/')))")
    assert ".boot" not in listing


def test_an_image_that_never_confirms_is_reverted(device: Dev, sim_root: Path, images: dict[str, Path]) -> None:
    """A main.py on the board's flash takes the frozen application's place: the new image boots
    MicroPython but nothing in it confirms, so the next reset brings the previous image back."""
    device()
    app("af0")
    port = port_of("af0")
    stub = sim_root / "main.py"
    stub.write_text("print('no application')\n")
    mpremote(port, "fs", "cp", str(stub), ":main.py")
    mpremote(port, "bootloader")  # machine.bootloader(): serial recovery
    wait_for(lambda: manager.list_devices(sim_root)[0].status == state.STATUS_BOOTLOADER, 10, "no bootloader")
    with pytest.raises(FlashTimeout):
        flasher("af0", boot_timeout=8).run(images["1.1.0"], mode="test")
    files = slots(sim_root)
    assert files.image(0) == images["1.1.0"].read_bytes()
    t0 = files.trailer(0)
    assert (t0.magic, t0.image_ok, t0.copy_done) == (tr.Magic.GOOD, tr.Flag.UNSET, tr.Flag.SET)
    seen = mpremote(port_of("af0"), "exec", "import hal; b = hal.part('boot'); "
                    "print([(s['slot'], s['version'], s['confirmed']) for s in b.slots()], b.confirmed())")
    assert "[(0, '1.1.0', False), (1, '1.0.0', True)] False" in seen  # img_mgmt: a revert is due
    time.sleep(4)  # longer than CONFIRM_AFTER_MS: still nothing confirms
    assert files.trailer(0).image_ok is tr.Flag.UNSET
    manager.stop("af0", sim_root)  # the next reset: a power cycle
    restart("af0", sim_root)
    assert files.image(0) == images["1.0.0"].read_bytes() and files.image(1) == images["1.1.0"].read_bytes()
    t0 = files.trailer(0)
    assert (t0.magic, t0.image_ok, t0.copy_done) == (tr.Magic.GOOD, tr.Flag.SET, tr.Flag.SET)
    mpremote(port_of("af0"), "fs", "rm", ":main.py", "+", "reset")
    assert app("af0")["version"] == "1.0.0"


def test_confirm_then_rollback(device: Dev, sim_root: Path, images: dict[str, Path]) -> None:
    device()
    app("af0")
    result = flasher("af0").run(images["1.1.0"], mode="confirm")
    assert result.version_after == "1.1.0" and result.confirmed
    files = slots(sim_root)
    t0 = files.trailer(0)
    assert (t0.magic, t0.image_ok, t0.copy_done, t0.swap_type) == \
        (tr.Magic.GOOD, tr.Flag.SET, tr.Flag.SET, int(tr.SwapType.PERM))
    manager.power_cut("af0", sim_root)
    restart("af0", sim_root)
    assert app("af0")["version"] == "1.1.0"
    again = flasher("af0").run(images["1.1.0"])  # the same image, confirmed: nothing to flash
    assert again.uploaded == 0 and "nothing to flash" in again.events[-1]
    with pytest.raises(ImageRejected, match="downgrade"):
        flasher("af0").run(images["1.0.0"])
    # Rollback: the previous image (the secondary slot) marked permanent through the bootloader.
    link = Link(sim_root=sim_root, baud=BAUD)
    how = link.revert(DeviceRef("af0"), image_hash(images["1.0.0"]).hex(), "1.0.0")
    assert "secondary slot" in how
    running = link.wait_running(DeviceRef("af0"), 30, confirmed=True)
    assert running is not None and running.version == "1.0.0"
    assert files.image(1) == images["1.1.0"].read_bytes()
    assert not (sim_root / "af0" / "boot" / "downgrade.json").exists()  # the forced downgrade was used once


def test_rejected_images_keep_the_running_one(device: Dev, images: dict[str, Path], tmp_path: Path) -> None:
    """A flipped bit, a truncated file, another key's signature and a downgrade are refused before
    anything boots; the device keeps running 1.0.0."""
    device()
    app("af0")
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
            flasher("af0").run(p)
        messages[name] = str(exc.value)
    assert "signature" in messages["other-key"]
    assert "downgrade" in messages["downgrade"]
    t = resolve(None, "af0")
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        DeviceConsole(port).reset()  # served by the bootloader, where the flasher left the device
    assert app("af0")["version"] == "1.0.0", messages


def test_resume_after_a_disconnect_mid_upload(device: Dev, sim_root: Path, images: dict[str, Path]) -> None:
    device()
    app("af0")
    cmd = [sys.executable, "-m", "host_tools.flash", "--device", "af0", str(images["1.1.0"]), "--json",
           "--baud", "115200"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    upload = sim_root / "af0" / "boot" / "upload.json"
    size = images["1.1.0"].stat().st_size
    kill_at = random.Random().randrange(4096, size // 2)
    deadline = time.monotonic() + 60
    off = 0
    while off < kill_at and time.monotonic() < deadline:
        try:
            off = int(json.loads(upload.read_text())["off"])
        except (OSError, ValueError, KeyError):
            off = 0
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    device_off = int(json.loads(upload.read_text())["off"])
    assert 0 < device_off < size
    again = subprocess.run([*cmd[:-2], "--baud", str(BAUD)], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    result = json.loads(again.stdout)
    assert result["resumed_from"] >= device_off and result["version_after"] == "1.1.0" and result["confirmed"]
    assert slots(sim_root).trailer(0).image_ok is tr.Flag.SET


def test_power_cut_during_the_swap_boots_the_old_or_the_new_image(device: Dev, sim_root: Path,
                                                                  images: dict[str, Path]) -> None:
    """Swaps (emulated flash time: 300 ms a step) cut at each of their steps by a power cut of the
    whole devkit; every boot after it runs a whole, verified image, the other one whole beside it."""
    device(swap_step_ms=300, allow_downgrade=True)
    app("af0")
    files = slots(sim_root)
    flasher("af0").run(images["1.1.0"], mode="confirm")
    versions = {"1.0.0": images["1.0.0"].read_bytes(), "1.1.0": images["1.1.0"].read_bytes()}
    swap = sim_root / "af0" / "boot" / "swap.json"
    for cut_at in (0, 1, 2, 3):
        before = app("af0")["version"]
        other = files.image(1)
        assert other is not None
        t = resolve(None, "af0")
        with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
            con = DeviceConsole(port, timeout=10)
            con.smp.write(0, 5, {"boot_mode": 1})
            wait_for(lambda: manager.list_devices(sim_root)[0].status == state.STATUS_BOOTLOADER, 10,
                     "no bootloader")
            con.smp.write(1, 0, {"hash": mcuboot.parse(other).hash, "confirm": True})
            con.smp.write(0, 5, {})

        def reached() -> bool:
            try:
                return int(json.loads(swap.read_text())["step"]) >= cut_at
            except (OSError, ValueError, KeyError):
                return False

        wait_for(reached, 10, f"the swap did not reach step {cut_at}")
        manager.power_cut("af0", sim_root)
        restart("af0", sim_root)
        now = app("af0")
        assert now["version"] in versions and now["version"] != before  # the swap was finished at boot
        assert files.image(0) == versions[now["version"]]
        assert files.image(1) == versions[before]
        assert not swap.exists() and not (sim_root / "af0" / "boot" / "scratch.bin").exists()
        t0 = files.trailer(0)
        assert (t0.magic, t0.image_ok, t0.copy_done) == (tr.Magic.GOOD, tr.Flag.SET, tr.Flag.SET)


def smpmgr(port: str, *args: str) -> str:
    p = subprocess.run([SMPMGR, "--port", port, "--baudrate", str(BAUD), "--timeout", "10", *args],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def listed(out: str) -> list[dict[str, str]]:
    """smpmgr's image state-read printout: one dict per ImageState(...) with its fields as text."""
    states = []
    for block in out.split("ImageState(")[1:]:
        fields: dict[str, str] = {}
        for part in block.replace("\n", " ").split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                fields[k.strip()] = v.strip().strip("')( ")
        states.append(fields)
    return states


def test_smpmgr_sees_the_trailers_from_the_application_and_serial_recovery(
        device: Dev, sim_root: Path, images: dict[str, Path]) -> None:
    device()
    app("af0")
    port = port_of("af0")
    new_hash = image_hash(images["1.1.0"]).hex()
    (s0,) = listed(smpmgr(port, "image", "state-read"))  # from the application
    assert (s0["slot"], s0["version"], s0["confirmed"], s0["active"]) == ("0", "1.0.0", "True", "True")
    with open_port(port, BAUD, ignore_pids=resolve(None, "af0").allowed_holders) as p:
        DeviceConsole(p).smp.write(0, 5, {"boot_mode": 1})
    wait_for(lambda: manager.list_devices(sim_root)[0].status == state.STATUS_BOOTLOADER, 10, "no bootloader")
    smpmgr(port, "image", "upload", "--slot", "2", str(images["1.1.0"]))  # serial recovery: the secondary
    rec = listed(smpmgr(port, "image", "state-read"))
    assert [(s["slot"], s["version"], s["confirmed"], s["pending"]) for s in rec] == \
        [("0", "1.0.0", "True", "None"), ("1", "1.1.0", "None", "None")]
    smpmgr(port, "image", "state-write", new_hash)  # for a test boot
    rec = listed(smpmgr(port, "image", "state-read"))
    assert rec[1]["pending"] == "True" and rec[1]["permanent"] == "None"
    assert slots(sim_root).trailer(1).magic is tr.Magic.GOOD
    smpmgr(port, "os", "reset")
    app("af0")
    files = slots(sim_root)
    for _ in range(20):  # what the application lists is what its trailers say at that moment
        before = files.trailer(0).image_ok
        seen = listed(smpmgr(port, "image", "state-read"))
        if files.trailer(0).image_ok is before:
            break
    confirmed = before is tr.Flag.SET
    assert [(s["slot"], s["version"], s["confirmed"], s["active"]) for s in seen] == \
        [("0", "1.1.0", str(confirmed), "True"), ("1", "1.0.0", str(not confirmed), "False")]
    wait_for(lambda: files.trailer(0).image_ok is tr.Flag.SET, 15, "the test image did not confirm itself")
    seen = listed(smpmgr(port, "image", "state-read"))
    assert [(s["slot"], s["confirmed"]) for s in seen] == [("0", "True"), ("1", "False")]
    with open_port(port, BAUD, ignore_pids=resolve(None, "af0").allowed_holders) as p:
        DeviceConsole(p).smp.write(0, 5, {"boot_mode": 1})
    wait_for(lambda: manager.list_devices(sim_root)[0].status == state.STATUS_BOOTLOADER, 10, "no bootloader")
    rec = listed(smpmgr(port, "image", "state-read"))
    assert [(s["slot"], s["version"], s["confirmed"]) for s in rec] == [("0", "1.1.0", "True"), ("1", "1.0.0", "None")]
    # "image" 0 in serial recovery: the primary slot itself, verified when the board boots.
    smpmgr(port, "image", "upload", str(images["1.0.0"]))
    assert files.image(0) == images["1.0.0"].read_bytes() and files.trailer(0) == tr.ERASED_TRAILER
    smpmgr(port, "os", "reset")
    assert app("af0")["version"] == "1.0.0"


def test_an_image_for_another_board_is_refused_before_the_upload(device: Dev, sim_root: Path,
                                                                  images: dict[str, Path]) -> None:
    device()
    app("af0")
    p = subprocess.run([sys.executable, "-m", "host_tools.flash", "--device", "af0", str(images["other-board"]),
                        "--json", "--baud", str(BAUD)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 1, p.stdout + p.stderr
    out = json.loads(p.stdout)
    assert out["error"] == "rejected"
    assert "'mps2-an385'" in out["message"] and "'mps2-an386'" in out["message"] and "nothing was uploaded" in out["message"]
    boot_dir = sim_root / "af0" / "boot"
    assert not (boot_dir / "upload.json").exists() and slots(sim_root).image(1) is None
    # The bootloader refuses it too, should a host upload it anyway.
    assert manager.list_devices(sim_root)[0].status == state.STATUS_BOOTLOADER
    t = resolve(None, "af0")
    data = images["other-board"].read_bytes()
    with open_port(t.port, BAUD, ignore_pids=t.allowed_holders) as port:
        con = DeviceConsole(port, timeout=10)
        with pytest.raises(SmpError) as refused:
            off = 0
            while off < len(data):
                req: dict[str, Any] = {"off": off, "data": data[off:off + 8192]}
                if off == 0:
                    req.update(len=len(data), image=2, sha=hashlib.sha256(data).digest())
                off = int(con.smp.write(1, 1, req)["off"])
    assert refused.value.rc == 3 and "mps2-an385" in str(refused.value.reason)
    manager.stop("af0", sim_root)
    restart("af0", sim_root)
    assert app("af0")["version"] == "1.0.0"
