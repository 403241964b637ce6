"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
#: Listed by the time one of their test items takes, longest first: the suite runs them in this
#: order, before every other test, one item at a time per xdist worker (see the scheduler below).
SLOW_MODULES = (
    "test_invariants_minipool.py",
    "test_invariants_core.py",
    "test_browser.py",
    "test_node_process.py",
    "test_openapi_fuzz.py",
    "test_follower_restart.py",
    "test_remote_keeper.py",
    "test_replay_fuzz.py",
    "test_follower.py",
    "test_cli.py",
    "test_lab.py",
    "test_lab_books.py",
    "test_cli_smoke.py",
)


def _module(nodeid: str) -> str:
    """The file name of a test's module, from its node id."""
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow modules' items, and run them first (a stable sort: any other order kept)."""
    rank = {name: i for i, name in enumerate(SLOW_MODULES)}
    for item in items:
        if item.path.name in rank:
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_MODULES)))


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: also runs without xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N`` (xdist's ``load`` distribution) hands out the slow items one at a time."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScheduling

    class SlowFirst(LoadScheduling):
        """Longest-first list scheduling for the slow items, xdist's own chunks for the rest.

        xdist's ``load`` sends each worker a run of consecutive items up front: a minute of
        Hypothesis state machine parts would all go to one worker while the other one idles.
        While the next pending item is a slow module's, a worker gets one more only when it runs
        low (it always holds two: the one it runs and the next), so the long items spread over
        the workers; the many short items that follow fill in their ends in the usual chunks.
        """

        def _chunk(self) -> int:
            assert self.collection is not None
            slow = self.pending and _module(self.collection[self.pending[0]]) in SLOW_MODULES
            return 1 if slow else len(self.collection)

        def schedule(self) -> None:
            if self.collection is None and self._check_nodes_have_same_collection():
                first = next(iter(self.node2collection.values()))
                self.maxschedchunk = 1 if first and _module(first[0]) in SLOW_MODULES else None
            super().schedule()

        def check_schedule(self, node: Any, duration: float = 0) -> None:
            self.maxschedchunk = self._chunk()
            super().check_schedule(node, duration)

    return SlowFirst(config, log)
