"""Account data and the health factor (spec §5), the same in every pool.

Collateral value rounds down per asset and debt value rounds up per asset, both in USD
with 8 decimals. The health factor is ``collateral · avg liquidation threshold / debt``
in wad, and ``2**256 - 1`` without debt.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from .errors import overflow
from .wadray import UINT256_MAX, WAD, div_up, percent_div_up, percent_mul, ray_mul, wad_div

if TYPE_CHECKING:
    from .pool import Pool
    from .reserve import Reserve

#: Below this health factor a position can be liquidated (wad).
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD
#: Health factor of an account without debt.
MAX_HEALTH_FACTOR = UINT256_MAX


class AccountData(NamedTuple):
    """``getUserAccountData``: values in USD with 8 decimals, ratios in bps, HF in wad."""

    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    current_liquidation_threshold: int
    ltv: int
    health_factor: int


#: ``AccountData`` from a 6-tuple in C (the NamedTuple's own ``__new__`` is a Python function,
#: a frame on every health-factor computation).
_account_data = partial(tuple.__new__, AccountData)


class Position(NamedTuple):
    """One reserve of one pool as an account holds it (base units of the reserve asset)."""

    asset: str
    decimals: int
    supplied: int
    debt: int
    collateral: bool


def positions(pool: Pool, user: str) -> list[Position]:
    """The user's non-empty positions in ``pool``, in reserve order, interest included."""
    now = pool.world.now
    out = []
    for r in pool.reserves:
        supplied, debt = r.a_balance(user, now), r.debt_balance(user, now)
        if supplied or debt:
            out.append(Position(r.asset, r.decimals, supplied, debt, pool.is_collateral(user, r)))
    return out


def account_data(pool: Pool, user: str) -> AccountData:
    """Sum a user's collateral and debt at oracle prices (§5.1)."""
    total_coll, total_debt, sum_ltv, sum_lt = account_sums(pool, user)
    return account_from_sums(total_coll, total_debt, sum_ltv, sum_lt)


def account_sums(pool: Pool, user: str) -> tuple[int, int, int, int]:
    """``(total collateral, total debt, Σ value·LTV, Σ value·threshold)`` of §5.1: values in
    USD with 8 decimals, collateral rounded down and debt up per asset."""
    cfg = pool.user_config.get(user, 0)
    if cfg == 0:
        return 0, 0, 0, 0
    now = pool.world.now
    total_coll = total_debt = sum_ltv = sum_lt = 0
    for r in pool.reserves:
        bits = (cfg >> (2 * r.id)) & 3
        if not bits:
            continue
        price = pool.price(r)
        if bits & 2 and r.liquidation_threshold != 0:
            s = r.a_scaled.get(user, 0)
            if s:
                value = price * ray_mul(s, r.normalized_income(now)) // r.unit
                total_coll += value
                sum_ltv += value * r.ltv
                sum_lt += value * r.liquidation_threshold
        if bits & 1:
            s = r.d_scaled.get(user, 0)
            if s:
                total_debt += div_up(price * ray_mul(s, r.normalized_debt(now)), r.unit)
    return total_coll, total_debt, sum_ltv, sum_lt


def account_from_sums(total_coll: int, total_debt: int, sum_ltv: int, sum_lt: int) -> AccountData:
    """Averages, health factor and borrowing power from the per-asset sums of §5.1.

    ``sum_ltv``/``sum_lt`` are Σ value·LTV and Σ value·threshold over collateral assets.
    """
    if total_coll:
        avg_ltv = sum_ltv // total_coll
        avg_lt = sum_lt // total_coll
    else:
        avg_ltv = avg_lt = 0
    hf = wad_div(percent_mul(total_coll, avg_lt), total_debt) if total_debt else MAX_HEALTH_FACTOR
    borrowable = percent_mul(total_coll, avg_ltv)
    available = borrowable - total_debt if borrowable > total_debt else 0
    return _account_data((total_coll, total_debt, available, avg_lt, avg_ltv, hf))


def health_factor_from_sums(total_coll: int, total_debt: int, sum_lt: int) -> int:
    """The health factor alone, as :func:`account_from_sums` computes it (for hot loops that
    need nothing else)."""
    if not total_debt:
        return MAX_HEALTH_FACTOR
    return wad_div(percent_mul(total_coll, sum_lt // total_coll if total_coll else 0), total_debt)


#: Mask of every "borrowing" bit in a user bitmap (bit 2i for reserve i).
BORROWING_MASK = int("01" * 128, 2)


def health_factor(pool: Pool, user: str) -> int:
    """The user's health factor; without any borrowing bit it is the maximum, at no cost."""
    if not pool.user_config.get(user, 0) & BORROWING_MASK:
        return MAX_HEALTH_FACTOR
    return account_data(pool, user).health_factor


def collateral_needed(data: AccountData, amount_base: int) -> int:
    """Collateral (USD, 8 decimals) a borrow of ``amount_base`` needs at the account's average
    LTV (§5.2); the borrow is refused with ``9`` unless the account has more than this."""
    return percent_div_up(data.total_debt_base + amount_base, data.ltv)


def health_factor_after_decrease(pool: Pool, r: Reserve, user: str, amount: int) -> int | None:
    """The user's HF once ``amount`` of ``r`` stops counting as collateral (§5.3); ``None`` when
    that cannot lower it (no debt, or ``r`` is not collateral).

    The decrease rounds up; when it exceeds the collateral the contracts underflow, which
    is a revert (``panic:0x11``) rather than a refusal code.
    """
    cfg = pool.user_config.get(user, 0)
    if not cfg & BORROWING_MASK:
        return None
    if not (cfg >> (2 * r.id + 1)) & 1 or r.liquidation_threshold == 0:
        return None
    data = account_data(pool, user)
    if data.total_debt_base == 0:
        return None
    dec = div_up(pool.price(r) * amount, r.unit)
    coll_after = data.total_collateral_base - dec
    if coll_after < 0:
        raise overflow()
    if coll_after == 0:
        return 0
    lt_after = data.total_collateral_base * data.current_liquidation_threshold - dec * r.liquidation_threshold
    if lt_after < 0:
        raise overflow()
    lt_after //= coll_after
    return wad_div(percent_mul(coll_after, lt_after), data.total_debt_base)


def balance_decrease_allowed(pool: Pool, r: Reserve, user: str, amount: int) -> bool:
    """Would the user's HF stay >= 1 after removing ``amount`` of ``r`` as collateral? (§5.3)"""
    hf = health_factor_after_decrease(pool, r, user, amount)
    return hf is None or hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD
