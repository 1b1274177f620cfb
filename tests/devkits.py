"""Virtual devkits for a test module: started in a private state folder with the factory image of
the working tree in their primary slot (or blank: the base firmware), EDGECALL_SIM_DIR pointing there so `edgecall` subprocesses and `resolve()` find them,
and everything stopped and restored afterwards."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from host_tools.sim import manager


@contextmanager
def sim_dir(root: Path) -> Iterator[Path]:
    """EDGECALL_SIM_DIR is `root` inside the block; the devkits in it are stopped at its end."""
    old = os.environ.get("EDGECALL_SIM_DIR")
    os.environ["EDGECALL_SIM_DIR"] = str(root)
    try:
        yield root
    finally:
        manager.stop_all(root)
        if old is None:
            os.environ.pop("EDGECALL_SIM_DIR", None)
        else:
            os.environ["EDGECALL_SIM_DIR"] = old


@contextmanager
def devkits(root: Path, ids: list[str], firmware: bool = True) -> Iterator[Path]:
    with sim_dir(root):
        manager.start(ids=ids, root=root, blank=True, factory_image=manager.factory_image() if firmware else None)
        yield root


# Packet files exchanged with a devkit: each packet as a little-endian 16-bit length, then its bytes.
def frame_file(packets: list[bytes]) -> bytes:
    return b"".join(struct.pack("<H", len(p)) + p for p in packets)


def unframe(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<H", data, i)
        out.append(data[i + 2:i + 2 + n])
        i += 2 + n
    return out


def device_token(port: str) -> str | None:
    """The token in a device's storage, read over the raw REPL (the console never hands it out). As
    on a board, that interrupts the application; the device is reset afterwards to run it again."""
    p = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "exec",
                        "from edgecall import provision; print(provision.token())", "reset"],
                       capture_output=True, text=True, timeout=60)
    out = p.stdout.strip().splitlines()
    return None if not out or out[-1] == "None" else out[-1]
