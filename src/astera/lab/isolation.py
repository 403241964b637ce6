"""Isolation, shown in numbers: Mini-Pool A's exotic collateral crashes, Mini-Pool B carries on.

The experiment (issue 3, item 6; spec §7.13). One Core-Pool lends USDC. Two Mini-Pools, A and
B, each list an exotic collateral token (EXA, EXB) and a ``was-USDC`` tranche of the Core's USDC.
Their borrowers want more than the tranche's own depositors supply, so the rest is
flow-borrowed from the Core under a credit line of 100,000 USDC each (the flow limit). The
same schedule runs twice:

* **calm**: EXA keeps its price;
* **crash**: on day 30, EXA loses ``price_drop_bps`` of its value (95% by default). A keeper
  liquidates A's borrowers, half the debt at a time, until nothing more can be taken; the rest
  of their debt has no collateral behind it (bad debt) and they walk away.

Schedule (USDC amounts; tranche amounts are Core aToken shares worth that much):

* day 0: Core suppliers deposit 600,000 + 400,000; a whale borrows 300,000 against 200 WETH.
  A: ``a_lp`` deposits 20,000; ``a_bor1`` borrows 60,000 against 60,000 EXA ($2),
  ``a_bor2`` 40,000 against 50,000 EXA: A draws 80,000 from the Core.
  B: ``b_lp1`` and ``b_lp2`` deposit 15,000 each; ``b_bor1`` borrows 45,000 against 20,000 EXB
  ($5), ``b_bor2`` 28,000 against 10,000 EXB: B draws 43,000 from the Core.
* day 30: ``core_lp2`` tops up 10,000 (routine Core activity, in both runs, see below); EXA's
  price is set (crashed, or unchanged); the keeper clears A.
* day 60: A's borrowers repay if their collateral still covers their debt; ``a_lp`` withdraws
  what A's tranche can pay; B's borrowers repay; B's depositors withdraw everything.

After every action the runner observes what isolation is about: which of B's users are
liquidatable, what B's depositors could withdraw, every Core supplier's balance, and the Core's
claim on A (A's flow debt) next to its bound, the flow limit grown by the Core borrow index
since A first drew on it.

Why the day-30 top-up: every Core USDC rate change re-accrues and re-rates each Mini-Pool that
owes the Core (``syncState``). Right after an unwrapped tranche borrow the contracts leave the
tranche's stored rate computed on the liquidity *before* the unwrap (the Core runs that sync
before it burns the shares), so it stays stale until the Core's next rate change. Without
routine Core activity the crash run's liquidations would be the first Core event in 30 days
and would refresh B's stale rate only in that run: a difference in *timing* of a refresh, not
a transmission of A's loss. The top-up refreshes it in both runs at the same block, so what
remains is the genuine shared channel: the Core's USDC rates.

Both runs are recorded as replayable ``astera-scenario/1`` documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from astera.core import UINT256_MAX, WAD, Protocol, ProtocolError, Reserve
from astera.core.minipool import MINI_POOL_TREASURY, MiniPool
from astera.core.wadray import percent_mul, ray_div, ray_mul
from astera.deployment import tranche_symbol

from .scenario import DAY, LiveScenario, default_strategy, reserve_params

USDC = 10**6
TOKEN = 10**18
PRICE = 10**8
MINI_A, MINI_B = 0, 1
START = 1_700_000_000
EXA_PRICE = 2 * PRICE
KEEPER = "keeper"
DEFAULT_DROP_BPS = 9500

CORE_SUPPLIERS = ("core_lp1", "core_lp2")
A_DEPOSITORS = ("a_lp",)
A_BORROWERS = ("a_bor1", "a_bor2")
B_DEPOSITORS = ("b_lp1", "b_lp2")
B_BORROWERS = ("b_bor1", "b_bor2")
USERS = (*CORE_SUPPLIERS, "core_whale", *A_DEPOSITORS, *A_BORROWERS, *B_DEPOSITORS, *B_BORROWERS, KEEPER)

#: The Core's credit line to each Mini-Pool (USDC base units).
FLOW_LIMIT = 100_000 * USDC

#: Day-0 books: (Mini-Pool, exotic, {depositor: USDC}, {borrower: (exotic tokens, USDC borrowed)}).
BOOKS = (
    (MINI_A, "EXA", {"a_lp": 20_000}, {"a_bor1": (60_000, 60_000), "a_bor2": (50_000, 40_000)}),
    (
        MINI_B,
        "EXB",
        {"b_lp1": 15_000, "b_lp2": 15_000},
        {"b_bor1": (20_000, 45_000), "b_bor2": (10_000, 28_000)},
    ),
)


#: Each Mini-Pool's tranche of the Core's USDC, named as the node names it.
TRANCHE = tranche_symbol("USDC")


def deployment(crash: bool, price_drop_bps: int) -> dict[str, Any]:
    """The scenario head: assets, rate curves, the Core-Pool, Mini-Pools A and B."""
    exotic = reserve_params(
        "exotic", 6000, 7500, 11000, 1000, borrowing_enabled=False
    )  # seed: LTV 60%, LT 75%
    tranche = reserve_params("tranche", 8000, 8500, 10500, 1000, tranche_of="USDC")
    mini_pools = [
        {
            "id": mp_id,
            "min_debt_threshold": 0,
            "reserves": {symbol: exotic, TRANCHE: tranche},
            "flow_limits": {"USDC": str(FLOW_LIMIT)},
        }
        for mp_id, symbol, _, _ in BOOKS
    ]
    kind = f"crash run (EXA -{price_drop_bps / 100:g}% on day 30)" if crash else "calm run (no crash)"
    return {
        "name": "isolation-crash" if crash else "isolation-calm",
        "description": f"Mini-Pool isolation experiment, {kind}. Built by astera.lab.isolation.",
        "start_timestamp": START,
        "assets": {
            "USDC": {"decimals": 6, "price": str(PRICE)},
            "WETH": {"decimals": 18, "price": str(2_750 * PRICE)},
            "EXA": {"decimals": 18, "price": str(EXA_PRICE)},
            "EXB": {"decimals": 18, "price": str(5 * PRICE)},
        },
        "rate_strategies": {
            "core_usdc": default_strategy(80, 0, 4, 75),
            "core_weth": default_strategy(45, 0, 7, 300),
            "tranche": default_strategy(80, 2, 6, 20),
            "exotic": default_strategy(45, 0, 7, 300),
        },
        "core_pool": {
            "reserves": {
                "USDC": reserve_params("core_usdc", 8000, 8500, 10500, 1500),
                "WETH": reserve_params("core_weth", 7500, 8000, 10800, 1500),
            }
        },
        "mini_pools": mini_pools,
        "users": list(USERS),
    }


# ---- one run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """The isolation-relevant state right after one action."""

    step: int
    phase: str
    timestamp: int
    core_supplier_balances: dict[str, int]  # Core USDC aToken balance of each Core supplier
    b_liquidatable: frozenset[str]  # users of B with debt and HF < 1
    b_health_factors: dict[str, int]  # HF (wad) of each B user with debt
    b_withdrawable: dict[str, int]  # shares each B depositor could withdraw now: min(balance, cash)
    claim_on_a: int  # A's Core USDC debt (its flow), USDC base units
    claim_bound: int  # flow limit grown by the Core borrow index since A's first draw


@dataclass(frozen=True)
class IsolationRun:
    """One run of the schedule: its scenario document, observations and closing figures."""

    crash: bool
    scenario: dict[str, Any]
    observations: list[Observation]
    withdrawn_shares: dict[str, int]  # tranche shares each depositor withdrew
    withdrawn_usdc: dict[str, int]  # USDC they received for them (unwrapped)
    stranded_shares: dict[str, int]  # tranche shares each depositor still holds and cannot withdraw
    repaid_shares: dict[str, int]  # tranche debt each borrower repaid at the end (0: walked away)
    liquidations: int
    a_bad_debt: int  # A tranche debt left at the end, shares
    a_self_deposit: int  # A's own tranche deposit left at the end, shares
    a_treasuries: int  # A tranche aTokens of its treasuries, incl. the cut due at the next update, shares
    a_cash: int  # A tranche liquidity left at the end, shares
    a_swept_to_treasury: int  # Core shares A's surplus sweeps sent to the Astera treasury
    claim_on_a: int  # A's Core debt at the end, USDC
    claim_bound: int  # its bound at the end, USDC
    b_flow_before_repay: int  # B's Core debt just before B's borrowers repay, USDC
    core_rates_after_shock: tuple[int, int]  # Core USDC (liquidity, borrow) rate, ray, after day 30
    b_rates_after_shock: tuple[int, int]  # B tranche (liquidity, borrow) rate, ray, after day 30
    core_income: int  # Core USDC normalized income at the end: USDC per share, ray
    core_supply: int  # Core USDC aToken total supply at the end, USDC
    state_hash: str

    def usdc(self, shares: int) -> int:
        """Value of tranche shares in USDC at the end of the run."""
        return ray_mul(shares, self.core_income)


class _Run:
    """Drives one run: decides each action from the state, runs it, observes."""

    def __init__(self, crash: bool, price_drop_bps: int) -> None:
        self.crash = crash
        self.drop = price_drop_bps
        self.live = LiveScenario(deployment(crash, price_drop_bps))
        self.p: Protocol = self.live.protocol
        self.core_usdc = self.p.core.reserve(("USDC", True))
        self.phase = "open"
        self.observations: list[Observation] = []
        self.first_draw_index = 0
        self.liquidations = 0
        self.withdrawn: dict[str, int] = {}
        self.repaid: dict[str, int] = {}
        self.a_swept = 0  # Core shares in the Astera treasury after A's unwind, before B's sweeps
        self.b_flow = 0  # B's Core debt just before its borrowers repay

    def tranche(self, mp_id: int) -> Reserve:
        return self.p.mini_pools[mp_id].reserve(TRANCHE)

    def shares(self, usdc: int) -> int:
        """Wrapper shares worth ``usdc`` at the current Core income."""
        return ray_div(usdc, self.core_usdc.normalized_income(self.p.now))

    # -- acting and observing -----------------------------------------------------------------------

    def act(self, **action: Any) -> None:
        self.live.act(**action)
        self.observe()

    def mini(self, mp_id: int, op: str, user: str, **rest: Any) -> None:
        self.act(op=op, pool="mini", mini_pool=mp_id, user=user, **rest)

    def observe(self) -> None:
        p, now = self.p, self.p.now
        b = p.mini_pools[MINI_B]
        b_tranche = b.reserve(TRANCHE)
        claim = p.core.current_flow("USDC", p.mini_pools[MINI_A])
        debt_index = self.core_usdc.normalized_debt(now)
        if claim and not self.first_draw_index:
            self.first_draw_index = debt_index
        bound = (
            ray_mul(FLOW_LIMIT, ray_div(debt_index, self.first_draw_index)) if self.first_draw_index else 0
        )
        hf = {u: p.health_factor(u, MINI_B) for u in USERS if b_tranche.d_scaled.get(u)}
        cash = b.cash(b_tranche)
        self.observations.append(
            Observation(
                step=len(self.live.actions) - 1,
                phase=self.phase,
                timestamp=now,
                core_supplier_balances={u: self.core_usdc.a_balance(u, now) for u in CORE_SUPPLIERS},
                b_liquidatable=frozenset(u for u, h in hf.items() if h < WAD),
                b_health_factors=hf,
                b_withdrawable={u: min(b_tranche.a_balance(u, now), cash) for u in B_DEPOSITORS},
                claim_on_a=claim,
                claim_bound=bound,
            )
        )

    # -- phases ---------------------------------------------------------------------------------------

    def open_positions(self) -> None:
        self.act(op="deposit", pool="core", user="core_lp1", asset="USDC", amount=str(600_000 * USDC))
        self.act(op="deposit", pool="core", user="core_lp2", asset="USDC", amount=str(400_000 * USDC))
        self.act(op="deposit", pool="core", user="core_whale", asset="WETH", amount=str(200 * TOKEN))
        self.act(op="borrow", pool="core", user="core_whale", asset="USDC", amount=str(300_000 * USDC))
        for mp_id, exotic, depositors, borrowers in BOOKS:
            for user, usdc in depositors.items():
                self.mini(mp_id, "deposit", user, asset=TRANCHE, amount=str(self.shares(usdc * USDC)))
            for user, (collateral, usdc) in borrowers.items():
                self.mini(mp_id, "deposit", user, asset=exotic, amount=str(collateral * TOKEN))
                # Beyond the tranche's own liquidity this flow-borrows from the Core (§7.5).
                self.mini(
                    mp_id, "borrow", user, asset=TRANCHE, amount=str(self.shares(usdc * USDC)), unwrap=True
                )

    def shock(self) -> None:
        self.phase = "shock"
        self.act(op="deposit", pool="core", user="core_lp2", asset="USDC", amount=str(10_000 * USDC))
        price = EXA_PRICE * (10_000 - self.drop) // 10_000 if self.crash else EXA_PRICE
        self.act(op="set_price", asset="EXA", price=str(price))
        for user in A_BORROWERS:
            while (size := self.liquidation_size(user)) is not None:
                self.act(
                    op="liquidate",
                    pool="mini",
                    mini_pool=MINI_A,
                    user=KEEPER,
                    target=user,
                    collateral_asset="EXA",
                    debt_asset=TRANCHE,
                    debt_to_cover=str(size),
                )
                self.liquidations += 1

    def liquidation_size(self, user: str) -> int | None:
        """The debt a maximal liquidation of ``user`` would repay now, or None if it is refused."""

        def attempt(p: Protocol) -> int | None:
            p.mint(KEEPER, "USDC", 10**9 * USDC)
            p.deposit(KEEPER, "USDC", 10**9 * USDC)  # Core shares to pay with, rolled back afterwards
            try:
                events = p.liquidate(KEEPER, user, "EXA", TRANCHE, UINT256_MAX, pool=MINI_A)
            except ProtocolError:
                return None
            return int(next(e.fields["debt_to_cover"] for e in events if e.name == "LiquidationCall"))

        return self.live.probe(attempt)

    def unwind(self) -> None:
        self.phase = "unwind"
        p = self.p
        for user in A_BORROWERS:
            if p.health_factor(user, MINI_A) >= WAD:  # collateral still worth more than the debt
                self.repay(MINI_A, user)
            else:
                self.repaid[user] = 0  # nothing left to lose: walks away
        a_tranche = self.tranche(MINI_A)
        for user in A_DEPOSITORS:
            available = min(a_tranche.a_balance(user, p.now), p.mini_pools[MINI_A].cash(a_tranche))
            if available:
                self.withdraw(MINI_A, user, available)
        self.a_swept = self.core_usdc.a_scaled.get(MINI_POOL_TREASURY, 0)
        self.b_flow = p.core.current_flow("USDC", p.mini_pools[MINI_B])
        for user in B_BORROWERS:
            self.repay(MINI_B, user)
        for user in B_DEPOSITORS:
            self.withdraw(MINI_B, user, self.tranche(MINI_B).a_balance(user, p.now))

    def repay(self, mp_id: int, user: str) -> None:
        self.repaid[user] = self.tranche(mp_id).debt_balance(user, self.p.now)
        self.mini(mp_id, "repay", user, asset=TRANCHE, amount="debt")

    def withdraw(self, mp_id: int, user: str, shares: int) -> None:
        self.withdrawn[user] = shares
        self.mini(mp_id, "withdraw", user, asset=TRANCHE, amount=str(shares), unwrap=True)

    # -- the schedule -----------------------------------------------------------------------------------

    def run(self) -> IsolationRun:
        self.open_positions()
        self.act(op="warp", seconds=30 * DAY)
        self.shock()
        cr, b_tranche = self.core_usdc, self.tranche(MINI_B)
        core_rates = (cr.current_liquidity_rate, cr.current_variable_borrow_rate)
        b_rates = (b_tranche.current_liquidity_rate, b_tranche.current_variable_borrow_rate)
        self.phase = "aftermath"
        self.act(op="warp", seconds=30 * DAY)
        self.unwind()
        p, now = self.p, self.p.now
        a = p.mini_pools[MINI_A]
        a_tranche = a.reserve(TRANCHE)
        depositors = (*A_DEPOSITORS, *B_DEPOSITORS)
        last = self.observations[-1]
        return IsolationRun(
            crash=self.crash,
            scenario=self.live.document(),
            observations=self.observations,
            withdrawn_shares={u: self.withdrawn.get(u, 0) for u in depositors},
            withdrawn_usdc={u: p.wallet("USDC", u) for u in depositors},
            stranded_shares={
                u: self.tranche(mp).a_balance(u, now)
                for mp, users in ((MINI_A, A_DEPOSITORS), (MINI_B, B_DEPOSITORS))
                for u in users
            },
            repaid_shares=self.repaid,
            liquidations=self.liquidations,
            a_bad_debt=a_tranche.debt_total_supply(now),
            a_self_deposit=a_tranche.a_balance(a.address, now),
            a_treasuries=_treasury_claims(a, a_tranche, now),
            a_cash=a.cash(a_tranche),
            a_swept_to_treasury=self.a_swept,
            claim_on_a=last.claim_on_a,
            claim_bound=last.claim_bound,
            b_flow_before_repay=self.b_flow,
            core_rates_after_shock=core_rates,
            b_rates_after_shock=b_rates,
            core_income=cr.normalized_income(now),
            core_supply=cr.a_total_supply(now),
            state_hash=p.state_hash(),
        )


def _treasury_claims(pool: MiniPool, r: Reserve, now: int) -> int:
    """Treasury aTokens of a Mini-Pool reserve, plus the reserve factors' cut of the interest
    accrued since its last update (what ``update_state`` will mint them)."""
    minted = r.a_balance(MINI_POOL_TREASURY, now) + r.a_balance(pool.owner_treasury, now)
    accrued = r.debt_total_supply(now) - ray_mul(r.d_scaled_total, r.variable_borrow_index)
    return minted + percent_mul(accrued, r.reserve_factor) + percent_mul(accrued, r.owner_reserve_factor)


def run_isolation(crash: bool, price_drop_bps: int = DEFAULT_DROP_BPS) -> IsolationRun:
    """Run the schedule once, with or without the crash of EXA."""
    return _Run(crash, price_drop_bps).run()


# ---- the report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossAttribution:
    """Who carries Mini-Pool A's loss, at the end of the crash run (USDC base units, spec §7.13).

    A's tranche owes its depositors (others, the Mini-Pool's own self-deposit, treasuries) what
    its borrowers owe it. Once the collateral is gone the borrowers' remaining debt is bad, the
    tranche has no liquidity left, and every claim on it is stranded.
    """

    bad_debt: int  # A tranche debt with no collateral behind it
    other_depositors: int  # stranded claims of A's other tranche depositors
    core_suppliers: int  # the Core's claim on A (A's flow debt): A has nothing left to repay it with
    mini_pool_spread: int  # A's self-deposit beyond its Core debt: the spread it earned, stranded too
    treasuries: int  # A's treasuries' reserve-factor aTokens, minted or due at the next update
    accrual_gap: int  # bad_debt minus the claims above: debt compounds, deposits accrue linearly
    other_depositors_vs_calm: int  # what A's other depositors got back less than in the calm run
    core_claim_vs_calm: int  # the Core's claim on A at the end, minus the calm run's
    core_supplier_shares: dict[str, int]  # pro-rata split of the Core's claim over its USDC suppliers
    swept_to_treasury: int  # USDC the surplus sweep sent to the Astera treasury before others were paid

    def summary(self) -> str:
        def u(x: int) -> str:
            return f"{x / USDC:,.2f}"

        return (
            f"bad debt {u(self.bad_debt)} USDC = A's other depositors {u(self.other_depositors)} + Core "
            f"suppliers {u(self.core_suppliers)} + A's own spread {u(self.mini_pool_spread)} + treasuries "
            f"{u(self.treasuries)} + accrual gap {u(self.accrual_gap)}; the surplus sweep paid the treasury "
            f"{u(self.swept_to_treasury)} before A's other depositors were paid"
        )


@dataclass(frozen=True)
class SharedRateEffect:
    """What differs for Mini-Pool B between the runs, and through which shared number.

    B's tranche shares, rates and balances in shares are the same in both runs; what differs
    is the USDC value of a share (the Core's USDC supply index) and the interest on B's Core
    flow (the Core's USDC borrow rate). Both come from the Core's USDC utilization, which A's
    liquidations changed: the keeper's Core deposit and the proceeds repaying part of A's flow.
    """

    core_rates: tuple[tuple[int, int], tuple[int, int]]  # (calm, crash) Core USDC (liquidity, borrow)
    core_income: tuple[int, int]  # (calm, crash) at the end
    withdrawn_usdc: dict[str, tuple[int, int]]  # B depositor -> (calm, crash)
    repaid_usdc: dict[str, tuple[int, int]]  # B borrower -> (calm, crash), debt shares valued at the end
    b_flow_before_repay: tuple[int, int]  # (calm, crash) B's Core debt, USDC

    def explanation(self) -> str:
        (cl, cb), (xl, xb) = self.core_rates
        diff = {u: x - c for u, (c, x) in self.withdrawn_usdc.items()}
        flow_c, flow_x = self.b_flow_before_repay
        return (
            f"B's depositors withdrew the same number of shares in both runs; in USDC they differ by "
            f"{', '.join(f'{u} {d / USDC:+,.6f}' for u, d in diff.items())} USDC. A's liquidations changed "
            f"the Core's USDC utilization (proceeds repaid part of A's flow; the keeper deposited into the "
            f"Core to pay), so from day 30 the Core's USDC rates were {xl / 1e25:.4f}% supply / "
            f"{xb / 1e25:.4f}% borrow instead of {cl / 1e25:.4f}% / {cb / 1e25:.4f}%. A tranche share is "
            f"a Core aToken share, so its USDC value grew at the crash run's Core supply rate; B's Core "
            f"flow debt compounded at the Core borrow rate ({(flow_x - flow_c) / USDC:+,.6f} USDC by day 60)."
        )


@dataclass(frozen=True)
class IsolationReport:
    calm: IsolationRun
    crash: IsolationRun
    loss: LossAttribution
    shared_rates: SharedRateEffect


def isolation_report(price_drop_bps: int = DEFAULT_DROP_BPS) -> IsolationReport:
    """Run both schedules and account for A's loss and for every difference B sees."""
    calm, crash = run_isolation(False, price_drop_bps), run_isolation(True, price_drop_bps)
    v = crash.usdc
    others = sum(v(crash.stranded_shares[u]) for u in A_DEPOSITORS)
    spread = max(v(crash.a_self_deposit) - crash.claim_on_a, 0)
    bad_debt = v(crash.a_bad_debt)
    treasuries = v(crash.a_treasuries)
    balances = crash.observations[-1].core_supplier_balances
    loss = LossAttribution(
        bad_debt=bad_debt,
        other_depositors=others,
        core_suppliers=crash.claim_on_a,
        mini_pool_spread=spread,
        treasuries=treasuries,
        accrual_gap=bad_debt - others - crash.claim_on_a - spread - treasuries,
        other_depositors_vs_calm=sum(calm.withdrawn_usdc[u] - crash.withdrawn_usdc[u] for u in A_DEPOSITORS),
        core_claim_vs_calm=crash.claim_on_a - calm.claim_on_a,
        core_supplier_shares={u: crash.claim_on_a * balances[u] // crash.core_supply for u in CORE_SUPPLIERS},
        swept_to_treasury=v(crash.a_swept_to_treasury),
    )
    shared = SharedRateEffect(
        core_rates=(calm.core_rates_after_shock, crash.core_rates_after_shock),
        core_income=(calm.core_income, crash.core_income),
        withdrawn_usdc={u: (calm.withdrawn_usdc[u], crash.withdrawn_usdc[u]) for u in B_DEPOSITORS},
        repaid_usdc={
            u: (calm.usdc(calm.repaid_shares[u]), crash.usdc(crash.repaid_shares[u])) for u in B_BORROWERS
        },
        b_flow_before_repay=(calm.b_flow_before_repay, crash.b_flow_before_repay),
    )
    return IsolationReport(calm, crash, loss, shared)
