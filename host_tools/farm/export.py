"""`edgecall sim export`: one host's virtual devkits made reachable as network serial ports
(RFC 2217) and registered with a labgrid coordinator, as a lab host exports its boards.

With `--coordinator`, a labgrid exporter publishes each devkit's pty as a `RawSerialPort`; labgrid
serves it with ser2net (RFC 2217) while a place holds it and announces it as a
`NetworkSerialPort`. One place per device is created (named as the device, `<exporter>-<prefix><n>`, tags `pool=…`,
`health=ok` unless the place already has a health verdict). Without it, ser2net serves every
device at once on consecutive TCP ports (`--base-port`), for pyserial/`--port rfc2217://…` users
without labgrid. The URLs it prints carry `?ign_set_control`: ser2net does not acknowledge the
RFC 2217 SET-CONTROL (DTR/RTS) that stock pyserial, and so mpremote, waits for, and with it they
work as printed (`mpremote connect URL`, `serial.serial_for_url(URL)`).

The command stays in the foreground (like `labgrid-exporter`) until SIGINT/SIGTERM, then stops
what it started — its exporter and the devices it started, not other devkits of the same sim
root. It writes `export.json` into the sim root (the exporter's pid and process group, the devices
and their ports), so tools and tests can find them. If the exporter process dies, its devices are
stopped and the command exits 3.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from host_tools.farm import labgrid
from host_tools.sim import manager, state

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3


@dataclass
class Exported:
    id: str
    pty: str
    place: str | None  # labgrid place
    url: str | None  # rfc2217:// (ser2net mode)


def exporter_config(devices: list[tuple[str, str]], baud: int) -> str:
    """labgrid exporter YAML: a group per device with its pty as a RawSerialPort."""
    lines: list[str] = []  # (no comments: labgrid reads the file as a Jinja template, "#" starts a statement)
    for dev_id, pty in devices:
        lines += [f"{dev_id}:", "  RawSerialPort:", f"    port: {pty}", f"    speed: {baud}"]
    return "\n".join(lines) + "\n"


def ser2net_config(devices: list[tuple[str, str]], baud: int, base_port: int, bind: str) -> str:
    """ser2net 4 YAML: each pty on its own TCP port, RFC 2217 (telnet) server mode."""
    out = ["%YAML 1.1", "---"]
    for i, (dev_id, pty) in enumerate(devices):
        out += [f"connection: &{dev_id}",
                f"  accepter: telnet(rfc2217,mode=server),tcp,{bind + ',' if bind else ''}{base_port + i}",
                f"  connector: serialdev(nouucplock=true),{pty},{baud}n81,local",
                "  options:", "    kickolduser: true"]
    return "\n".join(out) + "\n"


def stock_url(host: str, port: int) -> str:
    """An RFC 2217 URL of a ser2net port that stock pyserial and mpremote open as it is."""
    return f"rfc2217://{host}:{port}?ign_set_control"


def _stop_devices(ids: list[str], root: Path) -> None:
    """Stops the devices this export started (each asked at once, then waited for)."""
    running = {d.id: d.pid for d in manager.list_devices(root) if d.id in ids and d.pid}
    for pid in running.values():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for device_id in running:
        manager.stop(device_id, root)


def _stop_group(proc: subprocess.Popen[Any], timeout: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run(count: int, prefix: str, coordinator: str | None, name: str, hostname: str | None, pool: str,
        baud: int, blank: bool, mic: Path | None, base_port: int, bind: str, as_json: bool) -> int:
    root = state.sim_root()
    root.mkdir(parents=True, exist_ok=True)
    # ids (and so machine.unique_id() and the channel uid) unique across the farm's hosts
    ids = [f"{name}-{prefix}{i}" for i in range(count)]

    proc: subprocess.Popen[Any] | None = None
    exported: list[Exported] = []
    started: list[str] = []
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log = open(root / "exporter.log", "ab")
    try:
        already = {d.id for d in manager.list_devices(root) if d.pid}
        started = [i for i in ids if i not in already]  # ours to stop (start() refuses ids that already run)
        infos = manager.start(ids=ids, root=root, blank=True, baud=baud, mic=mic,
                              factory_image=None if blank else manager.factory_image())
        devices = [(i.id, i.port or "") for i in infos]
        if coordinator:
            cfg = root / "exporter.yaml"
            cfg.write_text(exporter_config(devices, baud))
            host = hostname or socket.gethostname()
            # its own process group: the exporter and the ser2net it starts stop (or die) together
            proc = subprocess.Popen([str(labgrid.tool("labgrid-exporter")), "-c",
                                     labgrid.coordinator_address(coordinator), "--name", name, "--hostname", host,
                                     str(cfg)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            client = labgrid.Client(coordinator, user=f"edgecall-export-{name}")
            _wait_resources(client, name, [d for d, _ in devices], proc)
            for dev_id, pty in devices:
                place = dev_id
                info_tags = {"pool": pool, "exporter": name}
                client.create_place(place, f"{name}/{dev_id}/*", info_tags)
                if "health" not in client.show(place).tags:
                    client.set_tags(place, {"health": "ok"})
                exported.append(Exported(dev_id, pty, place, None))
            client.close()
        else:
            cfg = root / "ser2net.yaml"
            cfg.write_text(ser2net_config(devices, baud, base_port, bind))
            proc = subprocess.Popen(["ser2net", "-n", "-d", "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            for i, (dev_id, pty) in enumerate(devices):
                _wait_listening(bind or "127.0.0.1", base_port + i, proc)
                exported.append(Exported(dev_id, pty, None, stock_url(hostname or bind or "127.0.0.1", base_port + i)))
        summary = {"name": name, "coordinator": coordinator, "exporter_pid": proc.pid, "pid": os.getpid(),
                   "devices": [asdict(e) for e in exported]}
        (root / "export.json").write_text(json.dumps(summary, indent=2))
        if as_json:
            print(json.dumps(summary), flush=True)
        else:
            for e in exported:
                print(f"{e.id}: {e.pty} → {e.place or e.url}", flush=True)
        while not stopping:
            if proc.poll() is not None:
                print(f"edgecall sim export: the exporter (pid {proc.pid}) ended with {proc.returncode}; "
                      "stopping the devices", file=sys.stderr, flush=True)
                return EXIT_TRANSPORT
            time.sleep(0.2)
        return EXIT_OK
    except labgrid.LabgridError as e:
        print(f"edgecall sim export: {e}", file=sys.stderr)
        return EXIT_TRANSPORT
    finally:
        if proc is not None:
            _stop_group(proc)
        _stop_devices(started, root)
        (root / "export.json").unlink(missing_ok=True)
        log.close()


def _wait_resources(client: labgrid.Client, name: str, ids: list[str], proc: subprocess.Popen[Any],
                    timeout: float = 30.0) -> None:
    """Until the coordinator lists every device's resource from this exporter."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise labgrid.LabgridError(f"labgrid-exporter ended with {proc.returncode} (see exporter.log in the sim root)")
        out = client.resources()
        if all(any(r.startswith(f"{name}/{i}/") for r in out) for i in ids):
            return
        time.sleep(0.3)
    raise labgrid.LabgridError(f"the coordinator {client.coordinator} did not list this exporter's resources "
                               f"within {timeout:.0f} s (is it running and reachable?)")


def _wait_listening(host: str, port: int, proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise labgrid.LabgridError(f"ser2net ended with {proc.returncode} (see exporter.log in the sim root)")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise labgrid.LabgridError(f"ser2net is not listening on {host}:{port}")
