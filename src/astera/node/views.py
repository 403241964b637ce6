"""Read models: markets, reserves, Mini-Pools with their credit lines, accounts.

Everything is computed from the in-memory ledger at its current block timestamp (the
same views the contracts expose, rolled forward to ``now``). Amounts, prices, indexes
and rates are decimal strings: rates and utilization are ray (1e27 = 100 %) per year,
the health factor is wad (1e18 = 1.0; ``2**256-1`` without debt), values in USD have
8 decimals. A collateral position's ``liquidation_price`` is the highest oracle price of its
asset (other prices unchanged) at which the account could be liquidated, if any. Each pool
shows its liquidation policy (issue 15) and, for an account with positions in it, the rules
in plain words (``liquidation_rules``); each reserve its liquidation protocol fee (bps) and
its deficit (written-off debt not yet covered, base units). :func:`liquidation_status` is the
same policies and deficits for the node's operators (``/status`` and ``/metrics``).
"""

from __future__ import annotations

from typing import Any

from astera.core import RAY, Protocol, ProtocolError
from astera.core.account import positions as held_positions
from astera.core.liquidation_policy import NO_POLICY
from astera.core.minipool import MiniPool
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.human import liquidation_price, policy_rules

from .blocks import jsonable


def _price(pool: Pool, r: Reserve) -> str | None:
    try:
        return str(pool.price(r))
    except ProtocolError:
        return None  # stale feed and no fallback: the protocol would refuse to price it


def reserve_view(p: Protocol, pool: Pool, r: Reserve) -> dict[str, Any]:
    now = p.now
    cash = pool.cash(r)
    debt = r.debt_total_supply(now)
    utilization = debt * RAY // (cash + debt) if cash + debt else 0
    return {
        "asset": r.asset,
        "id": r.id,
        "tranche_of": r.tranche_of.asset if r.tranche_of is not None else None,
        "price": _price(pool, r),
        "config": jsonable(r.config()),
        "rate_model": r.strategy.model,
        "liquidity_rate": str(r.current_liquidity_rate),
        "variable_borrow_rate": str(r.current_variable_borrow_rate),
        "utilization": str(utilization),
        "liquidity_index": str(r.normalized_income(now)),
        "variable_borrow_index": str(r.normalized_debt(now)),
        "total_supplied": str(r.a_total_supply(now)),
        "total_debt": str(debt),
        "available_liquidity": str(cash),
        "last_update_timestamp": r.last_update_timestamp,
        "liquidation_protocol_fee": r.liquidation_protocol_fee,
        "deficit": str(r.deficit),
    }


def credit_lines(p: Protocol, mp: MiniPool) -> list[dict[str, Any]]:
    """The Core-Pool's credit lines to a Mini-Pool: limit, current flow (its Core debt), headroom."""
    core = p.core
    assets = [a for (a, i) in sorted(core.flow_limits) if i == mp.id]
    assets += [
        r.tranche_of.asset
        for r in mp.reserves
        if r.tranche_of is not None and r.tranche_of.asset not in assets
    ]
    lines = []
    for asset in assets:
        limit, flow = core.flow_limit(asset, mp), core.current_flow(asset, mp)
        lines.append(
            {
                "asset": asset,
                "flow_limit": str(limit),
                "current_flow": str(flow),
                "available": str(max(0, limit - flow)),
                "is_flow_borrowing": mp.id in core.flow_borrowers.get(asset, {}),
            }
        )
    return lines


def _policy_values(pool: Pool) -> dict[str, Any]:
    """The pool's liquidation policy: flags as booleans, wad and USD values as decimal strings."""
    policy = pool.liquidation_policy or NO_POLICY
    return {k: v if isinstance(v, bool) else str(v) for k, v in policy.as_dict().items()}


def liquidation_policy_view(p: Protocol, pool: Pool) -> dict[str, Any]:
    """The pool's liquidation policy (:func:`_policy_values`) and its plain words."""
    fees = [(r.asset, r.liquidation_protocol_fee) for r in pool.reserves]
    return {**_policy_values(pool), "rules": policy_rules(pool.liquidation_policy or NO_POLICY, fees)}


def _pool_ref(p: Protocol, pool: Pool) -> str | int:
    return "core" if pool is p.core else pool.id  # type: ignore[attr-defined]


def liquidation_status(p: Protocol) -> list[dict[str, Any]]:
    """Per pool, for ``/status`` and ``/metrics``: its liquidation policy and each reserve's
    deficit (debt a deficit-accounting policy wrote off and no one has covered yet, base units)."""
    return [
        {
            "pool": _pool_ref(p, pool),
            "liquidation_policy": _policy_values(pool),
            "deficits": {r.asset: str(r.deficit) for r in pool.reserves},
        }
        for pool in (p.core, *p.mini_pools)
    ]


def pool_view(p: Protocol, pool: Pool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "pool": _pool_ref(p, pool),
        "paused": pool.paused,
        "flash_premium": pool.flash_premium,
        "liquidation_policy": liquidation_policy_view(p, pool),
    }
    if isinstance(pool, MiniPool):
        view["admin"] = pool.admin
        view["min_debt_threshold"] = str(pool.min_debt_threshold)
        view["credit_lines"] = credit_lines(p, pool)
    else:
        view["admin"] = p.admin
    view["reserves"] = [reserve_view(p, pool, r) for r in pool.reserves]
    return view


def markets_view(p: Protocol) -> dict[str, Any]:
    return {
        "timestamp": p.now,
        "assets": {a: {"decimals": p.decimals[a], "price": _asset_price(p, a)} for a in sorted(p.wallets)},
        "core": pool_view(p, p.core),
        "mini_pools": [pool_view(p, mp) for mp in p.mini_pools],
    }


def _asset_price(p: Protocol, asset: str) -> str | None:
    try:
        return str(p.price(asset))
    except ProtocolError:
        return None


def _pool_account(p: Protocol, pool: Pool, address: str) -> dict[str, Any]:
    ref = "core" if pool is p.core else pool.id  # type: ignore[attr-defined]
    positions: list[dict[str, Any]] = [
        {
            "asset": pos.asset,
            "decimals": pos.decimals,
            "supplied": str(pos.supplied),
            "debt": str(pos.debt),
            "collateral": pos.collateral,
            "liquidation_price": None,
        }
        for pos in held_positions(pool, address)
    ]
    view: dict[str, Any] = {"positions": positions}
    if positions:
        view["liquidation_rules"] = liquidation_policy_view(p, pool)["rules"]
    try:
        data = p.account(address, ref)
    except ProtocolError as e:
        view["error"] = e.as_dict()
        return view
    if data.total_debt_base:
        for pos in positions:
            if pos["collateral"]:
                price = liquidation_price(p, address, ref, str(pos["asset"]))
                pos["liquidation_price"] = None if price is None else str(price)
    view.update(
        {
            "total_collateral_usd": str(data.total_collateral_base),
            "total_debt_usd": str(data.total_debt_base),
            "borrowing_power_usd": str(data.available_borrows_base),
            "liquidation_threshold": str(data.current_liquidation_threshold),
            "ltv": str(data.ltv),
            "health_factor": str(data.health_factor),
        }
    )
    return view


def account_view(p: Protocol, address: str, next_nonce: int) -> dict[str, Any]:
    pools = {"core": _pool_account(p, p.core, address)}
    for mp in p.mini_pools:
        pools[str(mp.id)] = _pool_account(p, mp, address)
    return {
        "address": address,
        "known": address in p.users,
        "next_nonce": next_nonce,
        "timestamp": p.now,
        "wallet": {a: str(p.wallet(a, address)) for a in sorted(p.wallets)},
        "pools": pools,
    }
