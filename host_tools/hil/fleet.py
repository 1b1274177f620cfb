"""Bringing devices under test up and down: virtual devkits (started blank, the signed firmware
image flashed over SMP through their bootloader, as on a factory line) or real boards by port;
then tokens from the provisioning station (recorded in a ledger) and the call settings.
"""
from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.firmware import image
from host_tools.flash.session import Flasher
from host_tools.hil.dut import Dut
from host_tools.ledger.ledger import Ledger
from host_tools.provision.station import Config, provision
from host_tools.sim import manager

BAUD = 921600
CHANNEL = "hil"


@dataclass(frozen=True)
class Identity:
    """The app the HIL run's tokens are for (a fresh random certificate per run)."""

    app_id: str
    app_cert: bytes

    @staticmethod
    def fresh() -> Identity:
        return Identity(secrets.token_hex(16), secrets.token_hex(16).encode())


SLIRP_HOST = "10.0.2.2"  # this machine as a devkit's user-mode network (QEMU -nic user) sees it
ARCH = "armv7e-m"  # the devkits' CPU: Cortex-M4 (QEMU mps2-an386)


def start_virtual(count: int, root: Path, mic: Path | None, prefix: str = "hil",
                  firmware: bool = False) -> list[Dut]:
    """Devkits in `root`: blank (empty flash and slots, ready for flashing), or with the firmware
    of the working tree in the primary slot as a factory leaves them (`firmware`). They reach this
    machine at SLIRP_HOST."""
    ids = [f"{prefix}{i}" for i in range(count)]
    mic = mic if mic and mic.is_file() else None
    factory = manager.factory_image() if firmware else None
    infos = manager.start(ids=ids, root=root, blank=True, baud=BAUD, mic=mic, factory_image=factory)
    return [Dut(i.id, "virtual", i.port or "", BAUD, sim_dir=root / i.id, host_address=SLIRP_HOST, arch=ARCH)
            for i in infos]


IDENTITY = ("version", "machine", "micropython")  # what a report says of each device's firmware


def identity(dut: Dut) -> dict[str, str]:
    """The device's firmware version, machine and MicroPython build, from its info."""
    info = dut.info()
    return {k: str(info.get(k, "")) for k in IDENTITY}


def server_address(dut: Dut, default: str) -> str:
    """The channel server's address as the device must dial it."""
    return dut.host_address or default


def boards(ports: Iterable[str], baud: int = 115200) -> list[Dut]:
    return [Dut(f"board{i}", "board", p, baud) for i, p in enumerate(ports)]


def stop(duts: Iterable[Dut], root: Path | None) -> None:
    """Closes the devices' ports and stops the devkits in root (boards keep running)."""
    for d in duts:
        d.close()
    if root is not None:
        manager.stop_all(root)


def power_cut_and_restart(dut: Dut, root: Path, off_s: float = 0.5) -> None:
    """Pulls a devkit's power, waits, powers it on again (its flash is kept)."""
    dut.close()
    manager.power_cut(dut.id, root)
    time.sleep(off_s)
    info = manager.start(ids=[dut.id], root=root, baud=dut.baud)[0]
    dut.port = info.port or ""


def build_image(out_dir: Path) -> Path:
    """The signed image for the devices (the firmware)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(image.build_image(out=out_dir / "edgecall-hil-mps2-an386.bin").path)


def enter_bootloader(dut: Dut) -> None:
    """A factory-fresh devkit runs the bare MicroPython REPL (no image, no console): ask it for
    its bootloader there, as `edgecall flash` tells a user to."""
    from host_tools.deploy.raw_repl import DeployError, RawRepl

    dut.close()
    try:
        with RawRepl(dut.port, timeout=5) as repl:
            repl.t.serial.write(b"import machine\r\nmachine.bootloader()\r\n\x04")
    except DeployError as e:
        raise RuntimeError(f"{dut.id}: could not reach the REPL to enter the bootloader: {e}") from e


def flash_all(duts: list[Dut], img: Path, log: Callable[[str], None], fresh: bool = False) -> dict[str, float]:
    """Flashes every device in parallel (SMP upload, test boot, confirm); seconds per device."""
    def one(d: Dut) -> float:
        d.close()
        if d.kind == "virtual" and fresh:
            enter_bootloader(d)
        t = d.target()
        r = Flasher(t.port, t.allowed_holders, baud=d.baud, boot_timeout=60).run(img)
        if r.events and not r.uploaded:
            log(f"{d.id}: {r.events[-1]}")
        else:
            log(f"{d.id}: flashed {r.version_after} in {r.seconds:.1f} s ({r.throughput / 1024:.1f} KiB/s)")
        return r.seconds

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(duts)))) as pool:
        return dict(zip((d.id for d in duts), pool.map(one, duts)))


def station(dut: Dut, ledger_url: str, ident: Identity, ttl: int = 3600, channel: str = CHANNEL,
            **cfg: Any) -> dict[str, Any]:
    """One pass of the provisioning station over the device (Config's other fields in cfg)."""
    ledger = Ledger(ledger_url, station=f"hil-{os.getpid()}")
    try:
        config = Config(app_id=ident.app_id, app_cert=ident.app_cert, channel=channel, ttl=ttl,
                        batch=f"hil-{ident.app_id[:8]}", **cfg)
        return provision(dut.console, ledger, config).as_dict()
    finally:
        ledger.close()


def provision_all(duts: list[Dut], ledger_url: str, ident: Identity, ttl: int = 3600) -> list[dict[str, Any]]:
    """Tokens from the station into every device (re-provisioning what a previous run left)."""
    out = []
    for d in duts:
        outcome = station(d, ledger_url, ident, ttl, reprovision_reason="hil run: fresh app identity")
        d.uid = str(d.request("provisioning")["uid"])
        out.append({"device": d.id, "uid": d.uid, **outcome})
    return out


def renew(dut: Dut, ledger_url: str, ident: Identity, ttl: int) -> dict[str, Any]:
    """A station renewal of the device's token (same uid) with the given lifetime."""
    return station(dut, ledger_url, ident, ttl, renew=True)


def join_all(duts: list[Dut], ledger_url: str, ident: Identity, server_host: str | Callable[[Dut], str],
             server_port: int, codec: str | None = None, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Running devices into the channel: tokens from the station, the call settings, then
    joined and idle. `server_host` may depend on the device (the address it reaches this machine
    by, on a farm). Returns the station's outcomes."""
    from host_tools.hil import calls

    for d in duts:
        d.wait_ready(timeout)
    outcomes = provision_all(duts, ledger_url, ident)
    for d in duts:
        configure([d], server_host(d) if callable(server_host) else server_host, server_port, codec=codec)
    calls.wait_joined(duts, timeout=timeout)
    return outcomes


def configure(duts: list[Dut], server_host: str, server_port: int, answer: str = "auto",
              codec: str | None = None) -> None:
    """Call settings (codec: offer only that one; None: the device's default), then the call
    service (re)started with them."""
    for d in duts:
        d.request("setting_set", "call/server", f"{server_host}:{server_port}".encode())
        d.request("setting_set", "call/answer", answer.encode())
        if codec:
            d.request("setting_set", "call/codecs", codec.encode())
        else:
            try:
                d.request("setting_delete", "call/codecs")
            except RuntimeError:
                pass  # not set
        d.call("join")
