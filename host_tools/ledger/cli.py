"""`edgecall ledger verify | export` over `--ledger PATH|postgresql://…` (default: $EDGECALL_LEDGER
or build/ledger.sqlite3 in the project)."""
from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import sys

from host_tools.ledger.db import LedgerConnectError
from host_tools.ledger.ledger import COLUMNS, Ledger, as_dict
from host_tools.paths import BUILD


def default_url() -> str:
    return os.environ.get("EDGECALL_LEDGER", str(BUILD / "ledger.sqlite3"))


def add_ledger_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ledger", default=None, help="SQLite file or postgresql:// URL (default: $EDGECALL_LEDGER or build/ledger.sqlite3)")


def open_ledger(args: argparse.Namespace) -> Ledger:
    return Ledger(args.ledger or default_url(), station=socket.gethostname())


def _connect_error(exc: LedgerConnectError) -> int:
    print(f"edgecall ledger: {exc}", file=sys.stderr)
    return 2 if exc.refused else 3


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        led = open_ledger(args)
    except LedgerConnectError as exc:
        return _connect_error(exc)
    try:
        ok, n, why = led.verify_chain()
    finally:
        led.close()
    if args.json:
        print(json.dumps({"ok": ok, "entries": n, "detail": why}))
    else:
        print(f"audit chain {'intact' if ok else 'BROKEN'}: {n} entries checked; {why}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    try:
        led = open_ledger(args)
    except LedgerConnectError as exc:
        return _connect_error(exc)
    try:
        rows = [as_dict(r) for r in led.records()]
        audit = led.audit() if args.audit else []
    finally:
        led.close()
    if args.format == "json":
        print(json.dumps({"records": rows, **({"audit": audit} if args.audit else {})}, indent=2))
    else:
        w = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerows(rows)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    led = sub.add_parser("ledger", help="the provisioning ledger: verify the audit chain, export records")
    lsub = led.add_subparsers(dest="ledger_cmd", required=True)
    v = lsub.add_parser("verify", help="recompute the audit log's hash chain; exit 1 if broken")
    add_ledger_option(v)
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)
    e = lsub.add_parser("export", help="print the provisioning records as CSV or JSON")
    add_ledger_option(e)
    e.add_argument("--format", choices=["csv", "json"], default="csv")
    e.add_argument("--audit", action="store_true", help="with --format json: include the audit log")
    e.set_defaults(func=cmd_export)
