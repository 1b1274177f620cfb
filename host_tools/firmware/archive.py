"""The EdgeCall firmware archive: the payload of an MCUboot image.

Layout (all integers big-endian):
    magic   b"ECA1"
    u32     length of the compressed block
    block   zlib (level 9) of the entries, one after another:
              u16 name length, name (UTF-8 device path, '/'-separated, relative),
              u32 data length, data
Names are unique, sorted, and never contain '..' or start with '/'. `manifest.json` is one of the
entries (version, variant, SHA-256 of every file). Unpacking checks every length against the
buffer and the manifest hashes against the data.
"""
from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Mapping

MAGIC = b"ECA1"
MAX_NAME = 255


class ArchiveError(ValueError):
    """The archive is malformed."""


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or len(name.encode()) > MAX_NAME or name.startswith("/") or ".." in parts or "" in parts:
        raise ArchiveError(f"bad file name {name!r}")


def pack(files: Mapping[str, bytes]) -> bytes:
    out = bytearray()
    for name in sorted(files):
        _check_name(name)
        raw = name.encode()
        out += struct.pack(">H", len(raw)) + raw + struct.pack(">I", len(files[name])) + files[name]
    block = zlib.compress(bytes(out), 9)
    return MAGIC + struct.pack(">I", len(block)) + block


def unpack(data: bytes) -> dict[str, bytes]:
    if len(data) < 8 or data[:4] != MAGIC:
        raise ArchiveError("not an EdgeCall archive (bad magic)")
    (n,) = struct.unpack(">I", data[4:8])
    if 8 + n > len(data):
        raise ArchiveError("archive truncated")
    try:
        raw = zlib.decompress(data[8 : 8 + n])
    except zlib.error as e:
        raise ArchiveError(f"archive block corrupt: {e}") from None
    files: dict[str, bytes] = {}
    pos = 0
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise ArchiveError("entry header truncated")
        (ln,) = struct.unpack(">H", raw[pos : pos + 2])
        name_end = pos + 2 + ln
        if name_end + 4 > len(raw):
            raise ArchiveError("entry name truncated")
        name = raw[pos + 2 : name_end].decode("utf-8", "strict")
        _check_name(name)
        (size,) = struct.unpack(">I", raw[name_end : name_end + 4])
        end = name_end + 4 + size
        if end > len(raw):
            raise ArchiveError(f"entry {name} truncated")
        if name in files:
            raise ArchiveError(f"duplicate entry {name}")
        files[name] = raw[name_end + 4 : end]
        pos = end
    manifest = files.get("manifest.json")
    if manifest is not None:
        listed = json.loads(manifest).get("files", {})
        for name, digest in listed.items():
            if name not in files or hashlib.sha256(files[name]).hexdigest() != digest:
                raise ArchiveError(f"{name} does not match the manifest")
    return files
