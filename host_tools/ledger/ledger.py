"""The provisioning state machine and its hash-chained audit log.

A provisioning is keyed by (device unique id, batch) and moves reserved → written → verified →
committed, each step one transaction that updates the row and appends an audit entry. The token
is reserved (its SHA-256 recorded) before it is written to a device, so a device can never hold
a token the ledger does not know. The ledger stores the token's hash and claims, not the token:
a token is a bearer credential, and a copy in a database would let anyone who reads the database
join as that device until it expires; the device is the one holder, and renewal mints a new token.

Audit entries chain: hash = SHA-256(prev_hash || canonical JSON of the entry); `verify_chain()`
recomputes it. Writers are serialised (db.transaction), so the chain has one head.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass

from host_tools.ledger import schema
from host_tools.ledger.db import Db, connect

GENESIS = "0" * 64
STATES = ("reserved", "written", "verified", "committed")
COLUMNS = ("device_uid", "batch", "state", "app_id", "channel", "uid", "token_sha256", "issued_at", "expires_at",
           "station", "updated_at")


class LedgerError(RuntimeError):
    """A transition the ledger refuses; the message says why."""


class AlreadyProvisioned(LedgerError):
    """The device has a committed record; re-provisioning must be asked for with a reason."""


@dataclass(frozen=True)
class Claims:
    app_id: str
    channel: str
    uid: str


@dataclass(frozen=True)
class Record:
    device_uid: str
    batch: str
    state: str
    app_id: str
    channel: str
    uid: str
    token_sha256: str
    issued_at: int
    expires_at: int
    station: str
    updated_at: int


def entry_hash(prev_hash: str, entry: dict[str, object]) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


class Ledger:
    def __init__(self, url: str, station: str) -> None:
        self.db: Db = connect(url)
        self.station = station
        schema.migrate(self.db, int(time.time()))

    def close(self) -> None:
        self.db.close()

    # ---- reads ----

    def get(self, device_uid: str, batch: str) -> Record | None:
        rows = self.db.read(f"SELECT {', '.join(COLUMNS)} FROM provisioning WHERE device_uid = ? AND batch = ?",
                            (device_uid, batch))
        return Record(*rows[0]) if rows else None

    def records(self) -> list[Record]:
        rows = self.db.read(f"SELECT {', '.join(COLUMNS)} FROM provisioning ORDER BY device_uid, batch")
        return [Record(*r) for r in rows]

    def committed(self, device_uid: str) -> list[Record]:
        return [r for r in self.records() if r.device_uid == device_uid and r.state == "committed"]

    def audit(self) -> list[dict[str, object]]:
        rows = self.db.read("SELECT seq, ts, station, device_uid, batch, event, detail, prev_hash, hash FROM audit ORDER BY seq")
        keys = ("seq", "ts", "station", "device_uid", "batch", "event", "detail", "prev_hash", "hash")
        return [dict(zip(keys, r)) for r in rows]

    # ---- writes (each one transaction) ----

    def _append(self, device_uid: str, batch: str, event: str, detail: str, now: int) -> None:
        head = self.db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (int(head[0][0]) + 1, str(head[0][1])) if head else (1, GENESIS)
        entry = {"seq": seq, "ts": now, "station": self.station, "device_uid": device_uid, "batch": batch,
                 "event": event, "detail": detail}
        self.db.execute("INSERT INTO audit (seq, ts, station, device_uid, batch, event, detail, prev_hash, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (seq, now, self.station, device_uid, batch, event, detail, prev, entry_hash(prev, entry)))

    def _row(self, device_uid: str, batch: str) -> Record | None:
        rows = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM provisioning WHERE device_uid = ? AND batch = ?",
                               (device_uid, batch))
        return Record(*rows[0]) if rows else None

    def reserve(self, device_uid: str, batch: str, claims: Claims, token_sha256: str, issued_at: int,
                expires_at: int, reprovision_reason: str | None = None) -> Record:
        """Records the token about to be written to a device. An unfinished reservation of the
        same (device, batch) is replaced (the device did not get the old token, or it will be
        overwritten); a committed one only with a re-provisioning reason."""
        now = int(time.time())
        with self.db.transaction():
            old = self._row(device_uid, batch)
            if old is not None and old.state == "committed" and reprovision_reason is None:
                raise AlreadyProvisioned(
                    f"device {device_uid} is already provisioned in batch {batch}; re-provision explicitly with a reason")
            values = (claims.app_id, claims.channel, claims.uid, token_sha256, issued_at, expires_at, self.station, now)
            if old is None:
                self.db.execute("INSERT INTO provisioning (device_uid, batch, state, app_id, channel, uid, token_sha256, "
                                "issued_at, expires_at, station, updated_at) VALUES (?, ?, 'reserved', ?, ?, ?, ?, ?, ?, ?, ?)",
                                (device_uid, batch, *values))
                self._append(device_uid, batch, "reserved", f"token {token_sha256}", now)
            else:
                self.db.execute("UPDATE provisioning SET state = 'reserved', app_id = ?, channel = ?, uid = ?, "
                                "token_sha256 = ?, issued_at = ?, expires_at = ?, station = ?, updated_at = ? "
                                "WHERE device_uid = ? AND batch = ?", (*values, device_uid, batch))
                event = "reprovision" if old.state == "committed" else "re-reserved"
                reason = reprovision_reason or f"was {old.state} with token {old.token_sha256[:16]}"
                self._append(device_uid, batch, event, f"token {token_sha256}; {reason}", now)
        rec = self.get(device_uid, batch)
        assert rec is not None
        return rec

    def advance(self, device_uid: str, batch: str, state: str, token_sha256: str, detail: str = "") -> Record:
        """Moves a record one step on (written, verified, committed) for the token it reserved.
        Repeating the step the record is already at is a no-op (idempotent re-runs)."""
        if state not in STATES[1:]:
            raise LedgerError(f"unknown state {state!r}")
        now = int(time.time())
        with self.db.transaction():
            old = self._row(device_uid, batch)
            if old is None:
                raise LedgerError(f"device {device_uid} batch {batch} was never reserved")
            if old.token_sha256 != token_sha256:
                raise LedgerError(f"device {device_uid}: token {token_sha256[:16]} is not the one reserved")
            have, want = STATES.index(old.state), STATES.index(state)
            if have >= want:
                return old
            if want != have + 1:
                raise LedgerError(f"device {device_uid}: cannot go from {old.state} to {state}")
            self.db.execute("UPDATE provisioning SET state = ?, updated_at = ? WHERE device_uid = ? AND batch = ?",
                            (state, now, device_uid, batch))
            self._append(device_uid, batch, state, detail or f"token {token_sha256[:16]}", now)
        rec = self.get(device_uid, batch)
        assert rec is not None
        return rec

    def log_failure(self, device_uid: str, batch: str, event: str, detail: str) -> None:
        """Records a failed step (the row is unchanged)."""
        now = int(time.time())
        with self.db.transaction():
            self._append(device_uid, batch, f"failed:{event}", detail, now)

    # ---- checks ----

    def verify_chain(self) -> tuple[bool, int, str]:
        """(ok, entries checked, what is wrong) — recomputes every hash and link."""
        prev = GENESIS
        entries = self.audit()
        for i, e in enumerate(entries, start=1):
            body = {k: e[k] for k in ("seq", "ts", "station", "device_uid", "batch", "event", "detail")}
            if e["seq"] != i:
                return False, i - 1, f"entry {i}: sequence number {e['seq']} out of order"
            if e["prev_hash"] != prev:
                return False, i - 1, f"entry {i}: link to the previous entry is broken"
            if entry_hash(prev, body) != e["hash"]:
                return False, i - 1, f"entry {i}: contents do not match its hash"
            prev = str(e["hash"])
        return True, len(entries), "ok"


def as_dict(r: Record) -> dict[str, object]:
    return asdict(r)
