"""`edgecall token build | inspect | verify`.

The app certificate comes from `--app-cert-file FILE` or the EDGECALL_APP_CERT environment
variable, never from a plain argument, and never appears in any output or error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from host_tools.token import accesstoken2 as at

ENV_CERT = "EDGECALL_APP_CERT"


class CertError(RuntimeError):
    """No usable app certificate."""


def read_app_cert(path: str | None) -> bytes:
    """The app certificate from a file (first line) or the environment."""
    if path:
        try:
            cert = Path(path).read_text().strip()
        except OSError as exc:
            # the path is not echoed: a secret pasted in its place must not reach the terminal
            raise CertError(f"cannot read the file given by --app-cert-file: {exc.strerror}") from None
    else:
        cert = os.environ.get(ENV_CERT, "").strip()
        if not cert:
            raise CertError(f"no app certificate: pass --app-cert-file FILE or set {ENV_CERT}")
    if len(cert) != 32:
        raise CertError("the app certificate must be 32 characters")
    return cert.encode()


def _privileges(specs: list[str] | None, ttl: int) -> dict[int, int] | None:
    """`--privilege NAME[=SECONDS]`, NAME in join, publish-audio, publish-video, publish-data."""
    if not specs:
        return None
    out: dict[int, int] = {}
    for spec in specs:
        name, _, secs = spec.partition("=")
        if name not in at.PRIVILEGES:
            raise at.TokenError(f"unknown privilege {name!r}: use one of {', '.join(at.PRIVILEGES)}")
        try:
            out[at.PRIVILEGES[name]] = int(secs) if secs else ttl
        except ValueError:
            raise at.TokenError(f"privilege {name}: {secs!r} is not a number of seconds") from None
    return out


def describe(t: at.Token) -> dict[str, object]:
    return {
        "version": at.VERSION,
        "app_id": t.app_id,
        "issue_ts": t.issue_ts,
        "expire": t.expire,
        "expires_at": t.expires_at(),
        "salt": t.salt,
        "services": [
            {
                "type": "rtc",
                "channel_name": s.channel_name,
                "uid": s.uid,
                "privileges": {at.PRIVILEGE_NAMES.get(k, str(k)): v for k, v in sorted(s.privileges.items())},
            }
            for s in t.services
        ],
        "signature": t.signature.hex(),
    }


def cmd_build(args: argparse.Namespace) -> int:
    cert = read_app_cert(args.app_cert_file)
    token = at.build(args.app_id, cert, args.channel, args.uid, args.ttl, _privileges(args.privilege, args.ttl),
                     salt=args.salt, issue_ts=args.issue_ts)
    if args.json:
        print(json.dumps({"token": token, "sha256": at.token_hash(token), **describe(at.parse(token))}, indent=2))
    else:
        print(token)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    print(json.dumps(describe(at.parse(args.token)), indent=2) if args.json else _human(at.parse(args.token)))
    return 0


def _human(t: at.Token) -> str:
    d = describe(t)
    lines = [f"app id     {d['app_id']}", f"issued     {d['issue_ts']}", f"expires    {d['expires_at']}"]
    for s in t.services:
        privileges = {at.PRIVILEGE_NAMES.get(k, str(k)): v for k, v in sorted(s.privileges.items())}
        lines.append(f"rtc        channel {s.channel_name!r} uid {s.uid!r} privileges {privileges}")
    return "\n".join(lines)


def cmd_verify(args: argparse.Namespace) -> int:
    cert = read_app_cert(args.app_cert_file)
    at.parse(args.token)  # a token that does not even parse (too long, malformed) is a usage error
    priv = at.PRIVILEGES[args.privilege] if args.privilege else None
    v = at.verify(args.token, cert, now=args.now, app_id=args.app_id, channel=args.channel, uid=args.uid, privilege=priv)
    if args.json:
        print(json.dumps({"valid": v.valid, "reason": v.reason}))
    else:
        print("valid" if v.valid else f"invalid: {v.reason}", file=sys.stdout if v.valid else sys.stderr)
    return 0 if v.valid else 1


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.token_func(args))
    except (CertError, at.TokenError) as exc:
        print(f"edgecall token: {exc}", file=sys.stderr)
        return 2


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tok = sub.add_parser("token", allow_abbrev=False, help="build, inspect and verify AccessToken2-compatible tokens")
    tsub = tok.add_subparsers(dest="token_cmd", required=True)
    cert_help = f"file holding the app certificate (default: ${ENV_CERT})"

    b = tsub.add_parser("build", allow_abbrev=False, help="build an RTC token")
    b.add_argument("--app-id", required=True)
    b.add_argument("--channel", required=True)
    b.add_argument("--uid", required=True, help="number (0 = any) or account name")
    b.add_argument("--ttl", type=int, required=True, help="seconds the token is valid")
    b.add_argument("--privilege", action="append", metavar="NAME[=SECONDS]",
                   help="join, publish-audio, publish-video, publish-data (default: all, for --ttl)")
    b.add_argument("--salt", type=int, help="fixed salt (reproducible tokens, tests)")
    b.add_argument("--issue-ts", type=int, help="fixed issue time, Unix seconds")
    b.add_argument("--app-cert-file", help=cert_help)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=run, token_func=cmd_build)

    i = tsub.add_parser("inspect", allow_abbrev=False, help="decode a token (no certificate needed)")
    i.add_argument("token")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=run, token_func=cmd_inspect)

    v = tsub.add_parser("verify", allow_abbrev=False,
                        help="check a token's signature, expiry and claims; exit 1 if invalid, 2 if it does not parse")
    v.add_argument("token")
    v.add_argument("--app-cert-file", help=cert_help)
    v.add_argument("--app-id")
    v.add_argument("--channel")
    v.add_argument("--uid")
    v.add_argument("--privilege", choices=list(at.PRIVILEGES))
    v.add_argument("--now", type=int, help="check as of this Unix time")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=run, token_func=cmd_verify)
