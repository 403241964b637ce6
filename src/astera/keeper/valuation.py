"""Exact account data for many accounts of one pool at one moment.

:func:`astera.core.account_data` reads a reserve's oracle price and rolls its indexes
forward for every account it values. A keeper values thousands of accounts at the same
moment, so a :class:`Valuation` reads each reserve's price and normalized indexes once,
then values accounts with the same integer steps as the core (§5.1), using the core's own
rounding functions:

* each collateral leg is ``price · rayMul(scaled, income) / unit``, rounded down; each
  debt leg ``price · rayMul(scaled, debt index) / unit``, rounded up;
* the average LTV and liquidation threshold are value-weighted and rounded down;
* ``HF = wadDiv(percentMul(collateral, avg threshold), debt)``.

The legs (amount and value per reserve) are what the planner sizes liquidations with, so a
:class:`Position` carries them next to the :class:`~astera.core.AccountData` they add up
to. A valuation is a snapshot: anything that moves a price or an index (time, a price
update, a flash-loan premium) needs a new one. Tests compare it with the core's
``account_data`` on random states.
"""

from __future__ import annotations

from typing import NamedTuple

from astera.core import AccountData
from astera.core.account import MAX_HEALTH_FACTOR
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.core.wadray import div_up, percent_mul, ray_mul, wad_div


class Leg(NamedTuple):
    """One side of an account in one reserve: an amount (reserve units) and its value (USD, 8 decimals)."""

    reserve: Reserve
    amount: int
    value: int


class Position(NamedTuple):
    """An account's legs that count in its health factor, and the account data they add up to."""

    account: AccountData
    collateral: list[Leg]
    debt: list[Leg]


class _Term(NamedTuple):
    """What valuing one reserve needs, read once per valuation."""

    reserve: Reserve
    shift: int
    price: int
    income: int
    debt_index: int
    #: Counts as collateral at all (a zero liquidation threshold does not).
    collateral: bool


_EMPTY = AccountData(0, 0, 0, 0, 0, MAX_HEALTH_FACTOR)


class Valuation:
    """Prices and normalized indexes of one pool's reserves, read once, and accounts valued with them."""

    def __init__(self, pool: Pool) -> None:
        now = pool.proto.now
        self.pool = pool
        self.now = now
        self.terms = [
            _Term(
                r,
                2 * r.id,
                pool.price(r),
                r.normalized_income(now),
                r.normalized_debt(now),
                r.liquidation_threshold != 0,
            )
            for r in pool.reserves
        ]

    def position(self, user: str) -> Position:
        """The user's legs and exact account data, as :func:`astera.core.account_data` computes them."""
        cfg = self.pool.user_config.get(user, 0)
        collateral: list[Leg] = []
        debt: list[Leg] = []
        if cfg == 0:
            return Position(_EMPTY, collateral, debt)
        total_coll = total_debt = sum_ltv = sum_lt = 0
        for r, shift, price, income, debt_index, counts in self.terms:
            bits = (cfg >> shift) & 3
            if not bits:
                continue
            if bits & 2 and counts:
                s = r.a_scaled.get(user, 0)
                if s:
                    amount = ray_mul(s, income)
                    value = price * amount // r.unit
                    collateral.append(Leg(r, amount, value))
                    total_coll += value
                    sum_ltv += value * r.ltv
                    sum_lt += value * r.liquidation_threshold
            if bits & 1:
                s = r.d_scaled.get(user, 0)
                if s:
                    amount = ray_mul(s, debt_index)
                    value = div_up(price * amount, r.unit)
                    debt.append(Leg(r, amount, value))
                    total_debt += value
        if total_coll:
            avg_ltv = sum_ltv // total_coll
            avg_lt = sum_lt // total_coll
        else:
            avg_ltv = avg_lt = 0
        hf = wad_div(percent_mul(total_coll, avg_lt), total_debt) if total_debt else MAX_HEALTH_FACTOR
        borrowable = percent_mul(total_coll, avg_ltv)
        available = borrowable - total_debt if borrowable > total_debt else 0
        return Position(AccountData(total_coll, total_debt, available, avg_lt, avg_ltv, hf), collateral, debt)

    def account(self, user: str) -> AccountData:
        """The user's exact account data (equal to :func:`astera.core.account_data` now)."""
        return self.position(user).account
