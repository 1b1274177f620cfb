"""`edgecall deploy --port P|--device ID [--variant board|devkit] [--native auto|none|ARCH] [--reset soft|hard] [--json]`:
copy the firmware application to a stock MicroPython board's filesystem over the raw REPL; for the
board variant also the C codecs, lib/_nc.mpy built for the board's architecture (its
sys.implementation._mpy; host_tools/deploy/native.py), unless _nc is in its firmware. The devkit
variant (the default for a virtual devkit running its base firmware) adds hal/emu, the emulated
board's own devices; its firmware has _nc built in.
Exit codes: 0 ok, 1 a written file failed verification, 2 usage/build (or no _nc.mpy fits the
board), 3 transport."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from host_tools.deploy.native import CHOICES
from host_tools.deploy.raw_repl import DeployError, FileResult, deploy

EXIT_OK, EXIT_VERIFY, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3


def _err(msg: str) -> None:
    print(f"edgecall deploy: {msg}", file=sys.stderr)


def _is_devkit(device_id: str | None) -> bool:
    if device_id is None:
        return False
    from host_tools.sim import manager

    return any(d.id == device_id for d in manager.list_devices())


def cmd_deploy(args: argparse.Namespace) -> int:
    from host_tools.device.resolve import resolve
    from host_tools.firmware import build
    from host_tools.transport import TransportError

    try:
        target = resolve(args.port, args.device)
    except ValueError as e:
        _err(str(e))
        return EXIT_USAGE
    except TransportError as e:
        _err(str(e))
        return EXIT_TRANSPORT
    variant: str = args.variant or ("devkit" if _is_devkit(target.device_id) else "board")
    try:
        files = build.files(variant)
    except (ValueError, build.FirmwareBuildError, OSError) as e:
        _err(f"building the {variant} file set: {e}")
        return EXIT_USAGE

    def show(r: FileResult) -> None:
        if not args.json:
            mark = "verified" if r.verified else "VERIFY FAILED"
            print(f"{r.status:9} {mark:13} {r.size:7} {r.path}", flush=True)

    from host_tools.deploy.native import NativeError
    from host_tools.native.natmod import BuildError, ToolMissing

    native = args.native if variant == "board" else None
    try:
        report = deploy(target.port, files, variant, progress=show, reset=args.reset, timeout=args.timeout,
                        native=native)
    except (NativeError, BuildError, ToolMissing) as e:
        _err(str(e))
        return EXIT_USAGE
    except DeployError as e:
        _err(str(e))
        return EXIT_TRANSPORT
    out: dict[str, Any] = report.as_dict()
    if args.device:
        out["device"] = args.device
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        t = out["totals"]
        n = out.get("native")
        if n:
            what = f"{n['path']} for {n['arch']}{' with Opus' if n['opus'] else ''}" if n["arch"] else "no _nc.mpy"
            print(f"native codecs: {what} (board: .mpy {n['board_mpy']}; {n['reason']})")
        print(f"{t['files']} files: {t['written']} written, {t['unchanged']} unchanged, {t['verified']} verified; "
              f"{t['bytes_written']} bytes in {t['write_seconds']:.2f} s "
              f"({t['throughput_bytes_per_s'] / 1024:.1f} KiB/s), total {t['seconds']:.2f} s")
    if report.verify_failed:
        _err("verification failed: " + ", ".join(report.verify_failed))
        return EXIT_VERIFY
    return EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("deploy", help="copy the firmware app to a MicroPython board over the raw REPL")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="serial port path or URL")
    g.add_argument("--device", help="virtual devkit id or USB serial number")
    p.add_argument("--variant", choices=("board", "devkit"),
                   help="file set (default: devkit for a virtual devkit, else board)")
    p.add_argument("--native", choices=CHOICES, default="auto",
                   help="the C codecs for the board variant: lib/_nc.mpy for the board's architecture (auto), "
                        "none, or a given architecture")
    p.add_argument("--reset", choices=("soft", "hard"), help="reset the board after a successful deploy")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per device answer (default 10)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_deploy)
