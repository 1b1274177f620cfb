"""labgrid: its own commands (`labgrid-coordinator`, `labgrid-exporter`) as a lab runs them, and
a run's steps through one labgrid client session (`lgbridge.py`). They live in `.venv-labgrid` (./edgecall installs
it; labgrid needs pyserial-labgrid, which would replace pyserial in the main venv).

A place reached through EdgeCall holds one device: a `NetworkSerialPort` resource (its exporter
serves it over RFC 2217 with ser2net). Places carry tags: `pool=<name>` (what `--place-tag`
selects) and `health=ok|bad` (what a run sets after repeated transport failures; reservations ask
for `health=ok`, so later runs do not get an unhealthy place).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    @staticmethod
    def from_session(d: object) -> PlaceInfo:
        """The labgrid session's answer to `show` (lgbridge.py) as a PlaceInfo."""
        if not isinstance(d, Mapping) or not isinstance(d.get("name"), str):
            raise LabgridError(f"unexpected answer to `show`: {str(d)[:200]!r}")
        return PlaceInfo(d["name"], dict(d.get("tags") or {}), d.get("acquired"), d.get("reservation"),
                         list(d.get("matches") or []), list(d.get("resources") or []))


class Client:
    """A labgrid client of one coordinator, as one user (a run's own, so that two runs on one
    host are two owners to the coordinator). Its steps go through one long-lived labgrid session
    (`lgbridge.py` under .venv-labgrid's Python), started on first use. Every step is timed
    (`calls`): the cost of scheduling."""

    def __init__(self, coordinator: str, user: str | None = None, timeout: float = 30.0) -> None:
        self.coordinator = coordinator_address(coordinator)
        self.user = user or f"edgecall-{os.getpid()}"
        self.timeout = timeout
        self.calls: list[tuple[str, float]] = []  # (step, seconds)
        self._bridge: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._next = 1

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LG_")}
        env.update(LG_COORDINATOR=self.coordinator, LG_USERNAME=self.user)
        return env

    # ---- the session ----
    def _start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen([str(tool("python")), str(Path(__file__).with_name("lgbridge.py")), self.coordinator],
                                env=self._env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        hello = self._answer(proc, 0)
        if not hello.get("ok"):
            proc.kill()
            proc.wait()
            raise LabgridError(str(hello.get("error")))
        return proc

    def _answer(self, proc: subprocess.Popen[str], want: int) -> dict[str, Any]:
        """The answer to request `want`; answers to earlier requests whose caller was interrupted
        (Ctrl-C while it waited) are skipped."""
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                raise LabgridError(f"the labgrid session to {self.coordinator} ended (coordinator gone?)")
            msg: dict[str, Any] = json.loads(line)
            if msg.get("id") == want:
                return msg
            if not isinstance(msg.get("id"), int) or msg["id"] > want:
                raise LabgridError(f"labgrid session: answer {msg.get('id')} to request {want}")

    def call(self, op: str, **args: Any) -> Any:
        t = time.monotonic()
        with self._lock:
            try:
                if self._bridge is None or self._bridge.poll() is not None:
                    self._bridge = self._start()
                n, self._next = self._next, self._next + 1
                assert self._bridge.stdin is not None
                self._bridge.stdin.write(json.dumps({"id": n, "op": op, "args": args}) + "\n")
                self._bridge.stdin.flush()
                msg = self._answer(self._bridge, n)
            except (BrokenPipeError, OSError) as e:
                raise LabgridError(f"the labgrid session to {self.coordinator} broke: {e}") from None
            finally:
                self.calls.append((op, time.monotonic() - t))
        if not msg.get("ok"):
            where = f" (place {args['place']})" if "place" in args else ""
            raise LabgridError(f"labgrid {op}{where}: {msg.get('error')}")
        return msg.get("result")

    def close(self) -> None:
        with self._lock:
            if self._bridge is not None and self._bridge.poll() is None:
                assert self._bridge.stdin is not None
                self._bridge.stdin.close()
                try:
                    self._bridge.wait(5)
                except subprocess.TimeoutExpired:
                    self._bridge.kill()
                    self._bridge.wait()
            self._bridge = None

    # ---- places ----
    def places(self) -> list[str]:
        return list(self.call("places"))

    def resources(self) -> list[str]:
        """exporter/group/class/name of every available resource."""
        return list(self.call("resources"))

    def show(self, place: str) -> PlaceInfo:
        return PlaceInfo.from_session(self.call("show", place=place))

    def create_place(self, name: str, match: str, tags: Mapping[str, str]) -> None:
        if name not in self.places():
            self.call("create", place=name)
        info = self.show(name)
        if match not in info.matches:
            self.call("add_match", place=name, pattern=match)
        want = {k: v for k, v in tags.items() if info.tags.get(k) != v}
        if want:
            self.set_tags(name, want)

    def set_tags(self, place: str, tags: Mapping[str, str]) -> None:
        self.call("set_tags", place=place, tags=dict(tags))

    def set_comment(self, place: str, text: str) -> None:
        self.call("set_comment", place=place, comment=text)

    def acquire(self, place: str) -> None:
        self.call("acquire", place=place)

    def release(self, place: str) -> None:
        self.call("release", place=place)

    # ---- reservations ----
    def reserve(self, filters: Mapping[str, str], prio: float = 0.0) -> str:
        """A reservation (waiting until the coordinator allocates a place); its token."""
        return str(self.call("reserve", filters=dict(filters), prio=prio))

    def poll(self, token: str) -> tuple[str, str | None]:
        """(state, allocated place or None); polling also keeps a waiting reservation alive."""
        r = self.call("poll", token=token)
        places = [p for group in r["allocations"].values() for p in group]
        return str(r["state"]), (places[0] if places else None)

    def cancel(self, token: str) -> None:
        try:
            self.call("cancel", token=token)
        except LabgridError:
            pass  # gone already (expired, or cancelled)

    def reservations(self) -> list[dict[str, Any]]:
        return list(self.call("reservations"))
