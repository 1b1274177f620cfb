"""`edgecall build` (the signed image) and `edgecall keys generate`.

Wiring (host_tools/cli.py): `keys` with `register_keys(subparsers)`; for `build`, keep its
`native` sub-command but make the sub-command optional and call `add_build_arguments(build_parser)`
so that `edgecall build [--key FILE] [--version X.Y.Z] [--json]` builds the image:

    b = sub.add_parser("build", help=...)
    add_build_arguments(b)                     # sets func=cmd_build_image
    bs = b.add_subparsers(dest="build_cmd", required=False)
    n = bs.add_parser("native", ...)           # as before (its set_defaults overrides func)
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from host_tools.firmware import image, keys, uf2
from host_tools.firmware.build import FirmwareBuildError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _err(msg: str) -> None:
    Console(stderr=True).print(f"[red]edgecall:[/red] {msg}")


def _key_arg(args: argparse.Namespace) -> Path | None:
    if args.key:
        return Path(args.key)
    env = os.environ.get("EDGECALL_SIGNING_KEY")  # a file path, never the key itself
    return Path(env) if env else None


def cmd_build_image(args: argparse.Namespace) -> int:
    try:
        info = image.build_image(key=_key_arg(args), version=args.version, out=args.out, slot_size=args.slot_size)
        out: dict[str, object] = {"image": info.as_dict()}
        if args.uf2_from:
            binary = Path(args.uf2_from).read_bytes()
            target = Path(args.uf2_from).with_suffix(".uf2")
            target.write_bytes(uf2.from_binary(binary))
            out["uf2"] = {"path": str(target), "family_id": hex(uf2.RP2040_FAMILY), "blocks": len(binary) // 256 + (len(binary) % 256 > 0)}
    except ValueError as e:
        _err(str(e))
        return EXIT_USAGE
    except (image.ImageBuildError, FirmwareBuildError, keys.KeyError_, OSError, RuntimeError) as e:
        _err(str(e))
        return EXIT_FAIL
    if args.json:
        print(json.dumps(out))
    else:
        t = Table(title="firmware image")
        t.add_column("field")
        t.add_column("value")
        for k, v in info.as_dict().items():
            t.add_row(k, str(v))
        if "uf2" in out:
            t.add_row("uf2", str(out["uf2"]))
        Console().print(t)
    return EXIT_OK


def add_build_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", help="signing key PEM (default: $EDGECALL_SIGNING_KEY, else build/keys/dev-ed25519.pem)")
    p.add_argument("--version", help="image version X.Y.Z[+BUILD] (default: firmware/edgecall/version.py)")
    p.add_argument("--out", type=Path, help="output file (default build/images/edgecall-<version>.bin)")
    p.add_argument("--slot-size", type=lambda s: int(s, 0), default=image.SLOT_SIZE,
                   help="the device's slot size (default 1 MiB)")
    p.add_argument("--uf2-from", metavar="BIN", help="also write BIN.uf2 for an RP2040 (family 0xe48bff56)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_build_image)


def cmd_keys_generate(args: argparse.Namespace) -> int:
    try:
        path = keys.generate(Path(args.out), args.type)
        info = {"key": str(path), "type": args.type, "key_hash": keys.key_hash(path),
                "public_key_pem": keys.public_pem(path)}
    except keys.KeyError_ as e:
        _err(str(e))
        return EXIT_FAIL
    if args.json:
        print(json.dumps(info))
    else:
        Console().print(f"private key written to {path} (mode 0600); key hash {info['key_hash']}")
        Console().print(str(info["public_key_pem"]))
    return EXIT_OK


def register_keys(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    k = subparsers.add_parser("keys", help="image signing keys").add_subparsers(dest="keys_cmd", required=True)
    g = k.add_parser("generate", help="create a signing key pair (imgtool keygen)")
    g.add_argument("--type", choices=sorted(keys.KEY_TYPES), default="ed25519")
    g.add_argument("--out", default=str(keys.KEY_DIR / "signing.pem"), help="private key file (PEM)")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_keys_generate)
