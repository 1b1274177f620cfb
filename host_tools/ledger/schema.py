"""The ledger's schema as numbered migrations, applied in order inside one transaction each and
recorded in schema_migrations; the same DDL runs on SQLite and PostgreSQL."""
from __future__ import annotations

from host_tools.ledger.db import Db

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
]


def current_version(db: Db) -> int:
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
    rows = db.execute("SELECT MAX(version) FROM schema_migrations")
    return int(rows[0][0] or 0)


def migrate(db: Db, now: int) -> int:
    """Applies the migrations this database lacks; returns the resulting version."""
    version = 0
    with db.transaction():
        version = current_version(db)
        for number, statements in MIGRATIONS:
            if number <= version:
                continue
            for stmt in statements:
                db.execute(stmt)
            db.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (number, now))
            version = number
    return version
