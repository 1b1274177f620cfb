"""`python -m host_tools.deploy --device ID [--json]`: the deploy command on its own."""
from __future__ import annotations

import argparse
import sys

from host_tools.deploy.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgecall")
    register(parser.add_subparsers(dest="cmd", required=True))
    try:
        args = parser.parse_args(["deploy", *(sys.argv[1:] if argv is None else argv)])
    except SystemExit as e:
        return int(e.code or 0)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
