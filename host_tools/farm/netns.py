"""Test hosts on one machine: each a network namespace joined to this one by a veth pair, so a
multi-host farm (exporters, stations, their devices) runs with real addresses and real routing,
and its traffic never leaves the machine.

Host i of a lab gets 10.231.S.(4i+2)/30 inside its namespace and 10.231.S.(4i+1)/30 on this side
(S picked free per lab, so labs of concurrent runs never share addresses). Needs root (iproute2's
`ip netns`).
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SUBNET = ipaddress.ip_network("10.231.0.0/16")
MAX_HOSTS = 60  # /30s in one /24


class NetnsError(RuntimeError):
    pass


def _ip(*args: str, ns: str | None = None) -> str:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise NetnsError(f"`{' '.join(cmd)}` failed: {r.stderr.strip()} (network namespaces need root and iproute2)")
    return r.stdout


@dataclass(frozen=True)
class Host:
    name: str  # also the namespace's name
    addr: str  # the host's address (inside its namespace)
    gateway: str  # this machine's address on the host's link: what the host reaches us by
    veth: str  # our end of the link

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """`cmd` run inside the host."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def popen(self, cmd: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.argv(cmd), **kw)

    def run(self, cmd: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(self.argv(cmd), **kw)


def _used_octets() -> set[int]:
    out = _ip("-4", "-o", "addr", "show")
    used = set()
    for word in out.split():
        if word.startswith("10.231."):
            used.add(int(word.split(".")[2]))
    return used


class Lab:
    """`n` hosts; `with Lab(3) as lab: lab.hosts[0].popen([...])`. Everything is removed on exit,
    also what a killed earlier lab of the same tag left."""

    def __init__(self, n: int, tag: str | None = None) -> None:
        if not 1 <= n <= MAX_HOSTS:
            raise ValueError(f"a lab has 1 to {MAX_HOSTS} hosts")
        self.n = n
        self.tag = tag or secrets.token_hex(2)
        self.hosts: list[Host] = []

    def __enter__(self) -> Lab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if os.geteuid() != 0:
            raise NetnsError("network namespaces need root")
        free = sorted(set(range(1, 255)) - _used_octets())
        if not free:
            raise NetnsError("no free 10.231.x.0/24 for a lab")
        s = free[secrets.randbelow(min(len(free), 32))]
        for i in range(self.n):
            name = f"ec{self.tag}h{i}"
            base = int(ipaddress.ip_address(f"10.231.{s}.0")) + 4 * i
            gw, addr = str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2))
            ours, theirs = f"{name}a", f"{name}b"
            if name in _ip("netns", "list"):
                _ip("netns", "del", name)
            _ip("netns", "add", name)
            host = Host(name, addr, gw, ours)
            self.hosts.append(host)
            _ip("link", "add", ours, "type", "veth", "peer", "name", theirs)
            _ip("link", "set", theirs, "netns", name)
            _ip("addr", "add", f"{gw}/30", "dev", ours)
            _ip("link", "set", ours, "up")
            _ip("link", "set", "lo", "up", ns=name)
            _ip("addr", "add", f"{addr}/30", "dev", theirs, ns=name)
            _ip("link", "set", theirs, "up", ns=name)
            _ip("route", "add", "default", "via", gw, ns=name)

    def stop(self) -> None:
        for h in self.hosts:
            # processes still inside would keep the namespace: end them first
            pids = subprocess.run(["ip", "netns", "pids", h.name], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "link", "del", h.veth], capture_output=True)
            subprocess.run(["ip", "netns", "del", h.name], capture_output=True)
        self.hosts = []
