"""A borrower's health, exactly: liquidation prices and what-ifs computed by the core itself.

Every number here is the core's own arithmetic on the live state, inside a transaction
that is rolled back (:func:`astera.web.dryrun.rolled_back`): a price what-if sets the
oracle price and reads the account; a repay-or-deposit what-if funds the wallet and runs
the action. So the page shows what the protocol would compute, to the wei.
"""

from __future__ import annotations

from typing import Any, Final

from astera.core import WAD, Protocol, ProtocolError
from astera.core.account import account_data
from astera.core.pool import Pool
from astera.core.reserve import Reserve

from .dryrun import rolled_back

#: Largest price the search for a liquidation price tries (USD, 8 decimals): $10^30 a token.
MAX_SEARCH_PRICE: Final = 10**38


def pool_ref(p: Protocol, pool: Pool) -> str | int:
    return "core" if pool is p.core else pool.id  # type: ignore[attr-defined]


def oracle_asset(r: Reserve) -> str:
    """The oracle asset a reserve is priced from (a tranche: its Core underlying)."""
    return r.tranche_of.asset if r.tranche_of is not None else r.asset


def _hf_at(p: Protocol, pool: Pool, user: str, asset: str, price: int) -> int:
    with rolled_back(p):
        p.set_price(asset, price)
        return account_data(pool, user).health_factor


def liquidation_price(p: Protocol, pool: Pool, user: str, r: Reserve) -> int | None:
    """The highest oracle price of ``r``'s asset at which ``user`` is liquidatable (HF < 1) in
    ``pool``, all else equal; None when no positive price makes the account liquidatable or
    the asset also prices the account's debt (then the health factor is not monotonic in it)."""
    asset = oracle_asset(r)
    for d in pool.reserves:
        if pool.is_borrowing(user, d) and oracle_asset(d) == asset:
            return None
    if _hf_at(p, pool, user, asset, 1) >= WAD:
        return None
    lo = 1  # liquidatable here
    hi = max(2, pool.price(r) if r.tranche_of is None else p.price(asset))
    while _hf_at(p, pool, user, asset, hi) < WAD:
        lo, hi = hi, hi * 2
        if hi > MAX_SEARCH_PRICE:
            return None
    while hi - lo > 1:  # invariant: HF(lo) < 1 <= HF(hi)
        mid = (lo + hi) // 2
        if _hf_at(p, pool, user, asset, mid) < WAD:
            lo = mid
        else:
            hi = mid
    return lo


def _summary(pool: Pool, user: str) -> dict[str, Any]:
    try:
        data = account_data(pool, user)
    except ProtocolError as e:
        return {"error": e.as_dict()}
    return {
        "health_factor": str(data.health_factor),
        "liquidatable": data.health_factor < WAD,
        "total_collateral_usd": str(data.total_collateral_base),
        "total_debt_usd": str(data.total_debt_base),
        "borrowing_power_usd": str(data.available_borrows_base),
    }


def _pools_of(p: Protocol, user: str) -> list[Pool]:
    return [pool for pool in (p.core, *p.mini_pools) if pool.user_config.get(user, 0)]


def account_health(p: Protocol, user: str) -> dict[str, Any]:
    """Per pool the account is in: its health and, per collateral, the liquidation price."""
    pools: dict[str, Any] = {}
    for pool in _pools_of(p, user):
        view = _summary(pool, user)
        prices = []
        for r in pool.reserves:
            if pool.is_collateral(user, r) and r.a_scaled.get(user, 0) and "error" not in view:
                borrowing = view["total_debt_usd"] != "0"
                lp = liquidation_price(p, pool, user, r) if borrowing else None
                prices.append(
                    {
                        "asset": r.asset,
                        "oracle_asset": oracle_asset(r),
                        "price": str(p.price(oracle_asset(r))),
                        "liquidation_price": None if lp is None else str(lp),
                    }
                )
        view["collateral"] = prices
        pools[str(pool_ref(p, pool))] = view
    return {"address": user, "timestamp": p.now, "pools": pools}


def price_what_if(p: Protocol, user: str, prices: dict[str, int]) -> dict[str, Any]:
    """The account in every pool it is in, with these oracle prices (USD, 8 decimals)."""
    with rolled_back(p):
        for asset, price in prices.items():
            p.set_price(asset, price)
        return {str(pool_ref(p, pool)): _summary(pool, user) for pool in _pools_of(p, user)}


def _funded(p: Protocol, pool: Pool, user: str, action: Any, asset: str, amount: int) -> dict[str, Any]:
    """The account after minting ``amount`` of ``asset`` to it and running ``action`` with it."""
    with rolled_back(p):
        try:
            p.mint(user, asset, amount)
            action(user, asset, amount, pool=pool_ref(p, pool))
        except ProtocolError as e:
            return {"refused": e.as_dict()}
        return _summary(pool, user)


def value_what_if(p: Protocol, user: str, value_usd: int) -> dict[str, Any]:
    """The same USD value (8 decimals) as a repayment of each debt, or as a deposit of each
    collateral asset: the health factor after each, per pool. The wallet is assumed to hold
    the tokens (they are minted inside the rolled-back transaction)."""
    out: dict[str, Any] = {}
    for pool in _pools_of(p, user):
        ref = pool_ref(p, pool)
        repay, deposit = [], []
        for r in pool.reserves:
            if r.tranche_of is not None:
                continue  # a tranche is paid in Core shares, not in a token the wallet holds
            try:
                amount = value_usd * r.unit // pool.price(r)
            except ProtocolError:
                continue
            if amount == 0:
                continue
            entry = {"asset": r.asset, "amount": str(amount)}
            if pool.is_borrowing(user, r):
                repay.append({**entry, **_funded(p, pool, user, p.repay, r.asset, amount)})
            if r.liquidation_threshold and r.active and not r.frozen:
                deposit.append({**entry, **_funded(p, pool, user, p.deposit, r.asset, amount)})
        out[str(ref)] = {"now": _summary(pool, user), "repay": repay, "deposit": deposit}
    return out
