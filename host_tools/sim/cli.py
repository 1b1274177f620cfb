"""`edgecall sim ...`: start, list, stop and power-cut virtual devkits, press their buttons and
read their LEDs.

`register(subparsers)` adds the `sim` command to the edgecall parser; each handler returns the
CLI's exit code (0 ok, 1 failure, 2 usage, 3 transport) and prints JSON with --json, rich tables
otherwise.
"""
from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from host_tools.sim import manager, state

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3
def _err(msg: str) -> None:
    Console(stderr=True).print(f"[red]edgecall sim:[/red] {msg}")


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except manager.SimError as e:
            _err(str(e))
            return e.exit_code
        except RuntimeError as e:
            _err(str(e))
            return EXIT_FAIL
    return run


def _table(devices: Sequence[manager.DeviceInfo]) -> Table:
    t = Table(title="virtual devkits")
    for col in ("id", "status", "port", "pid", "heap", "baud", "flash"):
        t.add_column(col)
    for d in devices:
        t.add_row(d.id, d.status, d.port or "-", str(d.pid or "-"), f"{d.heap // 1024} KiB",
                  str(d.baud), d.flash)
    return t


@_guard
def cmd_start(args: argparse.Namespace) -> int:
    if args.count < 1:
        _err("--count must be at least 1")
        return EXIT_USAGE
    manager.media_extra(args.mic, args.camera)  # bad input before the image build
    image = None if args.blank else manager.factory_image()
    devices = manager.start(count=args.count, ids=args.id, baud=args.baud, blank=args.blank,
                            factory_image=image, mic=args.mic, camera=args.camera)
    if args.json:
        print(json.dumps([d.short() for d in devices]))
    else:
        Console().print(_table(devices))
    return EXIT_OK


@_guard
def cmd_list(args: argparse.Namespace) -> int:
    devices = manager.list_devices()
    if args.json:
        print(json.dumps([{**d.short(), "status": d.status, "heap": d.heap, "baud": d.baud,
                           "flash": d.flash} for d in devices]))
    else:
        Console().print(_table(devices))
    return EXIT_OK


@_guard
def cmd_stop(args: argparse.Namespace) -> int:
    if args.all == bool(args.device):
        _err("give a device id or --all")
        return EXIT_USAGE
    stopped = manager.stop_all() if args.all else (
        [args.device] if manager.stop(args.device) else [])
    if args.json:
        print(json.dumps({"stopped": stopped}))
    else:
        Console().print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return EXIT_OK


@_guard
def cmd_power_cut(args: argparse.Namespace) -> int:
    was_running = manager.power_cut(args.device)
    if args.json:
        print(json.dumps({"id": args.device, "was_running": was_running}))
    else:
        Console().print(f"{args.device}: power cut" + ("" if was_running else " (it was off)"))
    return EXIT_OK


@_guard
def cmd_press(args: argparse.Namespace) -> int:
    count = manager.press(args.device, button=args.button, hold_ms=args.hold_ms)
    if args.json:
        print(json.dumps({"id": args.device, "button": args.button, "hold_ms": args.hold_ms,
                          "presses": count}))
    else:
        Console().print(f"{args.device}: button {args.button} pressed for {args.hold_ms} ms")
    return EXIT_OK


@_guard
def cmd_leds(args: argparse.Namespace) -> int:
    states = manager.leds(args.device)
    if args.json:
        print(json.dumps({"id": args.device, "leds": states}))
    else:
        Console().print(f"{args.device}: " + " ".join("●" if on else "○" for on in states))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from host_tools.farm import export

    if args.count < 1:
        _err("--count must be at least 1")
        return EXIT_USAGE
    return export.run(args.count, args.prefix, args.coordinator, args.name or socket.gethostname(), args.hostname,
                      args.pool, args.baud, args.blank, args.mic, args.base_port, args.bind, args.json)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Adds `sim start|list|stop|power-cut|press|leds|export` to the edgecall command table."""
    sim = subparsers.add_parser("sim", help="virtual devkits (MicroPython on a pty)")
    sub = sim.add_subparsers(dest="sim_cmd", required=True)

    s = sub.add_parser("start", help="start virtual devkits (MicroPython on an emulated Cortex-M4 board, QEMU "
                                     "mps2-an386) and wait for their REPL")
    s.add_argument("--count", type=int, default=1, help="how many (ids vdk0, vdk1, ... if no --id)")
    s.add_argument("--id", action="append", help="device id (repeatable); a stopped device keeps its flash")
    s.add_argument("--baud", type=int, default=state.DEFAULT_BAUD, help="initial line rate (default 115200)")
    s.add_argument("--blank", action="store_true",
                   help="erase the flash and the slots: the devkit boots bare MicroPython (default: the firmware "
                        "built from the working tree, signed, in the primary slot as a factory leaves it)")
    s.add_argument("--mic", type=Path, help="16-bit mono WAV file the microphone plays (hal audio)")
    s.add_argument("--camera", type=Path, help="folder of raw frames for the camera (hal camera)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_start)

    ls = sub.add_parser("list", help="devices and their ports")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    st = sub.add_parser("stop", help="stop a device (its flash stays)")
    st.add_argument("device", nargs="?")
    st.add_argument("--all", action="store_true")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_stop)

    pc = sub.add_parser("power-cut", help="kill a device at once: unsynced writes are lost")
    pc.add_argument("device")
    pc.add_argument("--json", action="store_true")
    pc.set_defaults(func=cmd_power_cut)

    pr = sub.add_parser("press", help="press a button of a running device (returns at once)")
    pr.add_argument("device")
    pr.add_argument("--button", type=int, default=0, help="button index (default 0)")
    pr.add_argument("--hold-ms", type=int, default=100, help="how long it stays down (default 100)")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=cmd_press)

    le = sub.add_parser("leds", help="the LED states of a device")
    le.add_argument("device")
    le.add_argument("--json", action="store_true")
    le.set_defaults(func=cmd_leds)

    ex = sub.add_parser("export", help="devkits served as RFC 2217 network serial ports, registered with labgrid "
                                       "(stays in the foreground)")
    ex.add_argument("--count", type=int, default=4, help="devkits to start (default 4)")
    ex.add_argument("--prefix", default="vdk", help="device ids NAME-PREFIX0, NAME-PREFIX1, ... (default vdk)")
    ex.add_argument("--coordinator", metavar="HOST[:PORT]",
                    help="labgrid coordinator to register with (default port 20408); without it ser2net serves the "
                         "devices on --base-port, --base-port+1, ...")
    ex.add_argument("--name", help="the exporter's name in labgrid (default: this host's name)")
    ex.add_argument("--hostname", help="the address clients reach this host by (default: its host name)")
    ex.add_argument("--pool", default="edgecall", help="the places' pool tag (default edgecall)")
    ex.add_argument("--baud", type=int, default=921600, help="the devkits' line rate (default 921600)")
    ex.add_argument("--blank", action="store_true", help="start the devkits blank (default: firmware installed)")
    ex.add_argument("--mic", type=Path, help="16-bit mono WAV file the microphones play")
    ex.add_argument("--base-port", type=int, default=3000, help="first TCP port without labgrid (default 3000)")
    ex.add_argument("--bind", default="", help="address ser2net listens on without labgrid (default: all)")
    ex.add_argument("--json", action="store_true", help="print the exported devices as one JSON line")
    ex.set_defaults(func=_guard(cmd_export))


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (python -m host_tools.sim) for manual testing."""
    parser = argparse.ArgumentParser(prog="edgecall")
    register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(["sim", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as e:
        return int(e.code or 0)
    return int(args.func(args))
