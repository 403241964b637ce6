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
to. A valuation is meant for one moment: it reads a reserve the first time an account with a
bit set in it is valued (the core, too, reads only those reserves) and keeps what it read,
so once anything moves a price or an index (time, a price update, a flash-loan premium) a
new one is needed. Tests compare it with the core's ``account_data`` on random states.
"""

from __future__ import annotations

from typing import NamedTuple

from astera.core import AccountData
from astera.core.account import account_from_sums, health_factor_from_sums
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.core.wadray import div_up, ray_mul


class Leg(NamedTuple):
    """One side of an account in one reserve: an amount (reserve units), the pool's price of the
    reserve and the amount's value (both USD, 8 decimals)."""

    reserve: Reserve
    price: int
    amount: int
    value: int


class Position(NamedTuple):
    """An account's legs that count in its health factor, the account data they add up to,
    and the valuation they were valued with."""

    account: AccountData
    collateral: list[Leg]
    debt: list[Leg]
    valuation: Valuation


#: Total collateral and debt (USD), Σ value·LTV and Σ value·threshold over collateral (§5.1).
Sums = tuple[int, int, int, int]

#: What valuing an account needs from one reserve: its price and normalized income and debt indexes.
Term = tuple[int, int, int]


class Valuation:
    """Prices and normalized indexes of one pool's reserves, each read once (when an account
    first needs it), and accounts valued with them."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.now = pool.world.now
        self._terms: list[Term | None] = [None] * len(pool.reserves)

    def term(self, r: Reserve) -> Term:
        """The reserve's price and normalized indexes, as of this valuation."""
        term = self._terms[r.id]
        if term is None:
            now = self.now
            term = self._terms[r.id] = (self.pool.price(r), r.normalized_income(now), r.normalized_debt(now))
        return term

    def position(self, user: str) -> Position:
        """The user's legs and exact account data, as :func:`astera.core.account_data` computes them."""
        collateral: list[Leg] = []
        debt: list[Leg] = []
        return Position(account_from_sums(*self._sum(user, collateral, debt)), collateral, debt, self)

    def sums(self, user: str) -> Sums:
        """The user's §5.1 sums, as :func:`astera.core.account.account_sums` computes them."""
        return self._sum(user, None, None)

    def health_factor(self, user: str) -> int:
        """The user's exact health factor, without building legs or account data: what the
        engine reads after every liquidation."""
        total_coll, total_debt, _, sum_lt = self._sum(user, None, None)
        return health_factor_from_sums(total_coll, total_debt, sum_lt)

    def _sum(self, user: str, collateral: list[Leg] | None, debt: list[Leg] | None) -> Sums:
        """The §5.1 sums over the user's legs; each leg is appended to ``collateral``/``debt`` when given."""
        cfg = self.pool.user_config.get(user, 0)
        total_coll = total_debt = sum_ltv = sum_lt = 0
        if cfg == 0:
            return total_coll, total_debt, sum_ltv, sum_lt
        terms = self._terms
        for r in self.pool.reserves:
            bits = (cfg >> (2 * r.id)) & 3
            if not bits:
                continue
            price, income, debt_index = terms[r.id] or self.term(r)
            if bits & 2 and r.liquidation_threshold != 0:
                s = r.a_scaled.get(user, 0)
                if s:
                    amount = ray_mul(s, income)
                    value = price * amount // r.unit
                    if collateral is not None:
                        collateral.append(Leg(r, price, amount, value))
                    total_coll += value
                    sum_ltv += value * r.ltv
                    sum_lt += value * r.liquidation_threshold
            if bits & 1:
                s = r.d_scaled.get(user, 0)
                if s:
                    amount = ray_mul(s, debt_index)
                    value = div_up(price * amount, r.unit)
                    if debt is not None:
                        debt.append(Leg(r, price, amount, value))
                    total_debt += value
        return total_coll, total_debt, sum_ltv, sum_lt
