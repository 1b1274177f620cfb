"""The ledger key: the secret that seals the audit chain (HMAC-SHA256), so that nobody who can
only write the database can rewrite an entry and recompute the chain after it.

Where it comes from, in this order (never the command line):
1. `$EDGECALL_LEDGER_KEY`: the key itself, as hex (at least 32 bytes);
2. `$EDGECALL_LEDGER_KEY_FILE`: a file holding that hex;
3. `build/keys/ledger.key` in the project (beside the development signing key).

A file that does not exist yet is created on first use (32 random bytes, mode 0600) — but only
by a writer of a ledger that has no key yet; a ledger already sealed with a key needs that key
(stations sharing a PostgreSQL ledger share its key file). The ledger records the key's id
(`key_id`, an HMAC of a fixed label: it says which key sealed it, and nothing about the key), so a
station with another key is stopped before it writes anything.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from host_tools.ledger.db import LedgerConnectError
from host_tools.paths import BUILD

ENV_KEY = "EDGECALL_LEDGER_KEY"
ENV_KEY_FILE = "EDGECALL_LEDGER_KEY_FILE"
DEFAULT_FILE = BUILD / "keys" / "ledger.key"
KEY_BYTES = 32
_ID_LABEL = b"edgecall ledger key id"


class LedgerKeyError(LedgerConnectError):
    """No usable ledger key, or not the key the ledger was sealed with (CLI exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, refused=True)


@dataclass(frozen=True)
class LedgerKey:
    secret: bytes
    source: str  # where it came from, for messages (never the key)

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, _ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def mac(self, prev: str, body: str) -> str:
        return hmac.new(self.secret, (prev + body).encode(), hashlib.sha256).hexdigest()


def _parse(text: str, source: str) -> bytes:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raise LedgerKeyError(f"the ledger key in {source} is not hex") from None
    if len(raw) < KEY_BYTES:
        raise LedgerKeyError(f"the ledger key in {source} is shorter than {KEY_BYTES} bytes")
    return raw


def key_file() -> Path:
    return Path(os.environ[ENV_KEY_FILE]) if os.environ.get(ENV_KEY_FILE) else DEFAULT_FILE


def _create(path: Path) -> None:
    """Writes a new key, atomically and only if there is none (two first uses race safely)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (secrets.token_bytes(KEY_BYTES).hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def load(create: bool) -> LedgerKey:
    """The key from the environment or its file; `create`: make the file if it is missing."""
    text = os.environ.get(ENV_KEY)
    if text:
        return LedgerKey(_parse(text, f"${ENV_KEY}"), f"${ENV_KEY}")
    path = key_file()
    if not path.exists():
        if not create:
            raise LedgerKeyError(f"no ledger key: {path} does not exist (set ${ENV_KEY_FILE} to the file of the "
                                 f"key that sealed this ledger, or ${ENV_KEY})")
        _create(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise LedgerKeyError(f"cannot read the ledger key {path}: {exc.strerror}") from None
    return LedgerKey(_parse(text, str(path)), str(path))
