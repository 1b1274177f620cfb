"""python -m host_tools.flash ARGS: `edgecall flash` on its own (tests, manual use)."""
import argparse
import sys

from host_tools.flash import cli


def main() -> int:
    p = argparse.ArgumentParser(prog="edgecall")
    cli.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(["flash", *sys.argv[1:]])
    return int(args.func(args))


sys.exit(main())
