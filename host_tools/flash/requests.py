"""An SMP request smpclient does not ship: image state write with "force" (install an older
version; the virtual devkit's bootloader honours it)."""
from __future__ import annotations

from smpclient.requests.image_management import ImageStatesWrite


class ForcedStatesWrite(ImageStatesWrite):
    force: bool | None = None
