"""The edgecall command table: each subcommand maps to one function in its own module.

Exit codes (DESIGN.md): 0 success, 1 the device or the test failed, 2 usage error, 3 transport error.
Every subcommand that reports takes --json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from host_tools import bootstrap
from host_tools.paths import ROOT
from host_tools.deploy import cli as deploy_cli
from host_tools.device import cli as device_cli
from host_tools.farm import cli as farm_cli
from host_tools.firmware import cli as firmware_cli
from host_tools.flash import cli as flash_cli
from host_tools.hil import cli as hil_cli
from host_tools.ledger import cli as ledger_cli
from host_tools.provision import cli as provision_cli
from host_tools.rollout import cli as rollout_cli
from host_tools.sim import cli as sim_cli
from host_tools.token import cli as token_cli

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3

Handler = Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse, except that a usage error never echoes values the user typed by mistake (a
    secret pasted after a wrong option name must not reach a terminal log): only option names."""

    def error(self, message: str) -> NoReturn:
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            words = message[len(prefix) :].split()
            message = prefix + " ".join(w if w.startswith("-") else "…" for w in words)
        super().error(message)


def cmd_test(args: argparse.Namespace) -> int:
    """Runs the whole test suite (pytest over tests/), or the tests named (`edgecall test
    tests/test_x.py -k name`), after making sure the native builds exist."""
    named = any(not a.startswith("-") and (ROOT / a.split("::")[0]).exists() for a in args.pytest_args)
    cmd = [sys.executable, "-m", "pytest", *([] if named else [str(ROOT / "tests")]), *args.pytest_args]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.call(cmd, cwd=ROOT, env=env)


def cmd_build_native(args: argparse.Namespace) -> int:
    """Builds native_codec for the host (cffi), Cortex-M (PlatformIO, offline), wasm32 and as
    _nc.mpy for boards (MicroPython natmod: armv6m, armv7m, armv7emsp with Opus)."""
    from host_tools.native import cortexm, host, natmod, wasm

    out: dict[str, str] = {}
    if args.target in ("host", "all"):
        out["host"] = str(host.ensure_built(force=args.force))
    if args.target in ("cortex-m", "all"):
        for env in cortexm.MACHINES:
            out[env] = str(cortexm.build(env, "vectors"))
    if args.target in ("wasm", "all"):
        out["wasm-vectors"] = str(wasm.build_harness("vectors"))
    if args.target in ("natmod", "all"):
        try:
            for arch in natmod.ARCHS:
                out[f"natmod-{arch}"] = str(natmod.build(arch, force=args.force))
        except (natmod.ToolMissing, natmod.BuildError) as e:
            print(f"edgecall build native: {e}", file=sys.stderr)
            return EXIT_FAIL
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:16} {v}")
    return EXIT_OK


BENCHES = {
    "codec": "codec throughput against peers, Cortex-M instructions per frame, footprint",
    "sim": "virtual devkits (ARM and wasm, ratios): boot time to REPL, idle CPU and memory per device, instructions "
           "per call frame, ARM devkits holding calls in real time (goal 16); --micropython-suite",
    "netstack": "media network stack: footprint, instructions per frame, fuzzing",
    "video": "JPEG encoder: Cortex-M4 instructions per QVGA frame, footprint, speed against Pillow",
    "provision": "devices per minute for one station on virtual devkits; ledger commit latency SQLite/PostgreSQL",
    "flash": "SMP upload throughput as a fraction of the line rate, full flash cycle time; --powercuts N",
    "resilience": "speech quality (PESQ, STOI) against loss: zero-fill, PLC, full stack; writes a PNG plot",
    "hil": "virtual devkits in simultaneous calls while media stays real time (< 1 % late or concealed, no mic overruns); CPU per device",
    "farm": "labgrid farm: scheduling overhead per scenario and scenarios per minute as hosts are added, against a direct run (root)",
    "channel": "channel server under attack: join latency with and without a join flood (goal < 100 ms median), relay drops of 10,000 spoofed datagrams",
}


def cmd_bench(args: argparse.Namespace) -> int:
    """Runs host_tools/bench/<name>.py's run(json_out, [quick])."""
    import importlib
    import inspect

    mod = importlib.import_module(f"host_tools.bench.{args.bench_cmd}")
    kwargs = {"json_out": args.json}
    params = inspect.signature(mod.run).parameters
    for flag in ("quick", "fuzz", "powercuts", "hosts", "per_host", "scenario", "rounds", "micropython_suite"):
        if flag in params:
            kwargs[flag] = getattr(args, flag)
    return int(mod.run(**kwargs))


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="edgecall", description="EdgeCall host tools", allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("test", help="run all tests (pytest); any further arguments go to pytest")
    t.set_defaults(func=cmd_test, pytest_args=[])

    hil_cli.register(sub)

    bp = sub.add_parser("build", help="build the signed firmware image (MCUboot format); `build native` for the C code")
    firmware_cli.add_build_arguments(bp)
    b = bp.add_subparsers(dest="build_cmd", required=False)
    n = b.add_parser("native", help="build native_codec for host, Cortex-M, wasm32 and as _nc.mpy for boards")
    n.add_argument("--target", choices=["host", "cortex-m", "wasm", "natmod", "all"], default="all")
    n.add_argument("--force", action="store_true", help="rebuild the host extension and _nc.mpy even if up to date")
    n.add_argument("--json", action="store_true")
    n.set_defaults(func=cmd_build_native)

    token_cli.register(sub)
    ledger_cli.register(sub)
    sim_cli.register(sub)
    device_cli.register(sub)
    flash_cli.register(sub)
    deploy_cli.register(sub)
    firmware_cli.register_keys(sub)
    provision_cli.register(sub)
    rollout_cli.register(sub)
    farm_cli.register(sub)

    bench = sub.add_parser("bench", help="benchmarks (JSON with --json)").add_subparsers(dest="bench_cmd", required=True)
    for name, text in BENCHES.items():
        c = bench.add_parser(name, help=text)
        c.add_argument("--json", action="store_true")
        c.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
        if name == "netstack":
            c.add_argument("--fuzz", action="store_true", help="also run every fuzzer for 1,000,000 executions")
        if name == "sim":
            c.add_argument("--micropython-suite", action="store_true",
                           help="also run MicroPython's whole default test suite against an ARM devkit")
        if name == "flash":
            c.add_argument("--powercuts", type=int, default=0, metavar="N", help="also run a campaign of N power cuts")
        if name == "farm":
            c.add_argument("--hosts", type=int, default=3, help="hosts at most; measures 1..N (default 3)")
            c.add_argument("--per-host", type=int, default=4, help="virtual devkits per host (default 4)")
            c.add_argument("--scenario", action="append", default=None, metavar="GLOB",
                           help="scenario (repeatable; default join and serial-stress with --stress 3 --reboots 2)")
            c.add_argument("--rounds", type=int, default=3, help="timed farm runs per host count; medians (default 3)")
        c.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["test"]:  # everything after `test` belongs to pytest
            args = parser.parse_args(["test"])
            args.pytest_args = argv[1:]
        else:
            args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 on --help
        return int(e.code or 0)
    func: Handler = args.func
    try:
        bootstrap.ensure_all()
        return func(args)
    except KeyboardInterrupt:
        print("edgecall: interrupted", file=sys.stderr)
        return 130
