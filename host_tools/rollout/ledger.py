"""The rollout's state in SQLite (default build/rollout/rollout.sqlite3): what lets a rollout
resume after Ctrl-C, a killed process or a port that went away.

Tables: `rollout` (image hash and version, waves, health checks, state), `device` (one row per
device: its wave, the image it was confirmed on before — the rollback target —, its state, the
error that failed it, how many uploads it took, timestamps) and `event` (every transition, with
its message). WAL journal, synchronous=FULL, each change one IMMEDIATE transaction: a process
killed at any point leaves the last committed step. The engine writes a device's state before a
step (flashing, rolling-back) and after it (testing, passed, confirmed, failed, rolled-back), so a
row names the step a device was in when the process died; engine.py inspects such a device before
it goes on.

Rollout states: running -> complete, or running -> halting (rolling a wave back) -> halted.
Device states (TRANSITIONS): pending -> flashing -> testing -> passed -> confirmed; any of
flashing/testing/passed -> failed; then every touched device of the wave -> rolling-back ->
rolled-back (a failed device keeps its error beside rolled-back).
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.paths import BUILD

DEFAULT_PATH = BUILD / "rollout" / "rollout.sqlite3"

PENDING, FLASHING, TESTING, PASSED, CONFIRMED = "pending", "flashing", "testing", "passed", "confirmed"
FAILED, ROLLING_BACK, ROLLED_BACK = "failed", "rolling-back", "rolled-back"
DEVICE_STATES = (PENDING, FLASHING, TESTING, PASSED, CONFIRMED, FAILED, ROLLING_BACK, ROLLED_BACK)

RUNNING, HALTING, HALTED, COMPLETE = "running", "halting", "halted", "complete"
FINISHED = (HALTED, COMPLETE)

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({FLASHING}),
    FLASHING: frozenset({FLASHING, TESTING, FAILED, ROLLING_BACK}),
    TESTING: frozenset({TESTING, FLASHING, PASSED, FAILED, ROLLING_BACK}),
    PASSED: frozenset({PASSED, TESTING, CONFIRMED, FAILED, ROLLING_BACK}),
    FAILED: frozenset({ROLLING_BACK}),
    ROLLING_BACK: frozenset({ROLLING_BACK, ROLLED_BACK}),
    CONFIRMED: frozenset({ROLLING_BACK}),  # only when its wave halts while being confirmed
    ROLLED_BACK: frozenset(),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS rollout (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    image_path TEXT NOT NULL,
    image_hash TEXT NOT NULL,
    version TEXT NOT NULL,
    waves TEXT NOT NULL,
    health TEXT NOT NULL,
    state TEXT NOT NULL,
    halted_wave INTEGER,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rollout_key ON rollout(key);
CREATE TABLE IF NOT EXISTS device (
    rollout_id INTEGER NOT NULL REFERENCES rollout(id),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    wave INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    prev_version TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    flashes INTEGER NOT NULL DEFAULT 0,
    started REAL,
    updated REAL NOT NULL,
    PRIMARY KEY (rollout_id, name)
);
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rollout_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    device TEXT,
    state TEXT NOT NULL,
    message TEXT
);
"""


class LedgerError(RuntimeError):
    """A state change the rollout's state machine does not allow, or an unknown rollout/device."""


@dataclass(frozen=True)
class Rollout:
    id: int
    key: str
    image_path: str
    image_hash: str
    version: str
    waves: list[int]
    health: list[str]
    state: str
    halted_wave: int | None
    created: float
    updated: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DeviceRow:
    name: str
    position: int
    wave: int
    prev_hash: str
    prev_version: str
    state: str
    error: str | None
    flashes: int
    started: float | None
    updated: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class NewDevice:
    name: str
    wave: int
    prev_hash: str
    prev_version: str
    state: str = PENDING  # CONFIRMED for a device that already runs the image, confirmed


def rollout_key(image_hash: str, devices: Sequence[str], waves: Sequence[int], health: Sequence[str]) -> str:
    """What makes two commands "the same rollout": image, device list in order, waves, checks."""
    text = json.dumps([image_hash, list(devices), list(waves), sorted(health)])
    return hashlib.sha256(text.encode()).hexdigest()


class RolloutLedger:
    def __init__(self, path: Path | str = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (serialised between this process's threads)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # ---- rollouts
    def create(self, key: str, image_path: str, image_hash: str, version: str, waves: Sequence[int],
               health: Sequence[str], devices: Sequence[NewDevice]) -> Rollout:
        """The rollout and all its device rows, in one transaction."""
        now = time.time()
        with self.tx() as c:
            cur = c.execute(
                "INSERT INTO rollout (key, image_path, image_hash, version, waves, health, state, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, image_path, image_hash, version, json.dumps(list(waves)), json.dumps(list(health)), RUNNING,
                 now, now))
            rid = int(cur.lastrowid or 0)
            for pos, d in enumerate(devices):
                c.execute("INSERT INTO device (rollout_id, name, position, wave, prev_hash, prev_version, state, updated)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (rid, d.name, pos, d.wave, d.prev_hash, d.prev_version, d.state, now))
                c.execute("INSERT INTO event (rollout_id, ts, device, state, message) VALUES (?, ?, ?, ?, ?)",
                          (rid, now, d.name, d.state, f"wave {d.wave + 1}; before: {d.prev_version} {d.prev_hash[:12]}"))
        return self.rollout(rid)

    def _rollout(self, row: sqlite3.Row) -> Rollout:
        return Rollout(id=row["id"], key=row["key"], image_path=row["image_path"], image_hash=row["image_hash"],
                       version=row["version"], waves=json.loads(row["waves"]), health=json.loads(row["health"]),
                       state=row["state"], halted_wave=row["halted_wave"], created=row["created"],
                       updated=row["updated"])

    def rollout(self, rid: int) -> Rollout:
        row = self.db.execute("SELECT * FROM rollout WHERE id = ?", (rid,)).fetchone()
        if row is None:
            raise LedgerError(f"no rollout #{rid} in {self.path}")
        return self._rollout(row)

    def latest(self, key: str | None = None) -> Rollout | None:
        q, args = ("SELECT * FROM rollout WHERE key = ? ORDER BY id DESC LIMIT 1", (key,)) if key else \
            ("SELECT * FROM rollout ORDER BY id DESC LIMIT 1", ())
        row = self.db.execute(q, args).fetchone()
        return self._rollout(row) if row else None

    def rollouts(self) -> list[Rollout]:
        return [self._rollout(r) for r in self.db.execute("SELECT * FROM rollout ORDER BY id")]

    def unfinished_with(self, names: Sequence[str], except_key: str) -> list[tuple[Rollout, list[str]]]:
        """Unfinished rollouts of another command that hold any of these devices mid-way."""
        out = []
        for r in self.rollouts():
            if r.state in FINISHED or r.key == except_key:
                continue
            busy = [d.name for d in self.devices(r.id) if d.name in names and d.state not in (PENDING, CONFIRMED)]
            if busy:
                out.append((r, busy))
        return out

    def set_rollout_state(self, rid: int, state: str, halted_wave: int | None = None, message: str = "") -> None:
        with self.tx() as c:
            c.execute("UPDATE rollout SET state = ?, halted_wave = COALESCE(?, halted_wave), updated = ? WHERE id = ?",
                      (state, halted_wave, time.time(), rid))
            c.execute("INSERT INTO event (rollout_id, ts, device, state, message) VALUES (?, ?, NULL, ?, ?)",
                      (rid, time.time(), state, message))

    # ---- devices
    def _device(self, row: sqlite3.Row) -> DeviceRow:
        return DeviceRow(name=row["name"], position=row["position"], wave=row["wave"], prev_hash=row["prev_hash"],
                         prev_version=row["prev_version"], state=row["state"], error=row["error"],
                         flashes=row["flashes"], started=row["started"], updated=row["updated"])

    def devices(self, rid: int) -> list[DeviceRow]:
        rows = self.db.execute("SELECT * FROM device WHERE rollout_id = ? ORDER BY position", (rid,))
        return [self._device(r) for r in rows]

    def device(self, rid: int, name: str) -> DeviceRow:
        row = self.db.execute("SELECT * FROM device WHERE rollout_id = ? AND name = ?", (rid, name)).fetchone()
        if row is None:
            raise LedgerError(f"rollout #{rid} has no device {name!r}")
        return self._device(row)

    def transition(self, rid: int, name: str, state: str, message: str = "", error: str | None = None,
                   flashed: bool = False) -> DeviceRow:
        """Moves a device to `state` (checked against TRANSITIONS); `error` is kept once set (the
        reason a device failed stays beside its rolled-back state)."""
        if state not in DEVICE_STATES:
            raise LedgerError(f"unknown device state {state!r}")
        now = time.time()
        with self.tx() as c:
            row = c.execute("SELECT state FROM device WHERE rollout_id = ? AND name = ?", (rid, name)).fetchone()
            if row is None:
                raise LedgerError(f"rollout #{rid} has no device {name!r}")
            if state not in TRANSITIONS[row["state"]]:
                raise LedgerError(f"{name}: {row['state']} -> {state} is not a rollout step")
            c.execute("UPDATE device SET state = ?, error = COALESCE(?, error), flashes = flashes + ?,"
                      " started = COALESCE(started, ?), updated = ? WHERE rollout_id = ? AND name = ?",
                      (state, error, 1 if flashed else 0, now, now, rid, name))
            c.execute("INSERT INTO event (rollout_id, ts, device, state, message) VALUES (?, ?, ?, ?, ?)",
                      (rid, now, name, state, error or message))
        return self.device(rid, name)

    def events(self, rid: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT ts, device, state, message FROM event WHERE rollout_id = ? ORDER BY id", (rid,))
        return [dict(r) for r in rows]


# ---- resume: what a device's row asks for next
SKIP, FLASH, INSPECT, CONFIRM, ROLLBACK = "skip", "flash", "inspect", "confirm", "rollback"


def next_step(rollout_state: str, device_state: str) -> str:
    """The engine's next step for a device of the current wave, from the ledger alone:
    - a running rollout: pending -> flash; flashing/testing (the process died mid-step, or a port
      went away) -> inspect the device (what it runs, confirmed or not) before going on;
      passed -> confirm (after its health check is repeated); confirmed -> skip;
    - a halting rollout: every device of the wave that was touched -> rollback; pending and
      rolled-back -> skip."""
    if rollout_state in FINISHED:
        return SKIP
    if rollout_state == HALTING:
        return SKIP if device_state in (PENDING, ROLLED_BACK) else ROLLBACK
    return {PENDING: FLASH, FLASHING: INSPECT, TESTING: INSPECT, PASSED: CONFIRM, CONFIRMED: SKIP,
            FAILED: ROLLBACK, ROLLING_BACK: ROLLBACK, ROLLED_BACK: SKIP}[device_state]
