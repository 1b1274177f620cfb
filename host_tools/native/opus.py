"""libopus 1.3.1 for native_codec: obtained from Debian's source package, built for the three targets.

No libopus source is kept in the repository. `fetch()` runs `apt-get source --download-only
opus=1.3.1-3` into build/opus/ (the ./edgecall bootstrap adds the `deb-src` entry it needs,
/etc/apt/sources.list.d/edgecall-src.sources, and dpkg-dev), checks the .dsc against the SHA-256
pinned here, and lets `dpkg-source -x` (which checks the tarballs against the .dsc's checksums and
applies Debian's patches) unpack it to build/opus/opus-1.3.1. It is skipped once unpacked.

Configuration, the same on every target (so that they produce identical packets):
- fixed point, no float API: -DFIXED_POINT -DDISABLE_FLOAT_API;
- temporary arrays as C99 variable-length arrays on the stack (-DVAR_ARRAYS), not alloca and not
  NONTHREADSAFE_PSEUDOSTACK (a global scratch area obtained with malloc);
- no heap: -DCUSTOM_SUPPORT with native_codec/opus_port/custom_support.h makes opus_alloc() return
  NULL, so opus_encoder_create() & co. fail with OPUS_ALLOC_FAIL and states live in caller memory
  (opus_encoder_get_size() + opus_encoder_init());
- plain C: no SIMD or assembly (x86 SSE, ARM NEON/EDSP, Ne10 are not enabled).
Sources: libopus's own automake lists CELT_SOURCES, SILK_SOURCES, SILK_SOURCES_FIXED and
OPUS_SOURCES (the multistream/projection files among them cost nothing: unused code is dropped at
link time).

Builds:
- host: `ensure_host_built()` compiles libopus with the host extension's compiler and flags into
  build/opus/host/libopus.a and the cffi module `native_codec._opus` on top of it: libopus's API
  (native_codec/cdef/opus.cdef) and native_codec's media stack compiled with -DEC_MEDIA_WITH_OPUS
  (native_codec/src/*.c; declarations media.cdef + media_opus.cdef), which native_codec.media
  uses for codec="opus" (native_codec._nc, built without libopus, serves the other codecs);
- Cortex-M4: the PlatformIO environments `mps2-an386-opus` (-O2) and `mps2-an386-opus-os` (-Os) of
  platformio.ini build libopus with the project's platform and link tests/c/opus_harness.c;
  `host_tools.native.cortexm.build()` / `run()` take them like the other environments;
- wasm32: `wasm_objects()` compiles libopus with clang --target=wasm32 (freestanding:
  native_codec/opus_port/freestanding supplies the four libc headers libopus includes);
  `build_wasm_harness()` links tests/c/opus_harness.c over the tio wasm port with them.

Users whose machines reach a registry may instead take libopus from their SDK or the PlatformIO
library registry; the configuration above is what matters for bit-identical results.

    python -m host_tools.native.opus            fetch and build the host module
    python -m host_tools.native.opus wasm ARGS  run the wasm32 harness with ARGS
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from host_tools.paths import BUILD, NATIVE, ROOT

VERSION = "1.3.1"
DEBIAN_VERSION = "1.3.1-3"  # bookworm
DSC_NAME = f"opus_{DEBIAN_VERSION}.dsc"
DSC_SHA256 = "c373ac82a1afb824819618c12e279ee47b6ac2fa18083b9ef2bb9e8e9e588419"
SOURCES_ENTRY = Path("/etc/apt/sources.list.d/edgecall-src.sources")

OPUS_BUILD = BUILD / "opus"
SRC = OPUS_BUILD / f"opus-{VERSION}"
PORT = NATIVE / "opus_port"
FREESTANDING = PORT / "freestanding"
CDEF = NATIVE / "cdef" / "opus.cdef"
# The media stack with Opus (ec_media.h, EC_MEDIA_WITH_OPUS) goes into native_codec._opus as well.
MEDIA_CDEFS = (NATIVE / "cdef" / "media.cdef", NATIVE / "cdef" / "media_opus.cdef")
MEDIA_DEFINE = "-DEC_MEDIA_WITH_OPUS"
MODULE = "native_codec._opus"
TESTS_C = ROOT / "tests" / "c"

# automake list file -> variables taken from it (libopus's own source lists)
SOURCE_LISTS = (
    ("celt_sources.mk", "CELT_SOURCES"),
    ("silk_sources.mk", "SILK_SOURCES"),
    ("silk_sources.mk", "SILK_SOURCES_FIXED"),
    ("opus_sources.mk", "OPUS_SOURCES"),
)
DEFINES = ["-DOPUS_BUILD", "-DFIXED_POINT", "-DDISABLE_FLOAT_API", "-DVAR_ARRAYS", "-DCUSTOM_SUPPORT",
           f'-DPACKAGE_VERSION="{VERSION}"']
INCLUDE_SUBDIRS = ("include", "celt", "silk", "silk/fixed")
# Third-party code: built with its own warnings, which are not the project's -Werror set.
LIB_WARNINGS = ["-w", "-Werror=implicit-function-declaration"]


class FetchError(RuntimeError):
    """libopus's source package could not be obtained or did not verify."""


class BuildError(RuntimeError):
    """A compiler failed; the message holds its diagnostics."""


_lock_depth = 0


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One process at a time fetches or builds in build/opus (reentrant within a process)."""
    global _lock_depth
    if _lock_depth:
        _lock_depth += 1
        try:
            yield
        finally:
            _lock_depth -= 1
        return
    OPUS_BUILD.mkdir(parents=True, exist_ok=True)
    with open(OPUS_BUILD / ".lock", "w", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        _lock_depth = 1
        try:
            yield
        finally:
            _lock_depth = 0


def _extracted() -> bool:
    return (SRC / ".edgecall-verified").is_file()


def fetch(timeout: float = 600.0) -> Path:
    """Debian's opus source package, verified and unpacked in build/opus/opus-1.3.1; returns it."""
    if _extracted():
        return SRC
    with _locked():
        if _extracted():  # another process did it meanwhile
            return SRC
        return _fetch(timeout)


def _fetch(timeout: float) -> Path:
    for tool, package in (("apt-get", "apt"), ("dpkg-source", "dpkg-dev")):
        if shutil.which(tool) is None:
            raise FetchError(f"{tool} not found: install the Debian package {package} (./edgecall installs it)")
    OPUS_BUILD.mkdir(parents=True, exist_ok=True)
    dsc = OPUS_BUILD / DSC_NAME
    if not dsc.is_file() or _sha256(dsc) != DSC_SHA256:
        p = subprocess.run(["apt-get", "source", "--download-only", f"opus={DEBIAN_VERSION}"], cwd=OPUS_BUILD,
                           capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if p.returncode != 0 or not dsc.is_file():
            hint = ("" if SOURCES_ENTRY.is_file() else
                    f" ({SOURCES_ENTRY} is missing: ./edgecall adds this deb-src entry, then runs apt-get update)")
            raise FetchError(f"apt-get source opus={DEBIAN_VERSION} failed{hint}:\n{(p.stderr or p.stdout).strip()[-1500:]}")
    got = _sha256(dsc)
    if got != DSC_SHA256:
        raise FetchError(f"{dsc} has SHA-256 {got}, expected {DSC_SHA256}: not the pinned opus {DEBIAN_VERSION}")
    tmp = OPUS_BUILD / f"opus-{VERSION}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    # dpkg-source checks the orig and debian tarballs against the .dsc's checksums.
    p = subprocess.run(["dpkg-source", "-x", DSC_NAME, tmp.name], cwd=OPUS_BUILD, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise FetchError(f"dpkg-source -x {DSC_NAME} failed:\n{(p.stderr or p.stdout).strip()[-1500:]}")
    if SRC.exists():
        shutil.rmtree(SRC)
    tmp.rename(SRC)
    (SRC / ".edgecall-verified").write_text(f"{DSC_NAME} sha256 {DSC_SHA256}\n")
    return SRC


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def sources(src: Path | None = None) -> list[Path]:
    """libopus's C files for a fixed-point build, from its automake lists (absolute paths)."""
    src = src or fetch()
    out: list[Path] = []
    for mk, var in SOURCE_LISTS:
        text = (src / mk).read_text()
        m = re.search(rf"^{var}\s*=\s*((?:.*\\\n)*.*)$", text, re.M)
        if m is None:
            raise BuildError(f"{mk} has no {var} list")
        out += [src / f for f in m.group(1).replace("\\\n", " ").split()]
    return out


def include_flags(src: Path | None = None) -> list[str]:
    src = src or fetch()
    return [f"-I{PORT}", *(f"-I{src / d}" for d in INCLUDE_SUBDIRS)]


def _compile_objects(cc: list[str], flags: list[str], outdir: Path, timeout: float) -> list[Path]:
    """Compiles every libopus source into outdir (skipping up-to-date objects); returns them."""
    src = fetch()
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = outdir / "flags"
    key = " ".join([*cc, *flags, *map(str, sorted(PORT.rglob("*.h"))), DSC_SHA256])
    stale = not stamp.is_file() or stamp.read_text() != key
    port_newest = max(p.stat().st_mtime for p in PORT.rglob("*.h"))
    objs, jobs = [], []
    for s in sources(src):
        obj = outdir / (str(s.relative_to(src)).replace("/", "_")[:-2] + ".o")
        objs.append(obj)
        if stale or not obj.is_file() or obj.stat().st_mtime < max(s.stat().st_mtime, port_newest):
            jobs.append([*cc, *flags, *include_flags(src), "-c", str(s), "-o", str(obj)])
    _run_parallel(jobs, timeout)
    stamp.write_text(key)
    return objs


def _run_parallel(jobs: list[list[str]], timeout: float) -> None:
    running: list[tuple[list[str], subprocess.Popen[str]]] = []
    width = max(2, os.cpu_count() or 2)

    def reap(job: list[str], p: subprocess.Popen[str]) -> None:
        _out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise BuildError(f"{' '.join(job)}\n{err.strip()[-3000:]}")

    for job in jobs:
        if len(running) >= width:
            reap(*running.pop(0))
        running.append((job, subprocess.Popen(job, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for job, p in running:
        reap(job, p)


# ---- host: native_codec._opus ----

def _host_archive(timeout: float) -> Path:
    from host_tools.native import host

    cc = host.EXTENSION_CC if shutil.which(host.EXTENSION_CC) else "gcc"
    flags = [f for f in host.EXTENSION_CFLAGS if not f.startswith("-W")] + ["-fPIC", *LIB_WARNINGS, *DEFINES]
    objs = _compile_objects([cc], flags, OPUS_BUILD / "host" / "obj", timeout)
    lib = OPUS_BUILD / "host" / "libopus.a"
    if not lib.is_file() or lib.stat().st_mtime < max(o.stat().st_mtime for o in objs):
        lib.unlink(missing_ok=True)
        subprocess.run(["ar", "rcs", str(lib), *map(str, objs)], check=True, timeout=timeout)
    return lib


def host_archive(timeout: float = 900.0) -> Path:
    """build/opus/host/libopus.a (fetched and built if needed), e.g. for the host fuzzers."""
    with _locked():
        return _host_archive(timeout)


def _media_inputs() -> list[Path]:
    return [*sorted((NATIVE / "src").glob("*.c")), *sorted((NATIVE / "include").glob("*.h")), *MEDIA_CDEFS]


def _host_digest(lib: Path) -> str:
    h = hashlib.sha256()
    for p in (CDEF, Path(__file__), lib, *sorted(PORT.rglob("*.h")), *_media_inputs()):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def ensure_host_built(force: bool = False, timeout: float = 900.0) -> Path:
    """Fetches libopus if needed and builds native_codec._opus when missing or stale; returns it."""
    with _locked():
        return _ensure_host_built(force, timeout)


def _ensure_host_built(force: bool, timeout: float) -> Path:
    from host_tools.native import host

    lib = _host_archive(timeout)
    stamp = NATIVE / "_opus.digest"
    digest = _host_digest(lib)
    current = host.installed("_opus")
    if not force and current is not None and stamp.is_file() and stamp.read_text() == digest:
        return current
    import cffi

    decls = "\n".join(ln for f in (CDEF, *MEDIA_CDEFS) for ln in f.read_text().splitlines()
                      if not ln.startswith("//"))
    ffi = cffi.FFI()
    ffi.cdef(decls)
    ffi.set_source(
        MODULE,
        '#include "opus.h"\n' + "".join(f'#include "{h}"\n' for h in ("ec_rtp.h", "ec_rtcp.h", "ec_red.h",
                                                                      "ec_fec.h", "ec_jb.h", "ec_media.h")),
        sources=[str(p) for p in sorted((NATIVE / "src").glob("*.c"))],
        include_dirs=[str(NATIVE / "include"), str(SRC / "include")],
        extra_objects=[str(lib)],
        extra_compile_args=[*host.EXTENSION_CFLAGS, MEDIA_DEFINE],
    )
    target = host.compile_extension(ffi, BUILD / "host" / "cffi-opus")
    stamp.write_text(digest)
    return target


# ---- wasm32: the harness ----

def build_wasm_harness(program: str = "opus_harness", timeout: float = 600.0) -> Path:
    """build/wasm/<program>.wasm: libopus + tests/c/<program>.c over the tio wasm port."""
    with _locked():
        return _build_wasm_harness(program, timeout)


def wasm_objects(timeout: float = 600.0) -> list[Path]:
    """libopus compiled for wasm32 (freestanding), fetched first if needed: the objects. The wasm
    library build (host_tools.native.wasm.build_library) links them."""
    with _locked():
        return _wasm_objects(timeout)


def _wasm_objects(timeout: float) -> list[Path]:
    from host_tools.native import wasm

    cc = [wasm.clang(), "--target=wasm32"]
    flags = ["-O2", "-std=c99", "-ffreestanding", "-nostdlibinc", f"-isystem{FREESTANDING}", *LIB_WARNINGS, *DEFINES]
    return _compile_objects(cc, flags, OPUS_BUILD / "wasm32" / "obj", timeout)


def _build_wasm_harness(program: str, timeout: float) -> Path:
    from host_tools.native import wasm

    cc = [wasm.clang(), "--target=wasm32"]
    objs = _wasm_objects(timeout)
    out = wasm.WASM_DIR / f"{program}.wasm"
    harness = [TESTS_C / f"{program}.c", TESTS_C / "tio_wasm.c", TESTS_C / "tio_rt.c"]
    inputs = [*objs, *harness, *TESTS_C.glob("*.h"), Path(__file__)]
    if out.is_file() and out.stat().st_mtime > max(p.stat().st_mtime for p in inputs):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [*cc, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-nostdlib", f"-I{SRC / 'include'}", f"-I{TESTS_C}",
           *wasm.LDFLAGS, "-o", str(out), *map(str, harness), *map(str, objs)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        out.unlink(missing_ok=True)
        raise BuildError(f"building {out.name} failed:\n{' '.join(cmd[:-len(objs)])} <libopus objects>\n"
                         f"{p.stderr.strip()[-3000:]}")
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "wasm":
        from host_tools.native import wasm as _wasm

        status, text = _wasm.run_harness(build_wasm_harness(), " ".join(sys.argv[2:]), timeout=600)
        sys.stdout.write(text)
        sys.exit(status)
    print(ensure_host_built(force="--force" in sys.argv))
