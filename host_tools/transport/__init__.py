"""Transports: byte links to a device, one class per link kind. They know nothing of protocols.

`open_port(spec)` opens a local serial port or pty path, or any pyserial URL (rfc2217://,
socket://, loop://) with pyserial; errors are TransportError subclasses (exit code 3) that say
what happened and what to do."""
from host_tools.transport.errors import Disconnected, PortBusy, PortNotFound, TransportError, TransportTimeout
from host_tools.transport.serial import SerialTransport, open_port

__all__ = ["Disconnected", "PortBusy", "PortNotFound", "SerialTransport", "TransportError", "TransportTimeout", "open_port"]
