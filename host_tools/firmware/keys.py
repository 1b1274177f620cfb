"""Image signing keys: generation with imgtool, the default development key, public-key export.

Keys are PEM files (imgtool's format): Ed25519 (default) or ECDSA P-256. The default development
key build/keys/dev-ed25519.pem is created on first use; the public key goes into each virtual
devkit's bootloader config (host_tools/sim/bootloader) as a board's MCUboot has it built in.
Private keys are read from files only and never printed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from host_tools.paths import BUILD

KEY_DIR = BUILD / "keys"
DEV_KEY = KEY_DIR / "dev-ed25519.pem"
KEY_TYPES = {"ed25519": "ed25519", "ecdsa-p256": "ecdsa-p256"}


class KeyError_(RuntimeError):
    """A key could not be generated or read."""


def imgtool_cmd() -> list[str]:
    return [sys.executable, "-c", "import sys; from imgtool.main import imgtool; sys.argv[0] = 'imgtool'; imgtool()"]


def generate(path: Path, key_type: str = "ed25519", overwrite: bool = False) -> Path:
    """Writes a new private key (PEM, mode 0600) with `imgtool keygen`; refuses to overwrite."""
    if key_type not in KEY_TYPES:
        raise KeyError_(f"unknown key type {key_type!r} (one of {', '.join(KEY_TYPES)})")
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeyError_(f"{path} exists; pick another file or remove it first")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    proc = subprocess.run([*imgtool_cmd(), "keygen", "-k", str(tmp), "-t", KEY_TYPES[key_type]],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise KeyError_(f"imgtool keygen failed: {proc.stderr.strip() or proc.stdout.strip()}")
    os.chmod(tmp, 0o600)
    if overwrite:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)  # atomic create-if-absent: two first uses race safely
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return path


def dev_key() -> Path:
    """The default development signing key, created on first use."""
    if not DEV_KEY.exists():
        generate(DEV_KEY, "ed25519")
    return DEV_KEY


def load_public(path: Path) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    data = Path(path).read_bytes()
    try:
        priv = serialization.load_pem_private_key(data, password=None)
        pub = priv.public_key()
    except (ValueError, TypeError):
        pub = serialization.load_pem_public_key(data)
    if not isinstance(pub, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
        raise KeyError_(f"{path}: only Ed25519 and ECDSA P-256 keys are supported")
    return pub


def public_der(path: Path) -> bytes:
    """SubjectPublicKeyInfo DER: what MCUboot embeds and what imgtool's KEYHASH TLV hashes."""
    return load_public(path).public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def public_pem(path: Path) -> str:
    return load_public(path).public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_hash(path: Path) -> str:
    return hashlib.sha256(public_der(path)).hexdigest()


def key_type(path: Path) -> str:
    return "ed25519" if isinstance(load_public(path), ed25519.Ed25519PublicKey) else "ecdsa-p256"
