"""Flash errors, each with the CLI exit code and a message that says what to do."""
from __future__ import annotations

EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT = 1, 2, 3


class FlashError(RuntimeError):
    exit_code = EXIT_FAIL
    kind = "failed"


class NotInBootloader(FlashError):
    kind = "not-in-bootloader"


class ImageRejected(FlashError):
    kind = "rejected"


class Rollback(FlashError):
    kind = "rollback"


class FlashTimeout(FlashError):
    exit_code = EXIT_TRANSPORT
    kind = "timeout"
