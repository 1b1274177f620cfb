"""Anchor files: the ledger's head (entry count and hash of the last audit entry) kept outside the
ledger, one JSON line per station run or export, so that `ledger verify --anchor FILE` notices a
chain whose tail was cut off (with the rows it described) since. Keep the file where the database's
writers cannot rewrite it (another host, a log collector, a ticket)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from host_tools.ledger.db import redact
from host_tools.ledger.ledger import Head


class AnchorError(ValueError):
    """The anchor file cannot be read or holds no head."""


def write(path: Path, head: Head | None, ledger_url: str) -> None:
    """Appends the head (nothing while the chain is empty), synced to disk."""
    if head is None:
        return
    line = json.dumps({**head.as_dict(), "ledger": redact(ledger_url), "time": int(time.time())}) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> Head:
    """The last head in the file (JSON lines as written above, or ENTRIES:HASH lines)."""
    try:
        lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"cannot read the anchor file {path}: {exc}") from None
    if not lines:
        raise AnchorError(f"the anchor file {path} holds no head")
    last = lines[-1].strip()
    try:
        if last.startswith("{"):
            obj = json.loads(last)
            return Head.parse(f"{int(obj['entries'])}:{obj['hash']}")
        return Head.parse(last)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnchorError(f"the anchor file {path}: last line is not a ledger head ({exc})") from None
