"""A reserve's interest-rate curve as it stands now: borrow and supply rate per utilization.

Each point runs the reserve's own strategy (a copy, so a PI controller's state is not
advanced) through the pool's own rate adjustment (a Mini-Pool's floor while it owes the
Core), on a cash/debt split with that utilization, at the current block time. For a PI
controller this is the curve the controller would apply if utilization jumped there now.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from astera.core import RAY, MiniPool
from astera.core.pool import Pool
from astera.core.rates import PIRateStrategy, min_liquidity_rate
from astera.core.reserve import Reserve

#: Utilization steps of a curve (0 %, 1 %, ..., 100 %).
CURVE_POINTS: Final = 101
#: Size of the hypothetical reserve the curve is drawn on (large, so rounding is negligible).
CURVE_SCALE: Final = 10**30


def rates_at(pool: Pool, r: Reserve, utilization: int) -> tuple[int, int]:
    """(supply rate, borrow rate), ray per year, at ``utilization`` (ray) now."""
    debt = utilization * CURVE_SCALE // RAY
    strategy = copy.copy(r.strategy)
    liquidity, borrow, u = strategy.calculate(
        CURVE_SCALE - debt, 0, 0, debt, pool.total_reserve_factor(r), pool.world.now
    )
    return pool.rate_adjust(r, liquidity, borrow, u)


def owed_to_core(pool: Pool, r: Reserve) -> int:
    """What the Mini-Pool owning tranche ``r`` owes the Core-Pool in its asset (0 for others)."""
    cr = r.tranche_of
    if cr is None or not isinstance(pool, MiniPool):
        return 0
    return pool.core.current_flow(cr.asset, pool)


def rate_curve(pool: Pool, r: Reserve) -> dict[str, Any]:
    """The curve, the current point and the strategy's parameters (and PI state); all ray.
    ``floor`` is a tranche's minimum supply rate while its Mini-Pool owes the Core (§8.6)."""
    points = []
    for i in range(CURVE_POINTS):
        u = i * RAY // (CURVE_POINTS - 1)
        supply, borrow = rates_at(pool, r, u)
        points.append({"utilization": str(u), "supply_rate": str(supply), "borrow_rate": str(borrow)})
    now = pool.world.now
    cash, debt = pool.cash(r), r.debt_total_supply(now)
    strategy = r.strategy
    controller = None
    if isinstance(strategy, PIRateStrategy):
        controller = {"err_i": str(strategy.err_i), "last_timestamp": strategy.last_timestamp}
    cr = r.tranche_of
    floor = None
    if cr is not None and owed_to_core(pool, r) > 0:
        floor = str(min_liquidity_rate(cr.current_liquidity_rate, cr.current_variable_borrow_rate))
    return {
        "asset": r.asset,
        "floor": floor,
        "model": strategy.model,
        "params": {k: str(v) if isinstance(v, int) else v for k, v in strategy.params().items()},
        "controller": controller,
        "current": {
            "utilization": str(debt * RAY // (cash + debt) if cash + debt else 0),
            "supply_rate": str(r.current_liquidity_rate),
            "borrow_rate": str(r.current_variable_borrow_rate),
        },
        "points": points,
    }
