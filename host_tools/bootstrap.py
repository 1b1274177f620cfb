"""What every edgecall command may need, made ready before it runs (fast when up to date): the
host build of native_codec and the virtual devkit's Node modules. Debian packages and the venv are
the ./edgecall script's job, which runs before Python starts."""
from __future__ import annotations


def ensure_all() -> None:
    from host_tools.native import host
    from host_tools.sim import setup

    host.ensure_built()
    setup.ensure_node_modules()
