"""The rules each operation checks before it changes anything, one function per operation
(as Aave v3's ``ValidationLogic``): everything that can refuse a deposit, withdrawal,
borrow, repayment, collateral toggle, aToken transfer, liquidation, flash loan or Core
credit draw is in one place, in the contracts' order (the first failing rule gives the code).

They read the pre-action state (balances accrued as views) and write nothing. What differs
between pools is asked of the pool (:meth:`~astera.core.pool.Pool.min_debt`, whether a
target is one of the Core's Mini-Pools); the rules themselves are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import errors as E
from .account import (
    HEALTH_FACTOR_LIQUIDATION_THRESHOLD,
    AccountData,
    account_data,
    balance_decrease_allowed,
    collateral_needed,
    health_factor,
)
from .errors import ProtocolError, overflow
from .wadray import UINT256_MAX

if TYPE_CHECKING:
    from .pool import Pool
    from .reserve import Reserve


def deposit(pool: Pool, r: Reserve, amount: int) -> None:
    """Supply (§4.1): under the deposit cap, a non-zero amount, an active, unfrozen reserve."""
    if r.deposit_cap and r.a_total_supply(pool.world.now) + amount >= r.deposit_cap * r.unit:
        raise ProtocolError(E.DEPOSIT_CAP_REACHED)
    if amount == 0:
        raise ProtocolError(E.INVALID_AMOUNT)
    if not r.active:
        raise ProtocolError(E.NO_ACTIVE_RESERVE)
    if r.frozen:
        raise ProtocolError(E.RESERVE_FROZEN)


def withdraw_amount(r: Reserve, amount: int, balance: int) -> None:
    """A withdrawal's amount (§4.2): non-zero, within the balance, from an active reserve."""
    if amount == 0:
        raise ProtocolError(E.INVALID_AMOUNT)
    if amount > balance:
        raise ProtocolError(E.NOT_ENOUGH_USER_BALANCE)
    if not r.active:
        raise ProtocolError(E.NO_ACTIVE_RESERVE)


def withdraw(pool: Pool, r: Reserve, user: str, amount: int, balance: int) -> None:
    """Withdraw (§4.2): the amount's rules, then the health factor after (``6``)."""
    withdraw_amount(r, amount, balance)
    if not balance_decrease_allowed(pool, r, user, amount):
        raise ProtocolError(E.TRANSFER_NOT_ALLOWED)


def borrow(pool: Pool, r: Reserve, user: str, amount: int) -> None:
    """Borrow (§4.3): an active, unfrozen reserve with borrowing on, a non-zero amount, a
    Mini-Pool's minimum debt, and collateral that covers the debt after at the average LTV."""
    if not r.active:
        raise ProtocolError(E.NO_ACTIVE_RESERVE)
    if r.frozen:
        raise ProtocolError(E.RESERVE_FROZEN)
    if amount == 0:
        raise ProtocolError(E.INVALID_AMOUNT)
    if not r.borrowing_enabled:
        raise ProtocolError(E.BORROWING_NOT_ENABLED)
    floor = pool.min_debt(r.decimals)
    if floor is not None and r.debt_total_supply(pool.world.now) + amount < floor:
        raise ProtocolError(E.DEBT_TOO_SMALL)
    amount_base = pool.price(r) * amount // r.unit
    data = account_data(pool, user)
    if data.total_collateral_base == 0:
        raise ProtocolError(E.COLLATERAL_BALANCE_IS_0)
    if data.health_factor < HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise ProtocolError(E.HF_BELOW_THRESHOLD)
    if collateral_needed(data, amount_base) >= data.total_collateral_base:
        raise ProtocolError(E.COLLATERAL_CANNOT_COVER)


def repay(pool: Pool, r: Reserve, user: str, amount: int, on_behalf_of: str, debt: int) -> None:
    """Repay (§4.4): an active reserve, a non-zero amount, some debt, no "all" on someone
    else's behalf; in a Mini-Pool the reserve's debt after (less the amount *sent*, not
    the amount owed) must stay at or above the minimum (§7.10)."""
    if not r.active:
        raise ProtocolError(E.NO_ACTIVE_RESERVE)
    if amount == 0:
        raise ProtocolError(E.INVALID_AMOUNT)
    if debt == 0:
        raise ProtocolError(E.NO_DEBT)
    if amount == UINT256_MAX and user != on_behalf_of:
        raise ProtocolError(E.NO_EXPLICIT_AMOUNT_ON_BEHALF)
    floor = pool.min_debt(r.decimals)
    if floor is not None:
        remaining = r.debt_total_supply(pool.world.now) - amount
        if remaining < 0:
            raise overflow()
        if remaining < floor:
            raise ProtocolError(E.DEBT_TOO_SMALL)


def set_collateral(pool: Pool, r: Reserve, user: str, enabled: bool, balance: int) -> None:
    """Collateral toggle (§4.6): a non-zero balance; turning it off must keep HF >= 1."""
    if balance == 0:
        raise ProtocolError(E.UNDERLYING_BALANCE_ZERO)
    if not enabled and not balance_decrease_allowed(pool, r, user, balance):
        raise ProtocolError(E.DEPOSIT_IN_USE)


def transfer(pool: Pool, sender: str, check_health: bool) -> None:
    """An aToken transfer, checked by the pool after the token moved the balance (§4.7): the
    pool not paused (``59``), then the sender's health factor."""
    pool.check_not_paused()
    if check_health and health_factor(pool, sender) < HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise ProtocolError(E.TRANSFER_NOT_ALLOWED)


def liquidation(
    pool: Pool, coll: Reserve, debt_r: Reserve, target: str, data: AccountData, user_debt: int
) -> None:
    """Liquidation (§4.8): both reserves active, the target's HF below 1, the collateral
    enabled as such with a threshold, some debt in the debt asset."""
    if not coll.active or not debt_r.active:
        raise ProtocolError(E.NO_ACTIVE_RESERVE)
    if data.health_factor >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise ProtocolError(E.HF_NOT_BELOW_THRESHOLD)
    if coll.liquidation_threshold == 0 or not pool.is_collateral(target, coll):
        raise ProtocolError(E.COLLATERAL_CANNOT_BE_LIQUIDATED)
    if user_debt == 0:
        raise ProtocolError(E.CURRENCY_NOT_BORROWED)


def liquidation_target(pool: Pool, target: str) -> None:
    """The Core refuses to liquidate a Mini-Pool it lends to (``11``), before anything else."""
    if pool.lends_to(target):
        raise ProtocolError(E.MINIPOOL_CANNOT_BE_LIQUIDATED)


def flash_loan(reserves: Sequence[Reserve], amounts: Sequence[int], modes: Sequence[int]) -> None:
    """Flash loan (§4.9): one amount and mode per asset; each reserve not a tranche (``20``),
    unfrozen, active and with flash loans on. Modes are checked asset by asset as the loan
    goes out (:func:`flash_mode`)."""
    if len(reserves) != len(amounts) or len(reserves) != len(modes):
        raise ProtocolError(E.INCONSISTENT_FLASHLOAN_PARAMS)
    for r in reserves:
        if r.tranche_of is not None:
            raise ProtocolError(E.TRANCHE_NO_FLASHLOAN)
        if r.frozen:
            raise ProtocolError(E.RESERVE_FROZEN)
        if not r.active:
            raise ProtocolError(E.RESERVE_INACTIVE)
        if not r.flash_loan_enabled:
            raise ProtocolError(E.FLASHLOAN_DISABLED)


def flash_mode(mode: int) -> None:
    """0 (pay back with the premium) or 1 (keep it as variable debt)."""
    if mode > 1 or mode < 0:
        raise ProtocolError(E.INVALID_RATE_MODE)


def credit_draw(r: Reserve, flow: int, limit: int, amount: int) -> None:
    """A Mini-Pool's draw on its Core credit line (§4.10): an active reserve with borrowing
    on, and the Mini-Pool's flow after within its limit."""
    if not r.active:
        raise ProtocolError(E.NO_ACTIVE_RESERVE)
    if not r.borrowing_enabled:
        raise ProtocolError(E.BORROWING_NOT_ENABLED)
    if flow + amount > limit:
        raise ProtocolError(E.FLOW_LIMIT_REACHED)
