# storage.py — atomic key-value settings on the device filesystem (any backend with a filesystem).
#
# Each key is one file under /settings (cwd-relative "settings"); a write goes to a temporary
# file that is closed and then renamed over the old one, so after a power cut a key holds either
# its old or its new value, never a mix. Keys: 1 to 64 of [A-Za-z0-9_.-/].
import os

ROOT = "settings"
MAX_KEY = 64
MAX_VALUE = 4096
_OK = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/"


def _path(key):
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or any(c not in _OK for c in key):
        raise ValueError("bad key")
    if ".." in key or key.startswith("/"):
        raise ValueError("bad key")
    return ROOT + "/" + key.replace("/", "__")


def _ensure_root():
    try:
        os.mkdir(ROOT)
    except OSError:
        pass


def get(key):
    """The value (bytes) or None."""
    try:
        with open(_path(key), "rb") as f:
            return f.read()
    except OSError:
        return None


def set(key, value):
    if not isinstance(value, (bytes, bytearray)) or len(value) > MAX_VALUE:
        raise ValueError("value must be bytes of at most 4096")
    path = _path(key)
    _ensure_root()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(value)
    os.rename(tmp, path)


def delete(key):
    """True if the key existed."""
    try:
        os.remove(_path(key))
        return True
    except OSError:
        return False


def keys():
    try:
        names = os.listdir(ROOT)
    except OSError:
        return []
    return sorted(n.replace("__", "/") for n in names if not n.endswith(".tmp"))
