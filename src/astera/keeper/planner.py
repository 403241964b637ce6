"""Plan one liquidation of an unhealthy account: which assets, how much, and is it worth it.

The rules, from the liquidation document and the contracts (§4.8, §5.4, §7.11):

* **Collateral**: the one with the highest liquidation bonus (ties: the larger value, then
  the lower reserve id). If no profitable liquidation takes it, the next bonus is tried.
* **Debt**: the largest debt by value first; the close factor allows up to 50% of it.
* **Size**: the protocol's own arithmetic (:func:`astera.core.liquidation.collateral_to_seize`)
  says what a repayment buys; the market (:class:`~astera.keeper.market.Market`) says what
  that collateral sells for. A size is *profitable* when the sale returns at least the cost
  (the repayment, plus a flash-loan premium if one funds it) plus ``margin_bps`` of it. The
  planner takes the full 50% when that is profitable and otherwise shrinks the repayment by
  bisection to the largest profitable size: sales get relatively worse as they grow (slippage
  is concave), so the profitable sizes form an interval from zero.
* **Liquidity**: collateral paid out in the underlying needs the reserve's cash (``76``), and a
  tranche paid out unwrapped needs the Core's cash too; sizes beyond either are not planned.
* **Write-offs**: under deficit accounting, an account whose collateral bit is on over an
  empty balance (``repayWithATokens`` burnt its last aTokens) and that has no other
  collateral has its debt written off by an aToken liquidation naming that reserve, which
  repays nothing and seizes nothing (:mod:`astera.core.liquidation_policy`, rule 1). That
  costs the liquidator nothing (its collateral bit in that reserve is turned on, over a zero
  balance, if it held none: it counts for nothing), earns it nothing, and stops the debt from
  accruing on the books as bad debt: the keeper plans it.
* **The pool's liquidation policy** (:mod:`astera.core.liquidation_policy`), when it has one:
  the largest request is the policy's (dynamic close factor, target health factor, computed
  by the core's own :func:`~astera.core.liquidation_policy.max_repay`), a size the dust rule
  would refuse is not planned (the refused sizes lie just below taking everything, so the
  profitable, allowed ones still form an interval from zero, plus the whole), and the
  protocol fee's share of the seized collateral is not the liquidator's to sell.
* **The protocol fee's rounding is not profit**: a size is judged with the fee at least at its
  exact share rounded up (:func:`judged_fee`). The core rounds the fee half up, so on a few
  units of a collateral with few decimals (under ~80 satoshis of WBTC at a 6 % bonus and a
  10 % fee) it is 0 and the liquidator keeps the whole bonus. Counted on, that made such dust
  sizes profitable where every larger one was not, once the keeper's own sales had moved a
  venue between the liquidator's share of the bonus and the whole of it: the profitable sizes
  were no longer an interval from zero, the bisection settled on dust (a few cents repaid per
  liquidation, up to ``max_rounds`` a run, run after run), and the ``liquidation-policies``
  study made 56,367 liquidations a path under a 10 % fee against 1,144 without it, for the
  same debt repaid (now 1,096).

Mini-Pool tranches: seized tranche collateral is taken *unwrapped* (the liquidator receives
the Core underlying, which is what markets trade), and tranche debt is repaid in Core aToken
shares that the executor mints by depositing the underlying into the Core first. All amounts
are integers; nothing here mutates the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from astera.core import WAD, Protocol, ProtocolError
from astera.core.liquidation import collateral_to_seize
from astera.core.liquidation_policy import CLOSE_FACTOR, check_leftover, max_repay, protocol_fee
from astera.core.pool import Pool
from astera.core.wadray import HALF_PERCENT, PERCENTAGE_FACTOR, RAY, percent_mul, ray_div, ray_mul

from .market import Market
from .monitor import PoolRef
from .valuation import Leg, Position

#: Funding premium (bps) the executor pays to borrow ``pay_asset`` for a liquidation in a pool.
PremiumBps = Callable[[PoolRef, str], int]


@dataclass(frozen=True)
class PlannerConfig:
    """Knobs of the liquidation strategy."""

    #: Required profit over cost, in bps of the cost.
    margin_bps: int = 50
    #: Most liquidations of one account in one engine run (the loop always ends).
    max_rounds: int = 32


class LiquidationPlan(NamedTuple):
    """One ``liquidate`` call, fully sized, with the sale of what it seizes."""

    pool: PoolRef
    user: str
    #: Reserves as the protocol's ``liquidate`` names them (the types matter in the Core only).
    collateral: str
    debt: str
    collateral_type: bool
    debt_type: bool
    #: The request passed to ``liquidate``, and what the protocol will take and give for it
    #: (reserve units). When all the collateral goes, the repayment is less than the request.
    debt_to_cover: int
    debt_repaid: int
    collateral_seized: int
    bonus: int
    #: What the liquidator receives, and sells into ``pay_asset``.
    receive_asset: str
    receive_amount: int
    unwrap: bool
    #: What the liquidator spends: ``pay_amount`` of ``pay_asset``; ``cost`` adds the funding premium.
    pay_asset: str
    pay_amount: int
    cost: int
    #: Quoted sale proceeds, and the oracle value of what is sold, both in ``pay_asset`` units.
    proceeds: int
    fair_value: int
    health_factor: int
    #: Tranche debt is repaid in Core aToken shares, minted by depositing ``pay_amount`` first.
    mints_shares: bool
    #: A write-off (:meth:`Planner.write_off`): sent in the aToken form, repays and seizes nothing.
    write_off: bool = False

    @property
    def profit(self) -> int:
        return self.proceeds - self.cost

    @property
    def slippage_bps(self) -> int:
        """How much below the oracle value the sale is quoted (fee included), in bps."""
        if self.fair_value == 0:
            return 0
        return (self.fair_value - self.proceeds) * PERCENTAGE_FACTOR // self.fair_value


def deposit_for_shares(index: int, shares: int) -> int:
    """Smallest Core deposit of the underlying that mints at least ``shares`` aToken shares at ``index``."""
    assets = (shares * index + RAY - 1) // RAY
    while ray_div(assets, index) < shares:
        assets += 1
    return assets


class _Pair:
    """One collateral leg against one debt leg of an account: everything sizing needs that does
    not depend on the size, read once."""

    __slots__ = (
        "planner", "ref", "user", "hf", "c", "d", "cash", "unwrap_index", "core_cash", "receive_asset",
        "mint_index", "pay_asset", "fair_num", "fair_den", "premium", "required", "pool", "max_cover",
    )  # fmt: skip

    def __init__(
        self, planner: Planner, ref: PoolRef, pool: Pool, user: str, hf: int, c: Leg, d: Leg
    ) -> None:
        p = planner.protocol
        self.planner, self.ref, self.user, self.hf, self.c, self.d = planner, ref, user, hf, c, d
        coll_r, debt_r = c.reserve, d.reserve
        self.cash = pool.cash(coll_r)
        self.pool = pool
        policy = pool.liquidation_policy
        self.max_cover = (
            percent_mul(d.amount, CLOSE_FACTOR)
            if policy is None
            else max_repay(pool, policy, user, hf, coll_r, debt_r, d.amount, c.amount)
        )
        #: Tranche collateral is paid out unwrapped (Core shares → underlying at the Core
        #: income), which needs the Core's cash as well.
        self.unwrap_index: int | None = None
        self.core_cash = 0
        #: Oracle value of what is received, in ``pay_asset`` units: ``receive · fair_num // fair_den``.
        receive_price, receive_unit = c.price, coll_r.unit
        if coll_r.tranche_of is None:
            self.receive_asset = coll_r.asset
        else:
            core_r = coll_r.tranche_of
            self.receive_asset = core_r.asset
            self.unwrap_index = core_r.normalized_income(p.now)
            self.core_cash = p.core.cash(core_r)
            receive_price, receive_unit = p.price(core_r.asset), core_r.unit
        pay_price, pay_unit = d.price, debt_r.unit
        #: Tranche debt is repaid in Core shares, minted by a deposit at the Core income.
        self.mint_index: int | None = None
        if debt_r.tranche_of is None:
            self.pay_asset = debt_r.asset
        else:
            core_r = debt_r.tranche_of
            self.pay_asset = core_r.asset
            self.mint_index = core_r.normalized_income(p.now)
            pay_price, pay_unit = p.price(core_r.asset), core_r.unit
        self.fair_num, self.fair_den = receive_price * pay_unit, pay_price * receive_unit
        self.premium = planner.premium_bps(ref, self.pay_asset)
        #: Proceeds must reach the cost times this, in bps (the margin on top).
        self.required = PERCENTAGE_FACTOR + planner.config.margin_bps

    def size(self, cover: int) -> LiquidationPlan | None:
        """The plan for requesting ``cover``, if it is feasible and profitable."""
        c, d = self.c, self.d
        coll_r, debt_r = c.reserve, d.reserve
        seized, needed = collateral_to_seize(
            c.price, d.price, coll_r.decimals, debt_r.decimals, coll_r.liquidation_bonus, cover, c.amount
        )
        actual = cover if cover < needed else needed
        fee = protocol_fee(coll_r, seized) if coll_r.liquidation_protocol_fee else 0
        receive = seized - fee
        if actual == 0 or seized == 0 or self.cash < receive:
            return None
        fee_up = judged_fee(coll_r.liquidation_bonus, coll_r.liquidation_protocol_fee, seized, fee)
        policy = self.pool.liquidation_policy
        if policy is not None and policy.dynamic_close_factor:
            try:
                check_leftover(self.pool, policy, coll_r, debt_r, d.amount, actual, c.amount, seized)
            except ProtocolError:
                return None
        if self.unwrap_index is not None:
            receive = ray_mul(receive, self.unwrap_index)
            if self.core_cash < receive:
                return None
        pay = actual if self.mint_index is None else deposit_for_shares(self.mint_index, actual)
        cost = pay + pay * self.premium // PERCENTAGE_FACTOR
        proceeds = self.planner.market.quote(self.receive_asset, receive, self.pay_asset)
        if proceeds == 0:
            return None
        # Judged without the fee's rounding: the sale of the smaller amount returns at least
        # this share of the proceeds (sales get relatively worse as they grow).
        judged = proceeds if fee_up == fee else proceeds * (seized - fee_up) // (seized - fee)
        if judged * PERCENTAGE_FACTOR < cost * self.required:
            return None
        # Positional, in field order: keyword construction of this 20-field tuple costs a
        # measurable share of a liquidation in the engine's hot loop.
        return LiquidationPlan(
            self.ref,  # pool
            self.user,  # user
            coll_r.asset,  # collateral
            debt_r.asset,  # debt
            coll_r.reserve_type,  # collateral_type
            debt_r.reserve_type,  # debt_type
            cover,  # debt_to_cover
            actual,  # debt_repaid
            seized,  # collateral_seized
            coll_r.liquidation_bonus,  # bonus
            self.receive_asset,  # receive_asset
            receive,  # receive_amount
            self.unwrap_index is not None,  # unwrap
            self.pay_asset,  # pay_asset
            pay,  # pay_amount
            cost,  # cost
            proceeds,  # proceeds
            receive * self.fair_num // self.fair_den,  # fair_value
            self.hf,  # health_factor
            self.mint_index is not None,  # mints_shares
        )

    def largest(self) -> LiquidationPlan | None:
        """The largest profitable request up to the close factor (bisection below it), or None."""
        max_cover = self.max_cover
        best = self.size(max_cover)
        if best is not None or self.hopeless(max_cover):
            return best
        lo, hi = 0, max_cover  # size(hi) fails; lo is the best size found so far
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.size(mid) is None:
                hi = mid
            else:
                lo = mid
        return self.size(lo) if lo else None

    def hopeless(self, max_cover: int) -> bool:
        """True when no request in ``1..max_cover`` can be profitable, proved from the market's
        best rate (:meth:`~astera.keeper.market.Market.rate_bound`) alone: the bisection in
        :meth:`largest` would find nothing, so it is skipped (same answer, one check instead of
        ~60 sizings). Typical after the keeper's own sales have moved a venue within a run.

        Only a pair paid and received in its own reserves' assets is judged (no tranche
        wrapping), so ``cost ≥ repaid``. With ``N = dp·10^cd·bonus``, ``D = 10⁴·cp·10^dd`` and
        the sale judged at most ``seized·kept/whole·num/den`` (:func:`liquidator_share`; ``kept
        = whole`` without a protocol fee): a request repaid in full seizes at most
        ``(repaid·N + 5000) / D`` (``percentMul`` rounds half up, then a floor); a capped one
        that repays ``repaid < request`` seizes at most that too. So ``(N + 5000)·kept·num <
        required·den·whole·D / 10⁴`` makes every such size unprofitable; the one size left, all
        the collateral for less than the request, is quoted on all it seizes (under a fee more
        than the liquidator receives, so still a bound).
        """
        wrapped = self.unwrap_index is not None or self.mint_index is not None
        if wrapped or self.receive_asset == self.pay_asset:
            return False
        bound = self.planner.market.rate_bound(self.receive_asset, self.pay_asset)
        if bound is None:
            return False
        num, den = bound
        c, d = self.c, self.d
        coll_r, debt_r = c.reserve, d.reserve
        n = d.price * 10**coll_r.decimals * coll_r.liquidation_bonus
        kept, whole = liquidator_share(coll_r.liquidation_bonus, coll_r.liquidation_protocol_fee)
        if (n + HALF_PERCENT) * num * kept >= self.required * den * c.price * 10**debt_r.decimals * whole:
            return False
        seized, needed = collateral_to_seize(
            c.price, d.price, coll_r.decimals, debt_r.decimals, coll_r.liquidation_bonus, max_cover, c.amount
        )
        if needed >= max_cover or needed == 0:  # never capped below the request, or repays nothing
            return True
        proceeds = self.planner.market.quote(self.receive_asset, seized, self.pay_asset)
        return proceeds * PERCENTAGE_FACTOR < needed * self.required


def liquidator_share(bonus: int, fee_bps: int) -> tuple[int, int]:
    """``(kept, whole)``: the share ``kept/whole`` of seized collateral that is the liquidator's
    under a protocol fee of ``fee_bps`` of the bonus, exactly: ``1 − (bonus − 10⁴)/bonus ·
    fee_bps/10⁴`` (``(1, 1)`` in effect without a fee). The most of a seizure a size's profit is
    judged on (:func:`judged_fee`), and so a bound the proofs that skip sizing use too
    (:meth:`_Pair.hopeless`, :mod:`.screen`)."""
    whole = bonus * PERCENTAGE_FACTOR
    return whole - (bonus - PERCENTAGE_FACTOR) * fee_bps, whole


def judged_fee(bonus: int, fee_bps: int, seized: int, fee: int) -> int:
    """The protocol fee a size's profit is judged with: the core's ``fee`` on ``seized``, or the
    fee's exact share of it (:func:`liquidator_share`) rounded up where that is more. The core
    rounds half up, to 0 on a few units of collateral, and a keeper that counted on that would
    liquidate in dust (module docstring); with this, no size keeps more than the liquidator's
    exact share of the bonus, small ones less, so the profitable sizes stay an interval from
    zero and the bisection in :meth:`_Pair.largest` finds their top."""
    if fee_bps == 0:
        return fee
    kept, whole = liquidator_share(bonus, fee_bps)
    exact_up = -(-seized * (whole - kept) // whole)
    return exact_up if exact_up > fee else fee


def _collateral_order(leg: Leg) -> tuple[int, int, int]:
    """Highest bonus first, then the larger value, then the lower reserve id."""
    return (-leg.reserve.liquidation_bonus, -leg.value, leg.reserve.id)


def _debt_order(leg: Leg) -> tuple[int, int]:
    """Largest value first, then the lower reserve id."""
    return (-leg.value, leg.reserve.id)


class Planner:
    """Sizes liquidations against a market for one liquidator."""

    def __init__(
        self,
        protocol: Protocol,
        market: Market,
        config: PlannerConfig | None = None,
        premium_bps: PremiumBps | None = None,
    ) -> None:
        self.protocol = protocol
        self.market = market
        self.config = config or PlannerConfig()
        self.premium_bps: PremiumBps = premium_bps or (lambda pool, asset: 0)

    def plan(self, ref: PoolRef, user: str, position: Position) -> LiquidationPlan | None:
        """The liquidation to do now on ``user`` in pool ``ref``, or None (healthy or unprofitable).

        ``position`` is the user's current position (:meth:`~astera.keeper.valuation.Valuation.position`).
        """
        hf = position.account.health_factor
        if hf >= WAD:
            return None
        collateral, debt = position.collateral, position.debt
        if not collateral:
            return self.write_off(ref, user, position)
        if len(collateral) > 1:
            collateral = sorted(collateral, key=_collateral_order)
        if len(debt) > 1:
            debt = sorted(debt, key=_debt_order)
        market, pool = self.market, position.valuation.pool
        for c in collateral:
            for d in debt:
                pair = _Pair(self, ref, pool, user, hf, c, d)
                if market.has_route(pair.receive_asset, pair.pay_asset):
                    plan = pair.largest()
                    if plan is not None:
                        return plan
        return None

    def write_off(self, ref: PoolRef, user: str, position: Position) -> LiquidationPlan | None:
        """The free liquidation that writes off the debt of an account with no collateral left,
        or None where none can (no deficit accounting; no collateral bit over an empty balance)."""
        pool = position.valuation.pool
        policy = pool.liquidation_policy
        if policy is None or not policy.deficit_accounting or not position.debt:
            return None
        empty = [
            r
            for r in pool.reserves
            if r.liquidation_threshold
            and r.active
            and pool.is_collateral(user, r)
            and r.a_scaled.get(user, 0) == 0
        ]
        if not empty:
            return None
        c, d = empty[0].asset, min(position.debt, key=_debt_order)
        debt_r = d.reserve
        pay = debt_r.asset if debt_r.tranche_of is None else debt_r.tranche_of.asset
        hf = position.account.health_factor
        # Positional, in field order (as in _Pair.size): nothing repaid, seized, received or sold.
        return LiquidationPlan(
            ref, user, c, debt_r.asset, empty[0].reserve_type, debt_r.reserve_type, d.amount,
            0, 0, empty[0].liquidation_bonus, c, 0, False, pay, 0, 0, 0, 0, hf, False, True,
        )  # fmt: skip
