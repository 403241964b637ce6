"""Leaders and followers for the follower and third-party keeper tests: a leader node served on a
loopback port (in process), a follower node driven in its own event loop thread, and a leader
double that serves a tampered copy of a real log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from astera.compose import create_app
from astera.node.chain import open_chain
from astera.node.follower import FollowerNode, open_follower
from astera.node.node import Node
from astera.node.replication import read_log
from astera.node.store import SqlStore, open_store
from astera.node.verifier import Verifier

from .node_harness import LiveApi, key


@contextmanager
def leader(
    tmp_path: Path, genesis: dict[str, Any], snapshot_every: int = 0, port: int | None = None
) -> Iterator[LiveApi]:
    """A leader node (faucet key held) served on a loopback port (``port``: that one, e.g. to
    restart it where its followers look for it)."""
    store = open_store(None, str(tmp_path / "leader"))
    node = Node(open_chain(store, genesis), snapshot_every=snapshot_every, faucet_key=key("faucet"))
    with LiveApi(create_app(node), node, port) as live:
        yield live


@contextmanager
def follower(url: str, data: Path, **kwargs: Any) -> Iterator[tuple[FollowerNode, LiveApi]]:
    """A follower of ``url`` with its store in ``data``, served on a loopback port."""
    node = open_follower(url, data, verifier=Verifier(1), **kwargs)
    with LiveApi(create_app(node), node) as live:
        yield node, live


def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Until ``condition()`` holds (polled every 20 ms; fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def wait_for(node: FollowerNode, height: int, timeout: float = 60) -> None:
    """Until ``node`` has verified block ``height`` (raises its failure if it stopped)."""
    deadline = time.monotonic() + timeout
    while node.follower.head.height < height:
        if node.follower.failure is not None:
            raise node.follower.failure
        assert time.monotonic() < deadline, f"follower at {node.follower.head.height}, not {height}"
        time.sleep(0.02)


def wait_stopped(node: FollowerNode, timeout: float = 60) -> BaseException:
    """Until ``node``'s follower has stopped; the failure that stopped it."""
    deadline = time.monotonic() + timeout
    while node.follower.failure is None:
        assert time.monotonic() < deadline, "the follower did not stop"
        time.sleep(0.02)
    return node.follower.failure


def tampered_leader(
    store: SqlStore,
    genesis: str,
    tamper: Callable[[dict[str, Any]], None],
    snapshot: Callable[[bytes], bytes] = bytes,
) -> FastAPI:
    """A leader double serving ``store``'s log through ``tamper`` (which edits a block in place)
    and its newest snapshot through ``snapshot``."""
    app = FastAPI()

    @app.get("/snapshot")
    def snapshot_() -> Response:
        found = store.latest_snapshot(1 << 62)
        assert found is not None
        height, state_hash, data = found
        headers = {"X-Astera-Height": str(height), "X-Astera-State-Hash": state_hash}
        return Response(snapshot(data), media_type="application/octet-stream", headers=headers)

    @app.get("/genesis")
    def genesis_() -> Response:
        return Response(genesis, media_type="application/json")

    @app.get("/blocks/{height}")
    def block(height: int) -> dict[str, Any]:
        blocks = read_log(store, height - 1, 1) if height > 0 else []
        if height == 0:
            header = store.header(0)
            assert header is not None
            return header.as_dict()
        tamper(blocks[0])
        return blocks[0]

    @app.get("/log")
    def log(after: int = 0, limit: int = 100, wait: float = 0) -> dict[str, Any]:
        blocks = read_log(store, after, limit)
        for b in blocks:
            tamper(b)
        head = store.head()
        return {"head": head.height if head else 0, "blocks": blocks}

    return app


class Stub:
    """What :class:`LiveApi` needs of a node, for an app that has none."""

    def end_streams(self) -> None:
        pass
