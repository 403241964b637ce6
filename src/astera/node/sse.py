"""Server-Sent Events: every committed block, with its transactions and events, to each subscriber.

Each subscriber has a bounded queue; one that falls too far behind is dropped (its
stream ends) rather than slowing the sequencer. A client that reconnects with
``Last-Event-ID`` (or ``?since=HEIGHT``) gets the blocks it missed from the store first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Final

QUEUE_SIZE: Final = 1024
KEEPALIVE_SECONDS: Final = 15.0


class Broadcaster:
    """Fan-out of block messages to SSE subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._subscribers.discard(q)

    def publish(self, message: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                self._subscribers.discard(q)
                q.get_nowait()
                q.put_nowait(None)  # ends the stream

    def close(self) -> None:
        for q in list(self._subscribers):
            self._subscribers.discard(q)
            while not q.empty():
                q.get_nowait()
            q.put_nowait(None)


def frame(message: dict[str, Any]) -> str:
    """One SSE frame: ``id`` is the block height, so reconnects resume after it."""
    return f"id: {message['height']}\nevent: block\ndata: {json.dumps(message, separators=(',', ':'))}\n\n"


async def stream(
    backlog: list[dict[str, Any]], q: asyncio.Queue[dict[str, Any] | None], after: int
) -> AsyncIterator[str]:
    """Backlog first, then live blocks (skipping any the backlog already sent)."""
    last = after
    for old in backlog:
        last = old["height"]
        yield frame(old)
    while True:
        try:
            message: dict[str, Any] | None = await asyncio.wait_for(q.get(), KEEPALIVE_SECONDS)
        except TimeoutError:
            yield ": keepalive\n\n"
            continue
        if message is None:
            yield "event: end\ndata: {}\n\n"  # node stopping, or this client fell behind: reconnect
            return
        if message["height"] > last:
            last = message["height"]
            yield frame(message)
