"""The state a trace records after every step (FORMAT §4): every reserve of every pool,
the Mini-Pools' credit lines, and every user's wallet, positions and account data."""

from __future__ import annotations

from typing import Any

from astera.core import Protocol, ProtocolError
from astera.core.account import account_data
from astera.core.minipool import MiniPool
from astera.core.pool import Pool
from astera.core.reserve import Reserve


def _reserve_state(p: Protocol, pool: Pool, r: Reserve) -> dict[str, Any]:
    now = p.now
    d: dict[str, Any] = {}
    if isinstance(pool, MiniPool):
        d["a_token_id"] = r.a_token_id
        d["debt_token_id"] = r.debt_token_id
    d.update(
        liquidity_index=r.liquidity_index,
        variable_borrow_index=r.variable_borrow_index,
        current_liquidity_rate=r.current_liquidity_rate,
        current_variable_borrow_rate=r.current_variable_borrow_rate,
        last_update_timestamp=r.last_update_timestamp,
        normalized_income=r.normalized_income(now),
        normalized_variable_debt=r.normalized_debt(now),
        a_token_total_supply=r.a_total_supply(now),
        a_token_scaled_total_supply=r.a_scaled_total,
        debt_total_supply=r.debt_total_supply(now),
        debt_scaled_total_supply=r.d_scaled_total,
        available_liquidity=pool.cash(r),
    )
    if isinstance(pool, MiniPool):
        d["astera_treasury_a_token_balance"] = r.a_balance(r.treasury, now)
        d["owner_treasury_a_token_balance"] = r.a_balance(pool.owner_treasury, now)
    else:
        d["treasury_a_token_balance"] = r.a_balance(r.treasury, now)
    d["price"] = _or_null(pool.price, r)
    cfg = r.config()
    if not isinstance(pool, MiniPool):
        del cfg["owner_reserve_factor"]
    d["config"] = cfg
    return d


def _position(p: Protocol, pool: Pool, r: Reserve, user: str) -> dict[str, Any]:
    return {
        "a_token_balance": r.a_balance(user, p.now),
        "a_token_scaled": r.a_scaled.get(user, 0),
        "debt_balance": r.debt_balance(user, p.now),
        "debt_scaled": r.d_scaled.get(user, 0),
        "collateral_enabled": pool.is_collateral(user, r),
    }


def _or_null(view: Any, *args: Any) -> Any:
    """A view's value, or ``None`` where computing it reverts (an unpriceable reserve, FORMAT §3.2)."""
    try:
        return view(*args)
    except ProtocolError:
        return None


def _account(pool: Pool, user: str) -> dict[str, int] | None:
    data = _or_null(account_data, pool, user)
    return None if data is None else data._asdict()


def export_state(p: Protocol, users: list[str]) -> dict[str, Any]:
    core = p.core
    mini: dict[str, Any] = {}
    for mp in p.mini_pools:
        flow: dict[str, Any] = {}
        assets = [r.tranche_of.asset for r in mp.reserves if r.tranche_of is not None]
        assets += [a for (a, i), _ in core.flow_limits.items() if i == mp.id and a not in assets]
        for asset in assets:
            cr = core.reserve((asset, True))
            flow[asset] = {
                "current_flow": core.current_flow(asset, mp),
                "flow_limit": core.flow_limit(asset, mp),
                "is_flow_borrowing": mp.id in core.flow_borrowers.get(asset, {}),
                "core_a_token_balance": cr.a_balance(mp.address, p.now),
                "core_a_token_scaled": cr.a_scaled.get(mp.address, 0),
                "core_debt_balance": cr.debt_balance(mp.address, p.now),
                "core_debt_scaled": cr.d_scaled.get(mp.address, 0),
            }
        mini[str(mp.id)] = {
            "reserves": {r.asset: _reserve_state(p, mp, r) for r in mp.reserves},
            "flow": flow,
        }
    user_states = {}
    for u in users:
        user_states[u] = {
            "wallet": {a: p.wallet(a, u) for a in p.wallets},
            "core": {r.asset: _position(p, core, r, u) for r in core.reserves},
            "core_account": _account(core, u),
            "mini_pools": {
                str(mp.id): {
                    "reserves": {r.asset: _position(p, mp, r, u) for r in mp.reserves},
                    "account": _account(mp, u),
                }
                for mp in p.mini_pools
            },
        }
    return {
        "core": {r.asset: _reserve_state(p, core, r) for r in core.reserves},
        "mini_pools": mini,
        "users": user_states,
    }
