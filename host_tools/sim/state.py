"""Where a virtual devkit keeps its state on the host, and how that state is read and written.

Each device has a folder ``<root>/<ID>/`` (root: ``build/sim`` of the project, or
``$EDGECALL_SIM_DIR``) holding ``flash.bin`` (the board's flash: littlefs), ``boot/`` (the
bootloader's slots, see host_tools/sim/bootloader), ``state.json`` (its
configuration and, while it runs, the supervisor pid and pty path) and the logs
``supervisor.log`` and ``device.log``. ``state.json`` is replaced atomically (temp + rename).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from host_tools.paths import BUILD

DEFAULT_HEAP = 192 * 1024  # the devkit firmware's MicroPython heap (hal/devkit/mpconfigboard.mk)
DEFAULT_BAUD = 115200
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

STATUS_STARTING = "starting"  # supervisor spawned, no pty yet
STATUS_BOOTING = "booting"  # pty up, MicroPython starting
STATUS_RUNNING = "running"  # REPL up
STATUS_BOOTLOADER = "bootloader"  # machine.bootloader(): the application stopped
STATUS_CRASHED = "crashed"  # QEMU kept dying; the supervisor gave up restarting it
STATUS_OFF = "off"  # no process (stopped, power cut, or never started)


def sim_root() -> Path:
    """The folder holding one sub-folder per device."""
    env = os.environ.get("EDGECALL_SIM_DIR")
    return Path(env) if env else BUILD / "sim"


def valid_id(device_id: str) -> bool:
    return bool(ID_PATTERN.match(device_id))


def unique_id(device_id: str) -> str:
    """machine.unique_id() of a device, as hex: 8 bytes (like an RP2040's) derived from its id."""
    return hashlib.sha256(b"edgecall-vdk:" + device_id.encode()).digest()[:8].hex()


@dataclass
class DeviceState:
    """The contents of state.json."""

    id: str
    baud: int = DEFAULT_BAUD
    status: str = STATUS_OFF
    pid: int | None = None  # the supervisor (process group leader)
    cpu_pid: int | None = None  # the CPU's process: QEMU
    port: str | None = None
    boots: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class DeviceDir:
    """Paths inside one device's folder."""

    def __init__(self, device_id: str, root: Path | None = None) -> None:
        self.id = device_id
        self.path = (root or sim_root()) / device_id

    @property
    def flash(self) -> Path:
        """The board's flash, the littlefs image the firmware mounts (hal/devkit/flashbdev.c)."""
        return self.path / "flash.bin"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def supervisor_log(self) -> Path:
        return self.path / "supervisor.log"

    @property
    def device_log(self) -> Path:
        return self.path / "device.log"

    def exists(self) -> bool:
        return self.state_file.is_file()

    def read(self) -> DeviceState:
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        known = {k: v for k, v in data.items() if k in DeviceState.__dataclass_fields__}
        return DeviceState(**known)

    def write(self, state: DeviceState) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.state_file)

    def update(self, **changes: object) -> DeviceState:
        state = self.read()
        for key, value in changes.items():
            setattr(state, key, value)
        self.write(state)
        return state
