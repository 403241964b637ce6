"""Whole-book views (the risk view, the shock ladder) computed off the event loop.

Scoring every borrower, or running the keeper through ten price shocks per asset, costs
from a fraction of a second to many seconds at 10,000 accounts: done on the event loop it
would stall the node. So such a view is computed in a worker thread on a copy of the state
(a pickle round trip, taken between blocks), at most once per ``min_interval`` seconds.
A reader of a ``fresh`` view waits for the newest block's result (the risk view: well under a
second); otherwise it gets the newest finished result (its ``height`` says which block it
describes) and only the very first reader waits (the shock ladder: seconds).
"""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from astera.core import Protocol
from astera.node.node import Node


class Recomputed:
    """The newest result of ``compute(copy_of_state)``, refreshed when blocks have landed."""

    def __init__(
        self, compute: Callable[[Protocol], dict[str, Any]], min_interval: float, fresh: bool
    ) -> None:
        self.compute = compute
        self.min_interval = min_interval
        #: Whether a reader waits for a recomputation of the newest block (else it gets the last result).
        self.fresh = fresh
        self.result: dict[str, Any] | None = None
        self.height = -1
        self._started = -float("inf")
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="astera-web-view")

    async def get(self, node: Node) -> dict[str, Any]:
        await node.ready()
        head = node.sequencer.head.height
        stale = head != self.height and time.monotonic() - self._started >= self.min_interval
        if self._task is None and (self.result is None or stale):
            self._start(node, head)
        if self._task is not None and (self.result is None or self.fresh):
            await asyncio.shield(self._task)
        assert self.result is not None
        return self.result

    def _start(self, node: Node, head: int) -> None:
        copy: Protocol = pickle.loads(pickle.dumps(node.chain.ledger.protocol))
        self._started = time.monotonic()
        future = asyncio.get_running_loop().run_in_executor(self._pool, self.compute, copy)
        self._task = asyncio.ensure_future(self._finish(future, head))

    async def _finish(self, future: asyncio.Future[dict[str, Any]], head: int) -> None:
        try:
            self.result = {"height": head, **(await future)}
            self.height = head
        finally:
            self._task = None
