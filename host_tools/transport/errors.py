"""Transport errors. Each maps to exit code 3 and carries a message that says what to do."""
from __future__ import annotations

EXIT_TRANSPORT = 3


class TransportError(RuntimeError):
    exit_code = EXIT_TRANSPORT


class PortNotFound(TransportError):
    pass


class PortBusy(TransportError):
    pass


class Disconnected(TransportError):
    pass


class TransportTimeout(TransportError):
    pass
