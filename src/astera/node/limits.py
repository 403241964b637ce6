"""What one client may cost the node: body sizes, open streams, stream backlogs, faucet use.

Every bound is a field of :class:`Limits` (``astera serve`` options set the faucet's); the
defaults suit a public test network on a small machine. A client is its IP address as
the server sees it (behind a proxy, that is the proxy's).

The faucet gives one address at most the genesis ``faucet_limits`` of each asset per
window (so twenty requests in a row get what one request could), and one client makes
at most ``faucet_requests_per_client`` requests per window, whatever the addresses.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from starlette.requests import Request

from .errors import NodeError


@dataclass(frozen=True)
class Limits:
    """The node's per-request and per-client bounds (see the module docstring)."""

    #: Largest request body, on every route (refused from ``Content-Length`` or while reading).
    max_body_bytes: int = 64 * 1024
    #: Server-Sent Event streams one client may hold open at once.
    streams_per_client: int = 4
    #: Old blocks one ``/stream`` request replays; past that the stream ends and the client
    #: resumes with ``Last-Event-ID`` (an EventSource does so by itself).
    stream_backlog_blocks: int = 1000
    #: Old blocks read from the store at a time while replaying a backlog.
    stream_page_blocks: int = 20
    #: The faucet's accounting window.
    faucet_window_seconds: int = 86_400
    #: Faucet requests one client may make per window.
    faucet_requests_per_client: int = 20


class SlidingWindow:
    """Amounts recorded per key over the last ``seconds`` (older records are forgotten)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._log: dict[Hashable, deque[tuple[float, int]]] = {}
        self._adds = 0

    def used(self, key: Hashable) -> int:
        """What ``key`` recorded within the window."""
        entries = self._log.get(key)
        if entries is None:
            return 0
        self._expire(key, entries, self.clock())
        return sum(amount for _, amount in entries)

    def add(self, key: Hashable, amount: int) -> None:
        self._log.setdefault(key, deque()).append((self.clock(), amount))
        self._adds += 1
        if self._adds % 1024 == 0:  # forget keys that went quiet, so memory stays bounded
            now = self.clock()
            for k, entries in list(self._log.items()):
                self._expire(k, entries, now)

    def remove(self, key: Hashable, amount: int) -> None:
        """Take back a record (what was reserved but not given)."""
        entries = self._log.get(key)
        if entries:
            for i in range(len(entries) - 1, -1, -1):
                if entries[i][1] == amount:
                    del entries[i]
                    break
            if not entries:
                del self._log[key]

    def _expire(self, key: Hashable, entries: deque[tuple[float, int]], now: float) -> None:
        while entries and entries[0][0] <= now - self.seconds:
            entries.popleft()
        if not entries:
            del self._log[key]


class Slots:
    """At most ``per_client`` concurrent holders per client; :meth:`acquire` or ``rate_limited``."""

    def __init__(self, per_client: int, what: str) -> None:
        self.per_client = per_client
        self.what = what
        self._open: Counter[str] = Counter()

    def acquire(self, client: str) -> Callable[[], None]:
        """Take a slot; the returned function gives it back (calling it again does nothing)."""
        if self._open[client] >= self.per_client:
            raise NodeError(
                "rate_limited",
                f"at most {self.per_client} {self.what} per client; close one first",
                limit=self.per_client,
            )
        self._open[client] += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._open[client] -= 1
                if not self._open[client]:
                    del self._open[client]

        return release

    def held(self, client: str) -> int:
        return self._open[client]


def client_of(request: Request) -> str:
    """The client a per-client limit counts (its IP address as the server sees it)."""
    return request.client.host if request.client is not None else "unknown"
