"""Starting, stopping, listing and power-cutting virtual devkits.

A device's processes are a supervisor (session and process-group leader) and its CPU's process
(QEMU); the state folder (state.py) says which pid leads the group. `stop` asks the supervisor to
shut down (SIGTERM); `power_cut` kills the whole group at once (SIGKILL), so whatever the firmware
had not closed or synced is lost; either way the flash stays and `start` with the same id boots
from it again.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from host_tools.paths import ROOT
from host_tools.sim import board, line, qemu, state
from host_tools.sim.camera import reset_video, write_camera_list

BOOT_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
SUPERVISOR_MODULE = "host_tools.sim.supervisor"


class SimError(Exception):
    """A device could not be started, found or stopped. `exit_code` follows the CLI's table."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class DeviceInfo:
    id: str
    port: str | None
    pid: int | None
    status: str
    heap: int
    baud: int
    flash: str

    def short(self) -> dict[str, object]:
        return {"id": self.id, "port": self.port, "pid": self.pid}


def _alive(pid: int | None, device_dir: Path) -> bool:
    """True when `pid` is this device's supervisor (not a recycled pid)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return SUPERVISOR_MODULE.encode() in cmdline and str(device_dir).encode() in cmdline


def _info(d: state.DeviceDir) -> DeviceInfo:
    st = d.read()
    running = _alive(st.pid, d.path)
    return DeviceInfo(
        id=st.id,
        port=st.port if running else None,
        pid=st.pid if running else None,
        status=st.status if running else state.STATUS_OFF,
        heap=state.DEFAULT_HEAP,
        baud=st.baud,
        flash=str(d.flash),
    )


def _device_dir(device_id: str, root: Path | None) -> state.DeviceDir:
    if not state.valid_id(device_id):
        raise SimError(f"invalid device id {device_id!r} (letters, digits, '_', '.', '-')", 2)
    return state.DeviceDir(device_id, root)


def list_devices(root: Path | None = None) -> list[DeviceInfo]:
    """Every device that has a state folder, running or not, sorted by id."""
    base = root or state.sim_root()
    if not base.is_dir():
        return []
    dirs = [state.DeviceDir(p.name, base) for p in sorted(base.iterdir()) if p.is_dir()]
    return [_info(d) for d in dirs if d.exists()]


def _free_ids(count: int, root: Path | None) -> list[str]:
    running = {d.id for d in list_devices(root) if d.pid is not None}
    out: list[str] = []
    n = 0
    while len(out) < count:
        candidate = f"vdk{n}"
        if candidate not in running:
            out.append(candidate)
        n += 1
    return out


def _spawn(d: state.DeviceDir) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(d.supervisor_log, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", SUPERVISOR_MODULE, str(d.path)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=ROOT, env=env, close_fds=True,
        )


def factory_image() -> bytes:
    """The factory image: the application's firmware built from the working tree, signed with the
    development key (what a factory writes into the primary slot)."""
    from host_tools.firmware import image

    try:
        return Path(image.build_image().path).read_bytes()
    except image.ImageBuildError as e:
        raise SimError(f"the factory image did not build: {e}", 1) from e


def start(
    count: int = 1,
    ids: Iterable[str] | None = None,
    baud: int = state.DEFAULT_BAUD,
    blank: bool = False,
    root: Path | None = None,
    timeout: float = BOOT_TIMEOUT,
    mic: Path | None = None,
    camera: Path | None = None,
    boot_key: Path | None = None,
    slot_size: int | None = None,
    factory_image: bytes | None = None,
    icount_shift: int | None = None,
    qemu_plugin: str | None = None,
) -> list[DeviceInfo]:
    """Starts devkits (MicroPython on QEMU mps2-an386) and waits until each REPL is up.

    `ids` names the devices (a stopped device keeps its flash); otherwise `count` devices get the
    lowest free ids `vdkN`. A device's flash is a littlefs image (flash.bin, formatted at its first
    boot); `blank` erases it and the bootloader's slots. An empty primary slot boots the base
    firmware (MicroPython as a board's maker ships it: no hal, no application;
    host_tools/native/devkit.py builds it on first use); `factory_image` (a signed image, see
    factory_image()) is written into the primary slot, confirmed, as a factory would. `mic` is a 16-bit mono WAV file the microphone plays, `camera`
    a folder of raw frames for the camera (hal.emu, hal/devkit/audio.c and camera.c find them
    through mic.wav and camera.list in the device folder); the speaker recording starts empty.
    The bootloader's config gets the public key of `boot_key` (default: the development key
    build/keys/dev-ed25519.pem, created on first use).

    For measurements, QEMU can run under `-icount shift=N` (`icount_shift`) and with a TCG plugin
    (`qemu_plugin`, QEMU's -plugin argument, relative paths from the device folder); both stay
    with the device's state until it is started again without them.
    """
    names = list(ids) if ids else _free_ids(count, root)
    if baud not in line.STANDARD_BAUDS:
        raise SimError(f"unsupported baud rate {baud} (standard rates: 9600, 115200, ...)", 2)
    if icount_shift is not None and not 0 <= icount_shift <= qemu.ICOUNT_SHIFT_MAX:
        raise SimError(f"icount shift must be 0..{qemu.ICOUNT_SHIFT_MAX}, not {icount_shift}", 2)
    dirs = [_device_dir(n, root) for n in names]
    extra = media_extra(mic, camera)
    for d in dirs:
        if d.exists() and _alive(d.read().pid, d.path):
            raise SimError(f"device {d.id} is already running (pid {d.read().pid})", 2)
    extra["base_firmware"] = str(_base_firmware())
    if icount_shift is not None:
        extra["icount_shift"] = str(icount_shift)
    if qemu_plugin:
        extra["qemu_plugin"] = qemu_plugin
    from host_tools.firmware import keys
    from host_tools.firmware.image import SLOT_SIZE
    from host_tools.sim.bootloader import store as boot_store

    key = Path(boot_key) if boot_key else keys.dev_key()
    for d in dirs:
        if blank:
            d.flash.unlink(missing_ok=True)
            if (d.path / "boot").exists():
                shutil.rmtree(d.path / "boot")
        check_flash(d.flash)
        old_cfg = boot_store.BootStore(d.path).config() if (d.path / "boot" / "config.json").exists() else {}
        boot_store.write_config(d.path, keys.public_der(key), keys.key_hash(key),
                                slot_size or int(old_cfg.get("slot_size", SLOT_SIZE)),
                                bool(old_cfg.get("allow_downgrade", False)), int(old_cfg.get("swap_step_ms", 0)))
        if factory_image is not None:
            store = boot_store.BootStore(d.path)
            if store.slot(0) != factory_image:
                store.write_slot(0, factory_image)  # programmed, as a factory does: it boots as it is
        d.write(state.DeviceState(id=d.id, baud=baud, status=state.STATUS_STARTING, extra=dict(extra)))
        d.device_log.unlink(missing_ok=True)
        board.reset_audio(d)
        reset_video(d)
        board.link_mic(d, extra.get("mic"))  # the board's microphone and camera read their sources
        write_camera_list(d, extra.get("camera"))  # from the device folder
        _spawn(d)
    return [_wait_running(d, timeout) for d in dirs]


def media_extra(mic: Path | None, camera: Path | None) -> dict[str, str]:
    """The state's `extra` for a microphone WAV and a camera folder, checked (SimError, exit 2)."""
    extra: dict[str, str] = {}
    if mic is not None:
        try:
            extra["mic"] = str(board.check_mic(Path(mic)))
        except ValueError as e:
            raise SimError(f"--mic: {e}", 2) from e
    if camera is not None:
        if not Path(camera).is_dir():
            raise SimError(f"--camera: {camera} is not a folder", 2)
        extra["camera"] = str(Path(camera).resolve())
    return extra


LITTLEFS_MAGIC = b"littlefs"


def check_flash(path: Path) -> None:
    """An ARM devkit's flash file must be the board's size and hold littlefs (or be erased)."""
    from host_tools.native import devkit

    if not path.exists():
        return
    size = path.stat().st_size
    if size != devkit.FLASH_BYTES:
        raise SimError(f"{path}: {size} bytes; the devkit's flash is {devkit.FLASH_BYTES} bytes", 2)
    with open(path, "rb") as f:
        head = f.read(2 * 4096)
    blocks = (head[:4096], head[4096:])
    if any(b[8:16] == LITTLEFS_MAGIC for b in blocks):
        return
    if all(b == b"\xff" * len(b) for b in blocks):
        return  # erased: the board formats it at its first boot
    raise SimError(f"{path} is not a littlefs image (no superblock) and not erased; "
                   "start the device with --blank to erase it", 2)


def _base_firmware() -> Path:
    """The ARM devkits' base firmware, built (or brought up to date) now."""
    from host_tools.native import devkit, micropython

    try:
        qemu.binary()
        return devkit.build().bin
    except qemu.QemuMissing as e:
        raise SimError(str(e), 1) from e
    except (devkit.BuildError, micropython.SourceError) as e:
        raise SimError(f"the ARM devkit firmware did not build: {e}", 1) from e


def _wait_running(d: state.DeviceDir, timeout: float) -> DeviceInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            st = d.read()
        except (OSError, ValueError):
            st = None
        if st is not None and st.status in (state.STATUS_RUNNING, state.STATUS_CRASHED,
                                            state.STATUS_BOOTLOADER):
            break
        time.sleep(0.02)
    info = _info(d)
    if info.status not in (state.STATUS_RUNNING, state.STATUS_BOOTLOADER):
        power_cut(d.id, d.path.parent)
        raise SimError(
            f"device {d.id} did not boot within {timeout:.0f} s (status {info.status}); "
            f"see {d.device_log} and {d.supervisor_log}",
            3,
        )
    return info


def stop(device_id: str, root: Path | None = None, timeout: float = STOP_TIMEOUT) -> bool:
    """Stops a device (its flash stays). Returns False when it was not running."""
    d = _device_dir(device_id, root)
    if not d.exists():
        raise SimError(f"no device {device_id} (see 'edgecall sim list')", 2)
    pid = d.read().pid
    if not _alive(pid, d.path):
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid, d.path):
        time.sleep(0.02)
    if _alive(pid, d.path):
        power_cut(device_id, root)
    return True


def stop_all(root: Path | None = None) -> list[str]:
    """Stops every running device; returns their ids."""
    running = [d.id for d in list_devices(root) if d.pid is not None]
    for device_id in running:
        pid = _device_dir(device_id, root).read().pid
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for device_id in running:
        stop(device_id, root)
    return running


def press(device_id: str, button: int = 0, hold_ms: int = 100, root: Path | None = None) -> int:
    """Presses a button of a running device for `hold_ms` (returns at once); returns its press count."""
    d = _device_dir(device_id, root)
    if not d.exists() or not _alive(d.read().pid, d.path):
        raise SimError(f"device {device_id} is not running (see 'edgecall sim list')", 2)
    try:
        return board.press(d, button, hold_ms)
    except ValueError as e:
        raise SimError(str(e), 2) from e


def leds(device_id: str, root: Path | None = None) -> list[bool]:
    """The LED states a device last showed (hal.emu.led)."""
    d = _device_dir(device_id, root)
    if not d.exists():
        raise SimError(f"no device {device_id} (see 'edgecall sim list')", 2)
    return board.leds(d)


def power_cut(device_id: str, root: Path | None = None) -> bool:
    """Kills all of a device's processes at once (SIGKILL). Returns False if it was not running."""
    d = _device_dir(device_id, root)
    if not d.exists():
        raise SimError(f"no device {device_id} (see 'edgecall sim list')", 2)
    st = d.read()
    was_alive = _alive(st.pid, d.path)
    if was_alive and st.pid:
        try:
            os.killpg(st.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and Path(f"/proc/{st.pid}").exists():
            _reap_if_child(st.pid)
            time.sleep(0.005)
    d.update(status=state.STATUS_OFF, pid=None, cpu_pid=None, port=None)
    return was_alive


def _reap_if_child(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
