"""What every edgecall command may need, made ready before it runs (fast when up to date): the
host build of native_codec, its wasm32 library (the virtual devkit's codecs) and the devkit's
Node modules. Debian packages and the venv are
the ./edgecall script's job, which runs before Python starts."""
from __future__ import annotations


def ensure_all() -> None:
    from host_tools.native import host, wasm
    from host_tools.sim import setup

    host.ensure_built()
    wasm.build_library()
    setup.ensure_node_modules()
