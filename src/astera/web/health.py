"""What-ifs on a borrower's health, computed by the core itself on the live state.

Every number is the core's own arithmetic inside a dry run (:func:`astera.human.dry_run`:
a transaction that is always rolled back): a price what-if sets oracle prices and reads
the account; a repay-or-deposit what-if funds the wallet and runs the action. So the page
shows what the protocol would compute, to the wei, and nothing changes. (Liquidation
prices are part of the account view, ``GET /accounts/{address}``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from astera.core import WAD, Protocol, ProtocolError
from astera.core.account import account_data
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.human import dry_run


def pool_ref(p: Protocol, pool: Pool) -> str | int:
    return "core" if pool is p.core else pool.id  # type: ignore[attr-defined]


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


def _after(p: Protocol, change: Callable[[], object], read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``read()`` after ``change()`` in a dry run, or the refusal of the change."""
    out: dict[str, Any] = {}

    def run() -> None:
        change()
        out.update(read())

    refused = dry_run(p, run)
    return {"refused": refused.as_dict()} if refused is not None else out


def price_what_if(p: Protocol, user: str, prices: dict[str, int]) -> dict[str, Any]:
    """The account in every pool it is in, with these oracle prices (USD, 8 decimals)."""

    def change() -> None:
        for asset, price in prices.items():
            p.set_price(asset, price)

    return _after(p, change, lambda: {str(pool_ref(p, pl)): _summary(pl, user) for pl in _pools_of(p, user)})


def _fund(p: Protocol, r: Reserve, user: str, amount: int) -> None:
    """Give ``user`` ``amount`` of ``r``'s asset as a person would get it: a token is minted; a
    tranche is paid in Core aToken shares, so the underlying is minted and deposited into the
    Core-Pool (rounded up to at least ``amount`` shares). That deposit moves the Core's rates but,
    at the same timestamp, no index, balance or price a Mini-Pool's health factor reads."""
    core_r = r.tranche_of
    if core_r is None:
        p.mint(user, r.asset, amount)
        return
    underlying = p.core.shares_to_assets(core_r, amount) + 1
    p.mint(user, core_r.asset, underlying)
    p.deposit(user, core_r.asset, underlying)


def _funded(
    p: Protocol, pool: Pool, user: str, action: Callable[..., object], r: Reserve, amount: int
) -> Any:
    """The account in ``pool`` after it is given ``amount`` of ``r``'s asset and ``action``-s it."""
    ref = pool_ref(p, pool)

    def change() -> None:
        _fund(p, r, user, amount)
        action(user, r.asset, amount, pool=ref)

    return _after(p, change, lambda: _summary(pool, user))


def value_what_if(p: Protocol, user: str, value_usd: int) -> dict[str, Any]:
    """The same USD value (8 decimals) as a repayment of each debt, or as a deposit of each
    collateral asset (a tranche too, in Core shares): the health factor after each, per pool.
    The wallet is assumed to hold the tokens (they are minted inside the dry run)."""
    out: dict[str, Any] = {}
    for pool in _pools_of(p, user):
        repay, deposit = [], []
        for r in pool.reserves:
            try:
                amount = value_usd * r.unit // pool.price(r)
            except ProtocolError:
                continue
            if amount == 0:
                continue
            entry = {"asset": r.asset, "amount": str(amount)}
            if pool.is_borrowing(user, r):
                repay.append({**entry, **_funded(p, pool, user, p.repay, r, amount)})
            if r.liquidation_threshold and r.active and not r.frozen:
                deposit.append({**entry, **_funded(p, pool, user, p.deposit, r, amount)})
        out[str(pool_ref(p, pool))] = {"now": _summary(pool, user), "repay": repay, "deposit": deposit}
    return out
