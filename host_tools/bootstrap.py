"""What every edgecall command may need, made ready before it runs (fast when up to date): the
host build of native_codec and its Opus extension (libopus from Debian's source package). Debian
packages, the deb-src entry and the venv are the ./edgecall script's job, which runs before
Python starts."""
from __future__ import annotations

import sys


def ensure_all() -> None:
    from host_tools.native import host, opus

    host.ensure_built()
    try:
        opus.ensure_host_built()
    except (opus.FetchError, opus.BuildError) as exc:  # the rest works without Opus
        print(f"edgecall: Opus is unavailable (native_codec.opus): {exc}", file=sys.stderr)
