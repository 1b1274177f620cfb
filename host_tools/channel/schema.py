"""Field checks of incoming signalling messages: types and sizes, made before a handler changes
any state. Each check returns None when the message is acceptable, else the reason to answer.

The limits keep every answer and notification the server builds from these fields well under the
frame limit (protocol.MAX_FRAME)."""
from __future__ import annotations

from typing import Any

from host_tools.token import accesstoken2 as at

MAX_CHANNEL_BYTES = 64
MAX_UID_BYTES = at.MAX_UID_BYTES
MAX_CALL_ID_BYTES = 300  # a device's call id is its uid, the uptime in ms and a counter
MAX_CODECS = 8
MAX_CODEC_NAME = 16
MAX_NONCE_BYTES = 64


def _text(msg: dict[str, Any], key: str, max_bytes: int) -> str | None:
    v = msg.get(key)
    if not isinstance(v, str) or not v:
        return f"{key} must be non-empty text"
    if len(v) > max_bytes or len(v.encode("utf-8", "surrogatepass")) > max_bytes:
        return f"{key} is longer than {max_bytes} bytes"
    return None


def _blob(msg: dict[str, Any], key: str, max_bytes: int) -> str | None:
    v = msg.get(key)
    if not isinstance(v, bytes) or len(v) > max_bytes:
        return f"{key} must be bytes, at most {max_bytes}"
    return None


def token(msg: dict[str, Any]) -> str | None:
    v = msg.get("token")
    if not isinstance(v, str) or not v:
        return "token must be non-empty text"
    if len(v) > at.MAX_TOKEN_CHARS:
        return f"token is longer than {at.MAX_TOKEN_CHARS} characters"
    return None


def codecs(msg: dict[str, Any]) -> str | None:
    if "codecs" not in msg:
        return None
    v = msg["codecs"]
    if (not isinstance(v, list) or len(v) > MAX_CODECS
            or not all(isinstance(c, str) and 0 < len(c) <= MAX_CODEC_NAME for c in v)):
        return f"codecs must be a list of up to {MAX_CODECS} codec names"
    return None


def join(msg: dict[str, Any]) -> str | None:
    return (token(msg) or _text(msg, "channel", MAX_CHANNEL_BYTES) or _text(msg, "uid", MAX_UID_BYTES)
            or _blob(msg, "nonce", MAX_NONCE_BYTES) or _blob(msg, "proof", MAX_NONCE_BYTES) or codecs(msg))


def call(t: str, msg: dict[str, Any]) -> str | None:
    bad = _text(msg, "call", MAX_CALL_ID_BYTES)
    if bad is None and t == "invite":
        bad = _text(msg, "to", MAX_UID_BYTES)
    return bad
