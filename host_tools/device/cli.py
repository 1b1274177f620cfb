"""`edgecall device info | log | reboot | selftest --port P|--device ID [--json]`."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.smp.client import SmpError
from host_tools.transport import TransportError, open_port


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[DeviceConsole]:
    target = resolve(args.port, args.device)
    with open_port(target.port, ignore_pids=target.allowed_holders) as t:
        yield DeviceConsole(t, timeout=args.timeout)


def _print(args: argparse.Namespace, data: dict[str, Any], human: Callable[[dict[str, Any]], str]) -> None:
    print(json.dumps(data, indent=2) if args.json else human(data))


def cmd_info(args: argparse.Namespace) -> int:
    with connect(args) as dev:
        info = dev.info()
    _print(args, info, lambda d: "\n".join(f"{k:12} {v}" for k, v in d.items()))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    with connect(args) as dev:
        log = dev.log(args.since)
    _print(args, log, lambda d: "\n".join(f"{e[0]:5} {e[1]:>10} {e[2]:5} {e[3]}" for e in d["entries"]))
    return 0


def cmd_reboot(args: argparse.Namespace) -> int:
    with connect(args) as dev:
        if args.wait:
            info = dev.reboot(timeout=args.timeout * 6)
        else:
            dev.reset()
            info = {}
    _print(args, {"rebooted": True, **({"info": info} if info else {})}, lambda d: "rebooted")
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    from host_tools.device.selftest import expected

    with connect(args) as dev:
        got = dev.selftest()
    want = expected()
    result = {"passed": got["digests"] == want, "ms": got["ms"],
              "vectors": {k: {"device": got["digests"].get(k), "host": v, "equal": got["digests"].get(k) == v} for k, v in want.items()}}
    _print(args, result, lambda d: "\n".join(f"{k:16} {'ok' if v['equal'] else 'MISMATCH'}" for k, v in d["vectors"].items()))
    return 0 if result["passed"] else 1


def _call_text(d: dict[str, Any]) -> str:
    lines = [f"{k:12} {d.get(k)}" for k in ("service", "state", "call_state", "call", "peer", "codec") if k in d]
    if "join_ms" in d:
        lines.append(f"{'join_ms':12} {d['join_ms'][-5:]}")
    media = d.get("media")
    if media:
        rx = media["rx"]
        lines.append(f"{'rx':12} received {rx['received']} lost {rx['lost']} late {rx['late']} concealed {rx['concealed']}"
                     f" delay {rx['delay_ms']} ms")
        lines.append(f"{'tx':12} packets {media['tx']['packets']} level {media['tx']['level']}"
                     f" rtt {media['tx']['rtt_ms']} ms")
    return "\n".join(lines)


def cmd_call(args: argparse.Namespace) -> int:
    if args.op == "invite" and not args.to:
        raise ValueError("invite needs the callee's uid: device call invite UID")
    with connect(args) as dev:
        if args.op != "status":
            reply = dev.call(args.op, **({"to": args.to} if args.op == "invite" else {}))
            if args.op == "invite":
                print(json.dumps(reply) if args.json else f"calling {args.to}: call {reply.get('call')}")
                return 0
        status = dev.call_status()
    _print(args, status, _call_text)
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.device_func(args))
    except TransportError as exc:
        print(f"edgecall device: {exc}", file=sys.stderr)
        return exc.exit_code
    except TimeoutError as exc:
        print(f"edgecall device: {exc}; is the firmware running? (`edgecall sim start`, or flash it)", file=sys.stderr)
        return 3
    except SmpError as exc:
        print(f"edgecall device: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"edgecall device: {exc}", file=sys.stderr)
        return 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dev = sub.add_parser("device", help="talk to one device's console (SMP)")
    dsub = dev.add_subparsers(dest="device_cmd", required=True)
    for name, func, text in (("info", cmd_info, "firmware version, unique id, heap, uptime, image slot"),
                             ("log", cmd_log, "the device log ring"),
                             ("reboot", cmd_reboot, "reset the device (and wait for it with --wait)"),
                             ("selftest", cmd_selftest, "run each codec on the device and compare with the host")):
        p = dsub.add_parser(name, help=text)
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--port", help="serial port path or pyserial URL")
        g.add_argument("--device", help="virtual devkit id or a board's USB serial number")
        p.add_argument("--json", action="store_true")
        p.add_argument("--timeout", type=float, default=5.0)
        if name == "log":
            p.add_argument("--since", type=int, default=0)
        if name == "reboot":
            p.add_argument("--wait", action="store_true")
        p.set_defaults(func=run, device_func=func)
    p = dsub.add_parser("call", help="the call service: status (with media statistics), join, leave, invite UID, "
                                     "accept, hangup")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", help="serial port path or pyserial URL")
    g.add_argument("--device", help="virtual devkit id or a board's USB serial number")
    p.add_argument("op", nargs="?", default="status", choices=["status", "join", "leave", "invite", "accept", "hangup"])
    p.add_argument("to", nargs="?", help="the callee's uid (invite)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=run, device_func=cmd_call)
