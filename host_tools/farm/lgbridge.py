"""One labgrid client session kept open for a whole run, driven by JSON lines on stdin/stdout.

Runs under `.venv-labgrid/bin/python` (it imports labgrid; nothing of EdgeCall). A farm run would
otherwise start a `labgrid-client` process per step — reserve, acquire, show, release, cancel —
each paying Python's start-up and a new gRPC connection (about 0.3 s of CPU, seconds on a busy
machine). Here each step is one request on labgrid's own `ClientSession`, which also keeps the
coordinator's places and resources up to date from its stream.

Request  {"id": N, "op": "acquire", "args": {"place": "h0-vdk1"}}
Answer   {"id": N, "ok": true, "result": ...}  or  {"id": N, "ok": false, "error": "..."}
The owner is `$LG_HOSTNAME/$LG_USERNAME` (labgrid's own variables).
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

# run as a script from host_tools/farm, whose labgrid.py would shadow the labgrid package
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import grpc  # noqa: E402
from labgrid.remote.client import ClientSession  # noqa: E402
from labgrid.remote.common import Reservation  # noqa: E402
from labgrid.remote.generated import labgrid_coordinator_pb2 as pb  # noqa: E402
from labgrid.util.proxy import proxymanager  # noqa: E402


def _resources(s: ClientSession, place: Any) -> list[dict[str, Any]]:
    """The place's acquired resources (or, not acquired, those matching it), as labgrid shows them."""
    out = []
    for exporter, groups in sorted(s.resources.items()):
        for group_name, group in sorted(groups.items()):
            for resource_name, resource in sorted(group.items()):
                try:
                    path = (exporter, group_name, resource.cls, resource_name)
                    if place.acquired:
                        if list(path) not in [list(p) for p in place.acquired_resources]:
                            continue
                    elif place.getmatch(path) is None:
                        continue
                    out.append({**resource.asdict(), "path": "/".join(path)})
                except (KeyError, AttributeError):
                    continue  # a resource whose exporter went away while the update arrived
    return out


def _place(s: ClientSession, name: str) -> dict[str, Any]:
    p = s.places.get(name)
    if p is None:
        raise KeyError(f"no place {name!r}")
    return {"name": p.name, "tags": dict(p.tags), "acquired": p.acquired, "reservation": p.reservation,
            "comment": p.comment, "matches": ["/".join(x for x in (m.exporter, m.group, m.cls, m.name) if x is not None) for m in p.matches],
            "resources": _resources(s, p)}


async def handle(s: ClientSession, op: str, a: dict[str, Any]) -> Any:
    stub = s.stub
    if op == "places":
        return sorted(s.places)
    if op == "show":
        return _place(s, a["place"])
    if op == "resources":
        return ["/".join((e, g, r.cls, n)) for e, gs in s.resources.items() for g, rs in gs.items()
                for n, r in rs.items() if r.avail]
    if op == "create":
        await stub.AddPlace(pb.AddPlaceRequest(name=a["place"]))
    elif op == "add_match":
        await stub.AddPlaceMatch(pb.AddPlaceMatchRequest(placename=a["place"], pattern=a["pattern"]))
    elif op == "set_tags":
        await stub.SetPlaceTags(pb.SetPlaceTagsRequest(placename=a["place"], tags=a["tags"]))
    elif op == "set_comment":
        await stub.SetPlaceComment(pb.SetPlaceCommentRequest(placename=a["place"], comment=a["comment"]))
    elif op == "acquire":
        await stub.AcquirePlace(pb.AcquirePlaceRequest(placename=a["place"]))
    elif op == "release":
        await stub.ReleasePlace(pb.ReleasePlaceRequest(placename=a["place"]))
    elif op == "reserve":
        filters = {"main": pb.Reservation.Filter(filter=a["filters"])}
        r = await stub.CreateReservation(pb.CreateReservationRequest(filters=filters, prio=float(a.get("prio", 0))))
        return r.reservation.token
    elif op == "poll":
        r = Reservation.from_pb2((await stub.PollReservation(pb.PollReservationRequest(token=a["token"]))).reservation)
        return {"state": r.state.name, "allocations": {k: list(v) for k, v in r.allocations.items()}}
    elif op == "cancel":
        await stub.CancelReservation(pb.CancelReservationRequest(token=a["token"]))
    elif op == "reservations":
        rs = (await stub.GetReservations(pb.GetReservationsRequest())).reservations
        return [{"token": r.token, **Reservation.from_pb2(r).asdict()} for r in rs]
    else:
        raise KeyError(f"unknown op {op!r}")
    await s.sync_with_coordinator()  # the session's view includes what the step changed
    return None


async def main(address: str) -> int:
    loop = asyncio.get_running_loop()
    session = ClientSession(proxymanager.get_grpc_address(address, default_port=20408), loop)
    try:
        await asyncio.wait_for(session.start(), 15)
    except Exception as e:  # noqa: BLE001 - said on stdout, the other side reports it
        print(json.dumps({"id": 0, "ok": False, "error": f"cannot reach the coordinator {address}: {e}"}), flush=True)
        return 3
    print(json.dumps({"id": 0, "ok": True, "result": "ready"}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        req = json.loads(line)
        try:
            res = {"id": req["id"], "ok": True, "result": await handle(session, req["op"], req.get("args", {}))}
        except grpc.aio.AioRpcError as e:
            res = {"id": req["id"], "ok": False, "error": e.details() or str(e.code())}
        except Exception as e:  # noqa: BLE001
            res = {"id": req["id"], "ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(res), flush=True)
    await session.stop()
    await session.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
