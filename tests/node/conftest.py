"""Fixtures for the node tests: a store on SQLite and on PostgreSQL, an in-process API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from astera.compose import create_app
from astera.node.chain import open_chain
from astera.node.limits import Limits
from astera.node.node import Node
from astera.node.store import SqlStore, open_store

from .node_harness import fresh_pg_database, key, make_genesis

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture
def genesis_doc() -> dict[str, Any]:
    return make_genesis()


@pytest.fixture(params=STORES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the data dir) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        with fresh_pg_database() as url:
            yield url


@pytest.fixture
def open_test_store(db_url: str | None, tmp_path: Path) -> Iterator[Any]:
    """Open (and reopen) the test's store; all are closed at teardown."""
    opened: list[SqlStore] = []

    def _open() -> SqlStore:
        store = open_store(db_url, str(tmp_path / "data"))
        opened.append(store)
        return store

    yield _open
    for s in opened:
        s.close()


@pytest.fixture
def make_api(open_test_store: Any, genesis_doc: dict[str, Any]) -> Iterator[Callable[..., TestClient]]:
    """``make_api(limits=...)``: the HTTP API of a fresh node (faucet key held), in process."""
    with ExitStack() as stack:

        def _make(limits: Limits | None = None) -> TestClient:
            chain = open_chain(open_test_store(), genesis_doc)
            node = Node(chain, snapshot_every=5, faucet_key=key("faucet"), limits=limits)
            client = stack.enter_context(TestClient(create_app(node)))
            client.node = node  # type: ignore[attr-defined]
            return client

        yield _make


@pytest.fixture
def api(make_api: Callable[..., TestClient]) -> TestClient:
    """The HTTP API of a fresh node with the default limits."""
    return make_api()
