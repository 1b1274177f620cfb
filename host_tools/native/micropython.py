"""MicroPython v1.27.0 as a build dependency: its source tree under build/micropython, never committed.

Where the source comes from, in this order:
1. `$EDGECALL_MICROPYTHON_SRC`: a MicroPython checkout of the user's (used in place, read-only; it
   must hold `lib/micropython-lib` and `lib/lwip`);
2. the pinned archives in `../shared/vendor` (exact `git archive` exports of the upstream tag and
   of the two submodule commits it pins), each checked against the SHA-256 below before it is
   extracted;
3. the public repository at tag `v1.27.0`, with those two submodules, cloned with git.

`source()` returns the tree (extracting or cloning it once, under a lock so parallel builds wait
for each other) and `mpy_cross()` builds MicroPython's cross-compiler inside it. The tree is
never edited: EdgeCall's devkit firmware is `ports/qemu` with a board folder of ours
(host_tools/native/devkit.py), and `_nc.mpy` is built with `py/dynruntime.mk`.

    python -m host_tools.native.micropython          prints the source tree's path
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from host_tools.paths import BUILD, SHARED

VERSION = "1.27.0"
TAG = "v1.27.0"
REPOSITORY = "https://github.com/micropython/micropython.git"
VENDOR = SHARED / "vendor"
MP_BUILD = BUILD / "micropython"
ENV_SRC = "EDGECALL_MICROPYTHON_SRC"


@dataclass(frozen=True)
class Archive:
    file: str
    sha256: str
    dest: str  # folder inside the MicroPython tree ("" = the tree itself)
    commit: str  # the upstream tag or commit it exports
    repository: str


ARCHIVES = (
    Archive("micropython-1.27.0.tar.gz", "727205891c7e6940ebda9801b775b711fc18d929a931d9d8d8a8f9a79abe9b05",
            "", TAG, REPOSITORY),
    Archive("micropython-lib-6ae440a8.tar.gz", "7c1a6d569aa9d02e5b2d314af2db8f2f8e2e2a9f6f619e28b71e8bfcdde778cc",
            "lib/micropython-lib", "6ae440a8a144233e6e703f6759b7e7a0afaa37a4",
            "https://github.com/micropython/micropython-lib.git"),
    Archive("lwip-77dcd25a.tar.gz", "94922672523282ea7954d53ae90a2fd56f67883f0689860b87f19e673a574a24",
            "lib/lwip", "77dcd25a72509eb83f72b033d219b1d40cd8eb95", "https://github.com/lwip-tcpip/lwip.git"),
)
STAMP = ".edgecall-source"


class SourceError(RuntimeError):
    """The MicroPython source could not be had (bad checksum, no archive and no network, ...)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    MP_BUILD.mkdir(parents=True, exist_ok=True)
    with open(MP_BUILD / f".{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _check_tree(tree: Path) -> Path:
    for need in ("py/mkenv.mk", "ports/qemu/Makefile", "lib/micropython-lib/python-stdlib", "lib/lwip/src"):
        if not (tree / need).exists():
            raise SourceError(f"{tree} is not a MicroPython {VERSION} tree with its submodules: {need} is missing")
    return tree


def _extract(archive: Archive, tree: Path) -> None:
    path = VENDOR / archive.file
    digest = sha256_file(path)
    if digest != archive.sha256:
        raise SourceError(f"{path}: SHA-256 {digest} does not match the pinned {archive.sha256}; "
                          "the archive is damaged or not the pinned upstream version")
    dest = tree / archive.dest if archive.dest else tree
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path) as tar:
        top = os.path.commonprefix([m.name for m in tar.getmembers() if m.name not in (".", "")]).split("/")[0]
        for member in tar.getmembers():
            name = member.name.split("/", 1)[1] if top and member.name.startswith(top + "/") else ""
            if not name:
                continue
            member.name = name
            tar.extract(member, dest, filter="data")


def _clone(tree: Path) -> None:
    git = shutil.which("git")
    if git is None:
        raise SourceError(f"no archives in {VENDOR} and git is not installed: set {ENV_SRC} to a MicroPython "
                          f"{VERSION} checkout")
    main, *subs = ARCHIVES
    subprocess.run([git, "clone", "--depth", "1", "--branch", TAG, main.repository, str(tree)], check=True)
    for sub in subs:
        dest = tree / sub.dest
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run([git, "clone", "--filter=blob:none", sub.repository, str(dest)], check=True)
        subprocess.run([git, "-C", str(dest), "checkout", "-q", sub.commit], check=True)


def source() -> Path:
    """The MicroPython source tree (with micropython-lib and lwIP), provided once."""
    env = os.environ.get(ENV_SRC)
    if env:
        return _check_tree(Path(env).resolve())
    tree = MP_BUILD / f"micropython-{VERSION}"
    want = ",".join(a.sha256 for a in ARCHIVES)
    with _lock("source"):
        stamp = tree / STAMP
        if stamp.is_file() and stamp.read_text() in (want, "git:" + TAG):
            return tree
        shutil.rmtree(tree, ignore_errors=True)
        tmp = tree.with_name(tree.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        if all((VENDOR / a.file).is_file() for a in ARCHIVES):
            for archive in ARCHIVES:
                _extract(archive, tmp)
            mark = want
        else:
            _clone(tmp)
            mark = "git:" + TAG
        _check_tree(tmp)
        os.replace(tmp, tree)
        (tree / STAMP).write_text(mark)
    return tree


def make_jobs() -> str:
    return f"-j{max(1, os.cpu_count() or 1)}"


def mpy_cross() -> Path:
    """MicroPython's cross-compiler, built in the source tree (or the user's) once."""
    tree = source()
    exe = tree / "mpy-cross" / "build" / "mpy-cross"
    with _lock("mpy-cross"):
        if not exe.is_file():
            proc = subprocess.run(["make", make_jobs(), "-C", str(tree / "mpy-cross")],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SourceError(f"building mpy-cross failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return exe


def main(argv: list[str]) -> int:
    try:
        print(source())
    except SourceError as e:
        print(f"micropython: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
