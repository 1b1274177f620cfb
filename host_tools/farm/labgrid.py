"""labgrid, driven through its own commands (`labgrid-coordinator`, `labgrid-exporter`,
`labgrid-client`) as a lab engineer drives it, and a run's own steps through one
labgrid client session (`lgbridge.py`). They live in `.venv-labgrid` (./edgecall installs
it; labgrid needs pyserial-labgrid, which would replace pyserial in the main venv).

A place reached through EdgeCall holds one device: a `NetworkSerialPort` resource (its exporter
serves it over RFC 2217 with ser2net). Places carry tags: `pool=<name>` (what `--place-tag`
selects) and `health=ok|bad` (what a run sets after repeated transport failures; reservations ask
for `health=ok`, so later runs do not get an unhealthy place).
"""
from __future__ import annotations

import ast
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
    """A labgrid client of one coordinator, as one user (a run's own, so that two runs on one
    host are two owners to the coordinator). Its steps go through one long-lived labgrid session
    (`lgbridge.py` under .venv-labgrid's Python), started on first use; `run()` is the
    `labgrid-client` command itself, for what a person would type. Every step is timed
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

    # ---- the labgrid-client command ----
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
        d = self.call("show", place=place)
        return PlaceInfo(d["name"], dict(d["tags"]), d["acquired"], d["reservation"], list(d["matches"]),
                         list(d["resources"]))

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
