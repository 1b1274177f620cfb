"""One interface over sqlite3 and psycopg: `connect(url)` returns a Db whose `transaction()`
serialises writers (SQLite BEGIN IMMEDIATE; PostgreSQL a transaction-scoped advisory lock), so
that the audit chain has exactly one head. SQL is written with `?` placeholders."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

WRITER_LOCK_KEY = 0x45444743  # "EDGC": the PostgreSQL advisory lock every writer takes


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Db:
    """A connection plus its dialect. Use `with db.transaction() as tx:` for every write."""

    dialect: str

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith(("postgresql://", "postgres://")):
            import psycopg  # only stations that use PostgreSQL need it

            self.dialect = "postgresql"
            self._pg = psycopg.connect(url, autocommit=False)
        else:
            path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.dialect = "sqlite"
            self._lite = sqlite3.connect(path, timeout=60, isolation_level=None)
            self._lite.execute("PRAGMA journal_mode=WAL")
            self._lite.execute("PRAGMA synchronous=FULL")
            self._lite.execute("PRAGMA busy_timeout=60000")

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Runs one statement (inside or outside a transaction); returns the rows it yields."""
        if self.dialect == "postgresql":
            with self._pg.cursor() as cur:
                cur.execute(self._sql(sql), tuple(params))  # type: ignore[arg-type]
                rows = cur.fetchall() if cur.description else []
            return [tuple(r) for r in rows]
        cur = self._lite.execute(sql, tuple(params))
        return [tuple(r) for r in cur.fetchall()]

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        """A serialised write transaction: committed on success, rolled back on any exception."""
        if self.dialect == "postgresql":
            with self._pg.transaction():
                self.execute("SELECT pg_advisory_xact_lock(?)", (WRITER_LOCK_KEY,))
                yield self
            return
        self._lite.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._lite.execute("ROLLBACK")
            raise
        self._lite.execute("COMMIT")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction (PostgreSQL: its own short transaction)."""
        if self.dialect == "postgresql":
            with self._pg.transaction():
                return self.execute(sql, params)
        return self.execute(sql, params)

    def close(self) -> None:
        if self.dialect == "postgresql":
            self._pg.close()
        else:
            self._lite.close()


def connect(url: str) -> Db:
    return Db(url)
