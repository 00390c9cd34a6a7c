"""Shared paths for the cost-engine tests: repo fixtures and the third-party traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.usage_fixtures import USAGE_FIXTURES

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = USAGE_FIXTURES
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_trace(relative: str) -> Path:
    """A trace under ../shared/data; fails (never skips) when it is missing."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.fail(
            f"missing real usage trace {path}: the cost tests need the third-party traces in "
            f"{SHARED_DATA} (see that folder's README.md); restore them there"
        )
    return path


def fixture(name: str) -> Path:
    """A vendor-format sample under tests/fixtures/usage."""
    return FIXTURES / name
