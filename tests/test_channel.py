"""The channel server over real TCP and UDP on 127.0.0.1: joins checked against tokens (forged,
expired, wrong channel, replayed joins refused with a reason), calls (ring, accept, reject,
cancel, timeout, hang-up), expiry notice and in-place renewal, the media relay, and the seeded
impairment's statistics."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from host_tools.channel import profiles, protocol
from host_tools.channel.client import ChannelClient, Refused
from host_tools.channel.impair import Impairment, Link
from host_tools.channel.server import ChannelServer
from host_tools.token import accesstoken2 as at

APP = "970CA35de60c44645bbae8a215061b33"
CERT = b"5CFd2fd1755d40ecb72977518be15d3b"


def tok(uid: str, channel: str = "room", ttl: int = 600, cert: bytes = CERT, issue_ts: int | None = None) -> str:
    return at.build(APP, cert, channel, uid, ttl, issue_ts=issue_ts)


def run(coro_fn: Callable[[ChannelServer], Awaitable[None]], **kw: object) -> None:
    async def main() -> None:
        srv = await ChannelServer(APP, CERT, **kw).start()  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(coro_fn(srv), 60)
        finally:
            await srv.stop()

    asyncio.run(main())


async def member(srv: ChannelServer, uid: str, **kw: object) -> ChannelClient:
    c = ChannelClient()
    await c.connect("127.0.0.1", srv.port)
    await c.join(tok(uid, **kw), "room", uid)  # type: ignore[arg-type]
    return c


def test_join_and_refusals() -> None:
    async def body(srv: ChannelServer) -> None:
        a = await member(srv, "alice")
        assert a.joined["members"] == [] and a.joined["relay_port"] > 0
        cases = [
            (tok("bob", cert=b"0" * 32), "room", "bob", "bad signature"),
            (tok("bob", ttl=10, issue_ts=int(time.time()) - 100), "room", "bob", "expired"),
            (tok("bob", channel="other"), "room", "bob", "another channel"),
            (tok("bob"), "room", "mallory", "another uid"),
        ]
        for token, channel, uid, why in cases:
            c = ChannelClient()
            await c.connect("127.0.0.1", srv.port)
            with pytest.raises(Refused, match=why):
                await c.join(token, channel, uid)
            await c.close()
        # a join message replayed on another connection carries the old nonce
        c1, c2 = ChannelClient(), ChannelClient()
        await c1.connect("127.0.0.1", srv.port)
        await c2.connect("127.0.0.1", srv.port)
        t = tok("carol")
        captured = {"t": "join", "token": t, "channel": "room", "uid": "carol", "nonce": c1.nonce, "proof": protocol.proof(t, c1.nonce)}
        rsp = await c2.request(captured)
        assert rsp["t"] == "refused" and "replayed" in rsp["reason"]
        b = await member(srv, "bob")
        assert (await a.wait_event("presence", uid="bob"))["state"] == "online"
        assert b.joined["members"] == ["alice"]
        assert srv.stats.refused["replayed"] == 1
        for c in (a, b, c1, c2):
            await c.close()

    run(body)


def test_call_flows() -> None:
    async def body(srv: ChannelServer) -> None:
        a, b = await member(srv, "alice"), await member(srv, "bob")
        r = await a.request({"t": "invite", "to": "bob", "call": "c1"})
        assert r["state"] == "ringing" and r["codec"] == "g722"
        assert (await b.wait_event("ring", call="c1"))["from"] == "alice"
        b.send({"t": "accept", "call": "c1"})
        await a.wait_event("call-state", call="c1", state="in-call")
        # media flows between the two, through the relay
        b.send_media(b"ping-from-bob")
        assert b.media and a.media
        _, got = await asyncio.wait_for(a.media.queue.get(), 5)
        assert got == b"ping-from-bob"
        a.send({"t": "hangup", "call": "c1"})
        assert "hung up by alice" in (await b.wait_event("call-state", call="c1", state="ended"))["reason"]
        await a.request({"t": "invite", "to": "bob", "call": "c2"})
        b.send({"t": "reject", "call": "c2"})
        assert (await a.wait_event("call-state", call="c2", state="ended"))["reason"] == "rejected"
        await a.request({"t": "invite", "to": "bob", "call": "c3"})
        a.send({"t": "cancel", "call": "c3"})
        assert (await b.wait_event("call-state", call="c3", state="ended"))["reason"] == "cancelled"
        await a.request({"t": "invite", "to": "bob", "call": "c4"})
        assert (await a.wait_event("call-state", call="c4", state="ended", timeout=5))["reason"] == "timeout"
        r = await a.request({"t": "invite", "to": "nobody", "call": "c5"})
        assert r["reason"] == "callee not online"
        await a.close()
        assert (await b.wait_event("presence", uid="alice"))["state"] == "offline"
        await b.close()

    run(body, ring_timeout=1.0)


def test_expiry_notice_renewal_and_expiry() -> None:
    async def body(srv: ChannelServer) -> None:
        now = int(time.time())
        a, b = ChannelClient(), ChannelClient()
        await a.connect("127.0.0.1", srv.port)
        await b.connect("127.0.0.1", srv.port)
        await a.join(tok("alice", ttl=4, issue_ts=now), "room", "alice")
        await b.join(tok("bob", ttl=3, issue_ts=now), "room", "bob")
        notice = await a.wait_event("will-expire", timeout=5)
        assert notice["expires_at"] == now + 4
        r = await a.request({"t": "renew", "token": tok("alice", ttl=600)})
        assert r["t"] == "renewed" and r["expires_at"] >= now + 600
        bad = await a.request({"t": "renew", "token": tok("bob", ttl=600)})
        assert bad["t"] == "error" and "another uid" in bad["reason"]
        assert (await b.wait_event("refused", timeout=6))["reason"] == "token expired"  # bob did not renew
        await asyncio.sleep(max(0.0, now + 4.5 - time.time()))  # past alice's first expiry
        assert (await a.request({"t": "ping"}))["t"] == "pong"  # still joined
        assert ("room", "alice") in srv.members and ("room", "bob") not in srv.members
        await a.close()
        await b.close()

    run(body, expiry_notice=2.0)


def test_signalling_round_trip_is_emulated() -> None:
    async def body(srv: ChannelServer) -> None:
        c = ChannelClient()
        await c.connect("127.0.0.1", srv.port)
        t0 = time.monotonic()
        await c.join(tok("alice"), "room", "alice")
        assert time.monotonic() - t0 >= 0.1
        await c.close()

    run(body, signal_rtt_ms=100.0)


def test_malformed_frames_end_the_connection_only() -> None:
    async def body(srv: ChannelServer) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        await r.read(4096)  # hello
        w.write(b"\x00\x05hello")
        err = protocol.Reader().feed(await r.read(4096))
        assert err[0]["t"] == "error"
        assert await r.read(4096) == b""
        a = await member(srv, "alice")  # the server keeps serving
        await a.close()

    run(body)


def test_gilbert_elliott_statistics_and_reproducibility() -> None:
    imp = profiles.PROFILES["lossy-30"]
    link = Link(imp, seed=42)
    fates = [bool(link.schedule(i * 20.0, 200)) for i in range(40000)]
    loss = 1 - sum(fates) / len(fates)
    assert abs(loss - imp.mean_loss()) < 0.02
    # bursts: the mean run of losses matches the chain's 1/r-ish burst length, well above 1
    runs, cur = [], 0
    for ok in fates:
        if not ok:
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    assert sum(runs) / len(runs) > 1.5
    again = Link(imp, seed=42)
    assert [bool(again.schedule(i * 20.0, 200)) for i in range(40000)] == fates


def test_delay_duplication_and_rate_cap() -> None:
    link = Link(Impairment(delay_ms=50.0, jitter_ms=10.0, duplicate=0.1), seed=1)
    times = [link.schedule(1000.0, 100) for _ in range(5000)]
    delays = [t - 1000.0 for ts in times for t in ts]
    assert abs(sum(delays) / len(delays) - 50.0) < 1.0 and min(delays) >= 0
    assert abs(link.stats["dup"] / 5000 - 0.1) < 0.02
    capped = Link(Impairment(rate_kbps=80.0, queue_ms=100.0), seed=1)
    out = [capped.schedule(0.0, 1000) for _ in range(50)]  # 1000 bytes = 100 ms at 80 kbit/s
    sent = [ts[0] for ts in out if ts]
    assert sent == [100.0, 200.0] and capped.stats["queue_drop"] == 48  # the queue holds 100 ms


def test_profiles_load_by_name_and_json() -> None:
    assert profiles.load("wifi-busy") is profiles.PROFILES["wifi-busy"]
    assert profiles.load('{"delay_ms": 40, "p": 0.1, "r": 0.5}').delay_ms == 40
    with pytest.raises(ValueError, match="unknown impairment fields"):
        profiles.load('{"latency": 3}')
    with pytest.raises(ValueError, match="unknown impairment profile"):
        profiles.load("moon-link")


def test_outage_cuts_signalling_and_media_both_ways_then_heals() -> None:
    async def body(srv: ChannelServer) -> None:
        a, b = await member(srv, "alice"), await member(srv, "bob")
        await a.request({"t": "invite", "to": "bob", "call": "c1"})
        await b.wait_event("ring", call="c1")
        b.send({"t": "accept", "call": "c1"})
        await a.wait_event("call-state", call="c1", state="in-call")
        srv.outage("bob", 1.0)
        assert b.media and a.media
        b.send_media(b"lost-up")  # from bob: dropped at the relay
        a.send_media(b"lost-down")  # to bob: dropped on the way out
        with pytest.raises(asyncio.TimeoutError):
            await b.request({"t": "ping"}, timeout=0.5)  # signalling is cut too
        assert a.media.queue.empty() and b.media.queue.empty()
        await asyncio.sleep(0.6)
        assert (await b.request({"t": "ping"}, timeout=2))["t"] == "pong"
        a.send_media(b"back")
        _, got = await asyncio.wait_for(b.media.queue.get(), 5)
        assert got == b"back"
        await a.close()
        await b.close()

    run(body)


def test_server_thread_drives_a_server_from_synchronous_code() -> None:
    from host_tools.channel.thread import ServerThread

    with ServerThread(APP, CERT) as st:
        async def body() -> None:
            c = ChannelClient()
            await c.connect("127.0.0.1", st.port)
            await c.join(tok("carol"), "room", "carol")
            await c.close()

        asyncio.run(body())
        snap = st.snapshot()
        assert snap["joins"] == 1
        st.set_impairment(profiles.load("lossy-30"), seed=7)
        assert st.run(lambda s: (s.impairment.p, s.seed)) == (profiles.PROFILES["lossy-30"].p, 7)
    assert not st._thread.is_alive()
