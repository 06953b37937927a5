"""Shared test fixtures: isolated data/cache folders and the optional real-corpus samples."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: Small real-corpus samples beside the project (absent on most machines: tests skip then).
SHARED_DATA = REPO.parent / "shared" / "data"

# Keep every test run away from the user's own data root and cache.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="ser-lab-tests-"))
os.environ["SER_CACHE_DIR"] = str(_SESSION_TMP / "cache")
os.environ["SER_DATA_DIR"] = str(_SESSION_TMP / "data")


@pytest.fixture(scope="session")
def session_tmp() -> Path:
    """A temporary folder shared by the whole test session (synthetic corpora are costly)."""
    return _SESSION_TMP


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``, or skip the test when the real samples are not present."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-corpus samples not present at {SHARED_DATA}")
    return SHARED_DATA
