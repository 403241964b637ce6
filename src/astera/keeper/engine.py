"""The liquidation engine: scan, plan, execute, repeat until healthy; report bad debt.

One :meth:`KeeperEngine.run` is what a keeper does after a price update or a block:

1. re-centre the model market on the oracle (arbitrageurs have moved it in the meantime);
2. ask the :class:`~astera.keeper.monitor.Monitor` for every account with HF < 1 (exact),
   Core-Pool first, then Mini-Pools, the largest debt first within each;
3. for each, valued exactly when its turn comes (:class:`~astera.keeper.valuation.Valuation`:
   legs and account data): plan a liquidation, submit it, and repeat while the account is
   still below 1 and a profitable liquidation exists, at most ``max_rounds`` times;
4. classify what is left unhealthy: **bad debt** when no collateral remains (per pool and
   reserve: the debt nobody can recover by liquidation), otherwise **unprofitable** (collateral
   remains but no size sells for the repayment plus the margin), or **unfinished** when the
   round limit stopped it. In a pool with deficit accounting such debt does not stay on the
   account: the liquidation that took the last collateral wrote it off, or, where none was
   left (a collateral bit on over an empty balance), the free write-off the planner plans
   (:meth:`~astera.keeper.planner.Planner.write_off`) does; the run reports it per reserve
   as **deficits** instead.

Everything is deterministic: same protocol state, market and configuration, same
liquidations in the same order (within a pool the order follows the monitor's float estimate
of each debt, which one NumPy build computes the same way every time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from astera.core import WAD, AccountData, Pool, Protocol, ProtocolError

from .executor import Execution, FlashLiquidityShort, HeldBack, Submitter
from .market import Market, SlippageExceeded
from .monitor import Monitor, PoolIndex, PoolRef, Unhealthy
from .planner import LiquidationPlan, Planner, PlannerConfig
from .screen import MarketScreen
from .valuation import Position, Valuation


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
    """A planned liquidation that was refused (nothing changed); the account is left for the next run.
    ``reason`` is the code (as counted), ``text`` the refusal in plain words (as shown)."""

    plan: LiquidationPlan
    reason: str
    text: str


class TakenUp(NamedTuple):
    """An account a run took up with HF < 1, and its health factor (wad), collateral and debt
    (USD, 8 decimals) at that moment. What it was liquidated of is in the report's executions."""

    pool: PoolRef
    user: str
    health_factor: int
    collateral_base: int
    debt_base: int

    @classmethod
    def of(cls, pool: PoolRef, user: str, account: AccountData) -> TakenUp:
        return cls(pool, user, account.health_factor, account.total_collateral_base, account.total_debt_base)


@dataclass
class KeeperReport:
    """What one engine run found and did."""

    #: Every account taken up with HF < 1, in the order taken, with its figures then.
    unhealthy: list[TakenUp] = field(default_factory=list)
    liquidations: list[Execution] = field(default_factory=list)
    bad_debt: list[BadDebt] = field(default_factory=list)
    unprofitable: list[Unhealthy] = field(default_factory=list)
    #: Still unhealthy after ``max_rounds`` liquidations in this run; the next run goes on.
    unfinished: list[Unhealthy] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: Plans the submitter held back unsent, unreported: refused before for a reason that still
    #: holds (:class:`~astera.keeper.executor.HeldBack`). Their accounts wait, as refused ones do.
    held_back: list[LiquidationPlan] = field(default_factory=list)
    #: Borrowers no one can value now: they hold a position in a reserve whose price the oracle
    #: refuses (a stale feed without a fallback, ``78``). Neither liquidatable nor known healthy.
    unpriced: list[tuple[PoolRef, str]] = field(default_factory=list)
    #: How many accounts below 1 (as the monitor found them) the market screen proved no
    #: liquidation could profit from at the run's rates, and left unvalued (``screen=True``).
    screened: int = 0
    #: Debt the run's liquidations wrote off into reserve deficits (pools with deficit
    #: accounting), per (pool, reserve), in reserve units.
    deficits: dict[tuple[PoolRef, str], int] = field(default_factory=dict)

    def bad_debt_by_reserve(self) -> dict[tuple[PoolRef, str], tuple[int, int]]:
        """Bad debt summed per (pool, reserve): (amount in reserve units, USD value)."""
        out: dict[tuple[PoolRef, str], tuple[int, int]] = {}
        for b in self.bad_debt:
            amount, value = out.get((b.pool, b.reserve), (0, 0))
            out[(b.pool, b.reserve)] = (amount + b.amount, value + b.value)
        return out


class _Run:
    """One engine run's working state: a valuation per pool, and the accounts the run has
    liquidated, to re-index at its end.

    Within a run only the engine writes to the protocol, and time stands still. A liquidation
    leaves every reserve's price and normalized indexes as they were: ``updateState`` rolls an
    index forward to the value the normalized index already had, and rates only matter across
    time. So one valuation per pool serves the whole run, and every account is valued from
    its live balances when the engine takes it up. What does move an index is a funding
    premium (a flash loan's is added to the lending reserve's liquidity index, and Mini-Pool
    tranche prices follow the Core's): after one, the valuations are made afresh. Tests hold
    the core to this on real liquidations and check every plan against the account as it is.

    A liquidation writes the positions of its target and of the liquidator only (everything
    else it writes belongs to holders that never borrow: treasuries, the Mini-Pool's own Core
    accounts), so those are the ones re-indexed.
    """

    def __init__(self, monitor: Monitor, liquidator: str) -> None:
        self.indexes: dict[PoolRef, PoolIndex] = {index.ref: index for index in monitor.indexes}
        self.liquidator = liquidator
        self.valuations: dict[PoolRef, Valuation] = {}
        self.liquidated: dict[PoolRef, list[str]] = {}

    def valuation(self, ref: PoolRef) -> Valuation:
        """The pool's valuation for this moment of the run."""
        valuation = self.valuations.get(ref)
        if valuation is None:
            valuation = self.valuations[ref] = Valuation(self.indexes[ref].pool)
        return valuation

    def submitted(self, plan: LiquidationPlan) -> None:
        """After a liquidation: remember whose position changed; after a premium, revalue."""
        self.liquidated.setdefault(plan.pool, []).append(plan.user)
        if plan.cost != plan.pay_amount:
            self.valuations.clear()

    def reindex(self) -> None:
        """Re-read the positions the run changed (the targets' and the liquidator's) into the monitor."""
        for ref, users in self.liquidated.items():
            self.indexes[ref].update_many([*users, self.liquidator])
        if self.liquidated and "core" not in self.liquidated:
            self.indexes["core"].update(self.liquidator)  # Mini-Pool liquidations touch its Core position
        self.liquidated = {}


def reserve_deficits(protocol: Protocol) -> dict[tuple[PoolRef, str], int]:
    """Every reserve's recorded deficit, by (pool, reserve asset)."""
    pools: list[tuple[PoolRef, Pool]] = [
        ("core", protocol.core),
        *((mp.id, mp) for mp in protocol.mini_pools),
    ]
    return {(ref, r.asset): r.deficit for ref, pool in pools for r in pool.reserves}


def oracle_prices(protocol: Protocol) -> dict[str, int]:
    """Every listed asset's oracle price now, less those the oracle refuses (a stale feed: 78)."""
    prices = {}
    for asset in protocol.decimals:
        try:
            prices[asset] = protocol.price(asset)
        except ProtocolError:
            continue
    return prices


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
        screen: bool = False,
    ) -> None:
        self.protocol = protocol
        self.market = market
        self.submitter = submitter
        self.config = config or PlannerConfig()
        self.monitor = monitor or Monitor(protocol)
        self.planner = Planner(protocol, market, self.config, submitter.premium_bps)
        self.anchor_market = anchor_market
        #: Skips accounts the market provably cannot liquidate at a profit (:mod:`.screen`):
        #: the same liquidations, without valuing and planning every such account every run.
        self.screen = MarketScreen(market, self.config.margin_bps, submitter.liquidator) if screen else None

    def run(self) -> KeeperReport:
        """Liquidate every unhealthy account as far as it is profitable."""
        if self.anchor_market:
            self.market.anchor(oracle_prices(self.protocol))
        queue = self.monitor.queue_rows()
        state = _Run(self.monitor, self.submitter.liquidator)
        report = KeeperReport()
        screen = self.screen
        if screen is not None:
            screen.start()
        deficits = reserve_deficits(self.protocol)
        try:
            for index, rows, unpriced in queue:
                ref, users = index.ref, index.users
                report.unpriced += [(ref, users[i]) for i in unpriced.tolist()]
                k, n = 0, len(rows)
                while k < n:
                    if screen is not None:
                        taken = screen.next(index, rows, k)
                        report.screened += taken - k
                        if taken == n:
                            break
                        k = taken
                    user = users[rows[k]]
                    k += 1
                    try:
                        position = state.valuation(ref).position(user)
                    except ProtocolError:  # a price it needs is missing (78): no one can liquidate it
                        report.unpriced.append((ref, user))
                        continue
                    account = position.account
                    if account.health_factor < WAD:  # a premium paid since can have helped it
                        report.unhealthy.append(TakenUp.of(ref, user, account))
                        self._liquidate_account(ref, user, position, state, report)
        finally:
            state.reindex()
        for key, amount in reserve_deficits(self.protocol).items():
            if amount != deficits.get(key, 0):
                report.deficits[key] = amount - deficits.get(key, 0)
        return report

    def _liquidate_account(
        self, ref: PoolRef, user: str, position: Position, state: _Run, report: KeeperReport
    ) -> None:
        """Liquidate one account until it is healthy, unprofitable, refused or out of rounds."""
        for _ in range(self.config.max_rounds):
            plan = self.planner.plan(ref, user, position)
            if plan is None:
                break
            try:
                outcome = self.submitter.submit(plan)
            except HeldBack:
                report.held_back.append(plan)
                return
            except (ProtocolError, SlippageExceeded, FlashLiquidityShort) as e:
                words = getattr(e, "detail", "") or str(e) or type(e).__name__
                report.failures.append(Failure(plan, getattr(e, "code", type(e).__name__), words))
                return
            state.submitted(plan)
            if self.screen is not None:
                if plan.cost != plan.pay_amount:  # a premium moved an index: judge afresh
                    self.screen.start()
                else:
                    self.screen.sold(plan.receive_asset, plan.pay_asset)
            # Valued once: the health factor reported, and the legs the next round plans with.
            position = state.valuation(ref).position(user)
            health_factor = position.account.health_factor
            report.liquidations.append(Execution(plan, *outcome, health_factor))
            if health_factor >= WAD:
                return
        else:
            report.unfinished.append(Unhealthy(ref, user, position))
            return
        if position.account.total_collateral_base == 0:
            report.bad_debt += [BadDebt(ref, user, d.reserve.asset, d.amount, d.value) for d in position.debt]
        else:
            report.unprofitable.append(Unhealthy(ref, user, position))
