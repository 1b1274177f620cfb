"""`edgecall provision` — one device (--port/--device) or a batch (--all-sims, --csv FILE);
`provision status --device ID`; `provision renew --device ID|--all-sims [--within S]`.
The app certificate comes from --app-cert-file or EDGECALL_APP_CERT only. The station's name in
the ledger is --station, else $EDGECALL_STATION, else the host name. A ledger that cannot be
connected to ends the run before any device is touched: exit 3 if it was not reached, 2 if it
refused the login (fix the URL's credentials) or holds a ledger sealed with another key.
Every run prints the ledger's head (entry count and hash of the last audit entry: `ledger_head` in
its JSON, a line on stderr otherwise) and appends it to `--anchor FILE` when given, so that
`edgecall ledger verify --head/--anchor` can tell a chain cut short."""
from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import Target, resolve
from host_tools.ledger import anchor
from host_tools.ledger.cli import add_ledger_option, default_url, head_line
from host_tools.ledger.db import LedgerConnectError
from host_tools.ledger.ledger import Ledger, LedgerError
from host_tools.provision.station import Config, ProvisionError, provision
from host_tools.smp.client import SmpError
from host_tools.token.cli import CertError, read_app_cert
from host_tools.token.accesstoken2 import TokenError
from host_tools.transport import TransportError, open_port

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3


def _targets(args: argparse.Namespace) -> list[Target]:
    from host_tools.sim import manager

    if getattr(args, "all_sims", False):
        return [resolve(None, d.id) for d in manager.list_devices() if d.port]
    if getattr(args, "csv", None):
        out = []
        with open(args.csv, newline="") as f:
            for row in csv.DictReader(f):
                out.append(resolve(row.get("port") or None, row.get("device") or None))
        return out
    return [resolve(args.port, args.device)]


def _config(args: argparse.Namespace, renew: bool = False) -> Config:
    app_id = args.app_id or os.environ.get("EDGECALL_APP_ID", "")
    if not app_id:
        raise ValueError("no app id: pass --app-id or set EDGECALL_APP_ID")
    if not renew and args.uid is None and not args.uid_from_serial:
        raise ValueError("give --uid U or --uid-from-serial")
    return Config(app_id=app_id, app_cert=read_app_cert(args.app_cert_file), channel=args.channel, ttl=args.ttl,
                  batch=args.batch, uid=None if renew or args.uid_from_serial else args.uid,
                  reprovision_reason=getattr(args, "reprovision", None), renew=renew,
                  renew_within=getattr(args, "within", None))


def _one(target: Target, ledger: Ledger, cfg: Config, timeout: float) -> dict[str, Any]:
    with open_port(target.port, ignore_pids=target.allowed_holders) as t:
        dev = DeviceConsole(t, timeout=timeout)
        return {"port": target.port, "device": target.device_id, **provision(dev, ledger, cfg).as_dict()}


def _run_batch(args: argparse.Namespace, cfg_for: Any) -> int:
    targets = _targets(args)
    if not targets:
        print("edgecall provision: no devices (start some with `edgecall sim start`)", file=sys.stderr)
        return EXIT_USAGE
    if args.anchor:
        open(args.anchor, "a").close()  # a file we cannot write stops the run before any device is touched
    ledger = Ledger(args.ledger or default_url(), station=station_name(args))
    results: list[dict[str, Any]] = []
    worst = EXIT_OK
    try:
        progress = None if args.json or len(targets) == 1 else _progress(len(targets))
        for t in targets:
            try:
                cfg = cfg_for(t)
                results.append({"ok": True, **_one(t, ledger, cfg, args.timeout)})
            except (ProvisionError, SmpError, LedgerError) as exc:
                results.append({"ok": False, "port": t.port, "device": t.device_id, "error": str(exc)})
                worst = max(worst, EXIT_FAIL)
            except (TransportError, TimeoutError) as exc:
                results.append({"ok": False, "port": t.port, "device": t.device_id, "error": str(exc)})
                worst = max(worst, EXIT_TRANSPORT)
            if progress is not None:
                progress(results[-1])
        head = ledger.head()
    finally:
        ledger.close()
    if args.anchor:
        anchor.write(Path(args.anchor), head, args.ledger or default_url())
    if args.json:
        print(json.dumps({"results": results, "ok": worst == EXIT_OK, "ledger_head": head.as_dict() if head else None},
                         indent=2))
    elif len(results) == 1:
        r = results[0]
        print(f"{r['device'] or r['port']}: {r['action']} (token {r['token_sha256'][:16]}…)" if r["ok"] else f"error: {r['error']}",
              file=sys.stdout if r["ok"] else sys.stderr)
    if not args.json:
        print(head_line(head), file=sys.stderr)
    return worst


def _progress(total: int) -> Any:
    from rich.console import Console

    con = Console(stderr=True)
    done = [0]

    def show(r: dict[str, Any]) -> None:
        done[0] += 1
        status = f"[green]{r['action']}[/]" if r["ok"] else f"[red]failed[/] {r['error']}"
        con.print(f"[{done[0]:>4}/{total}] {r.get('device') or r.get('port')}: {status}")

    return show


def cmd_provision(args: argparse.Namespace) -> int:
    cfg = _config(args)
    return _run_batch(args, lambda t: cfg)


def cmd_renew(args: argparse.Namespace) -> int:
    """Writes a fresh token (same app, channel, uid) to devices whose token expires within --within."""
    base = _config(args, renew=True)
    return _run_batch(args, lambda t: base)


def cmd_status(args: argparse.Namespace) -> int:
    target = resolve(args.port, args.device)
    ledger = Ledger(args.ledger or default_url(), station=station_name(args))
    try:
        with open_port(target.port, ignore_pids=target.allowed_holders) as t:
            dev = DeviceConsole(t, timeout=args.timeout)
            uid = str(dev.info()["uid"])
            on_device = dev.provisioning()
        rows = [r for r in ledger.records() if r.device_uid == uid]
    finally:
        ledger.close()
    held = on_device.get("digest")
    out = {"device_uid": uid, "device": on_device,
           "ledger": [{"batch": r.batch, "state": r.state, "token_sha256": r.token_sha256, "expires_at": r.expires_at} for r in rows],
           "agree": any(r.state == "committed" and r.token_sha256 == held for r in rows)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"device {uid}: {on_device.get('state')}; ledger: " + (", ".join(f"{r['batch']} {r['state']}" for r in out["ledger"]) or "no record")
              + ("; in agreement" if out["agree"] else "; NOT in agreement"))
    return EXIT_OK if out["agree"] else EXIT_FAIL


def station_name(args: argparse.Namespace) -> str:
    """--station, else $EDGECALL_STATION, else the host name: what the ledger records as the station."""
    return getattr(args, "station", None) or os.environ.get("EDGECALL_STATION") or socket.gethostname()


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.prov_func(args))
    except LedgerConnectError as exc:
        print(f"edgecall provision: {exc}; no device was touched", file=sys.stderr)
        return EXIT_USAGE if exc.refused else EXIT_TRANSPORT
    except LedgerError as exc:  # e.g. a schema-1 ledger whose chain is broken is not sealed
        print(f"edgecall provision: {exc}; no device was touched", file=sys.stderr)
        return EXIT_FAIL
    except (CertError, TokenError, ValueError) as exc:
        print(f"edgecall provision: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (TransportError, TimeoutError) as exc:
        print(f"edgecall provision: {exc}", file=sys.stderr)
        return EXIT_TRANSPORT
    except OSError as exc:  # a file named on the command line (--csv, --anchor)
        print(f"edgecall provision: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _device_args(p: argparse.ArgumentParser, batch: bool) -> None:
    g = p.add_mutually_exclusive_group(required=False)
    g.add_argument("--port")
    g.add_argument("--device")
    if batch:
        g.add_argument("--all-sims", action="store_true", help="every running virtual devkit")
        g.add_argument("--csv", type=Path, help="a CSV with a `port` or `device` column")
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--json", action="store_true")
    add_ledger_option(p)
    if batch:
        p.add_argument("--station", metavar="NAME",
                       help="this station's name in the ledger (default: $EDGECALL_STATION or the host name)")
        p.add_argument("--anchor", metavar="FILE", help="append the ledger's head after the run to this anchor file")


def _token_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--app-id", help="default: $EDGECALL_APP_ID")
    p.add_argument("--app-cert-file", help="file with the app certificate (default: $EDGECALL_APP_CERT)")
    p.add_argument("--channel", required=True)
    p.add_argument("--ttl", type=int, required=True, help="token lifetime in seconds")
    p.add_argument("--batch", default="default", help="provisioning batch (ledger key with the device id)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("provision", help="provision device tokens (ledger + device storage)")
    psub = p.add_subparsers(dest="prov_cmd", required=False)
    _device_args(p, batch=True)
    p.add_argument("--app-id", help="default: $EDGECALL_APP_ID")
    p.add_argument("--app-cert-file", help="file with the app certificate (default: $EDGECALL_APP_CERT)")
    p.add_argument("--channel")
    p.add_argument("--ttl", type=int)
    p.add_argument("--batch", default="default")
    u = p.add_mutually_exclusive_group()
    u.add_argument("--uid", help="the token's uid: a number or an account name")
    u.add_argument("--uid-from-serial", action="store_true", help="uid = 'dev-' + the device's unique id")
    p.add_argument("--reprovision", metavar="REASON", help="replace a committed record; the reason goes to the audit log")
    p.set_defaults(func=_require_main, prov_func=cmd_provision)

    s = psub.add_parser("status", help="the device's record and the ledger's, and whether they agree")
    _device_args(s, batch=False)
    s.set_defaults(func=run, prov_func=cmd_status)

    r = psub.add_parser("renew", help="write a fresh token before the current one expires")
    _device_args(r, batch=True)
    _token_args(r)
    r.add_argument("--within", type=int, metavar="SECONDS", help="only tokens that expire within this many seconds")
    r.set_defaults(func=run, prov_func=cmd_renew)


def _require_main(args: argparse.Namespace) -> int:
    missing = [n for n in ("channel", "ttl") if getattr(args, n) is None]
    if missing or not (args.port or args.device or args.all_sims or args.csv):
        print("edgecall provision: needs --port/--device/--all-sims/--csv, --channel and --ttl", file=sys.stderr)
        return EXIT_USAGE
    return run(args)
