"""One flash run with smpclient: enter the bootloader, check the image's board against the one
the bootloader reports, upload into the secondary slot ("image" 2, resuming from the device's
offset), check the slot's hash, mark test or permanent, reset, wait for the application to report
the new version through the device console, confirm — or report a rollback.

Before anything touches the device the image file is checked (host_tools.flash.imagecheck: its
hash, and its signature when the key is known), the "already runs it" shortcut included. The port
is checked for other holders first (host_tools.transport), then smpclient's serial transport owns
it; the application is reached afterwards with the device console client. A link that goes away
mid-flash (a port unplugged, an RFC 2217 server gone) is LinkLost (exit 3); Ctrl-C stops the run
at once (KeyboardInterrupt, not deferred by asyncio): the device keeps the bytes it has, and the
same command resumes from its offset.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smp import error as smperror
from smpclient import SMPClient
from smpclient.exceptions import SMPUploadError, SMPValidationException
from smpclient.generics import error, success
from smpclient.requests.image_management import ImageStatesRead, ImageStatesWrite
from smpclient.requests.os_management import BootloaderInformationRead, OSApplicationInfoRead, ResetWrite
import serial
from smpclient.transport import SMPTransportDisconnected
from smpclient.transport.serial import SMPSerialTransport

from host_tools.device.console import DeviceConsole
from host_tools.firmware import armimage, mcuboot
from host_tools.flash import imagecheck
from host_tools.flash.requests import ForcedStatesWrite
from host_tools.flash.errors import FlashError, FlashTimeout, ImageRejected, LinkLost, NotInBootloader, Rollback
from host_tools.transport import TransportError, open_port
from host_tools.transport.serial import url_options

logging.getLogger("smpclient").setLevel(logging.CRITICAL)  # its parse failures are expected here
Progress = Callable[[int, int], None]  # (offset, total)
SECONDARY_SLOT = 2  # the upload's "image": the secondary slot (MCUboot serial recovery's direct image upload)


@dataclass
class FlashResult:
    port: str
    image_version: str
    image_hash: str
    size: int
    mode: str
    resumed_from: int = 0
    uploaded: int = 0
    upload_seconds: float = 0.0
    throughput: float = 0.0  # payload bytes/s of this run's upload
    version_before: str | None = None
    version_after: str | None = None
    confirmed: bool = False
    seconds: float = 0.0
    entered_bootloader: bool = False
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _rc_text(rsp: object) -> str:
    if isinstance(rsp, smperror.ErrorV1):
        return f"{rsp.rsn or ''} (rc {int(rsp.rc)})".strip()
    if isinstance(rsp, smperror.ErrorV2):
        return f"group {rsp.err.group} rc {rsp.err.rc}"
    return str(rsp)


def check_port(port: str, allowed: tuple[int, ...]) -> None:
    """Raises PortBusy (naming the holder) when another program has the port open."""
    open_port(port, ignore_pids=allowed).close()


class _SMPTransport(SMPSerialTransport):
    """smpclient's serial transport, also over pyserial URLs (rfc2217://, socket://): a farm's
    network serial ports flash like local ones."""

    async def connect(self, address: str, timeout_s: float) -> None:
        if "://" in address:
            url, extra = url_options(address)
            conn = serial.serial_for_url(url, do_not_open=True, baudrate=self._conn.baudrate, **extra)
            conn.timeout = self._conn.timeout
            if not hasattr(conn, "out_waiting"):  # socket-backed links keep no local output buffer
                conn.__class__ = type(type(conn).__name__, (type(conn),), {"out_waiting": property(lambda _s: 0)})
            self._conn = conn  # type: ignore[misc]  # (Final in smpclient: one connection per transport)
            address = url
        await super().connect(address, timeout_s)


class Flasher:
    def __init__(self, port: str, allowed_holders: tuple[int, ...] = (), baud: int = 115200,
                 timeout: float = 5.0, boot_timeout: float = 40.0) -> None:
        self.port = port
        self.allowed = allowed_holders
        self.baud = baud
        self.timeout = timeout
        self.boot_timeout = boot_timeout

    # ---- smpclient sessions
    def _client(self) -> SMPClient:
        exclusive = None if "://" in self.port else True
        return SMPClient(_SMPTransport(baudrate=self.baud, exclusive=exclusive), self.port, timeout_s=self.timeout)

    async def _connect(self) -> SMPClient:
        check_port(self.port, self.allowed)
        client = self._client()
        try:
            await client.connect(self.timeout)
        except TimeoutError:
            raise FlashTimeout(f"{self.port}: could not open the port within {self.timeout:.0f} s") from None
        return client

    async def _in_bootloader(self, client: SMPClient) -> bool | None:
        """True: the bootloader answers; False: an application answers; None: nothing does."""
        try:
            rsp = await client.request(BootloaderInformationRead(), timeout_s=2.0)
        except TimeoutError:
            return None
        except SMPValidationException:
            return False  # an SMP server that does not know the command: the application
        return bool(success(rsp) and getattr(rsp, "bootloader", None))

    async def enter_bootloader(self, result: FlashResult) -> SMPClient:
        client = await self._connect()
        state = await self._in_bootloader(client)
        if state is True:
            return client
        if state is None:
            await client.disconnect()
            raise NotInBootloader(
                f"{self.port}: no SMP answer — the device is neither in its bootloader nor running EdgeCall. "
                "Enter the bootloader: run machine.bootloader() on its REPL, hold BOOT while resetting a "
                "board, or restart a virtual devkit; then retry.")
        await client.disconnect()
        with open_port(self.port, self.baud, ignore_pids=self.allowed) as t:
            console = DeviceConsole(t, timeout=self.timeout)
            try:
                result.version_before = str(console.info().get("version"))
            except (TimeoutError, RuntimeError):
                pass
            console.smp.write(0, 5, {"boot_mode": 1})
        result.entered_bootloader = True
        result.events.append("application asked to enter the bootloader (OS reset boot_mode=1)")
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            client = await self._connect()
            if await self._in_bootloader(client):
                await client.disconnect()  # reconnect: the bootloader's buffer size applies
                return await self._connect()
            await client.disconnect()
        raise NotInBootloader(f"{self.port}: the application did not enter the bootloader within "
                              f"{self.boot_timeout:.0f} s; reset the device into it and retry")

    async def check_board(self, client: SMPClient, img: mcuboot.Image) -> None:
        """Refuses an image whose board TLV names another board than the device reports (OS info,
        format "i": the hardware platform); devices that do not say are left to their bootloader."""
        board = img.tlvs.get(armimage.BOARD_TLV)
        if board is None:
            return
        try:
            rsp = await client.request(OSApplicationInfoRead(format="i"), timeout_s=self.timeout)
        except (TimeoutError, SMPValidationException):
            return
        device = str(rsp.output).strip() if success(rsp) else ""
        if device and device != board.decode(errors="replace"):
            raise ImageRejected(f"the image is for board {board.decode(errors='replace')!r}, the device on "
                                f"{self.port} is {device!r}: build the image for {device!r}; nothing was uploaded")

    async def upload(self, client: SMPClient, image: bytes, result: FlashResult, progress: Progress | None) -> None:
        t0 = time.monotonic()
        try:
            result.resumed_from = await self._device_offset(client, image)
            if result.resumed_from:
                result.events.append(f"the device has {result.resumed_from} bytes of this image: resuming")
            async for off in client.upload(image, slot=SECONDARY_SLOT, first_timeout_s=self.timeout * 2,
                                           subsequent_timeout_s=self.timeout):
                if progress:
                    progress(off, len(image))
        except SMPUploadError as e:
            raise ImageRejected(_upload_message(e)) from None
        except TimeoutError:
            raise FlashTimeout(f"{self.port}: the device stopped answering during the upload; run the same "
                               "command again to resume from the device's offset") from None
        result.upload_seconds = time.monotonic() - t0
        result.uploaded = len(image) - result.resumed_from
        result.throughput = result.uploaded / result.upload_seconds if result.upload_seconds > 0 else 0.0

    async def _device_offset(self, client: SMPClient, image: bytes) -> int:
        """Asks for the offset of an interrupted upload of this image (first chunk without data,
        as Zephyr's img_mgmt answers it); 0 when none."""
        from smpclient.requests.image_management import ImageUploadWrite

        req = ImageUploadWrite(off=0, data=b"", image=SECONDARY_SLOT, len=len(image),
                               sha=hashlib.sha256(image).digest(), upgrade=False)
        rsp = await client.request(req, timeout_s=self.timeout * 2)
        if not success(rsp):
            raise ImageRejected(_upload_message(SMPUploadError(rsp)))
        off = int(rsp.off or 0)
        return off if off < len(image) else 0

    async def mark(self, client: SMPClient, img: mcuboot.Image, permanent: bool, force: bool) -> None:
        rsp = await client.request(ImageStatesRead(), timeout_s=self.timeout)
        if not success(rsp):
            raise FlashError(f"image state read failed: {_rc_text(rsp)}")
        slots = {s.slot: s for s in rsp.images}
        if 1 not in slots or bytes(slots[1].hash or b"") != img.hash:
            raise ImageRejected("after the upload the secondary slot does not hold this image (hash mismatch)")
        req = ForcedStatesWrite(hash=img.hash, confirm=permanent, force=True) if force else \
            ImageStatesWrite(hash=img.hash, confirm=permanent)
        rsp2 = await client.request(req, timeout_s=self.timeout)
        if not success(rsp2):
            text = _rc_text(rsp2)
            if "downgrade" in text:
                raise ImageRejected(f"{text}; pass --force to install an older version")
            raise ImageRejected(f"the device refused to mark the image: {text}")

    def wait_app(self, expect: str, confirm: bool, result: FlashResult) -> None:
        deadline = time.monotonic() + self.boot_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with open_port(self.port, self.baud, ignore_pids=self.allowed) as t:
                    console = DeviceConsole(t, timeout=self.timeout)
                    info = console.wait_ready(timeout=max(1.0, min(10.0, deadline - time.monotonic())))
                    result.version_after = str(info.get("version"))
                    if result.version_after != expect:
                        raise Rollback(f"the device came back with version {result.version_after}, not {expect}: "
                                       "the new image failed its test boot and was reverted")
                    if confirm:
                        console.smp.write(1, 0, {"confirm": True})
                    state = console.smp.read(1, 0)
                    result.confirmed = bool(state["images"][0].get("confirmed"))
                    return
            except (TimeoutError, TransportError) as e:
                last = e
                time.sleep(0.3)
        raise FlashTimeout(f"the application did not come back within {self.boot_timeout:.0f} s ({last}); "
                           "the bootloader reverts an unconfirmed image at the next reset")

    async def _run(self, data: bytes, img: mcuboot.Image, mode: str, force: bool,
                   progress: Progress | None) -> FlashResult:
        t0 = time.monotonic()
        result = FlashResult(self.port, str(img.version), img.hash.hex(), len(data), mode)
        try:
            client = await self.enter_bootloader(result)
            try:
                await self.check_board(client, img)
                await self.upload(client, data, result, progress)
                await self.mark(client, img, permanent=(mode == "confirm"), force=force)
                await client.request(ResetWrite(), timeout_s=self.timeout)
            finally:
                await client.disconnect()
        except (SMPTransportDisconnected, serial.SerialException, ConnectionError, EOFError) as exc:
            raise LinkLost(f"{self.port}: the link to the device went away ({_cause(exc)}); check the cable, the "
                           "board's power or the serial server, then run the same command again: it resumes from "
                           "the device's offset") from None
        self.wait_app(str(img.version), confirm=(mode == "default"), result=result)
        if mode == "confirm":
            result.confirmed = True
        result.seconds = time.monotonic() - t0
        return result

    def running(self, image_hash: bytes) -> str | None:
        """The version the application runs if it is this very image, active and confirmed; None
        otherwise (another image, a bootloader, or nothing answering)."""
        try:
            with open_port(self.port, self.baud, ignore_pids=self.allowed) as t:
                active = DeviceConsole(t, timeout=self.timeout).active_image()
        except (TransportError, TimeoutError, RuntimeError):
            return None
        if active.get("hash") == image_hash and active.get("confirmed"):
            return str(active.get("version"))
        return None

    def run(self, path: Path, mode: str = "default", force: bool = False,
            progress: Progress | None = None, key: Path | None = None) -> FlashResult:
        """mode: "default" (test boot, then the host confirms), "test" (test boot; the image's own
        health check confirms it), "confirm" (permanent at once). The image file is checked first
        (ImageCorrupt); `key`: the public or private key it must be signed with. A device that
        already runs the image, confirmed, is left as it is (the result says so in `events`)."""
        data, img = imagecheck.load(path, key)
        with _interruptible():
            version = self.running(img.hash)
            if version is not None:
                result = FlashResult(self.port, str(img.version), img.hash.hex(), len(data), mode,
                                     version_before=version, version_after=version, confirmed=True)
                result.events.append("the device already runs this image, confirmed: nothing to flash")
                return result
            return asyncio.run(self._run(data, img, mode, force, progress))


def _cause(exc: BaseException) -> str:
    """The innermost message of an exception chain (pyserial's reason under smpclient's)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__


class _interruptible:
    """Ctrl-C raises KeyboardInterrupt wherever the run is, also inside the event loop: asyncio.run
    would otherwise only cancel its task, which waits for the next await (blocking serial and
    console calls in between)."""

    def __enter__(self) -> None:
        self.installed = threading.current_thread() is threading.main_thread()
        if self.installed:
            self.old = signal.signal(signal.SIGINT, _raise_interrupt)

    def __exit__(self, *exc: object) -> None:
        if self.installed:
            signal.signal(signal.SIGINT, self.old if self.old is not None else signal.default_int_handler)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _upload_message(e: SMPUploadError) -> str:
    arg = e.args[0] if e.args else e
    text = _rc_text(arg)
    if "too large" in text:
        return f"image too big for the device's slot: {text}"
    if "signature" in text or "(key)" in text:
        return f"signature rejected: {text}; sign with the key the device's bootloader trusts (--key)"
    if "rejected" in text or "sha" in text:
        return f"the device rejected the image: {text}; rebuild it with `edgecall build`"
    return f"upload failed: {text}"


__all__ = ["FlashResult", "Flasher", "check_port", "error"]
