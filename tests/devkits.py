"""Virtual devkits for a test module: started in a private state folder with the firmware (or
blank), EDGECALL_SIM_DIR pointing there so `edgecall` subprocesses and `resolve()` find them,
and everything stopped and restored afterwards."""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from host_tools.firmware import build
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
        manager.start(ids=ids, root=root, blank=True, install_files=build.files("vdk") if firmware else None)
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
