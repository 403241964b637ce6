"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _find_vectors_dir() -> Path:
    """The conformance vectors: ``ASTERA_VECTORS`` when set (e.g. a larger acceptance set),
    else the public vectors shipped with the project in ``tests/vectors``."""
    env = os.environ.get("ASTERA_VECTORS")
    if env:
        return Path(env).expanduser().resolve()
    return REPO_ROOT / "tests" / "vectors"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    path = _find_vectors_dir()
    if not path.is_dir():
        # Fail loudly rather than skip: silently skipped conformance tests would hide regressions.
        pytest.fail(f"conformance vectors not found at {path} (set ASTERA_VECTORS)")
    return path
