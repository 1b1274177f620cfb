"""--port PATH|URL or --device ID to a port to open. A device id names a virtual devkit (its pty)
or a real board by its USB serial number. A virtual devkit's own supervisor keeps its pty open;
those processes are allowed holders of the port."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from host_tools.transport import PortNotFound


@dataclass(frozen=True)
class Target:
    port: str
    device_id: str | None
    allowed_holders: tuple[int, ...]


def _group(pgid: int) -> tuple[int, ...]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getpgid(int(name)) == pgid:
                    pids.append(int(name))
            except OSError:
                continue
    return tuple(pids)


def resolve(port: str | None, device: str | None, sim_root: Path | None = None) -> Target:
    """sim_root: the devkits' state folder (default $EDGECALL_SIM_DIR or build/sim)."""
    from host_tools.sim import manager

    if (port is None) == (device is None):
        raise ValueError("give exactly one of --port or --device")
    sims = [d for d in manager.list_devices(sim_root) if d.port and d.pid]
    if port is not None:
        for d in sims:
            if d.port == port:
                return Target(port, d.id, _group(d.pid or 0))
        return Target(port, None, ())
    for d in sims:
        if d.id == device:
            return Target(d.port or "", d.id, _group(d.pid or 0))
    try:
        from serial.tools import list_ports

        for p in list_ports.comports():
            if p.serial_number and p.serial_number == device:
                return Target(p.device, device, ())
    except ImportError:
        pass
    raise PortNotFound(f"no running virtual devkit or USB board with id {device!r}; see `edgecall sim list`")
