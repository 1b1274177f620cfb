"""`edgecall ledger verify | export` over `--ledger PATH|postgresql://…` (default: $EDGECALL_LEDGER
or build/ledger.sqlite3 in the project).

Both open an existing ledger only: a path that does not exist is an error (exit 2) and nothing is
created; a file that is not a ledger is a one-line error (exit 2); an unreachable server exit 3.
`verify` checks the sealed audit chain (the ledger key: host_tools.ledger.key), replays the rows
from it and reports every row that differs, and with `--head ENTRIES:HASH` or `--anchor FILE`
that the chain still reaches that head; exit 1 when anything is wrong. `export` prints the rows
and the head (in its JSON; on stderr beside CSV) and appends the head to `--anchor FILE`.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import sys
from pathlib import Path

from host_tools.ledger import anchor
from host_tools.ledger.db import LedgerConnectError
from host_tools.ledger.ledger import COLUMNS, Head, Ledger, LedgerError, as_dict
from host_tools.paths import BUILD


def default_url() -> str:
    return os.environ.get("EDGECALL_LEDGER", str(BUILD / "ledger.sqlite3"))


def add_ledger_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ledger", default=None, help="SQLite file or postgresql:// URL (default: $EDGECALL_LEDGER or build/ledger.sqlite3)")


def open_ledger(args: argparse.Namespace) -> Ledger:
    """The ledger named by --ledger, opened for reading: it must exist."""
    return Ledger(args.ledger or default_url(), station=socket.gethostname(), create=False)


def head_line(head: Head | None) -> str:
    return f"ledger head: {head.entries} entries, hash {head.hash}" if head else "ledger head: no entries yet"


def _fail(exc: Exception) -> int:
    print(f"edgecall ledger: {exc}", file=sys.stderr)
    if isinstance(exc, LedgerConnectError):
        return 2 if exc.refused else 3
    return 2 if isinstance(exc, ValueError) else 1  # a malformed --head or anchor file: usage


def _anchor_of(args: argparse.Namespace) -> Head | None:
    if args.head:
        return Head.parse(args.head)
    return anchor.read(Path(args.anchor)) if args.anchor else None


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        want = _anchor_of(args)
        led = open_ledger(args)
    except (ValueError, LedgerConnectError, LedgerError) as exc:
        return _fail(exc)
    try:
        verdict = led.verify(want)
    except LedgerConnectError as exc:  # the key: missing, or not the ledger's
        return _fail(exc)
    finally:
        led.close()
    if args.json:
        out: dict[str, object] = {"ok": verdict.ok, "entries": verdict.entries, "detail": verdict.detail}
        if not verdict.ok:
            out["problems"] = verdict.problems
        print(json.dumps(out))
    elif verdict.ok:
        print(f"audit chain intact: {verdict.entries} entries checked, rows agree"
              + (", the anchored head is reached" if want else "") + f"; {head_line(verdict.head)}")
    else:
        print(f"audit chain BROKEN: {verdict.entries} entries check out; {len(verdict.problems)} problem(s):",
              file=sys.stderr)
        for p in verdict.problems:
            print(f"  {p}", file=sys.stderr)
    return 0 if verdict.ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    try:
        led = open_ledger(args)
    except (LedgerConnectError, LedgerError) as exc:
        return _fail(exc)
    try:
        rows = [as_dict(r) for r in led.records()]
        audit = led.audit() if args.audit else []
        head = led.head()
    finally:
        led.close()
    if args.anchor:
        try:
            anchor.write(Path(args.anchor), head, args.ledger or default_url())
        except OSError as exc:
            print(f"edgecall ledger: cannot write the anchor file {args.anchor}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.format == "json":
        print(json.dumps({"records": rows, "head": head.as_dict() if head else None,
                          **({"audit": audit} if args.audit else {})}, indent=2))
    else:
        w = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerows(rows)
        print(head_line(head), file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    led = sub.add_parser("ledger", help="the provisioning ledger: verify the audit chain, export records")
    lsub = led.add_subparsers(dest="ledger_cmd", required=True)
    v = lsub.add_parser("verify", help="check the sealed audit chain and the rows it records; exit 1 if anything is wrong")
    add_ledger_option(v)
    g = v.add_mutually_exclusive_group()
    g.add_argument("--head", metavar="ENTRIES:HASH", help="a head printed earlier (by a station run or `ledger export`)")
    g.add_argument("--anchor", metavar="FILE", help="the anchor file of station runs and exports (its last head)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)
    e = lsub.add_parser("export", help="print the provisioning records (CSV or JSON) and the chain's head")
    add_ledger_option(e)
    e.add_argument("--format", choices=["csv", "json"], default="csv")
    e.add_argument("--audit", action="store_true", help="with --format json: include the audit log")
    e.add_argument("--anchor", metavar="FILE", help="append the chain's head to this anchor file")
    e.set_defaults(func=cmd_export)
