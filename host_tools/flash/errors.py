"""Flash errors, each with the CLI exit code and a message that says what to do."""
from __future__ import annotations

EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT, EXIT_INTERRUPTED = 1, 2, 3, 130


class FlashError(RuntimeError):
    exit_code = EXIT_FAIL
    kind = "failed"


class NotInBootloader(FlashError):
    kind = "not-in-bootloader"


class ImageRejected(FlashError):
    kind = "rejected"


class ImageCorrupt(ImageRejected):
    """The image file fails a check on the host (structure, hash, signature): no device was touched."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, kind: str = "corrupt") -> None:
        super().__init__(message)
        self.kind = kind


class Rollback(FlashError):
    kind = "rollback"


class FlashTimeout(FlashError):
    exit_code = EXIT_TRANSPORT
    kind = "timeout"


class LinkLost(FlashError):
    """The serial link (a port, an RFC 2217 server) went away mid-flash."""

    exit_code = EXIT_TRANSPORT
    kind = "disconnected"
