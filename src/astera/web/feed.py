"""The liquidations feed: LiquidationCall events from the log, with the bonus the liquidator got.

The bonus is the part of the seized collateral above the debt's value:
``seized - seized · 10000 / liquidation_bonus`` (the reserve's bonus in basis points, as
configured now), in the collateral's base units.
"""

from __future__ import annotations

import json
from typing import Any

from astera.core import Protocol
from astera.core.pool import Pool


def _pools_by_name(p: Protocol) -> dict[str, Pool]:
    return {pool.name: pool for pool in (p.core, *p.mini_pools)}


def liquidation_json(p: Protocol, row: tuple[Any, ...]) -> dict[str, Any]:
    """One stored LiquidationCall event row (seq, height, tx_seq, name, pool, data) for the feed."""
    seq, height, _tx_seq, _name, pool_name, data_text = row
    data = json.loads(data_text)
    pool = _pools_by_name(p).get(pool_name)
    seized = int(data["liquidated_collateral"])
    bonus = None
    if pool is not None:
        r = next((r for r in pool.reserves if r.asset == data["collateral"]), None)
        if r is not None and r.liquidation_bonus:
            bonus = str(seized - seized * 10_000 // r.liquidation_bonus)
    return {
        "seq": seq,
        "height": height,
        "pool": "core" if pool is p.core else getattr(pool, "id", pool_name),
        "user": data["user"],
        "liquidator": data["liquidator"],
        "debt_asset": data["debt"],
        "debt_repaid": str(data["debt_to_cover"]),
        "collateral_asset": data["collateral"],
        "collateral_seized": str(seized),
        "bonus": bonus,
    }
