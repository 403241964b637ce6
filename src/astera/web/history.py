"""Per-reserve history of utilization, rates and price, sampled after every block.

A block hook appends one sample per reserve (block height and time, utilization, supply
and borrow rate, oracle price) to a bounded ring, so a reserve page can chart how its
market moved; each ring keeps the last :data:`HISTORY_SAMPLES` samples.

The history comes from the node's blocks, not from its uptime: when the node starts, a
background thread replays the stored log from genesis on a scratch ledger, sampling the
genesis state and the state after each block up to the height the node started at, and
puts those samples in front of the ones the live hook took meanwhile. So a restarted node
serves the same samples as one that never stopped (:attr:`ReserveHistory.complete` is set
once the rebuild is in; until then the rings hold only the blocks since the start).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Final

from astera.core import RAY, Protocol, ProtocolError
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.node import genesis as genesis_mod
from astera.node.chain import Chain, LogItem, genesis_header, replay
from astera.node.sequencer import CommittedBlock

HISTORY_SAMPLES: Final = 2000

#: (height, timestamp, utilization, supply rate, borrow rate, price or None)
Sample = tuple[int, int, int, int, int, int | None]
Rings = dict[tuple[str, str], deque[Sample]]

log = logging.getLogger(__name__)


def _sample(pool: Pool, r: Reserve, height: int) -> Sample:
    now = pool.world.now
    cash, debt = pool.cash(r), r.debt_total_supply(now)
    try:
        price: int | None = pool.price(r)
    except ProtocolError:
        price = None
    u = debt * RAY // (cash + debt) if cash + debt else 0
    return (height, now, u, r.current_liquidity_rate, r.current_variable_borrow_rate, price)


def pool_key(p: Protocol, pool: Pool) -> str:
    return "core" if pool is p.core else str(pool.id)  # type: ignore[attr-defined]


def _sample_all(p: Protocol, height: int, rings: Rings) -> None:
    """Append the sample of every reserve of ``p`` at ``height`` to ``rings``."""
    for pool in (p.core, *p.mini_pools):
        key = pool_key(p, pool)
        for r in pool.reserves:
            ring = rings.get((key, r.asset))
            if ring is None:
                ring = rings[(key, r.asset)] = deque(maxlen=HISTORY_SAMPLES)
            ring.append(_sample(pool, r, height))


def rebuild(chain: Chain, upto: int) -> Rings:
    """The rings a node running since genesis holds after block ``upto``: the stored log
    replayed on a scratch ledger, sampled at genesis and after each block. A follower that
    started from a snapshot holds no earlier blocks: its samples start with its own blocks."""
    if chain.store.base():
        return {}
    ledger = genesis_mod.build(chain.genesis)
    rings: Rings = {}
    _sample_all(ledger.protocol, 0, rings)

    def sampled(blocks: Iterator[LogItem]) -> Iterator[LogItem]:
        for header, txs in blocks:
            yield header, txs
            _sample_all(ledger.protocol, header.height, rings)  # resumed once the block is applied

    blocks = itertools.takewhile(lambda b: b[0].height <= upto, chain.store.log(0))
    replay(ledger, chain.chain_id, genesis_header(chain.genesis, ledger), sampled(blocks), False)
    return rings


class ReserveHistory:
    """Ring buffers of samples per (pool, asset); :meth:`record` is the node's block hook."""

    def __init__(self, protocol: Callable[[], Protocol], chain: Chain) -> None:
        self.protocol = protocol
        self.rings: Rings = {}
        #: Set when the samples up to the start height (rebuilt from the log) are in.
        self.complete = threading.Event()
        self._lock = threading.Lock()
        start = chain.head.height
        threading.Thread(
            target=self._rebuild, args=(chain, start), name="astera-web-history", daemon=True
        ).start()

    def _rebuild(self, chain: Chain, upto: int) -> None:
        try:
            past = rebuild(chain, upto)
        except Exception:  # the node may be closing its store; the live samples stay
            log.exception("rebuilding the reserve history from the log failed")
            return
        with self._lock:
            for key, live in self.rings.items():
                past.setdefault(key, deque(maxlen=HISTORY_SAMPLES)).extend(live)
            self.rings = past
        self.complete.set()

    def record(self, block: CommittedBlock) -> None:
        with self._lock:
            _sample_all(self.protocol(), block.header.height, self.rings)

    def series(self, pool: str, asset: str) -> list[dict[str, Any]]:
        with self._lock:
            ring = list(self.rings.get((pool, asset), ()))
        return [
            {
                "height": h,
                "timestamp": t,
                "utilization": str(u),
                "supply_rate": str(s),
                "borrow_rate": str(b),
                "price": None if price is None else str(price),
            }
            for h, t, u, s, b, price in ring
        ]
