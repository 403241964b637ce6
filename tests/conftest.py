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


#: Modules whose tests start processes, browsers or clusters, or run the Hypothesis state
#: machines and fuzzers: ``make test`` (CI) runs them, ``make test-fast`` leaves them out.
SLOW_MODULES = frozenset(
    {
        "test_invariants_core.py",
        "test_invariants_minipool.py",
        "test_replay_fuzz.py",
        "test_node_process.py",
        "test_follower.py",
        "test_follower_restart.py",
        "test_cli.py",
        "test_cli_smoke.py",
        "test_browser.py",
        "test_lab.py",
        "test_lab_books.py",
        "test_remote_keeper.py",
        "test_openapi_fuzz.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
