"""A connection's bad messages cost it an error reply, never the connection, another member's
state or the server (issue 17, items 6 and 9), through the real server on loopback TCP."""
from __future__ import annotations

from typing import Any

import cbor2

from host_tools.channel import protocol
from host_tools.channel.server import ChannelServer
from tests.security.channel_util import Raw, member, run, tok


def test_an_oversized_call_id_leaves_nobody_busy() -> None:
    """Item 6: an invite with an 8 KB call id made the ring notification exceed the frame limit;
    the exception escaped half-way and the callee answered "busy" forever."""
    async def body(srv: ChannelServer) -> None:
        bob, carol = await member(srv, "bob"), await member(srv, "carol")
        mallory, t = await Raw.open(srv.port), tok("mallory")
        mallory.send({"t": "join", "token": t, "channel": "room", "uid": "mallory",
                      "nonce": mallory.nonce, "proof": protocol.proof(t, mallory.nonce), "id": 1})
        assert (await mallory.must(1))["t"] == "joined"
        mallory.send({"t": "invite", "to": "bob", "call": "x" * 8100, "id": 2})
        err = await mallory.answer(2)
        assert err is not None and err["t"] == "error" and "call" in err["reason"]
        mallory.send({"t": "ping", "id": 3})
        assert (await mallory.must(3))["t"] == "pong"  # the connection goes on
        r = await carol.request({"t": "invite", "to": "bob", "call": "c1"})
        assert r["state"] == "ringing", f"bob was left busy: {r}"
        assert (await bob.wait_event("ring", call="c1"))["from"] == "carol"
        assert srv.stats.internal_errors == 0 and srv.stats.send_errors == 0
        await mallory.close()
        for c in (bob, carol):
            await c.close()

    run(body)


def _ping_with_cyclic_id() -> bytes:
    # tag 28 (shareable) on a 1-element array whose element is tag 29 (shared ref 0): the array
    # contains itself
    cyclic = b"\xd8\x1c\x81\xd8\x1d\x00"
    return b"\xa3" + cbor2.dumps("v") + b"\x01" + cbor2.dumps("t") + cbor2.dumps("ping") + cbor2.dumps("id") + cyclic


def test_a_ping_with_a_self_referencing_id_gets_an_error_reply() -> None:
    """Item 9: the echo of such an id could not be encoded and ended the connection."""
    async def body(srv: ChannelServer) -> None:
        assert isinstance(cbor2.loads(_ping_with_cyclic_id())["id"], list)  # really cyclic CBOR
        c = await Raw.open(srv.port)
        c.send_body(_ping_with_cyclic_id())
        err = await c.answer()
        assert err is not None and err["t"] == "error", err
        c.send({"t": "ping", "id": 7})
        assert (await c.must(7))["t"] == "pong"
        await c.close()

    run(body)


def test_a_join_with_integer_codecs_gets_an_error_reply() -> None:
    async def body(srv: ChannelServer) -> None:

        c = await Raw.open(srv.port)
        t = tok("alice")
        c.send({"t": "join", "token": t, "channel": "room", "uid": "alice", "nonce": c.nonce,
                "proof": protocol.proof(t, c.nonce), "codecs": 5, "id": 1})
        ans = await c.answer(1)
        assert ans is not None and ans["t"] in ("refused", "error") and "codecs" in ans["reason"], ans
        c.send({"t": "join", "token": t, "channel": "room", "uid": "alice", "nonce": c.nonce,
                "proof": protocol.proof(t, c.nonce), "codecs": ["g722"], "id": 2})
        assert (await c.must(2))["t"] == "joined"  # the same connection still joins
        await c.close()

    run(body)


def test_fields_of_the_wrong_type_or_size_get_error_replies() -> None:
    async def body(srv: ChannelServer) -> None:

        c = await Raw.open(srv.port)
        t = tok("alice")
        c.send({"t": "join", "token": t, "channel": "room", "uid": "alice", "nonce": c.nonce,
                "proof": protocol.proof(t, c.nonce), "id": 1})
        assert (await c.must(1))["t"] == "joined"
        bad: list[dict[str, Any]] = [{"t": "invite", "to": ["bob"], "call": "c"}, {"t": "invite", "to": "bob", "call": 5},
               {"t": "accept", "call": {"a": 1}}, {"t": "renew", "token": 12}, {"t": "renew", "token": "007" + "A" * 7000},
               {"t": "hangup"}, {"t": "join", "token": t, "channel": "room", "uid": "alice"}, {"t": "x" * 4000},
               {"t": "ping", "id": -1}, {"t": "ping", "id": 2**64}, {"t": "ping", "id": 1.5}]
        for i, msg in enumerate(bad, start=10):
            c.send({"id": i, **msg})
            ans = await c.answer(i)
            assert ans is not None and ans["t"] in ("error", "refused", "call-state"), (msg, ans)
        c.send({"t": "ping", "id": 99})
        assert (await c.must(99))["t"] == "pong"
        assert srv.stats.internal_errors == 0 and srv.stats.send_errors == 0
        await c.close()

    run(body)


def test_the_same_connection_cannot_hold_two_members() -> None:
    async def body(srv: ChannelServer) -> None:

        c = await Raw.open(srv.port)
        for i, uid in enumerate(("alice", "bob"), start=1):
            t = tok(uid)
            c.send({"t": "join", "token": t, "channel": "room", "uid": uid, "nonce": c.nonce,
                    "proof": protocol.proof(t, c.nonce), "id": i})
        assert (await c.must(1))["t"] == "joined"
        assert (await c.must(2))["t"] == "refused"
        assert list(srv.members) == [("room", "alice")]
        await c.close()

    run(body)
