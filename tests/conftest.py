"""Shared fixtures: the project on sys.path, the host build of native_codec, the shared test data."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from host_tools import bootstrap  # noqa: E402
from host_tools.paths import TESTDATA  # noqa: E402

bootstrap.ensure_all()


@pytest.fixture(scope="session")
def testdata() -> Path:
    """../shared/testdata; tests that need it skip with the reason when it is absent."""
    if not TESTDATA.is_dir():
        pytest.skip(f"shared test data not found at {TESTDATA} (clone the project beside ../shared)")
    return TESTDATA
