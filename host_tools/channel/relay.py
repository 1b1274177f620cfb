"""The media relay's receiving side: one UDP port per member. A member's media address is bound
only by a binding datagram (`binding`) authenticated with the member's relay key and with a
counter above every one accepted before; the binding is answered with an ack. A bound address
keeps consent for `consent_timeout` seconds after its last binding (members refresh it every few
seconds). Any other datagram — from an address that is not the bound one, before a binding, after
consent lapsed, or a binding that fails its check — is dropped and counted."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from host_tools.channel import binding

if TYPE_CHECKING:
    from host_tools.channel.server import Member


@dataclass
class RelayStats:
    bindings: int = 0  # binds accepted
    bind_refused: int = 0  # binds with a bad MAC, another member's id, or a counter not above the last
    dropped: int = 0  # every datagram not accepted (the refused binds included)
    received: int = 0  # media datagrams accepted from bound addresses


class RelayHost(Protocol):
    relay_stats: RelayStats
    consent_timeout: float

    def cut_off(self, uid: str | None) -> bool: ...

    def forward(self, src: Member, data: bytes) -> None: ...


def consent_fresh(m: Member, now: float, timeout: float) -> bool:
    """True while the member's address has been bound and refreshed within `timeout` seconds."""
    return m.remote is not None and now - m.consent_at <= timeout


class RelayProtocol(asyncio.DatagramProtocol):
    def __init__(self, host: RelayHost, member: Member) -> None:
        self.host, self.member = host, member
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        m, host = self.member, self.host
        if host.cut_off(m.uid):
            return  # lost on the way (an emulated outage)
        now = asyncio.get_running_loop().time()
        if binding.is_binding(data):
            self._bind(data, addr, now)
        elif addr == m.remote and consent_fresh(m, now, host.consent_timeout):
            m.packets_in += 1
            host.relay_stats.received += 1
            host.forward(m, data)
        else:
            host.relay_stats.dropped += 1

    def _bind(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        m, stats = self.member, self.host.relay_stats
        b = binding.decode(m.relay_key, data)
        if b is None or b.kind != binding.BIND or b.member != m.uid or b.counter <= m.bind_counter:
            stats.bind_refused += 1
            stats.dropped += 1
            return
        m.bind_counter, m.remote, m.consent_at = b.counter, addr, now
        stats.bindings += 1
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(binding.encode(m.relay_key, m.uid, b.counter, binding.ACK), addr)
