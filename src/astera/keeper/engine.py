"""The liquidation engine: scan, plan, execute, repeat until healthy; report bad debt.

One :meth:`KeeperEngine.run` is what a keeper does after a price update or a block:

1. re-centre the model market on the oracle (arbitrageurs have moved it in the meantime);
2. ask the :class:`~astera.keeper.monitor.Monitor` for every account with HF < 1 (exact);
3. for each, largest debt first: plan a liquidation, submit it, and repeat while the account
   is still below 1 and a profitable liquidation exists, at most ``max_rounds`` times;
4. classify what is left unhealthy: **bad debt** when no collateral remains (per pool and
   reserve: the debt nobody can recover by liquidation), otherwise **unprofitable** (collateral
   remains but no size sells for the repayment plus the margin), or **unfinished** when the
   round limit stopped it.

Everything is deterministic: same protocol state, market and configuration, same
liquidations in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from astera.core import WAD, Protocol, ProtocolError

from .executor import Execution, FlashLiquidityShort, SlippageExceeded, Submitter
from .market import Market
from .monitor import Monitor, PoolRef, Unhealthy
from .planner import LiquidationPlan, Planner, PlannerConfig, account_legs


@dataclass(frozen=True)
class BadDebt:
    """Debt left on an account that has no collateral: ``amount`` of a reserve, and its USD value."""

    pool: PoolRef
    user: str
    reserve: str
    amount: int
    value: int


@dataclass(frozen=True)
class Failure:
    """A planned liquidation that was refused (nothing changed); the account is left for the next run."""

    plan: LiquidationPlan
    reason: str


@dataclass
class KeeperReport:
    """What one engine run found and did."""

    unhealthy: list[Unhealthy] = field(default_factory=list)
    liquidations: list[Execution] = field(default_factory=list)
    bad_debt: list[BadDebt] = field(default_factory=list)
    unprofitable: list[Unhealthy] = field(default_factory=list)
    #: Still unhealthy after ``max_rounds`` liquidations in this run; the next run goes on.
    unfinished: list[Unhealthy] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def bad_debt_by_reserve(self) -> dict[tuple[PoolRef, str], tuple[int, int]]:
        """Bad debt summed per (pool, reserve): (amount in reserve units, USD value)."""
        out: dict[tuple[PoolRef, str], tuple[int, int]] = {}
        for b in self.bad_debt:
            amount, value = out.get((b.pool, b.reserve), (0, 0))
            out[(b.pool, b.reserve)] = (amount + b.amount, value + b.value)
        return out


class KeeperEngine:
    """Monitor + planner + submitter over one protocol and one market."""

    def __init__(
        self,
        protocol: Protocol,
        market: Market,
        submitter: Submitter,
        config: PlannerConfig | None = None,
        monitor: Monitor | None = None,
        anchor_market: bool = True,
    ) -> None:
        self.protocol = protocol
        self.market = market
        self.submitter = submitter
        self.config = config or PlannerConfig()
        self.monitor = monitor or Monitor(protocol)
        self.planner = Planner(protocol, market, self.config, submitter.premium_bps)
        self.anchor_market = anchor_market

    def oracle_prices(self) -> dict[str, int]:
        return {asset: self.protocol.price(asset) for asset in self.protocol.decimals}

    def run(self) -> KeeperReport:
        """Liquidate every unhealthy account as far as it is profitable."""
        if self.anchor_market:
            self.market.anchor(self.oracle_prices())
        report = KeeperReport(unhealthy=self.monitor.scan())
        order = {index.ref: i for i, index in enumerate(self.monitor.indexes)}
        queue = sorted(report.unhealthy, key=lambda u: (order[u.pool], -u.account.total_debt_base, u.user))
        for target in queue:
            self._liquidate_account(target, report)
        return report

    def _reindex(self, plan: LiquidationPlan) -> None:
        """Re-read the positions a liquidation can change: the target's and the liquidator's.

        Everything else it writes belongs to holders that never borrow (treasuries, the
        Mini-Pool's own Core accounts), so this is exact and cheaper than journal tracking.
        """
        liquidator = self.submitter.liquidator
        self.monitor.touch(plan.pool, (plan.user, liquidator))
        if plan.pool != "core":
            self.monitor.touch("core", (liquidator,))

    def _liquidate_account(self, target: Unhealthy, report: KeeperReport) -> None:
        pool = self.protocol.pool(target.pool)
        data = target.account
        for _ in range(self.config.max_rounds):
            if data.health_factor >= WAD:
                return
            plan = self.planner.plan(target.pool, target.user, data)
            if plan is None:
                break
            try:
                execution = self.submitter.submit(plan)
            except (ProtocolError, SlippageExceeded, FlashLiquidityShort) as e:
                report.failures.append(Failure(plan, getattr(e, "code", type(e).__name__)))
                return
            self._reindex(plan)
            report.liquidations.append(execution)
            data = execution.account_after
        else:
            if data.health_factor < WAD:
                report.unfinished.append(Unhealthy(target.pool, target.user, data))
            return
        if data.total_collateral_base == 0:
            _, debts = account_legs(pool, target.user)
            report.bad_debt += [
                BadDebt(target.pool, target.user, d.reserve.asset, d.amount, d.value) for d in debts
            ]
        else:
            report.unprofitable.append(Unhealthy(target.pool, target.user, data))
