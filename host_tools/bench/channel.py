"""`edgecall bench channel`: what a hostile client on the network costs the channel server.

- Join latency: a legitimate client's connect, hello, join and relay binding (until the relay
  acknowledges it), median of SAMPLES joins, without and with the join flood of issue 17 (item 4)
  fired right before each sample: FLOOD_CONNECTIONS connections sending FLOOD_JOINS joins each,
  every join with a fresh nonce proof and a token under FLOOD_TOKEN_CHARS characters whose
  privilege maps inflate to megabytes (costly_token). Goal: the median under flood stays below
  GOAL_MS; otherwise the run fails and says by how much it missed.
- Spoof run: SPOOF_DATAGRAMS datagrams from a socket of the attacker's to a member's relay port
  while that member is in a call: single zero bytes, RTP-like packets, oversized junk, bindings
  forged with a wrong key, and replays of the member's own (already accepted) binding. The relay's
  dropped count must grow by exactly SPOOF_DATAGRAMS, nothing may reach the attacker, and the
  member must keep receiving its peer's media.

The server runs in a thread of this process (host_tools/channel/thread.py) on loopback; the
clients are host_tools/channel/client.py's, which bind their media like every relay client.
"""
from __future__ import annotations

import asyncio
import base64
import os
import socket
import statistics
import struct
import sys
import time
import zlib
from typing import Any

from host_tools.channel import protocol
from host_tools.channel.client import ChannelClient
from host_tools.channel.thread import ServerThread
from host_tools.token import accesstoken2 as at

APP = "970CA35de60c44645bbae8a215061b33"
CERT = b"5CFd2fd1755d40ecb72977518be15d3b"  # a bench-only certificate, not a secret
GOAL_MS = 100.0
SAMPLES, QUICK_SAMPLES = 15, 5
FLOOD_CONNECTIONS, FLOOD_JOINS = 4, 3
FLOOD_TOKEN_CHARS = 6000
SPOOF_DATAGRAMS = 10_000
SPOOF_BATCH = 100  # datagrams sent before waiting for the relay to have seen them (no kernel drops)


def _string(b: bytes) -> bytes:
    return struct.pack("<H", len(b)) + b


def costly_raw(services: int, app_id: str = APP) -> bytes:
    """A token's content with `services` RTC services of 65,535 privileges each (6 bytes apiece):
    well-formed up to its bogus signature, and very compressible."""
    service = (struct.pack("<HH", at.SERVICE_RTC, 0xFFFF) + struct.pack("<HI", 1, 600) * 0xFFFF
               + _string(b"room") + _string(b"flood"))
    head = _string(os.urandom(32)) + _string(app_id.encode()) + struct.pack("<IIIH", int(time.time()), 600, 1, services)
    return head + service * services


def costly_token(max_chars: int = FLOOD_TOKEN_CHARS, app_id: str = APP) -> tuple[str, int]:
    """The most costly token (most services) that stays within max_chars; (token, inflated bytes)."""
    best: tuple[str, int] | None = None
    lo, hi = 1, 64
    while lo <= hi:
        mid = (lo + hi) // 2
        raw = costly_raw(mid, app_id)
        token = at.VERSION + base64.b64encode(zlib.compress(raw, 9)).decode()
        if len(token) <= max_chars:
            best, lo = (token, len(raw)), mid + 1
        else:
            hi = mid - 1
    if best is None:
        raise ValueError(f"no costly token fits in {max_chars} characters")
    return best


async def _hello(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    rd = protocol.Reader()
    for _ in range(64):
        data = await asyncio.wait_for(reader.read(4096), 10)
        if not data:
            break
        msgs = [m for m in rd.feed(data) if isinstance(m, dict)]
        if msgs:
            return reader, writer, msgs[0]["nonce"]
    writer.close()
    raise ConnectionError("no hello from the server")


async def flood(host: str, port: int, token: str, connections: int = FLOOD_CONNECTIONS,
                joins: int = FLOOD_JOINS) -> list[asyncio.StreamWriter]:
    """Opens `connections` connections and sends `joins` joins with `token` on each (without
    waiting for the answers); the caller closes what it gets back."""
    writers = []
    for i in range(connections):
        _, writer, nonce = await _hello(host, port)
        proof = protocol.proof(token, nonce)
        for j in range(joins):
            writer.write(protocol.encode({"t": "join", "token": token, "channel": "room", "uid": f"flood{i}",
                                          "nonce": nonce, "proof": proof, "id": j + 1}))
        writers.append(writer)
    return writers


async def close_all(writers: list[asyncio.StreamWriter]) -> None:
    for w in writers:
        w.close()
    for w in writers:
        try:
            await w.wait_closed()
        except (ConnectionError, OSError):
            pass


async def timed_join(host: str, port: int, uid: str, timeout: float = 10.0) -> float:
    """Seconds from connecting to joined with the media bound (a legitimate client)."""
    c = ChannelClient()
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(c.connect(host, port), timeout)
        await asyncio.wait_for(c.join(at.build(APP, CERT, "room", uid, 600), "room", uid, refresh=0), timeout)
        return time.perf_counter() - t0
    finally:
        await c.close()


async def join_latencies(host: str, port: int, samples: int, flood_token: str | None) -> list[float]:
    """Join latency samples in ms; with flood_token, a fresh flood goes out right before each."""
    out = []
    for i in range(samples):
        writers = await flood(host, port, flood_token) if flood_token else []
        try:
            out.append(1000.0 * await timed_join(host, port, f"legit{i}"))
        finally:
            await close_all(writers)
    return out


def _summary(ms: list[float]) -> dict[str, Any]:
    s = sorted(ms)
    return {"median_ms": round(statistics.median(s), 2), "p90_ms": round(s[min(len(s) - 1, int(0.9 * len(s)))], 2),
            "max_ms": round(s[-1], 2), "samples": len(s)}


def _spoofs(victim: ChannelClient, n: int) -> list[bytes]:
    """n datagrams an attacker could send: none carries the victim's key with a fresh counter."""
    from host_tools.channel import binding

    own = victim.binding()  # the victim's own binding, sent (and accepted) once, then replayed
    victim.send_media(own)
    wrong_key = os.urandom(binding.KEY_BYTES)
    rtp = bytes([0x80, 0x09]) + os.urandom(10) + os.urandom(160)
    flipped = own[:-1] + bytes([own[-1] ^ 1])

    def spoof(i: int) -> bytes:
        kind = i % 6
        if kind == 5:  # a binding of the victim's, forged with a key of the attacker's
            return binding.encode(wrong_key, victim.uid, 2**40 + i)
        return (b"\x00", rtp, os.urandom(1400), own, flipped)[kind]

    return [spoof(i) for i in range(n)]


async def spoof_run(st: ServerThread, n: int = SPOOF_DATAGRAMS) -> dict[str, Any]:
    host, port = st.host, st.port
    alice, bob = ChannelClient(), ChannelClient()
    attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker.setblocking(False)
    try:
        for c, uid in ((alice, "alice"), (bob, "bob")):
            await c.connect(host, port)
            await c.join(at.build(APP, CERT, "room", uid, 600), "room", uid)
        await alice.request({"t": "invite", "to": "bob", "call": "bench"})
        await bob.wait_event("ring", call="bench")
        bob.send({"t": "accept", "call": "bench"})
        await alice.wait_event("call-state", call="bench", state="in-call")
        datagrams = _spoofs(alice, n)
        await asyncio.sleep(0.05)  # the victim's own binding is in before the replays start
        dropped0 = st.run(lambda s: s.relay_stats.dropped)
        sent_media = 0
        target = (host, alice.joined["relay_port"])
        t0 = time.perf_counter()
        for start in range(0, n, SPOOF_BATCH):
            for d in datagrams[start : start + SPOOF_BATCH]:
                attacker.sendto(d, target)
            bob.send_media(b"\x80\x00media-%d" % start)
            sent_media += 1
            want = dropped0 + min(n, start + SPOOF_BATCH)
            deadline = time.monotonic() + 2.0
            while st.run(lambda s: s.relay_stats.dropped) < want and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
        spoof_s = time.perf_counter() - t0
        await asyncio.sleep(0.2)
        dropped = st.run(lambda s: s.relay_stats.dropped) - dropped0
        at_attacker = 0
        while True:
            try:
                attacker.recv(2048)
                at_attacker += 1
            except BlockingIOError:
                break
        assert alice.media is not None
        got = alice.media.queue.qsize()
        return {"sent": n, "dropped": dropped, "reached_attacker": at_attacker, "seconds": round(spoof_s, 2),
                "victim_media": {"sent_by_peer": sent_media, "received": got}}
    finally:
        attacker.close()
        await alice.close()
        await bob.close()


async def _measure(samples: int) -> dict[str, Any]:
    token, inflated = costly_token()
    with ServerThread(APP, CERT) as st:
        await timed_join(st.host, st.port, "warm-up")
        calm = await join_latencies(st.host, st.port, samples, None)
        flooded = await join_latencies(st.host, st.port, samples, token)
        spoof = await spoof_run(st)
        snap = st.snapshot()
    return {"calm": calm, "flooded": flooded, "spoof": spoof, "token_chars": len(token), "inflated": inflated,
            "refused": snap["refused"], "internal_errors": snap["internal_errors"]}


def run(json_out: bool, quick: bool = False) -> int:
    from host_tools.bench import emit, table

    m = asyncio.run(_measure(QUICK_SAMPLES if quick else SAMPLES))
    flooded = _summary(m["flooded"])
    spoof = m["spoof"]
    goal_met = flooded["median_ms"] < GOAL_MS
    spoof_ok = (spoof["dropped"] == spoof["sent"] and spoof["reached_attacker"] == 0
                and spoof["victim_media"]["received"] == spoof["victim_media"]["sent_by_peer"])
    result = {
        "schema": 1, "bench": "channel", "goal_ms": GOAL_MS,
        "join": {"no_flood": _summary(m["calm"]), "flood": flooded},
        "flood": {"connections": FLOOD_CONNECTIONS, "joins_each": FLOOD_JOINS, "token_chars": m["token_chars"],
                  "inflates_to_bytes": m["inflated"], "refused": m["refused"]},
        "spoof": spoof, "internal_errors": m["internal_errors"],
        "goal_met": goal_met, "spoof_all_dropped": spoof_ok, "ok": goal_met and spoof_ok,
    }

    def human(r: dict[str, Any]) -> None:
        from rich.console import Console

        t = table("channel server under attack", ["measure", "value"])
        t.add_row("join median, no flood", f"{r['join']['no_flood']['median_ms']} ms")
        t.add_row(f"join median, flood {FLOOD_CONNECTIONS}×{FLOOD_JOINS}", f"{r['join']['flood']['median_ms']} ms (goal < {GOAL_MS:g})")
        t.add_row("flood token", f"{r['flood']['token_chars']} chars → {r['flood']['inflates_to_bytes']} bytes inflated")
        t.add_row("spoofed datagrams dropped", f"{r['spoof']['dropped']} / {r['spoof']['sent']}")
        t.add_row("reached the attacker", str(r["spoof"]["reached_attacker"]))
        Console().print(t)

    emit(result, json_out, human)
    if not goal_met:
        print(f"bench channel: join median under flood {flooded['median_ms']} ms misses the {GOAL_MS:g} ms goal "
              f"by {flooded['median_ms'] - GOAL_MS:.1f} ms", file=sys.stderr)
    if not spoof_ok:
        print(f"bench channel: spoof run: {spoof['dropped']} of {spoof['sent']} dropped, {spoof['reached_attacker']} "
              f"datagrams reached the attacker, the victim got {spoof['victim_media']['received']} of "
              f"{spoof['victim_media']['sent_by_peer']} media packets", file=sys.stderr)
    return 0 if result["ok"] else 1
