"""One interface over sqlite3 and psycopg: `connect(url)` returns a Db whose `transaction()`
serialises writers (SQLite BEGIN IMMEDIATE; PostgreSQL a transaction-scoped advisory lock), so
that the audit chain has exactly one head. SQL is written with `?` placeholders.

A ledger that cannot be opened raises LedgerConnectError: a PostgreSQL server that could not be
reached or refused the login (the message names it with the password masked), a SQLite path that
does not exist when it must (`create=False`: nothing is created), or a file that is not a
database."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import psycopg

WRITER_LOCK_KEY = 0x45444743  # "EDGC": the PostgreSQL advisory lock every writer takes
CONNECT_TIMEOUT = 10  # seconds, unless the URL says connect_timeout=…


class LedgerConnectError(RuntimeError):
    """The ledger could not be opened. `refused`: the path or URL must be fixed (CLI exit 2) — no
    such SQLite file, not a database, a PostgreSQL server that answered and turned the login down
    (credentials, pg_hba.conf, unknown role or database), a malformed URL; otherwise the server
    was not reached at all (down, wrong host or port, network; CLI exit 3). The message never
    holds the password."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _pg_connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    import psycopg  # only stations that use PostgreSQL need it
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise LedgerConnectError(f"bad PostgreSQL ledger URL {redact(url)}: {exc}", refused=True) from None
    password = str(params.get("password") or "")
    try:
        conninfo = url if "connect_timeout" in params else make_conninfo(url, connect_timeout=CONNECT_TIMEOUT)
        return psycopg.connect(conninfo, autocommit=False)
    except psycopg.OperationalError as exc:
        detail = " ".join(str(exc).split())
        if password:
            detail = detail.replace(password, "***")
        # the server answered (an error from it, or a password it asked for and did not get):
        # the login, not the network, failed
        refused = "FATAL:" in detail or "no password supplied" in detail
        what = ("refused the connection: check the user, password and database in the URL and the server's pg_hba.conf"
                if refused else "could not be reached: check the host and port, and that the server is running")
        raise LedgerConnectError(f"the PostgreSQL ledger at {redact(url)} {what} ({detail})", refused=refused) from None


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Db:
    """A connection plus its dialect. Use `with db.transaction() as tx:` for every write."""

    dialect: str

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        if url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
            self._pg = _pg_connect(url)
        else:
            path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
            if not create and not path.is_file():
                what = "is not a file" if path.exists() else "does not exist"
                raise LedgerConnectError(f"no ledger at {path}: it {what} (check --ledger)", refused=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dialect = "sqlite"
            try:
                self._lite = sqlite3.connect(path, timeout=60, isolation_level=None)
                self._lite.execute("PRAGMA journal_mode=WAL")
                self._lite.execute("PRAGMA synchronous=FULL")
                self._lite.execute("PRAGMA busy_timeout=60000")
            except sqlite3.DatabaseError as exc:
                raise LedgerConnectError(f"{path} is not a ledger: {exc}", refused=True) from None

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


def connect(url: str, create: bool = True) -> Db:
    """`create=False`: a SQLite file must exist already (it is opened, never created)."""
    return Db(url, create)
