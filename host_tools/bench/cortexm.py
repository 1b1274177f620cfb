"""What the benchmarks measure on Cortex-M, shared by `bench codec`, `netstack` and `video`:
flash and static RAM per module at -Os (arm-none-eabi-size), instruction counts from a harness's
`bench` lines under QEMU (-icount shift=0), and the rich tables that show both."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from host_tools.paths import BUILD, NATIVE_INCLUDE, NATIVE_SRC

CORES = {"m0": ("microbit", "cortex-m0"), "m4": ("mps2-an386", "cortex-m4")}
BENCH_LINE = re.compile(r"^bench (\S+) frames=(\d+) mean=(\d+) max=(\d+)$", re.M)


def compile_object(core: str, module: str, extra: tuple[str, ...] = ()) -> str:
    """native_codec/src/<module>.c for one core at -Os; returns the object's path."""
    work = BUILD / "bench" / "size"
    work.mkdir(parents=True, exist_ok=True)
    obj = work / f"{core}-{module}.o"
    subprocess.run(["arm-none-eabi-gcc", f"-mcpu={CORES[core][1]}", "-mthumb", "-Os", "-std=c99", "-ffunction-sections",
                    "-fdata-sections", f"-I{NATIVE_INCLUDE}", *extra, "-c", str(NATIVE_SRC / f"{module}.c"), "-o", str(obj)],
                   check=True, timeout=120, cwd=work)
    return str(obj)


def footprint(modules: tuple[str, ...]) -> dict[str, Any]:
    """{core: {"modules": {m: text, data, bss, flash, static_ram}, "total_flash"}} at -Os."""
    out: dict[str, Any] = {}
    for core in CORES:
        mods: dict[str, dict[str, int]] = {}
        for m in modules:
            line = subprocess.run(["arm-none-eabi-size", compile_object(core, m)], check=True, capture_output=True,
                                  text=True).stdout.splitlines()[1]
            text, data, bss = (int(x) for x in line.split()[:3])
            mods[m] = {"text": text, "data": data, "bss": bss, "flash": text + data, "static_ram": data + bss}
        out[core] = {"modules": mods, "total_flash": sum(v["flash"] for v in mods.values())}
    return out


_MAP_SECTION = re.compile(r"^ (\.[\w.$]+)?\s*(?:\n\s+)?0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", re.M)


def linked_footprint(map_file: Path, member: str) -> dict[str, int]:
    """Bytes an archive's objects (input files whose name contains `member`, e.g. "libopus")
    occupy in a linked image, from the GNU ld map: text (code and constants), data, bss; flash =
    text + data, static_ram = data + bss. Only what the link kept is counted."""
    text = map_file.read_text(errors="replace")
    text = text[text.find("Linker script and memory map"):]
    out = {"text": 0, "data": 0, "bss": 0}
    for m in _MAP_SECTION.finditer(text):
        name, size, where = m.group(1) or "", int(m.group(3), 16), m.group(4)
        if member not in where or size == 0:
            continue
        if name.startswith((".bss", "COMMON")):
            out["bss"] += size
        elif name.startswith(".data"):
            out["data"] += size
        elif name.startswith((".text", ".rodata", ".ARM.exidx", ".ARM.extab")):
            out["text"] += size  # loaded sections only: not .comment, .ARM.attributes, debug info
    out["flash"] = out["text"] + out["data"]
    out["static_ram"] = out["data"] + out["bss"]
    return out


def instructions(program: str, cmdline: str) -> dict[str, dict[str, dict[str, int]]]:
    """Runs tests/c/<program>.c's bench command on M0 and M4; {core: {op: frames, mean, max}}."""
    from host_tools.native import cortexm

    out: dict[str, dict[str, dict[str, int]]] = {}
    for core, (env, _cpu) in CORES.items():
        code, text = cortexm.run(cortexm.build(env, program), cortexm.MACHINES[env][0], cmdline, timeout=600)
        if code != 0:
            raise RuntimeError(f"{program} bench on {env} exited {code}: {text[-400:]}")
        out[core] = {m.group(1): {"frames": int(m.group(2)), "mean": int(m.group(3)), "max": int(m.group(4))}
                     for m in BENCH_LINE.finditer(text)}
    return out


def instructions_table(data: dict[str, dict[str, dict[str, int]]], title: str) -> Any:
    from rich.table import Table

    t = Table(title=title)
    t.add_column("op")
    for core in data:
        t.add_column(f"{core} mean")
        t.add_column(f"{core} max")
    for op in sorted({op for v in data.values() for op in v}):
        cells: list[str] = []
        for v in data.values():
            cells += [str(v.get(op, {}).get("mean", "-")), str(v.get(op, {}).get("max", "-"))]
        t.add_row(op, *cells)
    return t


def footprint_table(fp: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title="Footprint at -Os (bytes)")
    t.add_column("module")
    for core in fp:
        t.add_column(f"{core} flash")
        t.add_column(f"{core} static RAM")
    for m in next(iter(fp.values()))["modules"]:
        cells: list[str] = []
        for v in fp.values():
            cells += [str(v["modules"][m]["flash"]), str(v["modules"][m]["static_ram"])]
        t.add_row(m, *cells)
    return t
