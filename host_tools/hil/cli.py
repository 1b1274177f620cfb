"""`edgecall hil run`: arguments to a RunConfig, the run, the summary table and the exit code."""
from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path

from host_tools.paths import BUILD

OUT = BUILD / "hil"

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def cmd_run(args: argparse.Namespace) -> int:
    from host_tools.channel import profiles
    from host_tools.hil import report, runner, scenarios

    if args.impair:
        try:
            profiles.load(args.impair)
        except ValueError as e:
            print(f"edgecall hil run: {e}", file=sys.stderr)
            return EXIT_USAGE
    if args.devices < 2 and not args.port:
        print("edgecall hil run: calls need at least 2 devices", file=sys.stderr)
        return EXIT_USAGE
    if args.duration is not None and args.duration <= 0:
        print("edgecall hil run: --duration must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.mic is not None and not args.mic.is_file():
        print(f"edgecall hil run: --mic: {args.mic} not found", file=sys.stderr)
        return EXIT_USAGE
    seeds = tuple(dict.fromkeys(args.seed)) if args.seed else scenarios.SEEDS
    opts = scenarios.Options(duration=args.duration, cycles=args.cycles, reboots=args.reboots, stress_s=args.stress,
                             impair=args.impair, seeds=seeds, codec=args.codec)
    cfg = runner.RunConfig(devices=args.devices, ports=args.port or [], only=args.scenario or [], opts=opts,
                           server_host=args.server_host, mic=args.mic, json_out=args.json, html_out=args.html,
                           junit_out=args.junit,
                           command="edgecall " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    try:
        runner._select(scenarios.standard(opts), cfg.only)
    except ValueError as e:
        print(f"edgecall hil run: {e}", file=sys.stderr)
        return EXIT_USAGE
    def terminated(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the run's tear-down: devkits stopped

    signal.signal(signal.SIGTERM, terminated)
    # Ctrl-C (SIGINT) unwinds the same way, also when the run was started from a script in the
    # background, which would have it ignored: a farm run must give its places back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.farm:
        from host_tools.hil import farm

        if args.port:
            print("edgecall hil run: --farm takes its devices from labgrid places; drop --port", file=sys.stderr)
            return EXIT_USAGE
        fc = farm.FarmConfig(coordinator=args.farm, pool=args.place_tag, places=args.places, prio=args.prio,
                             wait_s=args.wait)
        from host_tools.farm.labgrid import LabgridError

        try:
            result = farm.run(fc, cfg)
        except LabgridError as e:
            print(f"edgecall hil run: {e}", file=sys.stderr)
            return 3
    else:
        result = runner.run(cfg)
    print(report.summary_table(result))
    print(f"reports: {cfg.json_out}, {cfg.junit_out}, {cfg.html_out}")
    return EXIT_OK if result["passed"] else EXIT_FAIL


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    hil = sub.add_parser("hil", help="hardware-in-the-loop runs").add_subparsers(dest="hil_cmd", required=True)
    r = hil.add_parser("run", help="the whole job: devices, firmware, tokens, call scenarios, reports")
    r.add_argument("--devices", type=int, default=2, help="virtual devkits to start (default 2)")
    r.add_argument("--port", action="append", metavar="P", help="a real board's serial port (repeat; replaces the devkits)")
    r.add_argument("--server-host", metavar="ADDR",
                   help="with --port: the address the boards reach this machine by (default: its address on the "
                        "default route); the channel server then listens on all addresses")
    r.add_argument("--farm", metavar="COORDINATOR",
                   help="run across a labgrid board farm: places from this coordinator (HOST[:PORT]), in parallel")
    r.add_argument("--place-tag", default="edgecall", metavar="POOL",
                   help="with --farm: reserve places tagged pool=POOL and health=ok (default edgecall)")
    r.add_argument("--places", type=int, default=0, help="with --farm: use at most this many places (default: all healthy)")
    r.add_argument("--prio", type=float, default=0.0, help="with --farm: reservation priority (default 0)")
    r.add_argument("--wait", type=float, default=600.0,
                   help="with --farm: seconds to wait for places held by other runs (default 600)")
    r.add_argument("--scenario", action="append", metavar="NAME", help="run only these (glob, repeat), e.g. 'call-*'")
    r.add_argument("--impair", metavar="PROFILE", help="run the call scenarios under this profile (name or JSON) only")
    r.add_argument("--codec", choices=["opus", "g722", "pcmu", "pcma"],
                   help="the devices offer only this codec (default: their own choice, Opus where they have it)")
    r.add_argument("--duration", type=float, metavar="S",
                   help="seconds each scored call is held (default: until the whole speech clip has played and "
                        "arrived, ~26 s); the video call's length (default 6)")
    r.add_argument("--cycles", type=int, default=20, help="call set-up/tear-down cycles per profile (default 20)")
    r.add_argument("--reboots", type=int, default=100, help="reboot cycles in serial-stress (default 100)")
    r.add_argument("--stress", type=float, default=10.0, help="seconds of back-to-back console requests (default 10)")
    r.add_argument("--seed", type=int, action="append", metavar="N",
                   help="impairment seed of the scored calls (repeat for several; default 1, 2 and 3: each profile's "
                        "figure is the median over them)")
    r.add_argument("--mic", type=Path, metavar="WAV",
                   help="16 kHz mono WAV both microphones play (default: the speech corpus, another language per "
                        "device and seed, 24 s each)")
    r.add_argument("--json", type=Path, default=OUT / "report.json", metavar="OUT")
    r.add_argument("--html", type=Path, default=OUT / "report.html", metavar="OUT")
    r.add_argument("--junit", type=Path, default=OUT / "report.xml", metavar="OUT")
    r.set_defaults(func=cmd_run)
