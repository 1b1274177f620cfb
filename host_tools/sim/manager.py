"""Starting, stopping, listing and power-cutting virtual devkits.

A device's processes are a supervisor (session and process-group leader) and its CPU's process
(QEMU for an ARM devkit, Node for a WebAssembly one); the
state folder (state.py) says which pid leads the group. `stop` asks the supervisor to shut down
(SIGTERM); `power_cut` kills the whole group at once (SIGKILL), so whatever the firmware had not
closed or synced is lost; either way the flash folder stays and `start` with the same id boots
from it again.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
        heap=st.heap,
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


def _install(flash: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        rel = PurePosixPath(name.lstrip("/"))
        if ".." in rel.parts or not rel.parts:
            raise SimError(f"install_files: bad path {name!r}", 2)
        target = flash.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _spawn(d: state.DeviceDir) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(d.supervisor_log, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", SUPERVISOR_MODULE, str(d.path)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=ROOT, env=env, close_fds=True,
        )


def start(
    count: int = 1,
    ids: Iterable[str] | None = None,
    heap: int = state.DEFAULT_HEAP,
    baud: int = state.DEFAULT_BAUD,
    blank: bool = False,
    install_files: Mapping[str, bytes] | None = None,
    root: Path | None = None,
    timeout: float = BOOT_TIMEOUT,
    mic: Path | None = None,
    camera: Path | None = None,
    boot_key: Path | None = None,
    slot_size: int | None = None,
    kind: str | None = None,
    factory_image: bytes | None = None,
    icount_shift: int | None = None,
    qemu_plugin: str | None = None,
) -> list[DeviceInfo]:
    """Starts devices and waits until each REPL is up.

    `ids` names the devices (a stopped device keeps its flash); otherwise `count` devices get the
    lowest free ids `vdkN`. `blank` empties the flash first; `install_files` (path -> contents)
    are then written into it, e.g. by the firmware installer. `mic` is a 16-bit mono WAV file the
    microphone of hal.vdk.audio plays, `camera` a folder of raw frames for hal.vdk.camera (see
    board.py); the speaker recording starts empty. The bootloader's config gets the public key of
    `boot_key` (default: the development key build/keys/dev-ed25519.pem, created on first use);
    `blank` also erases its slots.

    `kind` "arm" starts ARM devkits (MicroPython on QEMU mps2-an386): their flash is a littlefs
    image (flash.bin, formatted at first boot) and an empty primary slot boots the base firmware
    (host_tools/native/devkit.py builds it on first use); `factory_image` (a signed ARM image) is
    written into the primary slot, confirmed, as a factory would; `install_files` is for
    WebAssembly devkits only so far. Their microphone and camera (hal.emu, hal/devkit/audio.c and
    camera.c) find `mic` and `camera` through mic.wav and camera.list in the device folder.

    For measurements, an ARM devkit's QEMU can run under `-icount shift=N` (`icount_shift`) and with
    a TCG plugin (`qemu_plugin`, QEMU's -plugin argument, relative paths from the device folder);
    both stay with the device's state until it is started again without them.
    """
    from host_tools.sim.setup import ensure_node_modules

    names = list(ids) if ids else _free_ids(count, root)
    if heap < 16 * 1024:
        raise SimError("heap must be at least 16 KiB", 2)
    if baud not in line.STANDARD_BAUDS:
        raise SimError(f"unsupported baud rate {baud} (standard rates: 9600, 115200, ...)", 2)
    if kind is None:  # a device started before keeps its kind
        known = [_device_dir(n, root) for n in names]
        kind = next((d.read().kind for d in known if d.exists()), state.KIND_WASM)
    if kind not in state.KINDS:
        raise SimError(f"unknown devkit kind {kind!r} (one of {', '.join(state.KINDS)})", 2)
    arm = kind == state.KIND_ARM
    if arm and install_files:
        raise SimError("ARM devkits do not take files yet", 2)
    if arm and heap != state.DEFAULT_HEAP:
        raise SimError("an ARM devkit's heap is built into its firmware (192 KiB)", 2)
    if not arm and (icount_shift is not None or qemu_plugin):
        raise SimError("-icount and QEMU plugins are for ARM devkits (QEMU) only", 2)
    if icount_shift is not None and not 0 <= icount_shift <= qemu.ICOUNT_SHIFT_MAX:
        raise SimError(f"icount shift must be 0..{qemu.ICOUNT_SHIFT_MAX}, not {icount_shift}", 2)
    dirs = [_device_dir(n, root) for n in names]
    extra = media_extra(mic, camera)
    for d in dirs:
        if d.exists() and _alive(d.read().pid, d.path):
            raise SimError(f"device {d.id} is already running (pid {d.read().pid})", 2)
    if arm:
        extra["base_firmware"] = str(_base_firmware())
        if icount_shift is not None:
            extra["icount_shift"] = str(icount_shift)
        if qemu_plugin:
            extra["qemu_plugin"] = qemu_plugin
    else:
        ensure_node_modules()
    from host_tools.firmware import keys
    from host_tools.firmware.image import ARM_SLOT_SIZE
    from host_tools.sim.bootloader import store as boot_store

    key = Path(boot_key) if boot_key else keys.dev_key()
    for d in dirs:
        if blank and d.flash.exists():
            shutil.rmtree(d.flash)
        if blank:
            (d.path / qemu.FLASH_FILE).unlink(missing_ok=True)
        if arm:
            check_flash(d.path / qemu.FLASH_FILE)
        if blank and (d.path / "boot").exists():
            shutil.rmtree(d.path / "boot")
        old_cfg = boot_store.BootStore(d.path).config() if (d.path / "boot" / "config.json").exists() else {}
        default_slot = ARM_SLOT_SIZE if arm else boot_store.DEFAULT_SLOT_SIZE  # an ARM image is the firmware
        boot_store.write_config(d.path, keys.public_der(key), keys.key_hash(key),
                                slot_size or int(old_cfg.get("slot_size", default_slot)),
                                bool(old_cfg.get("allow_downgrade", False)), int(old_cfg.get("swap_step_ms", 0)))
        d.flash.mkdir(parents=True, exist_ok=True)
        if factory_image is not None:
            store = boot_store.BootStore(d.path)
            if store.slot(0) != factory_image:
                store.write_slot(0, factory_image)
                store.write_trailer(0, {"test": False})
        if install_files:
            _install(d.flash, install_files)
        d.write(state.DeviceState(id=d.id, heap=heap, baud=baud, status=state.STATUS_STARTING,
                                  extra=dict(extra), kind=kind))
        d.device_log.unlink(missing_ok=True)
        board.reset_audio(d)
        reset_video(d)
        if arm:  # the board's microphone and camera read their sources from the device folder
            board.link_mic(d, extra.get("mic"))
            write_camera_list(d, extra.get("camera"))
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
    """The LED states a device last showed (hal.vdk.led)."""
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
    d.update(status=state.STATUS_OFF, pid=None, node_pid=None, port=None)
    return was_alive


def _reap_if_child(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
