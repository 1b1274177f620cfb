"""One device of a rollout: where it is, what it runs, confirming and reverting its image.

What the application reports (firmware/edgecall/mgmt.py, image group): the running image only —
hash, version, confirmed. Reverting needs the other slot, so it goes through the bootloader, as
mcumgr does: enter it (OS reset with boot_mode=1), mark the previous image (secondary slot after a
test swap) for test + confirm, reset.

Why not "reset and let MCUboot revert": the EdgeCall application confirms its own image once its
console has been healthy for 3 s (firmware/edgecall/app.py, CONFIRM_AFTER_MS; hal/boot.py writes
image_ok). By the time a health check has run, the new image is usually confirmed already, and a
reset would keep it. So the rollback marks the old image permanent in the secondary slot
(forced: it is a downgrade) and the bootloader swaps it back in (host_tools/sim/bootloader/boot.py;
MCUboot does the same with a permanent pending secondary). A new image that is still unconfirmed
is reverted by the same reset first; the pending mark is then cleared by the revert swap, and the
result is the same: the previous image, confirmed.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from smpclient.generics import success
from smpclient.requests.image_management import ImageStatesRead
from smpclient.requests.os_management import ResetWrite

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import Target, resolve
from host_tools.flash.errors import FlashError, Rollback
from host_tools.flash.requests import ForcedStatesWrite
from host_tools.flash.session import Flasher, FlashResult
from host_tools.smp.client import SmpError
from host_tools.transport import TransportError, open_port


class RevertError(FlashError):
    """The previous image could not be brought back (exit 1; the message says what to do)."""

    kind = "revert"


@dataclass(frozen=True)
class DeviceRef:
    """A device as the user named it: a devkit id / USB serial number (--device) or a port (--port)."""

    name: str
    by_port: bool = False

    def target(self, sim_root: Path | None) -> Target:
        """Resolved each time: a devkit's pty changes when it restarts."""
        return resolve(self.name, None, sim_root) if self.by_port else resolve(None, self.name, sim_root)


@dataclass(frozen=True)
class Running:
    version: str
    hash: str  # hex
    confirmed: bool


@dataclass
class Link:
    """How to reach devices: the devkits' state folder, the line speed, timeouts."""

    sim_root: Path | None = None
    baud: int = 115200
    timeout: float = 5.0
    boot_timeout: float = 60.0

    @contextmanager
    def console(self, ref: DeviceRef, timeout: float | None = None) -> Iterator[DeviceConsole]:
        t = ref.target(self.sim_root)
        with open_port(t.port, self.baud, ignore_pids=t.allowed_holders) as port:
            yield DeviceConsole(port, timeout=timeout or self.timeout)

    def flasher(self, ref: DeviceRef) -> Flasher:
        t = ref.target(self.sim_root)
        return Flasher(t.port, t.allowed_holders, baud=self.baud, timeout=self.timeout, boot_timeout=self.boot_timeout)

    # ---- what runs
    def running(self, ref: DeviceRef, timeout: float = 2.0) -> Running | None:
        """The application's running image; None when no application answers (a bootloader, a
        device still booting, or nothing). A port that is gone raises TransportError."""
        try:
            with self.console(ref, timeout) as c:
                active = c.active_image()
        except TimeoutError:
            return None
        # MCUboot's serial recovery answers the image group with no active image
        return _as_running(active) if active else None

    def wait_running(self, ref: DeviceRef, timeout: float, confirmed: bool = False) -> Running | None:
        """Polls until the application answers (and, with `confirmed`, until its image is)."""
        deadline = time.monotonic() + timeout
        last: Running | None = None
        while True:
            last = self.running(ref)
            if last is not None and (last.confirmed or not confirmed):
                return last
            if time.monotonic() >= deadline:
                return last
            time.sleep(0.5)

    def confirm(self, ref: DeviceRef) -> Running:
        """Makes the running image permanent (mcumgr image state write, confirm); reads it back."""
        with self.console(ref) as c:
            c.smp.write(1, 0, {"confirm": True})
            return _as_running(c.active_image())

    # ---- back to the previous image
    def revert(self, ref: DeviceRef, prev_hash: str, prev_version: str) -> str:
        """Brings the image `prev_hash` back as the confirmed primary; returns what was done."""
        flasher = self.flasher(ref)
        how = asyncio.run(self._mark_previous(flasher, bytes.fromhex(prev_hash)))
        result = FlashResult(flasher.port, prev_version, prev_hash, 0, "revert")
        try:
            flasher.wait_app(prev_version, confirm=False, result=result)
        except Rollback:
            raise RevertError(f"{ref.name}: after the revert the device runs {result.version_after}, not "
                              f"{prev_version}; flash the previous image with `edgecall flash --force`") from None
        return how

    async def _mark_previous(self, flasher: Flasher, prev: bytes) -> str:
        result = FlashResult(flasher.port, "", prev.hex(), 0, "revert")
        client = await flasher.enter_bootloader(result)
        try:
            rsp = await client.request(ImageStatesRead(), timeout_s=flasher.timeout)
            if not success(rsp):
                raise RevertError(f"{flasher.port}: the bootloader did not list its slots")
            slots = {int(s.slot): bytes(s.hash or b"") for s in rsp.images}
            if slots.get(0) == prev:
                how = "the bootloader already holds the previous image in the primary slot: reset"
            elif slots.get(1) == prev:
                req = ForcedStatesWrite(hash=prev, confirm=True, force=True)
                rsp2 = await client.request(req, timeout_s=flasher.timeout)
                if not success(rsp2):
                    raise RevertError(f"{flasher.port}: the bootloader refused to mark the previous image: {rsp2}")
                how = "previous image (secondary slot) marked test+confirm, swapped back by the bootloader"
            else:
                have = ", ".join(f"slot {k}: {v.hex()[:12]}" for k, v in sorted(slots.items())) or "empty slots"
                raise RevertError(f"{flasher.port}: the previous image {prev.hex()[:12]} is in neither slot ({have}); "
                                  "flash it again with `edgecall flash --force IMAGE`")
            await client.request(ResetWrite(), timeout_s=flasher.timeout)
            return how
        finally:
            await client.disconnect()


def _as_running(active: dict[str, Any]) -> Running:
    return Running(version=str(active.get("version", "")), hash=bytes(active.get("hash") or b"").hex(),
                   confirmed=bool(active.get("confirmed")))


__all__ = ["DeviceRef", "Link", "RevertError", "Running", "SmpError", "TransportError"]
