"""This machine's side of the network, for servers the tools start: a free TCP port, and the local
address a peer reaches us by."""
from __future__ import annotations

import socket
from urllib.parse import urlparse


def free_port(addr: str = "127.0.0.1") -> int:
    """A TCP port free on `addr` now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


def route_source(url: str) -> str:
    """This machine's address on the route to the host of `url` (a URL or a bare host): where
    that host reaches us. No packet is sent; only the route is looked up."""
    host = urlparse(url).hostname if "://" in url else url
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host or "127.0.0.1", 9))
        return str(s.getsockname()[0])


def default_address() -> str:
    """This machine's address on its default route (where boards on its network reach it); no
    packet is sent (TEST-NET-1, RFC 5737, only looks the route up). OSError without one."""
    return route_source("192.0.2.1")
