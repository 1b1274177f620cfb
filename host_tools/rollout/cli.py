"""`edgecall rollout IMAGE (--device ID … | --port P …) --waves 10,50,100 --health boot|selftest
[--ledger FILE] [--sim-root DIR] [--jobs N] [--json]` and `edgecall rollout status [--ledger FILE]
[--id N] [--json]`.

Exit codes: 0 complete, 1 halted (health failed, wave rolled back), 2 usage, 3 transport error
(rerun the same command to resume from the ledger).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from host_tools.rollout import health, ledger, waves
from host_tools.rollout.device import DeviceRef, Link
from host_tools.rollout.engine import EXIT_OK, EXIT_USAGE, Engine, Options, Outcome, UsageError
from host_tools.rollout.ledger import DeviceRow, Rollout, RolloutLedger

STATE_STYLE = {ledger.CONFIRMED: "green", ledger.FAILED: "red", ledger.ROLLED_BACK: "yellow",
               ledger.ROLLING_BACK: "yellow", ledger.PENDING: "dim"}


def _err(msg: str) -> None:
    Console(stderr=True, highlight=False).print(f"[red]edgecall rollout:[/red] {msg}")


def _table(r: Rollout, rows: list[DeviceRow]) -> Table:
    t = Table(title=f"rollout #{r.id}: {r.version} ({r.image_hash[:12]}), waves {','.join(map(str, r.waves))}, "
                    f"health {','.join(r.health)} — {r.state}")
    for col in ("device", "wave", "state", "before", "uploads", "error"):
        t.add_column(col)
    for d in rows:
        style = STATE_STYLE.get(d.state, "")
        t.add_row(d.name, str(d.wave + 1), f"[{style}]{d.state}[/{style}]" if style else d.state,
                  f"{d.prev_version} {d.prev_hash[:8]}", str(d.flashes), d.error or "")
    return t


def _print_outcome(args: argparse.Namespace, out: Outcome) -> None:
    if args.json:
        print(json.dumps(out.as_dict(), indent=2))
        return
    con = Console(highlight=False)
    if out.rollout is not None:
        con.print(_table(out.rollout, out.devices))
    if out.exit_code == EXIT_OK:
        con.print(f"[green]{out.message}[/green]")
    else:
        _err(out.message)


def cmd_rollout(args: argparse.Namespace) -> int:
    if args.image == "status":
        return cmd_status(args)
    ids = [*(args.device or []), *(i for group in args.devices or [] for i in group.split(",") if i)]
    refs = [DeviceRef(d) for d in ids] + [DeviceRef(p, by_port=True) for p in args.port or []]
    con = Console(stderr=True, highlight=False)

    def log(msg: str) -> None:
        if not args.json:
            con.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {msg}")

    try:
        if args.id is not None:
            raise UsageError("--id belongs to `rollout status`")
        if args.waves is None or args.health is None:
            raise UsageError("give --waves (e.g. 10,50,100) and --health (boot, selftest)")
        opts = Options(image=Path(args.image), devices=refs, waves=waves.parse(args.waves),
                       health=health.parse(args.health), ledger=Path(args.ledger),
                       link=Link(sim_root=Path(args.sim_root) if args.sim_root else None, baud=args.baud,
                                 timeout=args.timeout),
                       jobs=args.jobs)
        out = Engine(opts, log).run()
    except (UsageError, waves.WaveError, health.HealthError) as e:
        if args.json:
            print(json.dumps({"ok": False, "exit_code": EXIT_USAGE, "message": str(e)}))
        _err(str(e))
        return EXIT_USAGE
    _print_outcome(args, out)
    return out.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    if args.device or args.devices or args.port or args.waves or args.health:
        _err("`rollout status` takes only --ledger, --id and --json")
        return EXIT_USAGE
    path = Path(args.ledger)
    if not path.is_file():
        _err(f"{path}: no rollout ledger here (give --ledger FILE)")
        return EXIT_USAGE
    db = RolloutLedger(path)
    try:
        r = db.rollout(args.id) if args.id is not None else db.latest()
        if r is None:
            _err(f"{path}: no rollout recorded yet")
            return EXIT_USAGE
        rows = db.devices(r.id)
        if args.json:
            counts: dict[str, int] = {}
            for d in rows:
                counts[d.state] = counts.get(d.state, 0) + 1
            data: dict[str, Any] = {"rollout": r.as_dict(), "counts": counts, "devices": [d.as_dict() for d in rows],
                                    "rollouts": [{"id": x.id, "version": x.version, "state": x.state}
                                                 for x in db.rollouts()]}
            print(json.dumps(data, indent=2))
        else:
            Console(highlight=False).print(_table(r, rows))
    except ledger.LedgerError as e:
        _err(str(e))
        return EXIT_USAGE
    finally:
        db.close()
    return EXIT_OK


def register(sub: "argparse._SubParsersAction[Any]") -> None:
    p = sub.add_parser("rollout", help="staged firmware rollout in waves with health checks and rollback; "
                                       "`rollout status` shows the ledger",
                       description="Roll a signed image out wave by wave (test boot, health check, confirm; a failed "
                                   "wave is rolled back and the rollout halts). `edgecall rollout status` prints "
                                   "the ledger. Rerun the same command after an interruption to resume.")
    p.add_argument("image", help="signed image from `edgecall build`, or `status`")
    p.add_argument("--device", action="append", metavar="ID", help="virtual devkit id or USB serial number (repeat)")
    p.add_argument("--devices", action="append", metavar="ID,ID,…", help="several ids at once, comma-separated")
    p.add_argument("--port", action="append", metavar="P", help="serial port path or pyserial URL (repeat)")
    p.add_argument("--waves", help="cumulative percentages ending at 100, e.g. 10,50,100")
    p.add_argument("--health", help=f"health checks, comma-separated: {', '.join(health.CHECKS)}")
    p.add_argument("--ledger", default=str(ledger.DEFAULT_PATH), help="SQLite ledger (default %(default)s)")
    p.add_argument("--sim-root", help="virtual devkits' state folder (default $EDGECALL_SIM_DIR or build/sim)")
    p.add_argument("--jobs", type=int, default=4, help="devices flashed at once within a wave (default 4)")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout (s)")
    p.add_argument("--id", type=int, help="status: a given rollout (default the latest)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rollout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgecall")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    return int(args.func(args))
