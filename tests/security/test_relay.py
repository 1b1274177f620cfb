"""The media relay gives a member's media only to an address that proved it holds the member's
relay key (issue 17, items 1 and 2), through the real server and relay on loopback UDP:
spoofed and replayed datagrams are dropped and counted, a new address needs a fresh binding,
consent lapses without refresh, and media goes only between the two parties of a call. The
device's binding (firmware/edgecall/signaling.py, run under CPython) is accepted by the relay."""
from __future__ import annotations

import asyncio
import os
import socket
import time

import tests.mpshim  # noqa: F401  (firmware/ on sys.path)
from host_tools.channel.server import ChannelServer
from tests.security.channel_util import APP, CERT, drain, in_call, member, received, run, tok, udp_socket

RTP = bytes([0x80, 0x09, 0, 1]) + bytes(8) + b"speech"


def test_spoofed_datagrams_do_not_move_a_members_media() -> None:
    """Item 1: before, one zero byte from any socket to alice's relay port made that socket
    alice's media address (it then got bob's audio and spoke as alice)."""
    async def body(srv: ChannelServer) -> None:
        alice, bob = await member(srv, "alice"), await member(srv, "bob")
        await in_call(alice, bob, "c1")
        attacker = udp_socket()
        port = alice.joined["relay_port"]
        forged = b"\xecB\x01\x05alice" + (2**40).to_bytes(8, "big") + os.urandom(16)
        for d in (b"\x00", b"", RTP, os.urandom(1200), forged):
            attacker.sendto(d, ("127.0.0.1", port))
        await asyncio.sleep(0.2)
        bob.send_media(b"\x80\x09for-alice-only")
        attacker.sendto(b"\x80\x09attacker-speaks-as-alice", ("127.0.0.1", port))
        await asyncio.sleep(0.3)
        assert drain(attacker) == [], "the attacker received media meant for alice"
        assert b"\x80\x09for-alice-only" in await received(alice, 0.0)
        assert b"\x80\x09attacker-speaks-as-alice" not in await received(bob, 0.0)
        assert srv.relay_stats.dropped >= 6 and srv.relay_stats.bind_refused >= 1
        attacker.close()
        for c in (alice, bob):
            await c.close()

    run(body)


def test_a_replayed_binding_is_refused() -> None:
    async def body(srv: ChannelServer) -> None:
        alice, bob = await member(srv, "alice"), await member(srv, "bob")
        await in_call(alice, bob, "c1")
        captured = alice.binding()  # seen on the wire, accepted from alice's own socket
        alice.send_media(captured)
        await asyncio.sleep(0.1)
        attacker = udp_socket()
        refused = srv.relay_stats.bind_refused
        for _ in range(3):
            attacker.sendto(captured, ("127.0.0.1", alice.joined["relay_port"]))
        await asyncio.sleep(0.2)
        bob.send_media(b"\x80\x09after-replay")
        assert b"\x80\x09after-replay" in await received(alice)
        assert drain(attacker) == []
        assert srv.relay_stats.bind_refused == refused + 3
        attacker.close()
        for c in (alice, bob):
            await c.close()

    run(body)


def test_a_new_address_needs_a_fresh_binding() -> None:
    """NAT rebinding: alice's media moves to a new local port only once it is bound from there;
    plain media from a port that is not bound goes nowhere."""
    async def body(srv: ChannelServer) -> None:
        alice, bob = await member(srv, "alice"), await member(srv, "bob")
        await in_call(alice, bob, "c1")
        old = alice.media
        stray = udp_socket()  # alice's new port after a NAT change, before it rebinds
        stray.sendto(b"\x80\x09unbound", ("127.0.0.1", alice.joined["relay_port"]))
        await asyncio.sleep(0.1)
        bob.send_media(b"\x80\x09one")
        assert b"\x80\x09unbound" not in await received(bob)
        assert drain(stray) == [] and b"\x80\x09one" in await received(alice, 0.0)
        await alice.open_media()  # a new socket, bound with the next counter
        bob.send_media(b"\x80\x09two")
        assert b"\x80\x09two" in await received(alice)
        assert old is not None and old.queue.empty()
        alice.send_media(b"\x80\x09from-new-port")
        assert b"\x80\x09from-new-port" in await received(bob)
        stray.close()
        for c in (alice, bob):
            await c.close()

    run(body)


def test_consent_lapses_without_refresh() -> None:
    async def body(srv: ChannelServer) -> None:
        alice, bob = await member(srv, "alice"), await member(srv, "bob")
        for t in alice._tasks[2:] + bob._tasks[2:]:
            t.cancel()  # no consent refresh from here on
        await in_call(alice, bob, "c1")
        await asyncio.sleep(1.3)
        dropped = srv.relay_stats.dropped
        bob.send_media(b"\x80\x09stale")
        assert await received(alice) == [] and srv.relay_stats.dropped == dropped + 1
        await bob.bind()
        await alice.bind()
        bob.send_media(b"\x80\x09fresh")
        assert b"\x80\x09fresh" in await received(alice)
        for c in (alice, bob):
            await c.close()

    run(body, consent_timeout=1.0)


def test_media_flows_only_between_the_parties_of_a_call() -> None:
    """Item 2: before, a member not in a call reached both parties of a call."""
    async def body(srv: ChannelServer) -> None:
        alice, bob, carol, dave = [await member(srv, u) for u in ("alice", "bob", "carol", "dave")]
        await in_call(alice, bob, "c1")
        carol.send_media(b"\x80\x09injected")
        alice.send_media(b"\x80\x09private")
        got = {c.uid: await received(c, 0.3 if c is alice else 0.0) for c in (alice, bob, carol, dave)}
        assert b"\x80\x09injected" not in got["alice"] + got["bob"], "a member outside the call reached it"
        assert got["bob"] == [b"\x80\x09private"]
        assert b"\x80\x09private" not in got["carol"] + got["dave"]
        assert got["dave"] == [b"\x80\x09injected"]  # outside calls: among members not in a call
        # a ringing (not yet answered) call carries no media either way
        r = await carol.request({"t": "invite", "to": "dave", "call": "c2"})
        assert r["state"] == "ringing"
        dave.send_media(b"\x80\x09early")
        carol.send_media(b"\x80\x09early-too")
        late = [await received(c, 0.3 if c is alice else 0.0) for c in (alice, bob, carol, dave)]
        assert late == [[], [], [], []]
        for c in (alice, bob, carol, dave):
            await c.close()

    run(body)


class _SocketNet:
    """hal.net's Tcp over a real non-blocking socket, as in tests/test_device_signaling.py."""

    class Tcp:
        def __init__(self, host: str, port: int) -> None:
            self._s = socket.create_connection((host, port), timeout=5)
            self._s.setblocking(False)
            self.connected = True

        def send(self, data: bytes) -> None:
            self._s.sendall(data)

        def recv(self, n: int = 1024) -> bytes | None:
            try:
                data = self._s.recv(n)
            except BlockingIOError:
                return None
            if not data:
                self.connected = False
            return data

        def close(self) -> None:
            self.connected = False
            self._s.close()


def test_the_devices_binding_is_accepted_and_acknowledged() -> None:
    """The firmware's own binding code (signaling.py) against the real relay: bound, acked, media
    from the peer arrives; its counter only grows, so a replay of it is refused."""
    from edgecall.signaling import Signaling, relay_binding

    async def body(srv: ChannelServer) -> None:
        dev = Signaling(_SocketNet, "127.0.0.1", srv.port, "room", "dev", lambda: tok("dev"))
        task = asyncio.create_task(dev.run())
        try:
            deadline = time.monotonic() + 10
            while dev.state != "joined":
                assert time.monotonic() < deadline, "the device did not join"
                await asyncio.sleep(0.02)
            assert len(dev.relay_key) == 32
            udp = udp_socket()
            first = dev.binding()
            udp.sendto(first, ("127.0.0.1", dev.relay_port))
            await asyncio.sleep(0.2)
            acks = drain(udp)
            assert len(acks) == 1 and dev.is_ack(acks[0])
            peer = await member(srv, "peer")
            r = await peer.request({"t": "invite", "to": "dev", "call": "d1"})
            assert r["state"] == "ringing"
            while dev.call_state != "ringing":
                assert time.monotonic() < deadline + 5
                await asyncio.sleep(0.02)
            dev.accept()
            await peer.wait_event("call-state", call="d1", state="in-call")
            peer.send_media(b"\x80\x09to-device")
            await asyncio.sleep(0.2)
            assert drain(udp) == [b"\x80\x09to-device"]
            refused = srv.relay_stats.bind_refused
            udp.sendto(first, ("127.0.0.1", dev.relay_port))  # the same counter again
            udp.sendto(relay_binding(b"k" * 32, "dev", 99), ("127.0.0.1", dev.relay_port))  # another key
            await asyncio.sleep(0.2)
            assert drain(udp) == [] and srv.relay_stats.bind_refused == refused + 2
            udp.close()
            await peer.close()
        finally:
            dev.close()
            task.cancel()

    run(body)


def test_device_and_host_bindings_are_the_same_bytes() -> None:
    from edgecall.signaling import relay_binding
    from host_tools.channel import binding

    key = os.urandom(32)
    for uid, counter in (("7", 1), ("dev-E6614103E7452D2F", 2**33 + 5), ("ü" * 100, 2**64 - 1)):
        assert relay_binding(key, uid, counter) == binding.encode(key, uid, counter)
        assert binding.decode(key, relay_binding(key, uid, counter)) == binding.Binding(binding.BIND, uid, counter)
    assert APP and CERT  # the shared identity of these tests
