"""Host build of native_codec: a cffi extension module in API mode, `native_codec._nc`.

The C sources are compiled with the warnings the project demands (-Wall -Wextra -Werror) and
the extension is placed inside the `native_codec` package. `ensure_built()` rebuilds only when a
source, header or this file changed (a digest of their contents is kept beside the module).
`build_harness()` builds the C test harness (tests/c) for the host under ASan and UBSan.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import os
import shutil
import subprocess
from pathlib import Path

from host_tools.paths import BUILD, NATIVE, NATIVE_INCLUDE, NATIVE_SRC

MODULE = "native_codec._nc"
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]
# The extension is compiled on the machine that runs it, so it may use all of its vector units;
# clang -O3 vectorises the codecs' bulk loops (G.711) where gcc 12 does not, and is the fastest
# of the two on G.722 as well (measured with host_tools/bench/g722_host.c).
EXTENSION_CC = "clang"
EXTENSION_CFLAGS = ["-std=c99", "-O3", "-march=native", "-Wall", "-Wextra", "-Werror"]

CDEF_DIR = NATIVE / "cdef"


def cdef_files() -> list[Path]:
    """The binding's declarations, one file per group of modules (native_codec/cdef/*.cdef); each
    names the headers it needs on a line `// Headers: a.h b.h`. A file with a line
    `// Module: NAME` belongs to another extension (e.g. native_codec._opus, built by
    host_tools.native.opus) and is left out of this one."""
    return sorted(f for f in CDEF_DIR.glob("*.cdef") if "\n// Module:" not in "\n" + f.read_text())


def _cdef_and_headers() -> tuple[str, list[str]]:
    decls, headers = [], ["ec_err.h"]
    for f in cdef_files():
        text = f.read_text()
        for line in text.splitlines():
            if line.startswith("// Headers:"):
                headers += [h for h in line.split(":", 1)[1].split() if h not in headers]
        decls.append("\n".join(ln for ln in text.splitlines() if not ln.startswith("//")))
    return "\n".join(decls) + "\n", headers


def _inputs() -> list[Path]:
    return sorted(NATIVE_SRC.glob("*.c")) + sorted(NATIVE_INCLUDE.glob("*.h")) + cdef_files() + [Path(__file__)]


def _digest() -> str:
    h = hashlib.sha256()
    for p in _inputs():
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def installed(module: str = "_nc") -> Path | None:
    """The built extension module native_codec.<module> (any of this Python's suffixes), if any."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        p = NATIVE / f"{module}{suffix}"
        if p.exists():
            return p
    return None


def ensure_built(force: bool = False) -> Path:
    """Builds the extension if it is missing or stale; returns its path."""
    stamp = NATIVE / "_nc.digest"
    digest = _digest()
    current = installed()
    if not force and current is not None and stamp.exists() and stamp.read_text() == digest:
        return current
    import cffi  # imported here: only the build needs it

    cdef, headers = _cdef_and_headers()
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(
        MODULE,
        "".join(f'#include "{h}"\n' for h in headers),
        sources=[str(p) for p in sorted(NATIVE_SRC.glob("*.c"))],
        include_dirs=[str(NATIVE_INCLUDE)],
        extra_compile_args=EXTENSION_CFLAGS,
    )
    target = compile_extension(ffi, BUILD / "host" / "cffi")
    stamp.write_text(digest)
    return target


def compile_extension(ffi: object, tmp: Path) -> Path:
    """Compiles a cffi extension (set_source done) with EXTENSION_CC in `tmp` and places it in the
    native_codec package; returns its path."""
    tmp.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in ("CC", "LDSHARED")}
    if shutil.which(EXTENSION_CC):
        os.environ["CC"] = EXTENSION_CC
        os.environ["LDSHARED"] = f"{EXTENSION_CC} -shared"
    try:
        built = Path(ffi.compile(tmpdir=str(tmp), verbose=False))  # type: ignore[attr-defined]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    target = NATIVE / built.name
    shutil.copy2(built, target)
    return target


HARNESS_DIR = NATIVE.parent / "tests" / "c"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]


def build_harness(program: str = "vectors", sanitize: bool = True) -> Path:
    """Builds a C harness program (tests/c/<program>.c) for the host with the stdio port,
    under ASan and UBSan unless `sanitize` is false. Returns the executable."""
    exe = BUILD / "host" / (program + ("-san" if sanitize else ""))
    exe.parent.mkdir(parents=True, exist_ok=True)
    srcs = [HARNESS_DIR / f"{program}.c", HARNESS_DIR / "tio_host.c", *sorted(NATIVE_SRC.glob("*.c"))]
    newest = max(p.stat().st_mtime for p in [*srcs, *NATIVE_INCLUDE.glob("*.h"), HARNESS_DIR / "tio.h"])
    if exe.exists() and exe.stat().st_mtime >= newest:
        return exe
    cmd = ["gcc", *CFLAGS, "-pedantic", f"-I{NATIVE_INCLUDE}", f"-I{HARNESS_DIR}", *(SANITIZE if sanitize else []),
           *map(str, srcs), "-o", str(exe)]
    subprocess.run(cmd, check=True, timeout=300)
    return exe


def run_harness(exe: Path, cmdline: str = "", timeout: float = 300) -> tuple[int, str]:
    """Runs a host harness from the project root; returns (exit status, standard output).
    A sanitizer report on standard error raises, whatever the exit status."""
    p = subprocess.run([str(exe), *cmdline.split()], cwd=NATIVE.parent, capture_output=True, text=True, timeout=timeout)
    if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
        raise RuntimeError(f"{exe.name} {cmdline}: sanitizer report:\n{p.stderr[-2000:]}")
    return p.returncode, p.stdout
