"""`edgecall flash --port P|--device ID IMAGE [--test|--confirm] [--force] [--key FILE] [--baud B] [--json]`.

register(subparsers) adds it. Exit codes: 0 flashed (and confirmed unless --test), 1 the device
refused the image, was not in its bootloader or rolled back, 2 usage (also an image file that fails
its own hash or signature check: no device is touched), 3 port busy / timeout / disconnected
(the link lost mid-flash included), 130 interrupted (Ctrl-C): the device keeps what it received
and the same command resumes from there.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from host_tools.device.resolve import resolve
from host_tools.flash.errors import EXIT_INTERRUPTED, EXIT_USAGE, FlashError
from host_tools.flash.session import Flasher
from host_tools.transport import TransportError


def _err(msg: str) -> None:
    Console(stderr=True).print(f"[red]edgecall flash:[/red] {msg}")


def cmd_flash(args: argparse.Namespace) -> int:
    path = Path(args.image)
    if not path.is_file():
        _err(f"{path}: no such image (build one with `edgecall build`)")
        return EXIT_USAGE
    mode = "test" if args.test else "confirm" if args.confirm else "default"
    try:
        key = Path(args.key) if args.key else None
        target = resolve(args.port, args.device)
        flasher = Flasher(target.port, target.allowed_holders, baud=args.baud, timeout=args.timeout)
        if args.json:
            result = flasher.run(path, mode, args.force, key=key)
        else:
            cols = (TextColumn("upload"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
            with Progress(*cols, transient=False) as bar:
                task = bar.add_task("upload", total=path.stat().st_size)
                result = flasher.run(path, mode, args.force, key=key,
                                     progress=lambda off, total: bar.update(task, completed=off, total=total))
    except KeyboardInterrupt:
        if args.json:
            print(json.dumps({"ok": False, "error": "interrupted", "message": "interrupted (Ctrl-C)"}))
        _err("interrupted: the device keeps what it received; run the same command again to resume")
        return EXIT_INTERRUPTED
    except ValueError as e:
        _err(str(e))
        return EXIT_USAGE
    except FlashError as e:
        if args.json:
            print(json.dumps({"ok": False, "error": e.kind, "message": str(e)}))
        _err(str(e))
        return e.exit_code
    except TransportError as e:
        if args.json:
            print(json.dumps({"ok": False, "error": "transport", "message": str(e)}))
        _err(str(e))
        return e.exit_code
    if args.json:
        print(json.dumps({"ok": True, **result.as_dict()}))
    elif result.events and "nothing to flash" in result.events[-1]:
        Console().print(f"{result.port}: already runs {result.version_after}, confirmed: nothing to flash")
    else:
        extra = f" (resumed at {result.resumed_from})" if result.resumed_from else ""
        Console().print(f"{result.port}: {result.version_before or '?'} -> {result.version_after}{extra}, "
                        f"{result.throughput / 1000:.1f} kB/s, {'confirmed' if result.confirmed else 'on test'}, "
                        f"{result.seconds:.1f} s")
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    f = subparsers.add_parser("flash", help="flash a signed image over SMP (MCUboot bootloader)")
    g = f.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="serial port path or pyserial URL")
    g.add_argument("--device", help="virtual devkit id or USB serial number")
    f.add_argument("image", help="signed image from `edgecall build`")
    m = f.add_mutually_exclusive_group()
    m.add_argument("--test", action="store_true", help="boot it once; the image's health check confirms it")
    m.add_argument("--confirm", action="store_true", help="make it permanent at once")
    f.add_argument("--force", action="store_true", help="allow a downgrade")
    f.add_argument("--key", help="the key (public or private PEM) the image must be signed with; default: check the "
                                 "signature when $EDGECALL_SIGNING_KEY or the development key signed it")
    f.add_argument("--baud", type=int, default=115200)
    f.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (s)")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=cmd_flash)
