"""Well-known paths of the project: its root, build outputs, and the shared test data beside it."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
SHARED = ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"
NATIVE = ROOT / "native_codec"
NATIVE_SRC = NATIVE / "src"
NATIVE_INCLUDE = NATIVE / "include"
