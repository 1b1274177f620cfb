"""The MCUboot image format: parsing and verification (what a bootloader checks before boot).

image = header (32 bytes, padded to hdr_size) + payload (img_size) + [protected TLV area] + TLV area
header: magic 0x96f3b83d, load_addr, hdr_size u16, protect_tlv_size u16, img_size u32, flags u32,
        version (major u8, minor u8, revision u16, build u32), pad u32 — little-endian
TLV area: info (magic 0x6907, total length u16) then entries (type u16, length u16, value).
Checked: magic, sizes, SHA-256 TLV over header+payload+protected TLVs, KEYHASH TLV equals
SHA-256 of the bootloader's public key (SubjectPublicKeyInfo DER), and the signature TLV:
Ed25519 over the SHA-256 digest (imgtool's default) or ECDSA P-256/SHA-256 over the hashed region.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

IMAGE_MAGIC = 0x96F3B83D
TLV_INFO_MAGIC = 0x6907
TLV_PROT_INFO_MAGIC = 0x6908
HEADER = struct.Struct("<IIHHIIBBHII")
TLV_KEYHASH, TLV_SHA256, TLV_ECDSA_SIG, TLV_ED25519 = 0x01, 0x10, 0x22, 0x24


class InvalidImage(ValueError):
    """The image fails a check; `kind` is one of header, truncated, hash, key, signature."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    revision: int
    build: int

    def key(self) -> tuple[int, int, int, int]:
        return (self.major, self.minor, self.revision, self.build)

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.revision}"
        return s + (f"+{self.build}" if self.build else "")

    @staticmethod
    def parse(text: str) -> Version:
        main, _, build = text.partition("+")
        parts = main.split(".")
        if not 1 <= len(parts) <= 3 or not all(p.isdigit() for p in parts) or (build and not build.isdigit()):
            raise ValueError(f"bad version {text!r} (X.Y.Z or X.Y.Z+BUILD)")
        nums = [int(p) for p in parts] + [0] * (3 - len(parts))
        v = Version(nums[0], nums[1], nums[2], int(build or 0))
        if v.major > 255 or v.minor > 255 or v.revision > 65535 or v.build > 0xFFFFFFFF:
            raise ValueError(f"version {text!r} out of range (255.255.65535+4294967295)")
        return v


@dataclass(frozen=True)
class Image:
    version: Version
    hdr_size: int
    img_size: int
    protect_tlv_size: int
    tlvs: dict[int, bytes]
    hashed: bytes  # header + payload + protected TLVs: what SHA-256 and the signature cover
    total_size: int

    @property
    def hash(self) -> bytes:
        """The image hash MCUmgr reports (the SHA-256 TLV)."""
        return self.tlvs.get(TLV_SHA256, b"")

    @property
    def payload(self) -> bytes:
        return self.hashed[self.hdr_size : self.hdr_size + self.img_size]


def parse(data: bytes) -> Image:
    """Structure only (no hash or signature check)."""
    if len(data) < HEADER.size:
        raise InvalidImage("truncated", "image shorter than an MCUboot header")
    magic, _load, hdr_size, prot, img_size, _flags, vmaj, vmin, vrev, vbuild, _pad = HEADER.unpack_from(data)
    if magic != IMAGE_MAGIC:
        raise InvalidImage("header", f"bad image magic {magic:#010x} (not an MCUboot image)")
    if hdr_size < HEADER.size:
        raise InvalidImage("header", "header size below 32")
    end = hdr_size + img_size + prot
    if end + 4 > len(data):
        raise InvalidImage("truncated", f"image truncated: {len(data)} bytes, header promises more than {end}")
    tlvs: dict[int, bytes] = {}
    pos = hdr_size + img_size
    if prot:
        pmagic, plen = struct.unpack_from("<HH", data, pos)
        if pmagic != TLV_PROT_INFO_MAGIC or plen != prot:
            raise InvalidImage("header", "bad protected TLV area")
        _read_tlvs(data, pos + 4, pos + plen, tlvs)
        pos += plen
    magic2, tot = struct.unpack_from("<HH", data, pos)
    if magic2 != TLV_INFO_MAGIC:
        raise InvalidImage("header", "bad TLV info magic")
    if pos + tot > len(data):
        raise InvalidImage("truncated", "TLV area truncated")
    _read_tlvs(data, pos + 4, pos + tot, tlvs)
    return Image(Version(vmaj, vmin, vrev, vbuild), hdr_size, img_size, prot, tlvs,
                 bytes(data[: hdr_size + img_size + prot]), pos + tot)


def _read_tlvs(data: bytes, pos: int, end: int, out: dict[int, bytes]) -> None:
    while pos < end:
        if pos + 4 > end:
            raise InvalidImage("header", "TLV entry truncated")
        kind, length = struct.unpack_from("<HH", data, pos)
        if pos + 4 + length > end:
            raise InvalidImage("header", "TLV value runs past its area")
        out.setdefault(kind, bytes(data[pos + 4 : pos + 4 + length]))
        pos += 4 + length


def verify(data: bytes, public_der: bytes) -> Image:
    """Parses and checks hash, key hash and signature against the bootloader's key."""
    img = parse(data)
    digest = hashlib.sha256(img.hashed).digest()
    if img.tlvs.get(TLV_SHA256) != digest:
        raise InvalidImage("hash", "image hash mismatch (the image is corrupt)")
    if img.tlvs.get(TLV_KEYHASH) != hashlib.sha256(public_der).digest():
        raise InvalidImage("key", "image signed with a key this bootloader does not trust")
    pub = serialization.load_der_public_key(public_der)
    try:
        if isinstance(pub, ed25519.Ed25519PublicKey):
            sig = img.tlvs.get(TLV_ED25519)
            if sig is None:
                raise InvalidImage("signature", "no Ed25519 signature TLV")
            pub.verify(sig, digest)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            sig = img.tlvs.get(TLV_ECDSA_SIG)
            if sig is None:
                raise InvalidImage("signature", "no ECDSA signature TLV")
            der = sig[: sig[1] + 2] if len(sig) > 2 else sig  # imgtool may pad the DER signature with zeros
            pub.verify(der, img.hashed, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidImage("key", "unsupported public key type")
    except InvalidSignature:
        raise InvalidImage("signature", "signature rejected") from None
    return img
