"""AccessToken2-compatible tokens: "007" + base64(zlib(signature + signing info)), HMAC-SHA256.

Binary layout (all integers little-endian; a string is a uint16 length then its bytes; a map is a
uint16 count then uint16 key / uint32 value pairs):
    content      = string(signature) + signing_info
    signing_info = string(app_id) + uint32 issue_ts + uint32 expire + uint32 salt
                   + uint16 service_count + services (each: uint16 type + map privileges + fields)
    RTC fields   = string(channel_name) + string(uid)     (uid 0 is carried as the empty string)
    signing key  = HMAC(uint32 salt, HMAC(uint32 issue_ts, app_certificate))
    signature    = HMAC(signing key, signing_info)
`expire` and each privilege's value are seconds after `issue_ts`; 0 means "never" for a privilege.
This module never logs or embeds the app certificate; errors name what is wrong, not the secret.

Parsing is bounded, so a token cannot buy much work before it is refused: the token string is at
most MAX_TOKEN_CHARS, it is inflated incrementally up to MAX_INFLATED bytes (more is refused
without inflating further), at most MAX_SERVICES services of at most MAX_PRIVILEGES privileges.
`verify` checks the signature over the signed bytes as they came, before parsing the services.

Uids: a numeric uid is carried in canonical form only (ASCII digits, no leading zero, at most
2**32 - 1); any other string ("07", "٧", "4294967296") is an account name, compared as it is.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field

VERSION = "007"
SERVICE_RTC = 1
PRIVILEGES = {"join": 1, "publish-audio": 2, "publish-video": 3, "publish-data": 4}
PRIVILEGE_NAMES = {v: k for k, v in PRIVILEGES.items()}
MAX_UINT32 = 0xFFFFFFFF
# Bounds of what parse() accepts. The largest token build() makes (one service, the four
# privileges, a 64-byte channel, a 255-byte uid) inflates to 433 bytes and encodes to < 800 chars.
MAX_TOKEN_CHARS = 6144
MAX_INFLATED = 4096
MAX_SERVICES = 8
MAX_PRIVILEGES = 16
MAX_UID_BYTES = 255


class TokenError(ValueError):
    """A token that does not parse, or arguments that cannot make one."""


@dataclass(frozen=True)
class RtcService:
    channel_name: str
    uid: str  # decimal string for numeric uids, "" for uid 0, or an account name
    privileges: dict[int, int] = field(default_factory=dict)  # privilege id -> seconds after issue


@dataclass(frozen=True)
class Token:
    app_id: str
    issue_ts: int
    expire: int
    salt: int
    services: tuple[RtcService, ...]
    signature: bytes = b""

    def expires_at(self) -> int:
        return self.issue_ts + self.expire

    def privilege_expires_at(self, privilege: int) -> int | None:
        """Absolute expiry of a privilege of the RTC service; None if not granted."""
        for s in self.services:
            if privilege in s.privileges:
                ttl = s.privileges[privilege]
                return None if ttl == 0 else self.issue_ts + ttl
        return None


def is_numeric_uid(uid: str) -> bool:
    """True for a uid in canonical numeric form: ASCII digits, no leading zero, within 32 bits."""
    if not uid or len(uid) > 10 or not all("0" <= c <= "9" for c in uid):
        return False
    return (uid == "0" or uid[0] != "0") and int(uid) <= MAX_UINT32


def uid_field(uid: int | str) -> str:
    """The uid as carried in a token: numbers as decimal, 0 as the empty string; a string that is
    not a canonical number is an account name (1 to 255 bytes of UTF-8), kept as it is."""
    if isinstance(uid, bool) or not isinstance(uid, (int, str)):
        raise TokenError("uid must be a number or an account name")
    if isinstance(uid, int):
        if not 0 <= uid <= MAX_UINT32:
            raise TokenError(f"uid must be 0..{MAX_UINT32}, got {uid}")
        return "" if uid == 0 else str(uid)
    if is_numeric_uid(uid):
        return uid_field(int(uid))
    try:
        size = len(uid.encode())
    except UnicodeEncodeError:
        raise TokenError("uid account is not valid text") from None
    if not 1 <= size <= MAX_UID_BYTES:
        raise TokenError(f"uid account must be 1 to {MAX_UID_BYTES} bytes")
    return uid


def _u16(v: int) -> bytes:
    return struct.pack("<H", v)


def _u32(v: int) -> bytes:
    if not 0 <= v <= MAX_UINT32:
        raise TokenError(f"value {v} does not fit in 32 bits")
    return struct.pack("<I", v)


def _string(b: bytes) -> bytes:
    if len(b) > 0xFFFF:
        raise TokenError("string longer than 65535 bytes")
    return _u16(len(b)) + b


def _pack_service(s: RtcService) -> bytes:
    privs = sorted(s.privileges.items())
    out = _u16(SERVICE_RTC) + _u16(len(privs)) + b"".join(_u16(k) + _u32(v) for k, v in privs)
    return out + _string(s.channel_name.encode()) + _string(s.uid.encode())


def _signing_info(t: Token) -> bytes:
    head = _string(t.app_id.encode()) + _u32(t.issue_ts) + _u32(t.expire) + _u32(t.salt) + _u16(len(t.services))
    return head + b"".join(_pack_service(s) for s in t.services)


def _signing_key(app_certificate: bytes, issue_ts: int, salt: int) -> bytes:
    k = hmac.new(_u32(issue_ts), app_certificate, hashlib.sha256).digest()
    return hmac.new(_u32(salt), k, hashlib.sha256).digest()


def _check_app_id(app_id: str) -> None:
    if len(app_id) != 32 or not all(c in "0123456789abcdefABCDEF" for c in app_id):
        raise TokenError("app id must be 32 hexadecimal characters")


def build(
    app_id: str,
    app_certificate: bytes,
    channel: str,
    uid: int | str,
    ttl: int,
    privileges: dict[int, int] | None = None,
    salt: int | None = None,
    issue_ts: int | None = None,
) -> str:
    """Builds an RTC token. `privileges` maps privilege ids to seconds after issue (default:
    join and the three publish privileges for `ttl`)."""
    _check_app_id(app_id)
    if len(app_certificate) != 32:
        raise TokenError("app certificate must be 32 characters")
    if ttl <= 0:
        raise TokenError("ttl must be a positive number of seconds")
    if not channel or len(channel.encode()) > 64:
        raise TokenError("channel name must be 1 to 64 bytes")
    privs = dict(privileges) if privileges is not None else {p: ttl for p in PRIVILEGES.values()}
    for p in privs:
        if p not in PRIVILEGE_NAMES:
            raise TokenError(f"unknown RTC privilege id {p}")
    t = Token(
        app_id=app_id,
        issue_ts=int(time.time()) if issue_ts is None else issue_ts,
        expire=ttl,
        salt=secrets.randbelow(99_999_999) + 1 if salt is None else salt,
        services=(RtcService(channel, uid_field(uid), privs),),
    )
    info = _signing_info(t)
    signature = hmac.new(_signing_key(app_certificate, t.issue_ts, t.salt), info, hashlib.sha256).digest()
    return VERSION + base64.b64encode(zlib.compress(_string(signature) + info)).decode()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise TokenError("token is truncated")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.u16())


def _inflate(token: str) -> bytes:
    """The token's binary content; TokenError when it is not one, or too large (checked before
    decoding, and while inflating: at most MAX_INFLATED bytes are ever produced)."""
    if not isinstance(token, str) or not token.startswith(VERSION):
        raise TokenError(f"not an AccessToken2 token (expected the version prefix {VERSION})")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"token is too long ({len(token)} characters; at most {MAX_TOKEN_CHARS})")
    try:
        body = base64.b64decode(token[len(VERSION) :], validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(body, MAX_INFLATED + 1)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise TokenError(f"token body is not base64 of zlib data: {exc}") from None
    if len(raw) > MAX_INFLATED:
        raise TokenError(f"token content is too large (inflates past {MAX_INFLATED} bytes)")
    if not inflater.eof:
        raise TokenError("token body is not base64 of zlib data: the zlib stream is incomplete")
    if inflater.unused_data:
        raise TokenError("token body has bytes after its zlib stream")
    return raw


@dataclass(frozen=True)
class _Head:
    signature: bytes
    signed: bytes  # signing_info as it came: what the signature covers
    app_id: str
    issue_ts: int
    expire: int
    salt: int


def _head(raw: bytes) -> tuple[_Head, _Reader]:
    """Signature, app id, times and salt; the reader stands at the service count."""
    r = _Reader(raw)
    signature = r.string()
    signed_from = r.pos
    try:
        app_id = r.string().decode()
    except UnicodeDecodeError:
        raise TokenError("app id is not text") from None
    issue_ts, expire, salt = r.u32(), r.u32(), r.u32()
    return _Head(signature, raw[signed_from:], app_id, issue_ts, expire, salt), r


def _services(r: _Reader) -> tuple[RtcService, ...]:
    count = r.u16()
    if count > MAX_SERVICES:
        raise TokenError(f"token has {count} services; at most {MAX_SERVICES}")
    services = []
    for _ in range(count):
        stype = r.u16()
        if stype != SERVICE_RTC:
            raise TokenError(f"service type {stype} is not supported (only RTC, 1)")
        n = r.u16()
        if n > MAX_PRIVILEGES:
            raise TokenError(f"a service has {n} privileges; at most {MAX_PRIVILEGES}")
        privs: dict[int, int] = {}
        for _ in range(n):
            k = r.u16()
            if k in privs:
                raise TokenError(f"privilege {k} appears twice")
            privs[k] = r.u32()
        try:
            services.append(RtcService(r.string().decode(), r.string().decode(), privs))
        except UnicodeDecodeError:
            raise TokenError("channel or uid is not text") from None
    if r.pos != len(r.data):
        raise TokenError(f"{len(r.data) - r.pos} unexpected bytes after the services")
    return tuple(services)


def _token(head: _Head, r: _Reader) -> Token:
    services = _services(r)
    if len(head.signature) != 32:
        raise TokenError("signature is not 32 bytes")
    return Token(head.app_id, head.issue_ts, head.expire, head.salt, services, head.signature)


def parse(token: str) -> Token:
    """Parses a token without verifying it (bounded; see the module's docstring). TokenError says
    what is malformed."""
    head, r = _head(_inflate(token))
    return _token(head, r)


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str  # "ok", "bad signature", "expired", "privilege expired", ...
    token: Token | None = None  # the parsed token when valid


def verify(token: str, app_certificate: bytes, now: int | None = None, app_id: str | None = None,
           channel: str | None = None, uid: int | str | None = None, privilege: int | None = None) -> Verdict:
    """Checks signature, expiry and, when given, app id, channel, uid and a privilege. The
    signature is checked over the signed bytes before the services are parsed."""
    try:
        head, r = _head(_inflate(token))
    except TokenError as exc:
        return Verdict(False, f"malformed: {exc}")
    expected = hmac.new(_signing_key(app_certificate, head.issue_ts, head.salt), head.signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, head.signature):
        return Verdict(False, "bad signature (wrong app certificate, or the token was altered)")
    try:
        t = _token(head, r)
    except TokenError as exc:
        return Verdict(False, f"malformed: {exc}")
    now = int(time.time()) if now is None else now
    if app_id is not None and t.app_id != app_id:
        return Verdict(False, "token is for another app id")
    if now >= t.expires_at():
        return Verdict(False, "expired")
    svc = t.services[0] if t.services else None
    if svc is None:
        return Verdict(False, "token has no RTC service")
    if channel is not None and svc.channel_name != channel:
        return Verdict(False, "token is for another channel")
    if uid is not None:
        try:
            wanted = uid_field(uid)
        except TokenError as exc:
            return Verdict(False, f"bad uid: {exc}")
        if svc.uid != wanted:
            return Verdict(False, "token is for another uid")
    if privilege is not None:
        if privilege not in svc.privileges:
            return Verdict(False, f"privilege {PRIVILEGE_NAMES.get(privilege, privilege)} not granted")
        at = t.privilege_expires_at(privilege)
        if at is not None and now >= at:
            return Verdict(False, f"privilege {PRIVILEGE_NAMES.get(privilege, privilege)} expired")
    return Verdict(True, "ok", t)


def token_hash(token: str) -> str:
    """The digest a ledger stores instead of the token (SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()
