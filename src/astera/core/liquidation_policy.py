"""Liquidation policies beyond the audited contracts (issue 15), each opt-in per pool.

The contracts liquidate at a fixed 50 % close factor, give the whole bonus to the
liquidator, and leave debt that no collateral covers on the books, accruing forever
(spec §4.8, §7.11, §7.13). A pool may opt into any of four rules learnt by the protocols
that came after; with none set, a liquidation is the contracts' to the wei.

1. **Deficit accounting** (as Aave v3.3). When a liquidation leaves the account with no
   collateral in the pool (no reserve with a liquidation threshold and the collateral bit
   holds any of its aTokens) and debt remains, every debt of the account in that pool is
   written off: its debt tokens are burnt, the amount is added to the reserve's
   ``deficit``, and the reserve is re-rated. The written-off debt stops accruing and stops
   counting as anyone's debt; ``aToken supply <= cash + debt + deficit`` keeps holding.
   The admin covers a deficit by burning the treasury's aTokens of the reserve
   (:func:`cover_deficit`): the treasury gives up its claim so that the suppliers' claims
   are backed again.

   *An account already without collateral.* ``repayWithATokens`` can burn an account's last
   aTokens and leaves the collateral bit on (spec §4.5, as the contracts), so the account
   owes with nothing behind it. A liquidation naming that reserve passes validation (the
   bit is on), seizes 0, which is all of it, and so writes the debt off: as in Aave v3.3,
   where ``hasNoCollateralLeft`` compares the account's total collateral value (0) with the
   value seized (0); no other liquidation can reach that debt. As there, the liquidator
   must take aTokens: the other form burns 0 aTokens, which the token refuses (``36``).
   Without deficit accounting the same call burns 0 debt and is refused (``36``).

   *In a Mini-Pool* the write-off is the same on a unique reserve and on a tranche (where
   the deficit is counted in Core aToken shares). It does not touch the Mini-Pool's debt to
   the Core-Pool: the flow debt stays owed, at the Core's rate, and is repaid from the
   tranche's incoming liquidity as before (§7.6). Until the deficit is covered, the
   tranche's depositors (third parties and the Mini-Pool's own self-deposit) hold aTokens
   worth ``deficit`` more than the reserve's cash and debt: whoever withdraws last bears it,
   and if the self-deposit cannot be recovered the Core-Pool's suppliers bear the rest
   (§7.13). Covering burns the Astera Mini-Pool treasury's aTokens of that reserve.

   While a reserve has a deficit, its liquidity rate is scaled by
   ``(cash + debt) / (cash + debt + deficit)`` (rounded down, after the Mini-Pool's rate
   floor): suppliers are paid the interest borrowers pay and nothing on the written-off part,
   so ``supply <= cash + debt + deficit`` keeps holding as time passes, not only right after
   the write-off. (A tranche with a deficit may so earn less than the floor of §8.6.)

2. **Dynamic close factor** (as Aave v3.3). A liquidation may repay all of the debt
   reserve's debt when the account's health factor is at or below ``close_all_hf``
   (default 0.95) or when the debt in that reserve, or the collateral in the seized
   reserve, is worth less than ``dust_base`` (default $2,000, oracle base units: USD with
   8 decimals); otherwise the contracts' 50 % applies. A partial liquidation (one that
   takes neither all of that debt nor all of that collateral) may not leave either worth
   less than ``min_leftover_base`` (default $1,000): it is refused with
   ``policy:must_not_leave_dust``. Values are ``price * amount // unit`` (rounded down).

3. **Target health factor** (as Aave v4 and Euler). A liquidation repays at most what
   brings the account's health factor to ``target_health_factor`` (wad), never more than
   the close factor allows. A dust position (rule 2's test, when rule 2 is on) is exempt:
   it may be closed in full. The amount is the exact solution of
   ``(S - x·B·LTc) / (D - x) = T`` (``S`` = Σ collateral value x threshold, ``D`` = total
   debt value, ``B`` the bonus and ``LTc`` the threshold of the seized reserve), in the
   debt asset's base units, **rounded up**: repaying it reaches the target, one wei less
   does not (before the protocol's own per-asset rounding of values). When the seized
   reserve's ``B·LTc`` is at or above the target no repayment can reach it and only the
   close factor limits the amount.

4. **Liquidation protocol fee** (as Aave v3), a reserve parameter in bps: that share of the
   bonus part of the seized collateral goes to the reserve's treasury as aTokens
   (``bonus = seized - percentDiv(seized, B)``, ``fee = percentMul(bonus, bps)``, both
   rounded half up), and the liquidator receives ``seized - fee``.

Policies are plain values, replaced whole through the journal; a pool without one stores
``None`` and is neither slower nor hashed differently than before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from . import errors as E
from .account import account_sums
from .errors import ProtocolError
from .events import Event
from .wadray import PERCENTAGE_FACTOR, WAD, percent_div, percent_mul

if TYPE_CHECKING:
    from .pool import Pool
    from .reserve import Reserve

#: Share of a position's debt one liquidation may repay by default (bps), as the contracts.
CLOSE_FACTOR = 5000
#: Aave v3.3's defaults: full close at or below HF 0.95, dust under $2,000, leftover >= $1,000.
DEFAULT_CLOSE_ALL_HF = 95 * WAD // 100
DEFAULT_DUST_BASE = 2_000 * 10**8
DEFAULT_MIN_LEFTOVER_BASE = 1_000 * 10**8
#: Upper bound of the base-unit thresholds and of a target health factor.
MAX_POLICY_VALUE = (1 << 128) - 1


@dataclass(frozen=True, slots=True)
class LiquidationPolicy:
    """A pool's liquidation rules; every rule off by default (the contracts' behaviour)."""

    deficit_accounting: bool = False
    dynamic_close_factor: bool = False
    close_all_hf: int = DEFAULT_CLOSE_ALL_HF
    dust_base: int = DEFAULT_DUST_BASE
    min_leftover_base: int = DEFAULT_MIN_LEFTOVER_BASE
    #: 0 = off; otherwise a health factor above 1 (wad).
    target_health_factor: int = 0

    def __post_init__(self) -> None:
        for name in ("deficit_accounting", "dynamic_close_factor"):
            if type(getattr(self, name)) is not bool:
                raise E.InputError("input:type", f"{name} must be a bool")
        for name in ("close_all_hf", "dust_base", "min_leftover_base", "target_health_factor"):
            value = getattr(self, name)
            if type(value) is not int:
                raise E.InputError("input:type", f"{name} must be an int")
            if not 0 <= value <= MAX_POLICY_VALUE:
                raise E.InputError("input:amount", f"{name} out of range [0, 2**128-1]: {value}")
        if self.close_all_hf > WAD or self.min_leftover_base > self.dust_base:
            raise ProtocolError(E.INVALID_CONFIGURATION, "close_all_hf <= 1 and min_leftover <= dust")
        if self.target_health_factor and self.target_health_factor <= WAD:
            raise ProtocolError(E.INVALID_CONFIGURATION, "a target health factor must exceed 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The policy of a pool that set none: the contracts' rules.
NO_POLICY = LiquidationPolicy()


def value_of(price: int, amount: int, unit: int) -> int:
    """An amount's value in oracle base units, rounded down (as Aave v3.3's dust tests)."""
    return price * amount // unit


def max_repay(
    pool: Pool,
    policy: LiquidationPolicy,
    target: str,
    health_factor: int,
    coll: Reserve,
    debt_r: Reserve,
    user_debt: int,
    user_coll: int,
) -> int:
    """The most of ``debt_r`` one liquidation of ``target`` may repay under ``policy``."""
    dust = False
    limit = percent_mul(user_debt, CLOSE_FACTOR)
    if policy.dynamic_close_factor:
        dust = (
            value_of(pool.price(debt_r), user_debt, debt_r.unit) < policy.dust_base
            or value_of(pool.price(coll), user_coll, coll.unit) < policy.dust_base
        )
        if dust or health_factor <= policy.close_all_hf:
            limit = user_debt
    if policy.target_health_factor and not dust:
        to_target = repay_to_target(pool, target, policy.target_health_factor, coll, debt_r)
        if to_target is not None and to_target < limit:
            limit = to_target
    return limit


def repay_to_target(pool: Pool, target: str, hf_target: int, coll: Reserve, debt_r: Reserve) -> int | None:
    """Debt (base units of ``debt_r``) whose repayment, seizing ``coll`` with its bonus, brings
    the account's health factor to ``hf_target``, rounded up; at least 1. ``None`` when
    seizing ``coll`` cannot raise the health factor (``bonus · threshold >= target``)."""
    _, total_debt, _, sum_lt = account_sums(pool, target)
    return repay_to_target_of_sums(pool, total_debt, sum_lt, hf_target, coll, debt_r)


def repay_to_target_of_sums(
    pool: Pool, total_debt: int, sum_lt: int, hf_target: int, coll: Reserve, debt_r: Reserve
) -> int | None:
    """:func:`repay_to_target` from the account's total debt and Σ value·threshold (§5.1), for a
    caller that already holds them (a keeper valuing many accounts at one moment)."""
    # (S/1e4 - x·B·LTc/1e8) / (D - x) = T/1e18 with x in oracle base units, solved exactly and
    # turned into the debt asset's units (x · unit / price) in one rounding:
    seized_weight: int = coll.liquidation_bonus * coll.liquidation_threshold * 10**10
    denominator = (hf_target - seized_weight) * pool.price(debt_r)
    if denominator <= 0:
        return None
    numerator = (hf_target * total_debt - sum_lt * 10**14) * debt_r.unit
    up: int = -(-numerator // denominator)
    return up if up > 1 else 1


def rate_with_deficit(liquidity_rate: int, backing: int, deficit: int) -> int:
    """The liquidity rate of a reserve with ``deficit``: paid on ``backing`` (cash + debt) only."""
    return liquidity_rate * backing // (backing + deficit)


def check_leftover(
    pool: Pool,
    policy: LiquidationPolicy,
    coll: Reserve,
    debt_r: Reserve,
    user_debt: int,
    repaid: int,
    user_coll: int,
    seized: int,
) -> None:
    """Refuse a partial liquidation that leaves dust debt or dust collateral (rule 2)."""
    if repaid >= user_debt or seized >= user_coll:
        return
    if (
        value_of(pool.price(debt_r), user_debt - repaid, debt_r.unit) < policy.min_leftover_base
        or value_of(pool.price(coll), user_coll - seized, coll.unit) < policy.min_leftover_base
    ):
        raise ProtocolError(E.MUST_NOT_LEAVE_DUST)


def protocol_fee(coll: Reserve, seized: int) -> int:
    """The treasury's share of the bonus in ``seized`` collateral (rule 4)."""
    bonus_part = seized - percent_div(seized, coll.liquidation_bonus)
    return percent_mul(bonus_part, coll.liquidation_protocol_fee)


def other_collateral(pool: Pool, user: str, coll: Reserve) -> bool:
    """Whether ``user`` holds collateral in ``pool`` outside ``coll``."""
    for r in pool.reserves:
        if (
            r is not coll
            and r.liquidation_threshold
            and pool.is_collateral(user, r)
            and r.a_scaled.get(user, 0)
        ):
            return True
    return False


def write_off(pool: Pool, user: str, r: Reserve) -> Event:
    """Burn ``user``'s whole remaining debt in ``r`` and record it as the reserve's deficit (rule 1)."""
    pool.update_state(r)
    scaled = r.d_scaled.get(user, 0)
    amount = r.debt_balance(user, pool.world.now)
    pool.world.journal.set(r.d_scaled, user, 0)
    pool.world.journal.save(r)
    r.d_scaled_total -= scaled
    event = record_deficit(pool, user, r, amount)
    pool.update_rates(r, 0, 0)
    pool.set_borrowing_bit(user, r, False)
    return event


def record_deficit(pool: Pool, user: str, r: Reserve, amount: int) -> Event:
    """Add ``amount`` of ``user``'s burnt debt to ``r``'s deficit."""
    pool.world.journal.setattr(r, "deficit", r.deficit + amount)
    return Event("DeficitCreated", pool.name, {"reserve": r.asset, "user": user, "amount": amount})


def cover_deficit(pool: Pool, r: Reserve, amount: int) -> list[Event]:
    """Burn the treasury's aTokens worth ``amount`` (at most the deficit) against the deficit."""
    if r.deficit == 0:
        raise ProtocolError(E.NO_DEFICIT)
    if amount > r.deficit:
        amount = r.deficit
    if amount == 0:
        raise ProtocolError(E.INVALID_AMOUNT)
    pool.update_state(r)
    pool.burn_a(r, r.treasury, amount, r.liquidity_index)
    pool.world.journal.setattr(r, "deficit", r.deficit - amount)
    pool.update_rates(r, 0, 0)
    return [
        Event("DeficitCovered", pool.name, {"reserve": r.asset, "treasury": r.treasury, "amount": amount})
    ]


def check_fee(fee_bps: int) -> int:
    """A liquidation protocol fee in bps: at most 100 % of the bonus."""
    if fee_bps > PERCENTAGE_FACTOR:
        raise ProtocolError(E.INVALID_CONFIGURATION, "a liquidation protocol fee is at most 10000 bps")
    return fee_bps
