# provision.py — the device's provisioning record: app id, channel, uid, token, expiry, kept as
# one CBOR value under the storage key "prov/record" (hal.storage writes are atomic: after a
# power cut the device holds the old record or the new one, never a mix).
#   state()  -> {"state": "empty"} or {"state": "provisioned", "digest", "app_id", "channel", "uid", "expires"}
#   store(record, reprovision) -> digest; refuses to replace a record unless reprovision is set
#   token()  -> the token, for joining a channel (never sent over the console)
#   is_secret(name) -> True for a storage key the console's settings group must not touch
#
# SECRET_PREFIXES is the one list of secret storage keys: the provisioning record ("prov/") and
# any other credential the application keeps ("secret/"). hal.storage files a key under its name
# with "/" written "__", so "prov__record" is the same file as "prov/record": names are compared
# in that stored form.
import hashlib
import binascii

import hal
from edgecall import cbor, log

KEY = "prov/record"
SECRET_PREFIXES = ("prov/", "secret/")
FIELDS = ("app_id", "channel", "uid", "token", "expires")


class Refused(Exception):
    pass


def _stored(name):
    return name.replace("/", "__")


def is_secret(name):
    """True if `name` (any value a request carries) reaches a secret key's storage file."""
    if not isinstance(name, str):
        return False
    stored = _stored(name)
    for prefix in SECRET_PREFIXES:
        if stored.startswith(_stored(prefix)):
            return True
    return False


def _load():
    raw = hal.part("storage").get(KEY)
    if raw is None:
        return None
    try:
        rec = cbor.decode(raw)
    except ValueError:
        log.error("provisioning record unreadable")
        return None
    return rec if isinstance(rec, dict) else None


def digest(token):
    return binascii.hexlify(hashlib.sha256(token.encode()).digest()).decode()


def state():
    rec = _load()
    if rec is None:
        return {"state": "empty"}
    out = {"state": "provisioned", "digest": digest(rec["token"])}
    for k in ("app_id", "channel", "uid", "expires"):
        out[k] = rec[k]
    return out


def validate(rec):
    if not isinstance(rec, dict):
        raise ValueError("record must be a map")
    for k in FIELDS:
        if k not in rec:
            raise ValueError("record lacks " + k)
    for k in ("app_id", "channel", "uid", "token"):
        if not isinstance(rec[k], str) or len(rec[k]) > 512:
            raise ValueError(k + " must be text")
    if not isinstance(rec["expires"], int) or not rec["token"].startswith("007"):
        raise ValueError("bad expiry or token")
    return {k: rec[k] for k in FIELDS}


def store(rec, reprovision=False, renew=False):
    rec = validate(rec)
    old = _load()
    if old is not None and not reprovision:
        same = all(old[k] == rec[k] for k in ("app_id", "channel", "uid"))
        if not (renew and same):
            raise Refused("already provisioned")
    hal.part("storage").set(KEY, cbor.encode(rec))
    log.info("provisioned %s/%s (%s)" % (rec["channel"], rec["uid"], "renew" if renew else "new" if old is None else "re-provision"))
    return digest(rec["token"])


def token():
    rec = _load()
    return None if rec is None else rec["token"]
