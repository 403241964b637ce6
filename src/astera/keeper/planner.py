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

Mini-Pool tranches: seized tranche collateral is taken *unwrapped* (the liquidator receives
the Core underlying, which is what markets trade), and tranche debt is repaid in Core aToken
shares that the executor mints by depositing the underlying into the Core first. All amounts
are integers; nothing here mutates the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from astera.core import AccountData, Protocol, account_data
from astera.core.liquidation import collateral_to_seize
from astera.core.pool import CLOSE_FACTOR, Pool
from astera.core.reserve import Reserve
from astera.core.wadray import PERCENTAGE_FACTOR, RAY, percent_mul, ray_div

from .market import Market
from .monitor import PoolRef

#: Funding premium (bps) the executor pays to borrow ``pay_asset`` for a liquidation in a pool.
PremiumBps = Callable[[PoolRef, str], int]


@dataclass(frozen=True)
class PlannerConfig:
    """Knobs of the liquidation strategy."""

    #: Required profit over cost, in bps of the cost.
    margin_bps: int = 50
    #: Most liquidations of one account in one engine run (the loop always ends).
    max_rounds: int = 32


@dataclass(frozen=True)
class Leg:
    """One side of an account in one reserve: an amount and its oracle value (USD, 8 decimals)."""

    reserve: Reserve
    amount: int
    value: int


@dataclass(frozen=True)
class LiquidationPlan:
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

    @property
    def profit(self) -> int:
        return self.proceeds - self.cost

    @property
    def slippage_bps(self) -> int:
        """How much below the oracle value the sale is quoted (fee included), in bps."""
        if self.fair_value == 0:
            return 0
        return (self.fair_value - self.proceeds) * PERCENTAGE_FACTOR // self.fair_value


def account_legs(pool: Pool, user: str) -> tuple[list[Leg], list[Leg]]:
    """The user's collateral legs (counted in the HF) and debt legs, exact."""
    cfg = pool.user_config.get(user, 0)
    now = pool.proto.now
    collateral, debt = [], []
    for r in pool.reserves:
        bits = (cfg >> (2 * r.id)) & 3
        if not bits:
            continue
        price = pool.price(r)
        if bits & 2 and r.liquidation_threshold:
            amount = r.a_balance(user, now)
            if amount:
                collateral.append(Leg(r, amount, price * amount // r.unit))
        if bits & 1:
            amount = r.debt_balance(user, now)
            if amount:
                debt.append(Leg(r, amount, -(-price * amount // r.unit)))
    return collateral, debt


def deposit_for_shares(pool: Pool, core_reserve: Reserve, shares: int) -> int:
    """Smallest Core deposit of the underlying that mints at least ``shares`` aToken shares."""
    index = core_reserve.normalized_income(pool.proto.now)
    assets = (shares * index + RAY - 1) // RAY
    while ray_div(assets, index) < shares:
        assets += 1
    return assets


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

    def plan(self, ref: PoolRef, user: str, data: AccountData | None = None) -> LiquidationPlan | None:
        """The liquidation to do now on ``user`` in pool ``ref``, or None (healthy or unprofitable).

        ``data`` is the user's current account data, if the caller already has it.
        """
        pool = self.protocol.pool(ref)
        data = data or account_data(pool, user)
        if data.health_factor >= 10**18:
            return None
        collateral, debt = account_legs(pool, user)
        collateral.sort(key=lambda leg: (-leg.reserve.liquidation_bonus, -leg.value, leg.reserve.id))
        debt.sort(key=lambda leg: (-leg.value, leg.reserve.id))
        for c in collateral:
            for d in debt:
                plan = self._size(ref, pool, user, c, d, data.health_factor)
                if plan is not None:
                    return plan
        return None

    def _size(self, ref: PoolRef, pool: Pool, user: str, c: Leg, d: Leg, hf: int) -> LiquidationPlan | None:
        """The largest profitable repayment of ``d`` against ``c`` (bisection), or None."""
        coll_r, debt_r = c.reserve, d.reserve
        receive_asset = coll_r.tranche_of.asset if coll_r.tranche_of is not None else coll_r.asset
        pay_asset = debt_r.tranche_of.asset if debt_r.tranche_of is not None else debt_r.asset
        if not self.market.has_route(receive_asset, pay_asset):
            return None
        premium = self.premium_bps(ref, pay_asset)
        prices = (pool.price(coll_r), pool.price(debt_r))

        def evaluate(cover: int) -> LiquidationPlan | None:
            return self._evaluate(ref, pool, user, c, d, hf, cover, prices, receive_asset, pay_asset, premium)

        max_cover = percent_mul(d.amount, CLOSE_FACTOR)
        best = evaluate(max_cover)
        if best is not None:
            return best
        lo, hi = 0, max_cover  # evaluate(hi) fails; lo is the best size found so far
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if evaluate(mid) is None:
                hi = mid
            else:
                lo = mid
        return evaluate(lo) if lo else None

    def _evaluate(
        self,
        ref: PoolRef,
        pool: Pool,
        user: str,
        c: Leg,
        d: Leg,
        hf: int,
        cover: int,
        prices: tuple[int, int],
        receive_asset: str,
        pay_asset: str,
        premium: int,
    ) -> LiquidationPlan | None:
        """The plan for a requested repayment, if it is feasible and profitable."""
        coll_r, debt_r = c.reserve, d.reserve
        seized, needed = collateral_to_seize(
            prices[0], prices[1], coll_r.decimals, debt_r.decimals, coll_r.liquidation_bonus, cover, c.amount
        )
        actual = min(cover, needed)
        if actual == 0 or seized == 0 or pool.cash(coll_r) < seized:
            return None
        core = self.protocol.core
        receive_amount = seized
        if coll_r.tranche_of is not None:
            receive_amount = core.shares_to_assets(coll_r.tranche_of, seized)
            if core.cash(coll_r.tranche_of) < receive_amount:
                return None
        pay_amount = actual
        if debt_r.tranche_of is not None:
            pay_amount = deposit_for_shares(pool, debt_r.tranche_of, actual)
        cost = pay_amount + pay_amount * premium // PERCENTAGE_FACTOR
        proceeds = self.market.quote(receive_asset, receive_amount, pay_asset)
        if proceeds == 0 or proceeds * PERCENTAGE_FACTOR < cost * (
            PERCENTAGE_FACTOR + self.config.margin_bps
        ):
            return None
        p = self.protocol
        fair = (
            receive_amount
            * p.price(receive_asset)
            * 10 ** p.decimals[pay_asset]
            // (p.price(pay_asset) * 10 ** p.decimals[receive_asset])
        )
        return LiquidationPlan(
            pool=ref,
            user=user,
            collateral=coll_r.asset,
            debt=debt_r.asset,
            collateral_type=coll_r.reserve_type,
            debt_type=debt_r.reserve_type,
            debt_to_cover=cover,
            debt_repaid=actual,
            collateral_seized=seized,
            bonus=coll_r.liquidation_bonus,
            receive_asset=receive_asset,
            receive_amount=receive_amount,
            unwrap=coll_r.tranche_of is not None,
            pay_asset=pay_asset,
            pay_amount=pay_amount,
            cost=cost,
            proceeds=proceeds,
            fair_value=fair,
            health_factor=hf,
        )
