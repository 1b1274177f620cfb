"""`edgecall farm places|health`: the farm's places as labgrid sees them, and the health check
that brings a place marked unhealthy back (or confirms the verdict), LAVA-style: the place is
acquired, its device must answer its console, then its `health` tag is set and it is released.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from host_tools.farm import labgrid

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3


def cmd_places(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    client = labgrid.Client(args.coordinator)
    with ThreadPoolExecutor(4) as ex:
        infos = list(ex.map(client.show, client.places()))
    rows = [{"place": i.name, "host": i.exporter(), "pool": i.tags.get("pool", ""), "health": i.tags.get("health", ""),
             "acquired": i.acquired, "available": i.available} for i in infos
            if not args.place_tag or i.tags.get("pool") == args.place_tag]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'place':24} {'host':10} {'pool':10} {'health':7} {'available':9} acquired")
        for r in rows:
            print(f"{r['place']:24} {r['host']:10} {r['pool']:10} {r['health']:7} {str(r['available']):9} "
                  f"{r['acquired'] or '-'}")
    return EXIT_OK


def check(client: labgrid.Client, place: str) -> dict[str, Any]:
    """Acquires the place, asks its device for `info`, sets health=ok|bad, releases it."""
    from host_tools.farm.scheduler import Place
    from host_tools.hil.farm import probe

    from host_tools.farm.scheduler import served_url

    client.acquire(place)
    try:
        try:
            why = probe(Place(place, served_url(client, place, timeout=5), client.show(place).exporter(), ""))
        except labgrid.LabgridError as e:
            why = str(e)
        client.set_tags(place, {"health": "ok" if why is None else "bad"})
        client.set_comment(place, "" if why is None else f"health check failed: {why[:200]}")
        return {"place": place, "healthy": why is None, "error": why}
    finally:
        client.release(place)


def cmd_health(args: argparse.Namespace) -> int:
    client = labgrid.Client(args.coordinator, user=f"edgecall-health-{os.getpid()}")
    out = []
    for place in args.place:
        try:
            out.append(check(client, place))
        except labgrid.LabgridError as e:
            out.append({"place": place, "healthy": False, "error": str(e)})
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for r in out:
            print(f"{r['place']}: {'healthy' if r['healthy'] else 'UNHEALTHY: ' + str(r['error'])}")
    return EXIT_OK if all(r["healthy"] for r in out) else EXIT_FAIL


def run(args: argparse.Namespace) -> int:
    try:
        return int(args.farm_func(args))
    except labgrid.LabgridError as e:
        print(f"edgecall farm: {e}", file=sys.stderr)
        return EXIT_TRANSPORT


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    farm = sub.add_parser("farm", help="the labgrid board farm: places and their health")
    fs = farm.add_subparsers(dest="farm_cmd", required=True)
    p = fs.add_parser("places", help="the places, their hosts, pool, health and holders")
    p.add_argument("--coordinator", required=True, metavar="HOST[:PORT]")
    p.add_argument("--place-tag", metavar="POOL", help="only this pool")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run, farm_func=cmd_places)
    h = fs.add_parser("health", help="check places (acquire, console answers, release) and set their health tag")
    h.add_argument("place", nargs="+")
    h.add_argument("--coordinator", required=True, metavar="HOST[:PORT]")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=run, farm_func=cmd_health)
