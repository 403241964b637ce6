"""Server-Sent Events: every committed block, with its transactions and events, to each subscriber.

Each subscriber has a bounded queue; one that falls too far behind is dropped (its
stream ends) rather than slowing the sequencer. A client that reconnects with
``Last-Event-ID`` (or ``?since=HEIGHT``) gets the blocks it missed from the store first,
read a page at a time as the client takes them (so a client that leaves stops the work),
at most ``backlog`` of them per request: then the stream ends with ``event: end`` and
``{"reason": "backlog", "resume_after": HEIGHT}``, and the client reconnects to go on.
The frames are sse-starlette's events; its response (``/stream``, :mod:`.api`) writes them and
a comment every :data:`PING_SECONDS`, so that no proxy closes a quiet stream as idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from sse_starlette import JSONServerSentEvent

QUEUE_SIZE: Final = 1024
#: Seconds between the pings of a stream (an SSE comment): proxies close a connection that
#: stays silent for about a minute (nginx's ``proxy_read_timeout`` is 60 s).
PING_SECONDS: Final = 15.0


class Broadcaster:
    """Fan-out of block messages to SSE subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        #: Closed (the node is stopping): a new subscriber is ended at once, so a follower's
        #: long poll that comes back after the close does not hold the shutdown.
        self.closed = False

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        if self.closed:
            q.put_nowait(None)
        else:
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
        self.closed = True
        for q in list(self._subscribers):
            self._subscribers.discard(q)
            while not q.empty():
                q.get_nowait()
            q.put_nowait(None)


def frame(message: dict[str, Any]) -> JSONServerSentEvent:
    """One ``block`` event: ``id`` is the block height, so reconnects resume after it."""
    return JSONServerSentEvent(message, event="block", id=str(message["height"]))


def end(reason: str, **fields: Any) -> JSONServerSentEvent:
    """The last event of a stream: the client should reconnect (with ``Last-Event-ID``)."""
    return JSONServerSentEvent({"reason": reason, **fields}, event="end")


async def stream(
    fetch: Callable[[int, int], Awaitable[list[dict[str, Any]]]],
    head: Callable[[], int],
    q: asyncio.Queue[dict[str, Any] | None],
    after: int | None,
    backlog: int,
    page: int,
) -> AsyncIterator[JSONServerSentEvent]:
    """Blocks after height ``after`` from the store (``fetch(after, n)``, a page at a time, at most
    ``backlog``), then live blocks from ``q`` (skipping any the backlog already sent).

    ``q`` must be subscribed before this starts, so no block falls between the two.
    """
    last = head() if after is None else after
    sent = 0
    while last < head():
        if sent >= backlog:
            yield end("backlog", resume_after=last)
            return
        blocks = await fetch(last, min(page, backlog - sent))
        if not blocks:
            break
        for old in blocks:
            last = old["height"]
            yield frame(old)
        sent += len(blocks)
    while True:
        message = await q.get()
        if message is None:
            yield end("closed")  # node stopping, or this client fell behind: reconnect
            return
        if message["height"] > last:
            last = message["height"]
            yield frame(message)
