"""A reserve (spec §2–§3): one market of one asset in one pool, and its index machine.

The reserve holds the configuration (§2.3), the two cumulative indexes, the current
rates, the scaled balances of its aToken and variable-debt token, and its rate
strategy. Balances are stored *scaled* (divided by the index at the time of the
movement), so interest accrues to every holder without touching them:
``balance = scaled · index``. Indexes move only in :meth:`update_state`, which every
state-changing action calls first; views roll them forward without storing.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from .errors import BORROW_INDEX_OVERFLOW, LIQUIDITY_INDEX_OVERFLOW, ProtocolError
from .journal import Journal
from .rates import RateStrategy
from .wadray import RAY, UINT128_MAX, compounded_interest, linear_interest, percent_mul, ray_div, ray_mul

#: Configuration fields, in the order of the trace format's ``config`` object.
CONFIG_FIELDS = (
    "ltv",
    "liquidation_threshold",
    "liquidation_bonus",
    "decimals",
    "active",
    "frozen",
    "borrowing_enabled",
    "flash_loan_enabled",
    "reserve_factor",
    "owner_reserve_factor",
    "deposit_cap",
)


#: The fields an operation mutates directly (balances live in dicts, journaled per entry).
DYNAMIC_FIELDS = (
    "liquidity_index",
    "variable_borrow_index",
    "current_liquidity_rate",
    "current_variable_borrow_rate",
    "last_update_timestamp",
    "a_scaled_total",
    "d_scaled_total",
    "cash",
)
_get_dynamic = attrgetter(*DYNAMIC_FIELDS)


class Reserve:
    """State of one reserve. Plain slots and ints: this object is on every hot path."""

    __slots__ = (
        "key",
        "asset",
        "id",
        "reserve_type",
        # configuration (§2.3)
        "ltv",
        "liquidation_threshold",
        "liquidation_bonus",
        "decimals",
        "unit",
        "active",
        "frozen",
        "borrowing_enabled",
        "flash_loan_enabled",
        "reserve_factor",
        "owner_reserve_factor",
        "deposit_cap",
        # opt-in liquidation policy (astera.core.liquidation_policy): fee bps, written-off debt
        "liquidation_protocol_fee",
        "deficit",
        # index machine (§3)
        "liquidity_index",
        "variable_borrow_index",
        "current_liquidity_rate",
        "current_variable_borrow_rate",
        "last_update_timestamp",
        # tokens
        "a_scaled",
        "a_scaled_total",
        "d_scaled",
        "d_scaled_total",
        "cash",
        "borrow_allowance",
        "strategy",
        # who receives the reserve factors: (holder, holder or None)
        "treasury",
        "owner_treasury",
        # Mini-Pool only
        "tranche_of",
        "a_token_id",
        "debt_token_id",
    )

    def __init__(
        self,
        key: Any,
        asset: str,
        rid: int,
        decimals: int,
        strategy: RateStrategy,
        treasury: str,
        owner_treasury: str | None = None,
        reserve_type: bool = True,
        last_update_timestamp: int = 0,
    ) -> None:
        self.key = key
        self.asset = asset
        self.id = rid
        self.reserve_type = reserve_type
        self.ltv = 0
        self.liquidation_threshold = 0
        self.liquidation_bonus = 0
        self.decimals = decimals
        self.unit = 10**decimals
        self.active = True
        self.frozen = False
        self.borrowing_enabled = False
        self.flash_loan_enabled = True
        self.reserve_factor = 0
        self.owner_reserve_factor = 0
        self.deposit_cap = 0
        self.liquidation_protocol_fee = 0
        self.deficit = 0
        self.liquidity_index = RAY
        self.variable_borrow_index = RAY
        self.current_liquidity_rate = 0
        self.current_variable_borrow_rate = 0
        self.last_update_timestamp = last_update_timestamp
        self.a_scaled: dict[str, int] = {}
        self.a_scaled_total = 0
        self.d_scaled: dict[str, int] = {}
        self.d_scaled_total = 0
        self.cash = 0
        self.borrow_allowance: dict[tuple[str, str], int] = {}
        self.strategy = strategy
        self.treasury = treasury
        self.owner_treasury = owner_treasury
        self.tranche_of: Reserve | None = None
        self.a_token_id = 0
        self.debt_token_id = 0

    # ---- undo support -------------------------------------------------------------------

    def snapshot(self) -> object:
        return _get_dynamic(self)

    def restore(self, saved: object) -> None:
        for name, value in zip(DYNAMIC_FIELDS, saved, strict=True):  # type: ignore[call-overload]
            setattr(self, name, value)

    # ---- views (§3.1) -------------------------------------------------------------------

    def normalized_income(self, now: int) -> int:
        """Liquidity index rolled forward to ``now`` (ray), without storing it."""
        ts = self.last_update_timestamp
        if ts == now or self.current_liquidity_rate == 0:
            return self.liquidity_index
        return ray_mul(linear_interest(self.current_liquidity_rate, now - ts), self.liquidity_index)

    def normalized_debt(self, now: int) -> int:
        """Variable borrow index rolled forward to ``now`` (ray), without storing it."""
        ts = self.last_update_timestamp
        if ts == now or self.current_variable_borrow_rate == 0:
            return self.variable_borrow_index
        return ray_mul(
            compounded_interest(self.current_variable_borrow_rate, now - ts), self.variable_borrow_index
        )

    def a_balance(self, holder: str, now: int) -> int:
        s = self.a_scaled.get(holder, 0)
        return ray_mul(s, self.normalized_income(now)) if s else 0

    def debt_balance(self, holder: str, now: int) -> int:
        s = self.d_scaled.get(holder, 0)
        return ray_mul(s, self.normalized_debt(now)) if s else 0

    def a_total_supply(self, now: int) -> int:
        return ray_mul(self.a_scaled_total, self.normalized_income(now))

    def debt_total_supply(self, now: int) -> int:
        return ray_mul(self.d_scaled_total, self.normalized_debt(now))

    # ---- index machine (§3.2) -----------------------------------------------------------

    def update_state(self, now: int, journal: Journal) -> None:
        """Accrue interest up to ``now`` and mint the reserve factors' share to treasuries.
        Already at ``now`` (most calls: several actions a block) it writes nothing."""
        dt = now - self.last_update_timestamp
        if dt == 0:
            return
        journal.save(self)
        self.last_update_timestamp = now
        scaled_debt = self.d_scaled_total
        old_borrow_index = self.variable_borrow_index
        rate = self.current_liquidity_rate
        if rate != 0:
            li = ray_mul(linear_interest(rate, dt), self.liquidity_index)
            if li > UINT128_MAX:
                raise ProtocolError(LIQUIDITY_INDEX_OVERFLOW)
            self.liquidity_index = li
        if scaled_debt != 0:
            bi = ray_mul(compounded_interest(self.current_variable_borrow_rate, dt), old_borrow_index)
            if bi > UINT128_MAX:
                raise ProtocolError(BORROW_INDEX_OVERFLOW)
            self.variable_borrow_index = bi
            accrued = ray_mul(scaled_debt, bi) - ray_mul(scaled_debt, old_borrow_index)
            if self.reserve_factor:
                self._mint_to_treasury(self.treasury, percent_mul(accrued, self.reserve_factor), journal)
            if self.owner_treasury is not None and self.owner_reserve_factor:
                self._mint_to_treasury(
                    self.owner_treasury, percent_mul(accrued, self.owner_reserve_factor), journal
                )

    def _mint_to_treasury(self, holder: str, amount: int, journal: Journal) -> None:
        """Treasury aTokens are minted without cash: they are the reserve's cut of interest."""
        if amount == 0:
            return
        scaled = ray_div(amount, self.liquidity_index)
        journal.set(self.a_scaled, holder, self.a_scaled.get(holder, 0) + scaled)
        self.a_scaled_total += scaled

    def cumulate_to_liquidity_index(self, total_liquidity: int, amount: int, journal: Journal) -> None:
        """Spread a flash-loan premium over suppliers (§3.4). Call after update_state."""
        journal.save(self)
        self.liquidity_index = ray_mul(ray_div(amount, total_liquidity) + RAY, self.liquidity_index)

    def config(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in CONFIG_FIELDS}
