"""Which processes have a device file open (Linux /proc), to name the holder of a busy port."""
from __future__ import annotations

import os
from pathlib import Path


def holders(path: str) -> list[tuple[int, str]]:
    """(pid, command line) of every other process with `path` open."""
    try:
        target = os.path.realpath(path)
        st = os.stat(target)
    except OSError:
        return []
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                try:
                    fst = os.stat(fd)
                except OSError:
                    continue
                if (fst.st_rdev, fst.st_ino) == (st.st_rdev, st.st_ino):
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    out.append((int(proc.name), cmd or "?"))
                    break
        except OSError:
            continue
    return out
