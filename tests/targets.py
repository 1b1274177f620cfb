"""The targets a C harness (tests/c/<program>.c) runs on besides the host, and how to run it
there: Cortex-M0/M3/M4 under QEMU (PlatformIO environments) and wasm32 under Node."""
from __future__ import annotations

from host_tools.native import cortexm, host, wasm

TARGETS = [*cortexm.MACHINES, "wasm32"]
# what each harness names as the CPU in its first line
CPU = {**{env: cpu for env, (_m, cpu) in cortexm.MACHINES.items()}, "wasm32": "wasm32"}


def run_on(target: str, program: str, cmdline: str) -> tuple[int, str]:
    """Builds the harness for target ("host", a PlatformIO environment or "wasm32") and runs it:
    (exit code, output)."""
    if target == "host":
        return host.run_harness(host.build_harness(program), cmdline)
    if target == "wasm32":
        return wasm.run_harness(wasm.build_harness(program), cmdline, timeout=300)
    elf = cortexm.build(target, program)
    return cortexm.run(elf, cortexm.MACHINES[target][0], cmdline, timeout=300)
