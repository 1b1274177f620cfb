"""The ledger's schema as numbered migrations, applied in order inside one transaction and
recorded in schema_migrations; the same DDL runs on SQLite and PostgreSQL.

1: the provisioning rows and the audit log. 2: each audit entry carries the provisioning row as
the change left it (`row_json`), and `ledger_meta` holds the id of the key that seals the chain.
A migration may have a step in Python (`steps`, given by the caller) that runs after its DDL in the
same transaction: the ledger uses it to seal a schema-1 chain with the key.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from host_tools.ledger.db import Db, LedgerConnectError

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE provisioning (
                device_uid   TEXT NOT NULL,
                batch        TEXT NOT NULL,
                state        TEXT NOT NULL CHECK (state IN ('reserved', 'written', 'verified', 'committed', 'revoked')),
                app_id       TEXT NOT NULL,
                channel      TEXT NOT NULL,
                uid          TEXT NOT NULL,
                token_sha256 TEXT NOT NULL,
                issued_at    BIGINT NOT NULL,
                expires_at   BIGINT NOT NULL,
                station      TEXT NOT NULL,
                updated_at   BIGINT NOT NULL,
                PRIMARY KEY (device_uid, batch)
            )""",
            "CREATE INDEX provisioning_token ON provisioning (token_sha256)",
            """CREATE TABLE audit (
                seq        BIGINT PRIMARY KEY,
                ts         BIGINT NOT NULL,
                station    TEXT NOT NULL,
                device_uid TEXT NOT NULL,
                batch      TEXT NOT NULL,
                event      TEXT NOT NULL,
                detail     TEXT NOT NULL,
                prev_hash  TEXT NOT NULL,
                hash       TEXT NOT NULL UNIQUE
            )""",
        ],
    ),
    (
        2,
        [
            "ALTER TABLE audit ADD COLUMN row_json TEXT NOT NULL DEFAULT ''",
            "CREATE TABLE ledger_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ],
    ),
]
LATEST = MIGRATIONS[-1][0]


def current_version(db: Db) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
    rows = db.execute("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0)


def _tables(db: Db) -> set[str]:
    if db.dialect == "postgresql":
        rows = db.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    else:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


def migrate(db: Db, now: int, steps: Mapping[int, Callable[[Db, int], None]] | None = None,
            create: bool = True) -> int:
    """Applies the migrations this database lacks; returns the resulting version. `steps[n](db,
    from_version)` runs after migration n's DDL. `create=False`: a database without the ledger's
    tables is refused (LedgerConnectError), not turned into a ledger."""
    version = 0
    with db.transaction():
        if not create and "schema_migrations" not in _tables(db):
            raise LedgerConnectError(f"{db.url if db.dialect == 'sqlite' else 'the database'} holds no EdgeCall "
                                     "ledger (no schema_migrations table)", refused=True)
        version = first = current_version(db)
        for number, statements in MIGRATIONS:
            if number <= version:
                continue
            for stmt in statements:
                db.execute(stmt)
            if steps and number in steps:
                steps[number](db, first)
            db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (number, now))
            version = number
    return version
