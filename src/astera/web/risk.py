"""The risk view: per pool, who is closest to liquidation, how health factors are spread,
bad debt per reserve, and the Core-Pool's exposure to each Mini-Pool.

Exact: every health factor is the core's :func:`~astera.core.account.account_data` on the
live state. One pass over each pool's borrowers; the node caches the result per block.
"""

from __future__ import annotations

from typing import Any, Final

from astera.core import WAD, Protocol, ProtocolError
from astera.core.account import BORROWING_MASK, account_data
from astera.core.minipool import MiniPool
from astera.core.pool import Pool

from .health import pool_ref

#: Upper edges (wad) of the health-factor histogram's buckets; the last bucket is open.
HF_BUCKETS: Final = (WAD, 11 * WAD // 10, 125 * WAD // 100, 15 * WAD // 10, 2 * WAD, 3 * WAD)
#: How many of the accounts closest to liquidation a pool's view lists.
CLOSEST: Final = 20


def _value(amount: int, price: int, unit: int) -> int:
    """USD (8 decimals) of ``amount`` base units, rounded down."""
    return amount * price // unit


def pool_risk(p: Protocol, pool: Pool) -> dict[str, Any]:
    """One pool's borrowers: the closest to liquidation, the HF histogram, underwater debt and
    bad debt (debt of accounts with no collateral left) per reserve."""
    rows: list[tuple[int, str, int, int]] = []
    unpriced = 0
    bad_debt: dict[str, int] = {}
    underwater_usd = 0
    now = p.now
    for user, cfg in pool.user_config.items():
        if not cfg & BORROWING_MASK:
            continue
        try:
            data = account_data(pool, user)
        except ProtocolError:
            unpriced += 1
            continue
        rows.append((data.health_factor, user, data.total_collateral_base, data.total_debt_base))
        if data.total_debt_base > data.total_collateral_base:
            underwater_usd += data.total_debt_base - data.total_collateral_base
        if data.total_collateral_base == 0:
            for r in pool.reserves:
                debt = r.debt_balance(user, now) if pool.is_borrowing(user, r) else 0
                if debt:
                    bad_debt[r.asset] = bad_debt.get(r.asset, 0) + debt
    rows.sort()
    histogram = [0] * (len(HF_BUCKETS) + 1)
    for hf, *_ in rows:
        i = 0
        while i < len(HF_BUCKETS) and hf >= HF_BUCKETS[i]:
            i += 1
        histogram[i] += 1
    return {
        "pool": pool_ref(p, pool),
        "borrowers": len(rows),
        "unpriced": unpriced,
        "liquidatable": sum(1 for hf, *_ in rows if hf < WAD),
        "closest": [
            {"address": u, "health_factor": str(hf), "collateral_usd": str(c), "debt_usd": str(d)}
            for hf, u, c, d in rows[:CLOSEST]
        ],
        "hf_buckets": [str(b) for b in HF_BUCKETS],
        "hf_histogram": histogram,
        "underwater_usd": str(underwater_usd),
        "bad_debt": [{"asset": a, "amount": str(v)} for a, v in sorted(bad_debt.items())],
    }


def _collateral_usd(mp: MiniPool) -> int:
    now = mp.world.now
    total = 0
    for r in mp.reserves:
        if r.liquidation_threshold:
            try:
                total += _value(r.a_total_supply(now), mp.price(r), r.unit)
            except ProtocolError:
                continue
    return total


def exposure(p: Protocol) -> list[dict[str, Any]]:
    """The Core-Pool's flow debt to each Mini-Pool, against that Mini-Pool's collateral."""
    core = p.core
    out = []
    for mp in p.mini_pools:
        lines = []
        debt_usd = 0
        for asset, mp_id in sorted(core.flow_limits):
            if mp_id != mp.id:
                continue
            flow = core.current_flow(asset, mp)
            r = core.reserve((asset, True))
            try:
                usd = _value(flow, core.price(r), r.unit)
            except ProtocolError:
                usd = 0
            debt_usd += usd
            lines.append({"asset": asset, "flow_debt": str(flow), "flow_debt_usd": str(usd)})
        out.append(
            {
                "mini_pool": mp.id,
                "lines": lines,
                "flow_debt_usd": str(debt_usd),
                "collateral_usd": str(_collateral_usd(mp)),
            }
        )
    return out


def risk_view(p: Protocol) -> dict[str, Any]:
    return {
        "timestamp": p.now,
        "pools": [pool_risk(p, pool) for pool in (p.core, *p.mini_pools)],
        "exposure": exposure(p),
    }
