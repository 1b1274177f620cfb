"""labgrid, driven through its own commands (`labgrid-coordinator`, `labgrid-exporter`,
`labgrid-client`) as a lab engineer drives it. They live in `.venv-labgrid` (./edgecall installs
it; labgrid needs pyserial-labgrid, which would replace pyserial in the main venv).

A place reached through EdgeCall holds one device: a `NetworkSerialPort` resource (its exporter
serves it over RFC 2217 with ser2net). Places carry tags: `pool=<name>` (what `--place-tag`
selects) and `health=ok|bad` (what a run sets after repeated transport failures; reservations ask
for `health=ok`, so later runs do not get an unhealthy place).
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from host_tools.paths import ROOT

VENV = ROOT / ".venv-labgrid"
DEFAULT_PORT = 20408  # labgrid's coordinator port


class LabgridError(RuntimeError):
    """A labgrid command failed; the message carries its own words."""


def tool(name: str) -> Path:
    path = VENV / "bin" / name
    if not path.exists():
        raise LabgridError(f"{path} is missing: run ./edgecall once (it installs labgrid into .venv-labgrid)")
    return path


def coordinator_address(spec: str) -> str:
    """HOST[:PORT] (labgrid's default port 20408)."""
    return spec if re.search(r":\d+$", spec) else f"{spec}:{DEFAULT_PORT}"


@dataclass
class PlaceInfo:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    acquired: str | None = None
    reservation: str | None = None
    matches: list[str] = field(default_factory=list)
    resources: list[dict[str, object]] = field(default_factory=list)  # acquired (or matching) resources

    def serial_url(self) -> str:
        """The place's console as a pyserial URL (RFC 2217)."""
        for r in self.resources:
            if r.get("cls") == "NetworkSerialPort":
                p = r.get("params")
                if isinstance(p, Mapping) and p.get("port"):
                    return f"rfc2217://{p['host']}:{p['port']}"
        raise LabgridError(f"place {self.name} has no NetworkSerialPort served (acquired? is its exporter running?)")

    def exporter(self) -> str:
        for r in self.resources:
            if isinstance(r.get("path"), str):
                return str(r["path"]).split("/")[0]
        return ""

    @property
    def available(self) -> bool:
        return bool(self.resources) and all(bool(r.get("avail")) for r in self.resources)


def parse_show(text: str) -> PlaceInfo:
    """`labgrid-client -p PLACE show` → PlaceInfo (its resource blocks are Python literals)."""
    m = re.search(r"^Place '([^']+)':", text, re.M)
    if not m:
        raise LabgridError(f"unexpected `show` output: {text[:200]!r}")
    info = PlaceInfo(m.group(1))
    t = re.search(r"^\s+tags: (.*)$", text, re.M)
    if t and t.group(1).strip():
        for pair in t.group(1).split(","):
            k, _, v = pair.strip().partition("=")
            info.tags[k] = v
    a = re.search(r"^\s+acquired: (\S+)$", text, re.M)
    info.acquired = a.group(1) if a and a.group(1) != "None" else None
    r = re.search(r"^\s+reservation: (\S+)$", text, re.M)
    info.reservation = r.group(1) if r else None
    mm = re.search(r"^\s+matches:\n((?:\s{4,}\S.*\n?)*)", text, re.M)
    if mm:
        info.matches = [line.split()[0] for line in mm.group(1).splitlines() if line.strip()]
    blocks = re.split(r"^(?:Acquired|Matching|Orphaned) resource '[^']*' \(([^)]*)\):?\n", text, flags=re.M)
    for path, body in zip(blocks[1::2], blocks[2::2]):
        lines = []
        for line in body.splitlines():
            if not line.startswith("  "):
                break
            lines.append(line[2:])
        try:
            res = ast.literal_eval("\n".join(lines)) if lines else {}
        except (ValueError, SyntaxError):
            res = {}
        if isinstance(res, dict):
            res["path"] = path
            info.resources.append(res)
    return info


class Client:
    """`labgrid-client` against one coordinator, as one user (a run's own, so that two runs on one
    host are two owners to the coordinator)."""

    def __init__(self, coordinator: str, user: str | None = None, timeout: float = 30.0) -> None:
        self.coordinator = coordinator_address(coordinator)
        self.user = user or f"edgecall-{os.getpid()}"
        self.timeout = timeout
        self.calls: list[tuple[str, float]] = []  # (command, seconds): the cost of scheduling

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LG_")}
        env.update(LG_COORDINATOR=self.coordinator, LG_USERNAME=self.user)
        return env

    def argv(self, *args: str, place: str | None = None) -> list[str]:
        return [str(tool("labgrid-client")), *(["-p", place] if place else []), *args]

    def run(self, *args: str, place: str | None = None, check: bool = True, timeout: float | None = None) -> str:
        t = time.monotonic()
        try:
            r = subprocess.run(self.argv(*args, place=place), env=self._env(), capture_output=True, text=True,
                               timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            raise LabgridError(f"labgrid-client {' '.join(args)}: no answer from the coordinator "
                               f"{self.coordinator} within {timeout or self.timeout:.0f} s") from None
        finally:
            self.calls.append((args[0], time.monotonic() - t))
        if check and r.returncode != 0:
            msg = (r.stderr.strip() or r.stdout.strip()).splitlines()
            raise LabgridError(f"labgrid-client {' '.join(args)}"
                               + (f" (place {place})" if place else "") + f": {msg[-1] if msg else r.returncode}")
        return r.stdout

    # ---- places ----
    def places(self) -> list[str]:
        return [line.split()[0] for line in self.run("places").splitlines() if line.strip()]

    def show(self, place: str) -> PlaceInfo:
        return parse_show(self.run("show", place=place))

    def create_place(self, name: str, match: str, tags: Mapping[str, str]) -> None:
        if name not in self.places():
            self.run("create", place=name)
        info = self.show(name)
        if match not in info.matches:
            self.run("add-match", match, place=name)
        want = {k: v for k, v in tags.items() if info.tags.get(k) != v}
        if want:
            self.set_tags(name, want)

    def set_tags(self, place: str, tags: Mapping[str, str]) -> None:
        self.run("set-tags", *(f"{k}={v}" for k, v in tags.items()), place=place)

    def set_comment(self, place: str, text: str) -> None:
        self.run("set-comment", text, place=place)

    def acquire(self, place: str) -> None:
        self.run("acquire", place=place)

    def release(self, place: str) -> None:
        self.run("release", place=place)

    # ---- reservations ----
    def reserve(self, filters: Mapping[str, str], prio: float = 0.0) -> subprocess.Popen[str]:
        """A reservation that waits for its allocation: the process prints `export LG_TOKEN=…`
        first and ends once a place is allocated (see `token_of`)."""
        return subprocess.Popen(self.argv("reserve", "--wait", "--shell", "--prio", str(prio),
                                          *(f"{k}={v}" for k, v in filters.items())),
                                env=self._env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def token_of(proc: subprocess.Popen[str]) -> str:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"export LG_TOKEN=(\S+)", line)
        if not m:
            err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
            raise LabgridError(f"labgrid-client reserve: no token ({(line + err).strip()[:300]})")
        return m.group(1)

    def acquire_reserved(self, token: str) -> str:
        """Acquires the place allocated to the reservation; returns its name."""
        out = self.run("acquire", place=f"+{token}")
        m = re.search(r"acquired place (\S+)", out)
        if not m:
            raise LabgridError(f"labgrid-client acquire +{token}: unexpected output {out.strip()[:200]!r}")
        return m.group(1)

    def cancel(self, token: str) -> None:
        self.run("cancel-reservation", token, check=False)
