"""Per-reserve history of utilization, rates and price, sampled after every block.

A block hook appends one sample per reserve (block height and time, utilization, supply
and borrow rate, oracle price) to a bounded ring, so a reserve page can chart how its
market moved. The ring starts when the node starts (from its current state) and keeps
the last :data:`HISTORY_SAMPLES` blocks that changed anything.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from astera.core import RAY, Protocol, ProtocolError
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.node.sequencer import CommittedBlock

HISTORY_SAMPLES: Final = 2000

#: (height, timestamp, utilization, supply rate, borrow rate, price or None)
Sample = tuple[int, int, int, int, int, int | None]


def _sample(pool: Pool, r: Reserve, height: int) -> Sample:
    now = pool.proto.now
    cash, debt = pool.cash(r), r.debt_total_supply(now)
    try:
        price: int | None = pool.price(r)
    except ProtocolError:
        price = None
    u = debt * RAY // (cash + debt) if cash + debt else 0
    return (height, now, u, r.current_liquidity_rate, r.current_variable_borrow_rate, price)


def pool_key(p: Protocol, pool: Pool) -> str:
    return "core" if pool is p.core else str(pool.id)  # type: ignore[attr-defined]


class ReserveHistory:
    """Ring buffers of samples per (pool, asset); :meth:`record` is the node's block hook."""

    def __init__(self, protocol: Callable[[], Protocol], height: int) -> None:
        self.protocol = protocol
        self.rings: dict[tuple[str, str], deque[Sample]] = {}
        self._sample_all(height)

    def _sample_all(self, height: int) -> None:
        p = self.protocol()
        for pool in (p.core, *p.mini_pools):
            key = pool_key(p, pool)
            for r in pool.reserves:
                ring = self.rings.get((key, r.asset))
                if ring is None:
                    ring = self.rings[(key, r.asset)] = deque(maxlen=HISTORY_SAMPLES)
                ring.append(_sample(pool, r, height))

    def record(self, block: CommittedBlock) -> None:
        self._sample_all(block.header.height)

    def series(self, pool: str, asset: str) -> list[dict[str, Any]]:
        return [
            {
                "height": h,
                "timestamp": t,
                "utilization": str(u),
                "supply_rate": str(s),
                "borrow_rate": str(b),
                "price": None if price is None else str(price),
            }
            for h, t, u, s, b, price in self.rings.get((pool, asset), ())
        ]
