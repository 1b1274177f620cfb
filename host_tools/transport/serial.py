"""Serial transport over pyserial: local ports and ptys (opened exclusively, like a board's
/dev/ttyACM0) or any pyserial URL (rfc2217://, socket://)."""
from __future__ import annotations

import os
import termios
import time

import serial

from host_tools.transport.errors import Disconnected, PortBusy, PortNotFound, TransportError, TransportTimeout
from host_tools.transport.holders import holders


class SerialTransport:
    def __init__(self, port: serial.SerialBase, name: str) -> None:
        self._port = port
        self.name = name
        self.transcript: list[tuple[float, str, bytes]] | None = None  # (time, "tx"|"rx", bytes)

    def record(self, on: bool = True) -> None:
        """Keeps a transcript of the traffic (for diagnostic bundles)."""
        self.transcript = [] if on else None

    def _log(self, kind: str, data: bytes) -> None:
        if self.transcript is not None and data:
            self.transcript.append((time.time(), kind, data))

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise Disconnected(f"{self.name}: the port went away while writing ({exc}); check the cable or the device, then retry") from None
        self._log("tx", data)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to max_bytes, waiting at most `timeout` seconds for the first; b"" on timeout."""
        try:
            self._port.timeout = timeout
            first = self._port.read(1)
            if not first:
                return b""
            rest = self._port.read(min(self._port.in_waiting, max_bytes - 1)) if max_bytes > 1 else b""
        except (serial.SerialException, OSError, TypeError, termios.error) as exc:
            raise Disconnected(f"{self.name}: the port went away while reading ({exc}); check the cable or the device, then retry") from None
        data = first + rest
        self._log("rx", data)
        return data

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        buf = b""
        deadline = time.monotonic() + timeout
        while marker not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TransportTimeout(f"{self.name}: no {marker!r} within {timeout:.1f} s")
            buf += self.read(4096, min(left, 0.2))
        return buf

    def drain_input(self) -> None:
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError):
            pass

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def url_options(spec: str) -> tuple[str, dict[str, object]]:
    """A pyserial URL made ready to open, and the keyword options that kind of link takes.

    RFC 2217 servers (ser2net among them) do not all acknowledge SET_CONTROL, which pyserial's
    client otherwise waits for ("timeout while waiting for option 'control'"): such URLs get
    `ign_set_control`, as labgrid's serial driver does. pyserial's RFC 2217 client has no write
    timeout (its writes go to a socket)."""
    if spec.startswith("rfc2217://"):
        if "ign_set_control" not in spec:
            spec += ("&" if "?" in spec else "?") + "ign_set_control"
        return spec, {}
    return spec, {"write_timeout": 10}


def open_port(spec: str, baudrate: int = 115200, ignore_pids: tuple[int, ...] = ()) -> SerialTransport:
    """Opens a port path or pyserial URL. A local port held by another process is refused with
    the holder named; `ignore_pids` are processes allowed to hold it (a virtual devkit's own)."""
    is_url = "://" in spec
    if not is_url:
        if not os.path.exists(spec):
            raise PortNotFound(f"{spec}: no such port; list ports with `edgecall sim list` or `python -m serial.tools.list_ports`")
        others = [(pid, cmd) for pid, cmd in holders(spec) if pid not in ignore_pids]
        if others:
            who = "; ".join(f"pid {pid} ({cmd[:80]})" for pid, cmd in others)
            raise PortBusy(f"{spec} is in use by {who}; close that program (or kill the pid) and retry")
    try:
        url, extra = url_options(spec)
        if not is_url:
            extra["exclusive"] = True
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.1, **extra)
    except serial.SerialException as exc:
        text = str(exc)
        if "lock" in text.lower() or "busy" in text.lower():
            raise PortBusy(f"{spec} is locked by another program ({text}); close it and retry") from None
        raise TransportError(f"cannot open {spec}: {text}") from None
    return SerialTransport(port, spec)
