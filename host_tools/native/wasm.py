"""wasm32 builds of native_codec with clang (freestanding, no libc) and the harness runner.

A harness build/wasm/<program>.wasm = the codecs + tests/c/<program>.c + tests/c/tio_wasm.c +
tests/c/tio_rt.c (`clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wl,--export-all`), whose
`tio` imports tests/wasm/run_harness.mjs supplies: the codecs' vectors on a 32-bit target with
no libc (host_tools.native.opus builds the Opus harness the same way).
A build is skipped when the output is newer than every source, header and this file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from host_tools.paths import BUILD, ROOT

NATIVE = ROOT / "native_codec"
TESTS_C = ROOT / "tests" / "c"
WASM_DIR = BUILD / "wasm"
RUNNER = ROOT / "tests" / "wasm" / "run_harness.mjs"
INSTALL_HINT = "./edgecall installs it"

CFLAGS = ["--target=wasm32", "-O2", "-nostdlib", "-std=c99", "-Wall", "-Wextra", "-Werror"]
LDFLAGS = ["-Wl,--no-entry", "-Wl,--export-all"]


class ToolMissing(RuntimeError):
    """A program this module needs is not installed."""


class BuildError(RuntimeError):
    """clang failed; the message holds its diagnostics."""


def clang() -> str:
    """Debian's clang (14 here) and lld's wasm-ld, which clang runs to link wasm32."""
    found = shutil.which("clang-14") or shutil.which("clang")
    if found is None:
        raise ToolMissing(f"clang not found in PATH: install the Debian packages clang and lld ({INSTALL_HINT})")
    if shutil.which("wasm-ld") is None:
        raise ToolMissing(f"wasm-ld not found in PATH: install the Debian package lld ({INSTALL_HINT})")
    return found


def _codec_sources() -> list[Path]:
    sources = sorted((NATIVE / "src").glob("*.c"))
    if not sources:
        raise BuildError(f"no C sources in {NATIVE / 'src'}")
    return sources


def _up_to_date(out: Path, inputs: list[Path]) -> bool:
    if not out.is_file():
        return False
    newest = max(p.stat().st_mtime for p in inputs)
    return out.stat().st_mtime > newest


def _link(out: Path, sources: list[Path], include_dirs: list[Path], timeout: float,
          objects: tuple[Path, ...] = (), defines: tuple[str, ...] = ()) -> Path:
    headers = [h for d in include_dirs for h in d.glob("*.h")]
    if _up_to_date(out, [*sources, *headers, *objects, Path(__file__)]):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        clang(), *CFLAGS, *defines, *(f"-I{d}" for d in include_dirs), *LDFLAGS,
        "-o", str(out), *(str(s) for s in sources), *(str(o) for o in objects),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"clang timed out after {timeout:.0f} s building {out.name}") from exc
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        shown = cmd[: len(cmd) - len(objects)] + ([f"<{len(objects)} libopus objects>"] if objects else [])
        raise BuildError(f"building {out.name} failed:\n{' '.join(shown)}\n{proc.stderr.strip()}")
    return out


def build_harness(program: str = "vectors", timeout: float = 300.0) -> Path:
    """build/wasm/<program>.wasm: tests/c/<program>.c (defines tio_main) over the tio wasm port."""
    main_src = TESTS_C / f"{program}.c"
    if not main_src.is_file():
        raise ValueError(f"no program source {main_src}")
    return _link(
        WASM_DIR / f"{program}.wasm",
        [*_codec_sources(), main_src, TESTS_C / "tio_wasm.c", TESTS_C / "tio_rt.c"],
        [NATIVE / "include", TESTS_C],
        timeout,
    )


def run_harness(wasm: Path, cmdline: str = "", timeout: float = 120.0) -> tuple[int, str]:
    """Run a harness module under Node (cwd = project root); returns (exit status, stdout)."""
    node = shutil.which("node")
    if node is None:
        raise ToolMissing(f"node not found in PATH: install the Debian package nodejs ({INSTALL_HINT})")
    try:
        proc = subprocess.run(
            [node, str(RUNNER), str(wasm), *cmdline.split()],
            check=False,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{Path(wasm).name} under node did not exit within {timeout:.0f} s") from exc
    if proc.returncode in (2, 134) and proc.stderr:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m host_tools.native.wasm PROGRAM [ARGS...]")
    status, text = run_harness(build_harness(sys.argv[1]), " ".join(sys.argv[2:]))
    sys.stdout.write(text)
    sys.exit(status)
