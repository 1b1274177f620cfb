"""Cortex-M builds of the C harness with PlatformIO, offline, and runs under qemu-system-arm.

`build(env, program)` runs `pio run -e ENV` on the project's own development platform
(native_codec/pio, Debian's arm-none-eabi-gcc) with PLATFORMIO_CORE_DIR=<project>/.pio-core,
after `ensure_platform()` has installed PlatformIO's core package tool-scons there from
native_codec/pio/tool-scons (nothing is downloaded). SCons keeps the build incremental.
`run(elf, machine, cmdline)` boots the ELF with ARM semihosting (files relative to the project
root, the console on stdout, SYS_EXIT_EXTENDED's status as QEMU's exit code) and
`-icount shift=0`, under which the harness's tio_instructions() counts instructions.

    python -m host_tools.native.cortexm ENV [PROGRAM] [ARGS...]   build, run, exit with its status
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from host_tools.paths import ROOT

CORE_DIR = ROOT / ".pio-core"
PIO_BUILD_DIR = ROOT / ".pio" / "build"
PLATFORM_DIR = ROOT / "native_codec" / "pio"
TOOL_SCONS_SRC = PLATFORM_DIR / "tool-scons"
TOOL_SCONS_VERSION = "4.41101.0"
INSTALL_HINT = "./edgecall installs it"

# PlatformIO environment -> (QEMU machine, CPU name as tio_target() prints it).
MACHINES: dict[str, tuple[str, str]] = {
    "microbit": ("microbit", "cortex-m0"),
    "mps2-an385": ("mps2-an385", "cortex-m3"),
    "mps2-an386": ("mps2-an386", "cortex-m4"),
}
# Environments that add a library (libopus, see host_tools/native/opus.py) to a board: env -> the
# board's environment. They build their own programs (custom_program), so tests that run the
# codec vectors on every board leave them out.
LIBRARY_ENVS: dict[str, str] = {"mps2-an386-opus": "mps2-an386", "mps2-an386-opus-os": "mps2-an386",
                                 "mps2-an386-opus-c": "mps2-an386"}
# Instructions per SysTick tick under -icount shift=0 (1 ns per instruction): 1e9 / the
# processor clock of the machine (microbit 16 MHz, mps2 25 MHz), measured in tests/test_targets.py.
INSTRUCTIONS_PER_TICK: dict[str, float] = {"microbit": 62.5, "mps2-an385": 40.0, "mps2-an386": 40.0}


class ToolMissing(RuntimeError):
    """A program this module needs is not installed."""


class BuildError(RuntimeError):
    """`pio run` failed; the message ends with the tail of its output."""


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"{tool} not found in PATH: install the Debian package {package} ({INSTALL_HINT})")
    return path


def pio_command() -> list[str]:
    """The PlatformIO CLI: the project's venv first, then PATH."""
    venv_pio = ROOT / ".venv" / "bin" / "pio"
    if venv_pio.is_file():
        return [str(venv_pio)]
    found = shutil.which("pio")
    if found is None:
        raise ToolMissing(f"PlatformIO (pio) not found in {venv_pio.parent} or PATH: the venv has it ({INSTALL_HINT})")
    return [found]


def pio_environ(program: str | None = None) -> dict[str, str]:
    """Environment for `pio`: the project's core dir, no upgrade checks or telemetry (offline)."""
    env = dict(os.environ)
    env.update(
        PLATFORMIO_CORE_DIR=str(CORE_DIR),
        PLATFORMIO_DISABLE_UPGRADE_CHECK="true",
        PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
        PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650",
    )
    if program is not None:
        env["EDGECALL_PROGRAM"] = program
    return env


def ensure_platform() -> Path:
    """Install the offline tool-scons into .pio-core (once) and check the toolchain; returns the core dir.

    The platform itself is a `symlink://` into native_codec/pio, which `pio run` links on first use.
    """
    _require("arm-none-eabi-gcc", "gcc-arm-none-eabi")
    dest = CORE_DIR / "packages" / "tool-scons"
    ours = (TOOL_SCONS_SRC / "package.json").read_bytes()
    installed = dest / "package.json"
    if (dest / ".piopm").is_file():
        if not installed.is_file() or installed.read_bytes() != ours:
            return CORE_DIR  # a registry tool-scons: fine as it is
        if (dest / "scons.py").read_bytes() == (TOOL_SCONS_SRC / "scons.py").read_bytes():
            return CORE_DIR
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TOOL_SCONS_SRC, dest)
    meta = {
        "type": "tool",
        "name": "tool-scons",
        "version": TOOL_SCONS_VERSION,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None},
    }
    (dest / ".piopm").write_text(json.dumps(meta), encoding="utf-8")
    return CORE_DIR


def build(env: str, program: str = "vectors", timeout: float = 600.0) -> Path:
    """Build tests/c/<program>.c with the codecs for one QEMU environment; returns the ELF path."""
    if env not in MACHINES and env not in LIBRARY_ENVS:
        raise ValueError(f"unknown environment {env!r}; QEMU environments: {', '.join([*MACHINES, *LIBRARY_ENVS])}")
    if env in LIBRARY_ENVS:
        from host_tools.native import opus

        opus.fetch()
    if not (ROOT / "tests" / "c" / f"{program}.c").is_file():
        raise ValueError(f"no program source tests/c/{program}.c")
    ensure_platform()
    PIO_BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with open(PIO_BUILD_DIR / f".{env}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per environment at a time
        try:
            proc = subprocess.run(
                [*pio_command(), "run", "-e", env],
                check=False,
                cwd=ROOT,
                env=pio_environ(program),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise BuildError(f"pio run -e {env} (program {program}) timed out after {timeout:.0f} s") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise BuildError(f"pio run -e {env} (program {program}) failed with status {proc.returncode}:\n{tail}")
    elf = PIO_BUILD_DIR / env / f"{program}.elf"
    if not elf.is_file():
        raise BuildError(f"pio run -e {env} succeeded but {elf} is missing")
    return elf


def qemu_command(elf: Path, machine: str, cmdline: str = "") -> list[str]:
    """The qemu-system-arm command line: semihosting console on stdout, instruction-counted time."""
    args = [elf.stem, *cmdline.split()]
    semihosting = ",".join(
        ["enable=on", "target=native", "chardev=semihost"] + [f"arg={a.replace(',', ',,')}" for a in args]
    )
    return [
        "qemu-system-arm", "-M", machine,
        "-display", "none", "-serial", "none", "-monitor", "none",
        "-chardev", "stdio,id=semihost",
        "-semihosting-config", semihosting,
        "-icount", "shift=0",
        "-kernel", str(elf),
    ]  # fmt: skip


def run(elf: Path, machine: str, cmdline: str = "", timeout: float = 120.0) -> tuple[int, str]:
    """Run an ELF in QEMU with cwd = project root; returns (exit status, semihosting output)."""
    _require("qemu-system-arm", "qemu-system-arm")
    try:
        proc = subprocess.run(
            qemu_command(Path(elf), machine, cmdline),
            check=False,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{Path(elf).name} on QEMU {machine} did not exit within {timeout:.0f} s") from exc
    err = proc.stderr.decode("utf-8", "replace")
    if "qemu-system-arm:" in err and proc.returncode != 0:
        raise RuntimeError(f"qemu-system-arm -M {machine} failed: {err.strip()}")
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


def machine(env: str) -> str:
    """The QEMU machine of an environment (a board's or a library environment's)."""
    return MACHINES[LIBRARY_ENVS.get(env, env)][0]


def main(argv: list[str]) -> int:
    envs = [*MACHINES, *LIBRARY_ENVS]
    if not argv or argv[0] not in envs:
        sys.stderr.write(f"usage: python -m host_tools.native.cortexm {{{'|'.join(envs)}}} [PROGRAM] [ARGS...]\n")
        return 2
    env = argv[0]
    program = argv[1] if len(argv) > 1 else ("opus_harness" if env in LIBRARY_ENVS else "vectors")
    status, out = run(build(env, program), machine(env), " ".join(argv[2:]))
    sys.stdout.write(out)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
