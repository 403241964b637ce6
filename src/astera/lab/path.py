"""One Monte Carlo path on the exact core: prices, behaviour, the keeper, step by step.

A path starts from a copy of the study's book and, at every step: moves the clock, sets the
oracle prices the price model drew, lets borrowers and suppliers act (top-ups, runs), and runs
the project's keeper (:class:`astera.keeper.KeeperEngine`, unchanged) against a model market
whose depth the keeper's own sales eat and which recovers with a half-life. Every change to
the protocol is a scenario action run through the replayer's runner
(:func:`astera.scenario.run_action`) and recorded, so ``book + actions`` is an
``astera-scenario/1`` document that replays to the path's final state (same state hash).
Money is integers throughout; floats only draw prices and behaviour and estimate who is near
a top-up (the decision itself is then taken on exact figures).

The path's randomness comes from ``SeedSequence([study seed, path index])`` alone: the same
path gives the same result on any worker, in any order.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from astera.core import PERCENTAGE_FACTOR, RAY, WAD, Protocol, ProtocolError
from astera.core.liquidation_policy import repay_to_target_of_sums
from astera.core.minipool import MiniPool
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.keeper import KeeperEngine, PlannerConfig
from astera.keeper.engine import oracle_prices
from astera.keeper.executor import Outcome
from astera.keeper.market import ConstantProductPool, Market, OrderBook, SlippageExceeded, Token, Venue
from astera.keeper.monitor import Monitor
from astera.keeper.planner import LiquidationPlan
from astera.keeper.valuation import Valuation
from astera.scenario import run_action

from .book import KEEPER, USD, apply_policy, book_document, build_book, pool_fields, unknown_pool
from .prices import PriceModel
from .sources import data_dir_protocol, node_protocol
from .study import Liquidity, Study, StudyError

#: Actions that write no user position (the monitor's index cannot change).
UNTRACKED = frozenset(("warp", "set_price"))

#: Columns of the per-step table (one row per step, pool and reserve).
STEP_COLUMNS = (
    "path", "step", "pool", "reserve", "utilization_bps", "borrow_rate_bps", "liquidations",
    "repaid_usd", "slippage_usd", "core_flow_usd", "deficit_usd", "price_usd",
)  # fmt: skip
#: Columns of the outcome table (one row per pool; the path's state hash on each).
OUTCOME_COLUMNS = (
    "path", "seed", "pool", "bad_debt_usd", "bad_debt_accounts", "no_collateral_debt_usd",
    "liquidations", "repaid_usd", "slippage_usd", "core_exposure_max_usd", "core_exposure_end_usd",
    "core_loss_usd", "debt_end_usd", "over_liquidation_usd", "deficit_usd", "state_hash",
)  # fmt: skip


@dataclass
class Prepared:
    """What every path of one study shares: the book (its document, None for a node's live
    book, and the pickled protocol) and the price model. Built once per process."""

    study: Study
    doc: dict[str, Any] | None
    blob: bytes
    prices: PriceModel

    @classmethod
    def of(cls, study: Study) -> Prepared:
        doc: dict[str, Any] | None = None
        if study.book.node is not None:
            protocol = node_protocol(study.book.node)
        elif study.book.data_dir is not None:
            protocol = data_dir_protocol(study.path(study.book.data_dir))
        else:
            doc = book_document(study)
            protocol = build_book(doc)
        if KEEPER not in protocol.users:
            protocol.register_user(KEEPER)
        if study.policy is not None:
            policy_actions = apply_policy(protocol, study.policy)
            if doc is not None:  # an exported path replays the policy after the book
                doc = {**doc, "actions": [*doc["actions"], *policy_actions]}
        check_runs(protocol, study)
        model = PriceModel(study, oracle_prices(protocol))
        return cls(study, doc, pickle.dumps(protocol, protocol=pickle.HIGHEST_PROTOCOL), model)


_PREPARED: dict[str, Prepared] = {}


def check_runs(protocol: Protocol, study: Study) -> None:
    """Refuse a supplier run naming a pool or reserve the book does not have, or starting after
    the horizon: otherwise every path would fail on it, or it would silently do nothing."""
    for i, run in enumerate(study.behaviour.runs):
        where = f"behaviour.runs.{i}"
        if run.start > study.steps:
            raise StudyError(f"{where}.start", f"step {run.start} is after the horizon ({study.steps} steps)")
        try:
            pool = protocol.pool(run.pool)
        except ProtocolError:
            raise StudyError(f"{where}.pool", unknown_pool(str(run.pool), len(protocol.mini_pools))) from None
        try:
            pool.reserve((run.asset, True) if run.pool == "core" else run.asset)
        except ProtocolError:
            raise StudyError(f"{where}.asset", f"pool {run.pool} has no reserve {run.asset!r}") from None


def prepared(study: Study) -> Prepared:
    """The study's shared part, cached per process (a worker builds the book once)."""
    key = study.digest()
    if key not in _PREPARED:
        _PREPARED.clear()
        _PREPARED[key] = Prepared.of(study)
    return _PREPARED[key]


def path_rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Path ``index``'s generators (prices, behaviour), from the study seed and the index alone."""
    prices, behaviour = np.random.SeedSequence([seed, index]).spawn(2)
    return np.random.default_rng(prices), np.random.default_rng(behaviour)


def pool_name(ref: str | int) -> str:
    return "core" if ref == "core" else str(ref)


class KeeperBusy(SlippageExceeded):
    """The keeper's capacity for this run is used up: like a sale that cannot happen now, the
    engine leaves the account for its next run."""


class DepthBook:
    """Per-asset market depth (USD per side): eaten by sales, recovering with a half-life."""

    def __init__(self, study: Study, assets: list[str]) -> None:
        liq = study.liquidity
        self.base = {a: float(liq.asset_depth_usd.get(a, liq.depth_usd)) for a in assets}
        self.depth = dict(self.base)
        self.recovery = 1.0 - 0.5 ** (1.0 / liq.recovery_half_life)

    def recover(self) -> None:
        for a, base in self.base.items():
            self.depth[a] += (base - self.depth[a]) * self.recovery

    def eat(self, asset: str, usd: float) -> None:
        self.depth[asset] = max(self.depth[asset] - usd, self.base[asset] * 0.01)


class LabMarket(Market):
    """The study's venues (constant-product pools or order books), made on demand at the
    current oracle prices and depths."""

    def __init__(self, protocol: Protocol, depths: DepthBook, liquidity: Liquidity) -> None:
        super().__init__()
        self.protocol, self.depths, self.liquidity = protocol, depths, liquidity
        self.prices: dict[str, int] = {}

    def reset(self) -> None:
        """New keeper run: arbitrage has re-centred the venues on the oracle."""
        self.venues.clear()
        self.prices = oracle_prices(self.protocol)

    def has_route(self, sell: str, buy: str) -> bool:
        return sell == buy or (sell in self.prices and buy in self.prices)

    def venue(self, sell: str, buy: str) -> Venue:
        key = (sell, buy)
        if key not in self.venues:
            dec, liq = self.protocol.decimals, self.liquidity
            depth = int(min(self.depths.depth[sell], self.depths.depth[buy])) * USD
            base, quote = Token(sell, dec[sell]), Token(buy, dec[buy])
            if liq.model == "order_book":
                level_usd = max(1, depth // liq.levels)
                self.add(OrderBook(
                    base, quote, self.prices, level_usd=level_usd, levels=liq.levels,
                    half_spread_bps=liq.half_spread_bps, step_bps=liq.step_bps,
                ))  # fmt: skip
            else:
                self.add(ConstantProductPool(base, quote, depth, self.prices, liq.fee_bps))
        return self.venues[key]


@dataclass
class StepTally:
    """What the keeper did in one step, per (pool, debt reserve)."""

    liquidations: dict[tuple[str, str], int] = field(default_factory=dict)
    repaid: dict[tuple[str, str], int] = field(default_factory=dict)
    slippage: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Collateral (USD) taken beyond what brought the account back to HF 1.
    over: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, key: tuple[str, str], repaid: int, slippage: int, over: int) -> None:
        self.liquidations[key] = self.liquidations.get(key, 0) + 1
        self.repaid[key] = self.repaid.get(key, 0) + repaid
        self.slippage[key] = self.slippage.get(key, 0) + slippage
        self.over[key] = self.over.get(key, 0) + over

    def merge(self, other: StepTally) -> None:
        for key, count in other.liquidations.items():
            self.liquidations[key] = self.liquidations.get(key, 0) + count
            self.repaid[key] = self.repaid.get(key, 0) + other.repaid[key]
            self.slippage[key] = self.slippage.get(key, 0) + other.slippage[key]
            self.over[key] = self.over.get(key, 0) + other.over[key]


class LabSubmitter:
    """The keeper's liquidations as recorded scenario actions (implicit funding, FORMAT §3.1);
    the seized collateral is sold into the model market, outside the protocol's ledger."""

    def __init__(self, path: PathRun) -> None:
        self.path = path
        self.liquidator = KEEPER
        self.capacity = path.study.liquidity.keeper_capacity
        self.count = 0
        #: One valuation per pool for the engine run (prices and indexes stand still in it).
        self.valuations: dict[str | int, Valuation] = {}

    def start(self) -> None:
        """A new engine run: its capacity is whole again and time or prices may have moved."""
        self.count = 0
        self.valuations.clear()

    def premium_bps(self, pool: str | int, pay_asset: str) -> int:
        return 0

    def submit(self, plan: LiquidationPlan) -> Outcome:
        if self.capacity and self.count >= self.capacity:
            raise KeeperBusy("keeper capacity reached")
        path, p = self.path, self.path.protocol
        pool = p.pool(plan.pool)
        debt_r = pool.reserve((plan.debt, True) if plan.pool == "core" else plan.debt)
        coll_r = pool.reserve((plan.collateral, True) if plan.pool == "core" else plan.collateral)
        action: dict[str, Any] = {
            "op": "liquidate",
            **pool_fields(plan.pool),
            "user": KEEPER,
            "target": plan.user,
            "collateral_asset": plan.collateral,
            "debt_asset": plan.debt,
            "debt_to_cover": str(plan.debt_to_cover),
        }
        if plan.unwrap:
            action["unwrap"] = True
        user, now = plan.user, p.now
        debt_before, coll_before, deficit_before = (
            debt_r.debt_balance(user, now), coll_r.a_balance(user, now), debt_r.deficit
        )  # fmt: skip
        # What repaying brings the account back to HF 1 exactly (None: this collateral cannot).
        valuation = self.valuations.get(plan.pool)
        if valuation is None:
            valuation = self.valuations[plan.pool] = Valuation(pool)
        _, total_debt, _, sum_lt = valuation.sums(user)
        restoring = repay_to_target_of_sums(pool, total_debt, sum_lt, WAD, coll_r, debt_r)
        wallet = p.wallet(plan.receive_asset, KEEPER) if plan.receive_asset != plan.pay_asset else None
        market = path.market
        with p.transaction():
            run_action(p, action)
            # A policy can repay less than planned (target health factor) and take a fee from
            # what the keeper receives: it sells what it got, for what it paid.
            repaid = debt_before - debt_r.debt_balance(user, now) - (debt_r.deficit - deficit_before)
            received = (
                plan.receive_amount if wallet is None else p.wallet(plan.receive_asset, KEEPER) - wallet
            )
            cost = plan.cost if repaid == plan.debt_repaid else -(-plan.cost * repaid // plan.debt_repaid)
            proceeds = market.swap(plan.receive_asset, received, plan.pay_asset, min_out=cost)
        path.actions.append(action)
        self.count += 1
        if plan.cost != plan.pay_amount:  # a funding premium moved an index: value afresh
            self.valuations.clear()
        taken = coll_before - coll_r.a_balance(user, now)
        pay_value = market.prices[plan.pay_asset]
        pay_unit = 10 ** p.decimals[plan.pay_asset]
        fair = (
            plan.fair_value
            if received == plan.receive_amount
            else plan.fair_value * received // plan.receive_amount
        )
        path.depths.eat(plan.receive_asset, fair * pay_value // pay_unit / USD)
        debt_price = pool.price(debt_r)
        excess = repaid - restoring if restoring is not None and repaid > restoring else 0
        path.tally.add(
            (pool_name(plan.pool), debt_r.asset),
            repaid * debt_price // debt_r.unit,
            (fair - proceeds) * pay_value // pay_unit,
            excess * debt_price * coll_r.liquidation_bonus // (debt_r.unit * PERCENTAGE_FACTOR),
        )
        return Outcome(repaid, taken, received, proceeds)


def _pools(p: Protocol) -> list[tuple[str | int, Pool]]:
    return [("core", p.core), *((mp.id, mp) for mp in p.mini_pools)]


def _usd(pool: Pool, r: Reserve, amount: int) -> int:
    value: int = amount * pool.price(r) // r.unit
    return value


class PathRun:
    """One path, run step by step (:meth:`run`)."""

    def __init__(self, prep: Prepared, index: int) -> None:
        self.study = study = prep.study
        self.index = index
        self.doc = prep.doc
        self.protocol: Protocol = pickle.loads(prep.blob)
        price_rng, self.rng = path_rngs(study.seed, index)
        self.assets = prep.prices.assets
        self.prices = prep.prices.draw(price_rng)
        self.actions: list[dict[str, Any]] = []
        self.monitor = Monitor(self.protocol)
        self.depths = DepthBook(study, list(self.protocol.decimals))
        self.market = LabMarket(self.protocol, self.depths, study.liquidity)
        self.submitter = LabSubmitter(self)
        self.engine = KeeperEngine(
            self.protocol,
            self.market,
            self.submitter,
            PlannerConfig(margin_bps=study.liquidity.margin_bps),
            monitor=self.monitor,
            anchor_market=False,
            screen=True,
        )
        self.tally = StepTally()
        self.steps: list[tuple[Any, ...]] = []
        self.totals = StepTally()
        self.exposure_max: dict[str, int] = {}

    def act(self, action: dict[str, Any]) -> bool:
        """Run and record one action; a refusal changes nothing and records nothing."""
        # Time and prices write no position: only the other actions need the monitor to re-read
        # whom they touched.
        watch = self.protocol.transaction() if action["op"] in UNTRACKED else self.monitor.tracking()
        try:
            with watch:
                run_action(self.protocol, action)
        except ProtocolError:
            return False
        self.actions.append(action)
        return True

    def run(self, on_step: Callable[[int], None] | None = None) -> None:
        study = self.study
        for t in range(1, study.steps + 1):
            self.act({"op": "warp", "seconds": study.step_seconds})
            row, prev = self.prices[t], self.prices[t - 1]
            for j, asset in enumerate(self.assets):
                if row[j] != prev[j]:
                    self.act({"op": "set_price", "asset": asset, "price": str(int(row[j]))})
            self._behave(t)
            self.depths.recover()
            if t % study.liquidity.keeper_every == 0:
                self.market.reset()
                self.submitter.start()
                self.engine.run()
            self._record(t)
            if on_step is not None:
                on_step(t)

    # ---- behaviour -------------------------------------------------------------------------------

    def _behave(self, t: int) -> None:
        b = self.study.behaviour
        for run in b.runs:
            if run.start <= t < run.start + run.steps:
                self._run_on(run.pool, run.asset, run.fraction)
        if b.topup_probability > 0:
            for ref, _pool in _pools(self.protocol):
                self._top_ups(ref)

    def _run_on(self, ref: str | int, asset: str, fraction: float) -> None:
        """Suppliers of one reserve withdraw ``fraction`` of their balance, as far as cash goes."""
        p = self.protocol
        pool = p.pool(ref)
        r = pool.reserve((asset, True) if ref == "core" else asset)
        holders = sorted(u for u, s in r.a_scaled.items() if s and u in p.users and u != KEEPER)
        for user in holders:
            cash = pool.cash(r)
            amount = min(int(r.a_balance(user, p.now) * fraction), cash)
            if amount <= 0:
                break
            where = pool_fields(ref)
            self.act({"op": "withdraw", **where, "user": user, "asset": asset, "amount": str(amount)})

    def _top_ups(self, ref: str | int) -> None:
        """Borrowers whose health factor is below ``topup_below`` repay part of their largest
        debt, each with the study's probability (floats pick the candidates; the exact health
        factor decides)."""
        b = self.study.behaviour
        index = self.monitor.index(ref)
        n = len(index.users)
        if n == 0:
            return
        pool, now = index.pool, self.protocol.now
        weighted = np.zeros(index.width)
        debt_value = np.zeros(index.width)
        for r in pool.reserves:
            try:
                price = pool.price(r)
            except ProtocolError:
                continue
            weighted[r.id] = (
                price
                * r.normalized_income(now)
                * r.liquidation_threshold
                / (RAY * r.unit * PERCENTAGE_FACTOR)
            )
            debt_value[r.id] = price * r.normalized_debt(now) / (RAY * r.unit)
        w = index.collateral[:n] @ weighted
        d = index.debt[:n] @ debt_value
        near = np.flatnonzero((d > 0) & (w < d * b.topup_below * 1.01))
        if len(near) == 0:
            return
        draws = self.rng.random(len(near))
        users = [
            index.users[i]
            for i, u in zip(near.tolist(), draws.tolist(), strict=True)
            if u < b.topup_probability
        ]
        threshold = int(b.topup_below * WAD)
        valuation = Valuation(pool)
        for user in users:
            position = valuation.position(user)
            if position.account.health_factor >= threshold or not position.debt:
                continue
            leg = max(position.debt, key=lambda g: (g.value, g.reserve.id))
            amount = int(leg.amount * b.topup_fraction)
            if amount > 0:
                asset = leg.reserve.asset
                where = pool_fields(ref)
                self.act({"op": "repay", **where, "user": user, "asset": asset, "amount": str(amount)})

    # ---- observation -----------------------------------------------------------------------------

    def _record(self, t: int) -> None:
        p, tally = self.protocol, self.tally
        for ref, pool in _pools(p):
            name = pool_name(ref)
            for r in pool.reserves:
                key = (name, r.asset)
                debt = r.debt_total_supply(p.now)
                cash = pool.cash(r)
                util = debt * 10_000 // (debt + cash) if debt + cash else 0
                flow = 0
                if isinstance(pool, MiniPool) and r.tranche_of is not None:
                    flow = _usd(p.core, r.tranche_of, p.core.current_flow(r.tranche_of.asset, pool))
                    self.exposure_max[name] = max(self.exposure_max.get(name, 0), flow)
                self.steps.append((
                    self.index, t, name, r.asset, util, r.current_variable_borrow_rate * 10_000 // RAY,
                    tally.liquidations.get(key, 0), tally.repaid.get(key, 0),
                    tally.slippage.get(key, 0), flow, _usd(pool, r, r.deficit) if r.deficit else 0,
                    pool.price(r),
                ))  # fmt: skip
        self.totals.merge(tally)
        self.tally = StepTally()

    def outcome(self) -> list[tuple[Any, ...]]:
        """One row per pool at the horizon (:data:`OUTCOME_COLUMNS`).

        Bad debt is the debt no collateral covers, account by account: Σ max(0, debt − collateral)
        at oracle prices (what an account left underwater owes beyond what it holds), over every
        borrower, plus the pool's recorded deficits (debt a deficit-accounting policy wrote off:
        ``deficit_usd``); ``no_collateral_debt_usd`` is the part on accounts with no collateral
        left. ``over_liquidation_usd`` is the collateral the keeper took beyond what brought each
        account it liquidated back to HF 1.
        A Mini-Pool's ``core_loss_usd`` bounds what the Core-Pool loses to it: its flow debt to
        the Core, at most the Mini-Pool's bad debt in that Core asset's tranche.
        """
        p = self.protocol
        state_hash = p.state_hash()
        rows = []
        for ref, pool in _pools(p):
            name = pool_name(ref)
            valuation = Valuation(pool)
            bad = accounts = naked = debt_total = 0
            tranche_bad: dict[str, int] = {}
            for user in self.monitor.index(ref).users:
                position = valuation.position(user)
                account = position.account
                debt_total += account.total_debt_base
                short = account.total_debt_base - account.total_collateral_base
                if short > 0:
                    bad += short
                    accounts += 1
                    if account.total_collateral_base == 0:
                        naked += account.total_debt_base
                    for leg in position.debt:
                        if leg.reserve.tranche_of is not None:
                            share = short * leg.value // account.total_debt_base
                            asset = leg.reserve.tranche_of.asset
                            tranche_bad[asset] = tranche_bad.get(asset, 0) + share
            deficit = 0
            for r in pool.reserves:
                if r.deficit:
                    value = _usd(pool, r, r.deficit)
                    deficit += value
                    if r.tranche_of is not None:
                        tranche_bad[r.tranche_of.asset] = tranche_bad.get(r.tranche_of.asset, 0) + value
            bad += deficit
            exposure = loss = 0
            if isinstance(pool, MiniPool):
                for r in pool.reserves:
                    if r.tranche_of is not None:
                        flow = _usd(p.core, r.tranche_of, p.core.current_flow(r.tranche_of.asset, pool))
                        exposure += flow
                        loss += min(flow, tranche_bad.get(r.tranche_of.asset, 0))
            keys = [k for k in self.totals.liquidations if k[0] == name]
            rows.append((
                self.index, self.study.seed, name, bad, accounts, naked,
                sum(self.totals.liquidations[k] for k in keys), sum(self.totals.repaid[k] for k in keys),
                sum(self.totals.slippage[k] for k in keys), self.exposure_max.get(name, 0), exposure, loss,
                debt_total, sum(self.totals.over[k] for k in keys), deficit, state_hash,
            ))  # fmt: skip
        return rows

    def scenario(self) -> dict[str, Any]:
        """The path as one ``astera-scenario/1`` document: the book (with the study's liquidation
        policy, if any, as admin actions after it), then the path's actions."""
        if self.doc is None:
            raise StudyError("book", "a node's live book is a state, not a scenario document: no export")
        return {
            **self.doc,
            "name": f"{self.study.name}-path-{self.index}",
            "description": f"Path {self.index} of lab study {self.study.name} (seed {self.study.seed}).",
            "actions": [*self.doc["actions"], *self.actions],
        }


def run_path(study: Study, index: int) -> PathRun:
    """Run path ``index`` of ``study`` to the horizon."""
    path = PathRun(prepared(study), index)
    path.run()
    return path
