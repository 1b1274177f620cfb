"""The provisioning state machine and its sealed audit chain.

A provisioning is keyed by (device unique id, batch) and moves reserved → written → verified →
committed, each step one transaction that updates the row and appends an audit entry. The token
is reserved (its SHA-256 recorded) before it is written to a device, so a device can never hold
a token the ledger does not know. The ledger stores the token's hash and claims, not the token:
a token is a bearer credential, and a copy in a database would let anyone who reads the database
join as that device until it expires; the device is the one holder, and renewal mints a new token.

The audit chain: every change of a provisioning row appends an entry that carries the row as the
change left it (`row`: canonical JSON, "null" once deleted, "" for entries that changed no row,
such as failed steps). Each entry is sealed with the ledger key (host_tools.ledger.key):
hash = HMAC-SHA256(key, prev_hash || canonical JSON of the entry), so an entry rewritten with its
chain recomputed fails without the key. `verify()` checks every link and seal, replays the rows
from the chain and reports every table row that differs, and, given an anchor (the head — entry
count and hash — printed by every station run and by `ledger export`), that the chain still
reaches it: a tail cut off with its rows is caught that way. Writers are serialised
(db.transaction), so the chain has one head. A schema-1 ledger (unkeyed SHA-256 chain, no rows in
its entries) is sealed when first opened by this version: its chain is checked, re-sealed with
the key, and one "sealed" entry per row records the rows as they stood.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

from host_tools.ledger import key as ledger_key
from host_tools.ledger import schema
from host_tools.ledger.db import Db, connect

GENESIS = "0" * 64
STATES = ("reserved", "written", "verified", "committed")
COLUMNS = ("device_uid", "batch", "state", "app_id", "channel", "uid", "token_sha256", "issued_at", "expires_at",
           "station", "updated_at")
ENTRY = ("seq", "ts", "station", "device_uid", "batch", "event", "detail", "row")
_AUDIT_KEYS = ("seq", "ts", "station", "device_uid", "batch", "event", "detail", "row", "prev_hash", "hash")
_AUDIT_SQL = ("seq", "ts", "station", "device_uid", "batch", "event", "detail", "row_json", "prev_hash", "hash")
UNCHANGED = ""  # the `row` of an entry that changed no row
DELETED = "null"


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


@dataclass(frozen=True)
class Head:
    """The chain's last entry: how many entries there are and its hash. Kept outside the ledger
    (printed, or in an anchor file), it lets `verify` notice a tail cut off."""

    entries: int
    hash: str

    def __str__(self) -> str:
        return f"{self.entries}:{self.hash}"

    def as_dict(self) -> dict[str, object]:
        return {"entries": self.entries, "hash": self.hash}

    @staticmethod
    def parse(text: str) -> Head:
        """Parses "N:HASH" (or a bare HASH: the entry number is then unknown, 0)."""
        count, _, digest = text.strip().rpartition(":")
        digest = digest.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or (count and not count.isdigit()):
            raise ValueError(f"bad ledger head {text!r}: give ENTRIES:HASH as printed by a station or `ledger export`")
        return Head(int(count or 0), digest)


@dataclass
class Verdict:
    ok: bool
    entries: int  # entries whose link and seal check out, from the first on
    detail: str  # "ok", or the first problem
    problems: list[str] = field(default_factory=list)
    head: Head | None = None


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def row_json(rec: Record | None) -> str:
    return DELETED if rec is None else canonical(asdict(rec))


def entry_hash(prev_hash: str, entry: dict[str, object]) -> str:
    """The schema-1 (unkeyed) link: SHA-256(prev_hash || canonical JSON of the entry)."""
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def _body(entry: dict[str, object]) -> str:
    return canonical({k: entry[k] for k in ENTRY})


class Ledger:
    """`create=False`: open an existing ledger only (a SQLite path that does not exist, or a
    database without the ledger's tables, raises LedgerConnectError and nothing is created); the
    key is then needed only to verify. A writer (`create=True`) checks its key at once: a ledger
    sealed with another key raises LedgerKeyError before anything is written."""

    def __init__(self, url: str, station: str, create: bool = True) -> None:
        self.db: Db = connect(url, create=create)
        self.station = station
        self._key: ledger_key.LedgerKey | None = None
        try:
            schema.migrate(self.db, int(time.time()), steps={2: self._seal_schema1}, create=create)
            if create:
                with self.db.transaction():
                    self._write_key()
        except BaseException:
            self.db.close()
            raise

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
        rows = self.db.read(f"SELECT {', '.join(_AUDIT_SQL)} FROM audit ORDER BY seq")
        return [dict(zip(_AUDIT_KEYS, r)) for r in rows]

    def head(self) -> Head | None:
        """The chain's head (entry count and hash of the last entry); None while it is empty."""
        rows = self.db.read("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        return Head(int(rows[0][0]), str(rows[0][1])) if rows else None

    # ---- the key ----

    def _key_id(self) -> str | None:
        rows = self.db.execute("SELECT value FROM ledger_meta WHERE name = 'key_id'")
        return str(rows[0][0]) if rows else None

    def _write_key(self) -> ledger_key.LedgerKey:
        """The key to seal with (inside a write transaction): the ledger's own, recorded on first use."""
        have = self._key_id()
        if self._key is None:
            self._key = ledger_key.load(create=have is None)
        if have is None:
            self.db.execute("INSERT INTO ledger_meta (name, value) VALUES ('key_id', ?)", (self._key.key_id,))
        elif have != self._key.key_id:
            raise ledger_key.LedgerKeyError(
                f"this ledger is sealed with another key (key id {have}; {self._key.source} has {self._key.key_id}): "
                f"give the ledger's key (${ledger_key.ENV_KEY_FILE} or ${ledger_key.ENV_KEY}); nothing was written")
        return self._key

    def _seal_schema1(self, db: Db, from_version: int) -> None:
        """Migration 2: a schema-1 chain is checked, re-sealed with the key, and each row recorded."""
        entries = self.audit_in_tx()
        if not entries and not db.execute("SELECT 1 FROM provisioning LIMIT 1"):
            return
        prev = GENESIS
        for i, e in enumerate(entries, start=1):
            legacy = {k: e[k] for k in ("seq", "ts", "station", "device_uid", "batch", "event", "detail")}
            if e["seq"] != i or e["prev_hash"] != prev or entry_hash(prev, legacy) != e["hash"]:
                raise LedgerError(f"the schema-1 audit chain is broken at entry {i}: the ledger is not sealed "
                                  "(restore it from a backup, or keep using the previous version to inspect it)")
            prev = str(e["hash"])
        key = self._write_key()
        prev = GENESIS
        for e in entries:
            mac = key.mac(prev, _body(e))
            db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, mac, e["seq"]))
            prev = mac
        now = int(time.time())
        for r in db.execute(f"SELECT {', '.join(COLUMNS)} FROM provisioning ORDER BY device_uid, batch"):
            rec = Record(*r)
            self._append(rec.device_uid, rec.batch, "sealed", "the row as it stood when the chain was sealed", now,
                         row_json(rec))

    def audit_in_tx(self) -> list[dict[str, object]]:
        """audit() inside a transaction already open."""
        rows = self.db.execute(f"SELECT {', '.join(_AUDIT_SQL)} FROM audit ORDER BY seq")
        return [dict(zip(_AUDIT_KEYS, r)) for r in rows]

    # ---- writes (each one transaction) ----

    def _append(self, device_uid: str, batch: str, event: str, detail: str, now: int, row: str) -> None:
        key = self._write_key()
        head = self.db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (int(head[0][0]) + 1, str(head[0][1])) if head else (1, GENESIS)
        entry = {"seq": seq, "ts": now, "station": self.station, "device_uid": device_uid, "batch": batch,
                 "event": event, "detail": detail, "row": row}
        self.db.execute("INSERT INTO audit (seq, ts, station, device_uid, batch, event, detail, row_json, prev_hash, hash) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (seq, now, self.station, device_uid, batch, event, detail, row, prev, key.mac(prev, _body(entry))))

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
                event, detail = "reserved", f"token {token_sha256}"
            else:
                self.db.execute("UPDATE provisioning SET state = 'reserved', app_id = ?, channel = ?, uid = ?, "
                                "token_sha256 = ?, issued_at = ?, expires_at = ?, station = ?, updated_at = ? "
                                "WHERE device_uid = ? AND batch = ?", (*values, device_uid, batch))
                event = "reprovision" if old.state == "committed" else "re-reserved"
                reason = reprovision_reason or f"was {old.state} with token {old.token_sha256[:16]}"
                detail = f"token {token_sha256}; {reason}"
            rec = self._row(device_uid, batch)
            self._append(device_uid, batch, event, detail, now, row_json(rec))
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
            rec = self._row(device_uid, batch)
            self._append(device_uid, batch, state, detail or f"token {token_sha256[:16]}", now, row_json(rec))
        assert rec is not None
        return rec

    def log_failure(self, device_uid: str, batch: str, event: str, detail: str) -> None:
        """Records a failed step (the row is unchanged)."""
        now = int(time.time())
        with self.db.transaction():
            self._append(device_uid, batch, f"failed:{event}", detail, now, UNCHANGED)

    # ---- checks ----

    def verify(self, anchor: Head | None = None) -> Verdict:
        """Every link and seal, the rows replayed from the chain against the table, and (given an
        anchor) that the chain still reaches it. Raises LedgerKeyError when the key is missing or
        is not the one that sealed the ledger. Runs under the writers' lock: one consistent view."""
        with self.db.transaction():
            entries = self.audit_in_tx()
            recorded_id = self.db.execute("SELECT value FROM ledger_meta WHERE name = 'key_id'")
            table = [Record(*r) for r in self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM provisioning")]
        problems: list[str] = []
        checked = 0
        if entries:
            key = self._key or ledger_key.load(create=False)
            have = str(recorded_id[0][0]) if recorded_id else None
            if have != key.key_id:
                first = entries[0]
                if key.mac(GENESIS, _body(first)) != first["hash"]:
                    raise ledger_key.LedgerKeyError(
                        f"the ledger was sealed with another key (key id {have}; {key.source} has {key.key_id}): "
                        f"give its key (${ledger_key.ENV_KEY_FILE} or ${ledger_key.ENV_KEY})")
                problems.append(f"the ledger's key id was altered (it says {have}, the chain is sealed with {key.key_id})")
            checked, broken = _check_chain(entries, key)
            if broken:
                problems.append(broken)
            else:
                problems += _compare_rows(_replay(entries), table)
        head = Head(len(entries), str(entries[-1]["hash"])) if entries else None
        if anchor is not None and not _reaches(entries[:checked], anchor):
            problems.append(f"the chain does not reach the anchored head (entry {anchor.entries or '?'}, hash "
                            f"{anchor.hash[:16]}…): entries were cut off its end or rewritten")
        return Verdict(not problems, checked, problems[0] if problems else "ok", problems, head)

    def verify_chain(self) -> tuple[bool, int, str]:
        """(ok, entries checked, what is wrong): verify() without an anchor."""
        v = self.verify()
        return v.ok, v.entries, v.detail


def _check_chain(entries: list[dict[str, object]], key: ledger_key.LedgerKey) -> tuple[int, str]:
    """(entries that check out from the first on, the first break or "")."""
    prev = GENESIS
    for i, e in enumerate(entries, start=1):
        if e["seq"] != i:
            return i - 1, f"entry {i}: sequence number {e['seq']} out of order"
        if e["prev_hash"] != prev:
            return i - 1, f"entry {i}: link to the previous entry is broken"
        if key.mac(prev, _body(e)) != e["hash"]:
            return i - 1, f"entry {i}: contents do not match its seal"
        prev = str(e["hash"])
    return len(entries), ""


def _replay(entries: list[dict[str, object]]) -> dict[tuple[str, str], str]:
    """The rows as the chain says they are: (device, batch) -> canonical JSON."""
    rows: dict[tuple[str, str], str] = {}
    for e in entries:
        row, k = str(e["row"]), (str(e["device_uid"]), str(e["batch"]))
        if row == DELETED:
            rows.pop(k, None)
        elif row != UNCHANGED:
            rows[k] = row
    return rows


def _compare_rows(chain: dict[tuple[str, str], str], table: list[Record]) -> list[str]:
    out: list[str] = []
    have = {(r.device_uid, r.batch): r for r in table}
    for k in sorted(set(chain) | set(have)):
        name = f"row {k[0]}/{k[1]}"
        if k not in have:
            out.append(f"{name}: in the audit chain but missing from the table")
        elif k not in chain:
            out.append(f"{name}: in the table but not in the audit chain")
        elif row_json(have[k]) != chain[k]:
            want = json.loads(chain[k])
            got = asdict(have[k])
            diff = ", ".join(f"{c} is {got[c]!r} in the table, {want.get(c)!r} in the chain"
                             for c in COLUMNS if got[c] != want.get(c))
            out.append(f"{name} differs from the audit chain: {diff}")
    return out


def _reaches(entries: list[dict[str, object]], anchor: Head) -> bool:
    if anchor.entries:
        return len(entries) >= anchor.entries and entries[anchor.entries - 1]["hash"] == anchor.hash
    return any(e["hash"] == anchor.hash for e in entries)


def as_dict(r: Record) -> dict[str, object]:
    return asdict(r)
