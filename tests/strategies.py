"""Shared helpers for the protocol-core tests.

* Deployments built through the public Core API (the way an operator would), with the
  test-harness parameters of spec §13.3: a Core-Pool with USDC, WBTC and WETH, and
  optionally Mini-Pool 0 with a unique reserve ``EXO`` and a tranche ``aUSDC`` of the Core
  USDC reserve that may flow-borrow from the Core.
* :func:`refused`: the atomicity contract of every public operation: a refusal raises a
  :class:`ProtocolError` with a stable code and leaves the canonical state hash unchanged.
* :class:`LendingMachine`: a Hypothesis ``RuleBasedStateMachine`` that drives random user
  operations through the public API on every market of a deployment (Core or Mini-Pool
  alike: one lending logic serves both) and checks the per-operation properties and the
  state invariants of spec §11 after every step, under liquidation policies drawn at random
  per pool (issue 15; none in about half the runs). ``test_invariants_core.py`` runs it on the
  Core-Pool; ``test_invariants_minipool.py`` extends it with the Mini-Pool's credit line.
  :func:`run_machine` runs a machine in parts that ``pytest -n 2`` spreads over its workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from astera.core import (
    RAY,
    UINT256_MAX,
    WAD,
    DefaultRateStrategy,
    FixedRateStrategy,
    PIRateStrategy,
    Pool,
    Protocol,
    ProtocolError,
    RateStrategy,
    Reserve,
)
from astera.core.liquidation_policy import CLOSE_FACTOR, LiquidationPolicy
from astera.core.wadray import div_up, percent_mul, ray_div, ray_mul, wad_div

T0 = 1_700_000_000
PCT = RAY // 100
ADMIN = "admin"
EMERGENCY = "emergency_admin"
MINI_ADMIN = "mp_admin"
USERS = ("alice", "bob", "carol", "dave")

#: Oracle prices (USD, 8 decimals) of spec §13.3.
USDC_PRICE = 100_000_000
WBTC_PRICE = 67_000 * 10**8
WETH_PRICE = 3_700 * 10**8
EXO_PRICE = 5 * 10**8


def stable_curve() -> DefaultRateStrategy:
    """Common.sol stable curve: U0 0.80, base 0, slope1 4 %, slope2 75 %."""
    return DefaultRateStrategy(80 * PCT, 0, 4 * PCT, 75 * PCT)


def volatile_curve() -> DefaultRateStrategy:
    """Common.sol volatile curve: U0 0.45, base 0, slope1 7 %, slope2 300 %."""
    return DefaultRateStrategy(45 * PCT, 0, 7 * PCT, 300 * PCT)


def pi_controller(u0: int = 70 * PCT, min_ce: int = -3675 * RAY // 10_000) -> PIRateStrategy:
    """Deployment PI controller (spec §13.1): kp 1, ki 13e19 per second, 20 days of integral."""
    return PIRateStrategy(u0, RAY, 13 * 10**19, min_ce, 1_728_000, T0)


def add_core_reserve(
    p: Protocol,
    symbol: str,
    strategy: RateStrategy,
    ltv: int,
    lt: int,
    bonus: int,
    reserve_factor: int = 0,
) -> None:
    """Init and configure a borrowable Core reserve (asset already listed)."""
    p.init_core_reserve(ADMIN, symbol, strategy)
    p.configure_reserve_as_collateral(ADMIN, "core", symbol, ltv, lt, bonus)
    p.set_reserve_flags(ADMIN, "core", symbol, borrowing_enabled=True)
    if reserve_factor:
        p.set_reserve_factor(ADMIN, "core", symbol, reserve_factor)


def core_protocol() -> Protocol:
    """Core-Pool with USDC (6 dec), WBTC (8, PI-controller rates) and WETH (18); reserve
    parameters of §13.3; the users of :data:`USERS` registered."""
    p = Protocol(start_timestamp=T0, admin=ADMIN, emergency_admin=EMERGENCY)
    p.add_asset("USDC", decimals=6, price=USDC_PRICE)
    p.add_asset("WBTC", decimals=8, price=WBTC_PRICE)
    p.add_asset("WETH", decimals=18, price=WETH_PRICE)
    add_core_reserve(p, "USDC", stable_curve(), 8000, 8500, 10500, 1500)
    add_core_reserve(p, "WBTC", pi_controller(), 7500, 8000, 10800, 2000)
    add_core_reserve(p, "WETH", volatile_curve(), 7500, 8000, 10800, 1500)
    for u in USERS:
        p.register_user(u)
    return p


def mini_protocol() -> Protocol:
    """:func:`core_protocol` plus Mini-Pool 0: unique ``EXO`` (18 dec) and tranche ``aUSDC``,
    with a 1,000,000 USDC credit line from the Core."""
    p = core_protocol()
    p.add_asset("EXO", decimals=18, price=EXO_PRICE)
    p.create_mini_pool(ADMIN, pool_admin=MINI_ADMIN)
    p.init_mini_reserve(ADMIN, 0, "EXO", volatile_curve())
    p.init_mini_reserve(ADMIN, 0, "aUSDC", stable_curve(), tranche_of="USDC")
    for name, (ltv, lt, bonus) in {"EXO": (5000, 6500, 11000), "aUSDC": (8000, 8500, 10500)}.items():
        p.configure_reserve_as_collateral(MINI_ADMIN, 0, name, ltv, lt, bonus)
        p.set_reserve_flags(MINI_ADMIN, 0, name, borrowing_enabled=True)
    p.set_reserve_factor(ADMIN, 0, "aUSDC", 1000)
    p.set_flow_limit(ADMIN, "USDC", 0, 1_000_000 * 10**6)
    return p


def supply(p: Protocol, user: str, asset: str, amount: int, pool: str | int = "core") -> None:
    """Mint ``amount`` to ``user`` and deposit it (a plain, non-tranche reserve)."""
    p.mint(user, asset, amount)
    p.deposit(user, asset, amount, pool=pool)


def refused(p: Protocol, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ProtocolError:
    """Call ``fn`` expecting a refusal; assert that the state did not change at all."""
    before = p.state_hash()
    with pytest.raises(ProtocolError) as exc:
        fn(*args, **kwargs)
    assert p.state_hash() == before, f"refused operation ({exc.value.code}) changed the state"
    return exc.value


# ---- the state machine ------------------------------------------------------------------------------

DAY = 86_400
#: Time steps between operations: a second to a quarter.
WARPS = (1, 60, 3_600, DAY, 7 * DAY, 30 * DAY, 90 * DAY)
#: Refusals of a Mini-Pool tranche payment: the payer's Core HF (5), and the automatic Core
#: repayment's edges: the self-deposit short of the debt (4), no liquidity (1), dust (36).
TRANCHE_REPAYMENT_REFUSALS = ("5", "4", "1", "36")
#: Price moves, in basis points of the current price (USDC stays near its peg).
PRICE_MOVES = (5_000, 7_000, 9_000, 9_700, 10_000, 10_300, 11_000, 13_000, 15_000)


@dataclass(frozen=True)
class Market:
    """A reserve as the public API names it: a pool (``"core"`` or a Mini-Pool id) and a name."""

    pool: str | int
    name: str

    def __str__(self) -> str:
        return f"{self.pool}:{self.name}"


def tolerance(index: int) -> int:
    """Largest rounding error (wei) of one scaled-balance movement at ``index``.

    Moving ``a`` stores ``rayDiv(a, index)`` scaled units, worth ``a`` give or take
    ``index / (2·RAY)``, and balances are read back with a half-up ``rayMul``: the balance
    moves by ``a`` within ``1 + index / (2·RAY)``. That is the "±1" of spec §11 while the
    index is below 2, and grows by one wei per further doubling of the index.
    """
    return 1 + index // (2 * RAY)


class LendingMachine(RuleBasedStateMachine):
    """Random operation sequences over every market of a deployment, checked after each step.

    Each rule draws an operation, predicts the refusals the spec makes certain, performs the
    operation through the public API and checks what spec §11 promises for it (balance
    deltas, health factors, liquidation amounts, flash loans). Every refusal is checked to
    leave the canonical state hash unchanged. After every step :meth:`check_state` checks
    the state invariants: token accounting, monotone indexes, solvency, user bitmaps and
    conservation of tokens.

    Subclasses provide the deployment (:meth:`deploy`) and its markets.
    """

    def __init__(self) -> None:
        super().__init__()
        self.p = self.deploy()
        self.markets = self.list_markets()
        self.pools = sorted({m.pool for m in self.markets}, key=str)
        self.initial_prices = {a: self.p.price(a) for a in self.p.wallets}
        self.minted: dict[str, int] = dict.fromkeys(self.p.wallets, 0)
        #: (market, user) whose collateral bit the user turned off (and who still hold the aToken).
        self.disabled: set[tuple[Market, str]] = set()
        #: (pool, user) whose collateral was taken to nothing by a liquidation or repayWithATokens.
        self.lost_collateral: set[tuple[str | int, str]] = set()
        self.previous = self.snapshot()
        #: Operations so far: each may leave a wei or two of rounding in the accounting.
        self.steps = 0
        #: Whether the current step lent through a flash loan (its premium moves the index).
        self.flash_step = False
        #: Principal liquidated in its own asset per market, and the interest on it accrued since
        #: (the solvency allowance of :meth:`check_solvency`).
        self.repaid_in_kind: dict[Market, int] = {}
        self.allowance: dict[Market, int] = {}

    # ---- deployment hooks -----------------------------------------------------------------------------

    def deploy(self) -> Protocol:
        raise NotImplementedError

    def list_markets(self) -> list[Market]:
        raise NotImplementedError

    # ---- views ----------------------------------------------------------------------------------------

    def reserve(self, m: Market) -> Reserve:
        return self.p.pool(m.pool).reserve((m.name, True) if m.pool == "core" else m.name)

    def pool_of(self, m: Market) -> Pool:
        return self.p.pool(m.pool)

    def token(self, m: Market) -> str:
        """The ERC-20 a market's payments are made in (a tranche: its Core underlying)."""
        r = self.reserve(m)
        return r.tranche_of.asset if r.tranche_of is not None else r.asset

    def holdings(self, m: Market, user: str) -> int:
        """What the user pays into the market with: tokens, or Core shares for a tranche."""
        r = self.reserve(m)
        if r.tranche_of is not None:
            return r.tranche_of.a_scaled.get(user, 0)
        return self.p.wallet(r.asset, user)

    def supplied(self, m: Market, user: str) -> int:
        return self.reserve(m).a_balance(user, self.p.now)

    def owed(self, m: Market, user: str) -> int:
        return self.reserve(m).debt_balance(user, self.p.now)

    def health_factors(self) -> dict[tuple[str | int, str], int]:
        return {(pool, u): self.p.health_factor(u, pool) for pool in self.pools for u in USERS}

    def markets_in(self, pool: str | int) -> list[Market]:
        return [m for m in self.markets if m.pool == pool]

    # ---- drawing --------------------------------------------------------------------------------------

    def draw_amount(self, data: st.DataObject, m: Market, label: str) -> int:
        """Up to about $100,000 of the market's asset, or a dust amount."""
        if data.draw(st.integers(0, 9), label=f"{label} is dust") == 0:
            return data.draw(st.integers(1, 1_000), label=label)
        cents = data.draw(st.integers(1, 10**7), label=f"{label} in cents")
        r = self.reserve(m)
        return max(1, cents * 10**6 * r.unit // self.pool_of(m).price(r))

    def draw_user(self, data: st.DataObject, likely: Sequence[str], label: str) -> str:
        """Usually one of ``likely`` (those for whom the operation can do something), else anyone."""
        if likely and data.draw(st.integers(0, 9), label=f"{label} is likely") > 0:
            return data.draw(st.sampled_from(sorted(likely)), label=label)
        return data.draw(st.sampled_from(USERS), label=label)

    def draw_fraction(self, data: st.DataObject, whole: int, label: str, over: int = 10_000) -> int:
        """``whole`` times a fraction in (0, over/10000], occasionally exactly 0 or all of it."""
        kind = data.draw(st.integers(0, 9), label=f"{label}: 0 none, 1 all, else a part")
        bps = 0 if kind == 0 else 10_000 if kind == 1 else data.draw(st.integers(1, over), label=label)
        return whole * bps // 10_000

    # ---- acting ---------------------------------------------------------------------------------------

    def mint(self, user: str, asset: str, amount: int) -> None:
        if amount > 0:
            self.p.mint(user, asset, amount)
            self.minted[asset] += amount

    def fund(self, m: Market, user: str, need: int) -> None:
        """Top the payer up to ``need`` of what the market takes (vectors/FORMAT.md §3.1).

        Tokens are minted; tranche shares are bought with a real Core deposit (which, like
        every deposit, must succeed: spec §11 200).
        """
        r = self.reserve(m)
        cr = r.tranche_of
        if cr is None:
            self.mint(user, r.asset, need - self.p.wallet(r.asset, user))
            return
        shares = cr.a_scaled.get(user, 0)
        if shares >= need:
            return
        assets = ray_mul(need - shares, cr.normalized_income(self.p.now)) + 2
        self.mint(user, cr.asset, assets - self.p.wallet(cr.asset, user))
        self.p.deposit(user, cr.asset, assets)

    def attempt(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ProtocolError | None]:
        """Run one operation; a refusal must leave the state hash exactly as it was.

        The outcome is reported as a Hypothesis event (``--hypothesis-show-statistics``).
        """
        before = self.p.state_hash()
        label = f"{fn.__name__}[{kwargs.get('pool', 'core')}]"
        try:
            result = fn(*args, **kwargs)
        except ProtocolError as e:
            event(f"{label}: {e.code}")
            assert self.p.state_hash() == before, f"refusal {e.code} changed the state"
            return None, e
        event(f"{label}: ok")
        return result, None

    def stays_healthy(self, before: dict[tuple[str | int, str], int], exempt: set[Any] = frozenset()) -> None:
        """No successful user operation takes a healthy account (HF >= 1) below 1.

        Prices and time are not user operations; liquidations only concern unhealthy targets;
        the actors of borrows and withdrawals are checked by their own rules.
        """
        after = self.health_factors()
        for key, hf in before.items():
            if hf >= WAD and key not in exempt and key[0] not in exempt:
                assert after[key] >= WAD, f"{key} pushed from {hf} to {after[key]}"

    def over_cap(self, r: Reserve, amount: int) -> bool:
        """Whether a deposit of ``amount`` hits the deposit cap (whole tokens; strict, pre-update supply)."""
        return bool(r.deposit_cap) and r.a_total_supply(self.p.now) + amount >= r.deposit_cap * r.unit

    def value_of(self, m: Market, amount: int) -> int:
        """``amount`` of the market's asset in USD (8 decimals), rounded up; 0 if not positive."""
        if amount <= 0:
            return 0
        r = self.reserve(m)
        return div_up(self.pool_of(m).price(r) * amount, r.unit)

    def health_factor_within_rounding(
        self, pool_ref: str | int, user: str, debt_excess: int = 0, collateral_excess: int = 0, floor: int = 0
    ) -> int:
        """The user's HF with a token movement's rounding excess (USD, 8 decimals) given back,
        and with ``floor`` basis points added back to the floored average liquidation threshold."""
        a = self.p.account(user, pool_ref)
        debt = a.total_debt_base - debt_excess
        if debt <= 0:
            return UINT256_MAX
        collateral = a.total_collateral_base + collateral_excess
        return wad_div(percent_mul(collateral, a.current_liquidation_threshold + floor), debt)

    def mark_collateral_received(self, m: Market, user: str) -> None:
        self.disabled.discard((m, user))

    # ---- the starting market --------------------------------------------------------------------------

    @initialize(data=st.data())
    def open_market(self, data: st.DataObject) -> None:
        """Random risk parameters (within the configurator's rules), then a live market:
        everyone supplies a few reserves and some borrow close to their limit."""
        for m in self.markets:
            self.configure(data, m)
        for pool_ref in self.pools:
            self.draw_policy(data, pool_ref)
        for user in USERS:
            for m in self.markets:
                r = self.reserve(m)
                if r.tranche_of is None and data.draw(st.booleans(), label=f"{user} supplies {m}"):
                    cents = data.draw(st.integers(10_000, 10**7), label="cents")
                    amount = max(1, cents * 10**6 * r.unit // self.pool_of(m).price(r))
                    if not self.over_cap(r, amount):
                        self.fund(m, user, amount)
                        self.p.deposit(user, m.name, amount, pool=m.pool)
        for user in USERS:
            if data.draw(st.booleans(), label=f"{user} borrows"):
                m = data.draw(st.sampled_from(self.markets), label="market")
                r = self.reserve(m)
                room = self.p.account(user, m.pool).available_borrows_base
                amount = room * data.draw(st.integers(5_000, 9_900), label="bps") // 10_000
                amount = amount * r.unit // self.pool_of(m).price(r)
                if amount:
                    self.attempt(self.p.borrow, user, m.name, amount, pool=m.pool)

    def draw_policy(self, data: st.DataObject, pool_ref: str | int) -> None:
        """A pool's liquidation policy: none (the contracts' rules) or each rule on or off, with
        the default dust values or ten times smaller ones, and a target health factor."""
        if not data.draw(st.booleans(), label=f"{pool_ref} has a liquidation policy"):
            return
        scale = data.draw(st.sampled_from((1, 10)), label="dust values / ")
        policy = LiquidationPolicy(
            deficit_accounting=data.draw(st.booleans(), label="deficit accounting"),
            dynamic_close_factor=data.draw(st.booleans(), label="dynamic close factor"),
            dust_base=2_000 * 10**8 // scale,
            min_leftover_base=1_000 * 10**8 // scale,
            target_health_factor=data.draw(
                st.sampled_from((0, 101 * WAD // 100, 105 * WAD // 100, 12 * WAD // 10)), label="target HF"
            ),
        )
        admin = ADMIN if pool_ref == "core" else self.p.mini_pool(pool_ref).admin  # type: ignore[arg-type]
        self.p.set_liquidation_policy(admin, pool_ref, policy)

    def configure(self, data: st.DataObject, m: Market) -> None:
        """Draw LT, LTV, bonus, rate model, reserve factor and deposit cap for one market, and set
        them as its admins would."""
        lt = data.draw(st.integers(50, 90), label=f"{m} LT %") * 100
        ltv = lt - data.draw(st.integers(1, 20), label="LT - LTV %") * 100
        bonus = data.draw(st.integers(10_100, min(11_500, 10_000 * 10_000 // lt)), label="bonus")
        admin = ADMIN if m.pool == "core" else self.p.mini_pool(m.pool).admin
        self.p.configure_reserve_as_collateral(admin, m.pool, m.name, ltv, lt, bonus)
        model = data.draw(st.sampled_from(("stable", "volatile", "pi", "fixed")), label="rate model")
        if model == "pi":
            u0 = data.draw(st.integers(45, 90), label="PI U0 %") * PCT
            strategy: RateStrategy = pi_controller(
                u0, -data.draw(st.integers(10, 40), label="-minCE %") * PCT
            )
        elif model == "fixed" and self.reserve(m).tranche_of is None:  # tranches refuse a fixed rate (31)
            strategy = FixedRateStrategy(data.draw(st.integers(1, 30), label="fixed rate %") * PCT)
        else:
            strategy = volatile_curve() if model == "volatile" else stable_curve()
        self.p.set_rate_strategy(ADMIN, m.pool, m.name, strategy)
        self.p.set_reserve_factor(ADMIN, m.pool, m.name, data.draw(st.integers(0, 4000), label="RF"))
        fee = data.draw(st.sampled_from((0, 0, 1_000, 10_000)), label="liquidation protocol fee")
        self.p.set_liquidation_protocol_fee(ADMIN, m.pool, m.name, fee)
        r = self.reserve(m)
        if not any(self.reserve(x).tranche_of is r for x in self.markets):  # funding tranches needs room
            cap_usd = data.draw(st.sampled_from((0, 0, 200_000, 2_000_000)), label="deposit cap in USD")
            whole_token = self.pool_of(m).price(r)  # USD, 8 decimals
            self.p.set_deposit_cap(
                ADMIN, m.pool, m.name, max(1, cap_usd * 10**8 // whole_token) if cap_usd else 0
            )

    # ---- rules: deposits and withdrawals (200-204, 224; 500-505) --------------------------------------

    @rule(data=st.data())
    def deposit(self, data: st.DataObject) -> None:
        """A deposit, maybe on behalf of someone else: a plain one always succeeds (200) unless capped."""
        m = data.draw(st.sampled_from(self.markets), label="market")
        user = data.draw(st.sampled_from(USERS), label="user")
        obo = data.draw(st.sampled_from((user, *USERS)), label="on_behalf_of")
        amount = self.draw_amount(data, m, "amount")
        r = self.reserve(m)
        self.fund(m, user, amount)
        supplied, held, hfs = self.supplied(m, obo), self.holdings(m, user), self.health_factors()
        index = r.normalized_income(self.p.now)
        capped = self.over_cap(r, amount)
        _, err = self.attempt(self.p.deposit, user, m.name, amount, obo, pool=m.pool)
        if capped:
            assert err is not None and err.code == "17", "219/520: the deposit cap"
            return
        if ray_div(amount, index) == 0:  # worth less than one scaled unit: nothing to mint
            assert err is not None and err.code == "35"
            return
        if err is not None:
            # Only a tranche deposit can be refused: the payer's Core shares move with an HF check
            # (5), and the Core repayment that follows can fail at its edges (§7.6: 4, 1, or 36
            # for a dust flow worth no scaled unit of Core debt).
            assert r.tranche_of is not None and err.code in TRANCHE_REPAYMENT_REFUSALS, err
            return
        assert abs(self.supplied(m, obo) - supplied - amount) <= tolerance(index), "201/501"
        assert held - self.holdings(m, user) == amount, "202/502"
        if supplied == 0:
            assert self.pool_of(m).is_collateral(obo, r), "first deposit sets the collateral bit"
            self.mark_collateral_received(m, obo)
        self.stays_healthy(hfs)

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        """A withdrawal (part, all, more than the balance, or ``max``), maybe to someone else."""
        m = data.draw(st.sampled_from(self.markets), label="market")
        user = self.draw_user(data, [u for u in USERS if self.supplied(m, u)], "user")
        to = data.draw(st.sampled_from((user, *USERS)), label="to")
        r = self.reserve(m)
        unwrap = r.tranche_of is not None and data.draw(st.booleans(), label="unwrap")
        balance = self.supplied(m, user)
        if data.draw(st.booleans(), label="max"):
            amount, resolved = UINT256_MAX, balance
        else:
            amount = resolved = self.draw_fraction(data, balance, "fraction", over=12_000) or 1
        token = self.token(m) if unwrap else None
        received_before = self.p.wallet(token, to) if token else self.holdings(m, to)
        hfs = self.health_factors()
        index = r.normalized_income(self.p.now)
        _, err = self.attempt(self.p.withdraw, user, m.name, amount, to, pool=m.pool, unwrap=unwrap)
        if resolved == 0:
            assert err is not None and err.code == "1"
            return
        if resolved > balance:
            assert err is not None and err.code == "4"
            return
        if err is not None:
            assert err.code in ("5", "56", "36", "panic:0x11"), err
            return
        assert abs(balance - self.supplied(m, user) - resolved) <= tolerance(index), "203/503"
        received = (self.p.wallet(token, to) if token else self.holdings(m, to)) - received_before
        if unwrap:
            cr = r.tranche_of
            expected = ray_mul(resolved, cr.normalized_income(self.p.now))
        else:
            expected = resolved
        assert received == expected, "204/504"
        if resolved == balance:
            assert not self.pool_of(m).is_collateral(user, r), "a full withdrawal clears the bit"
        # 224/505 restated: the check runs on the amount, the burn on its scaled value, rounded;
        # and the health factor floors the average threshold. Without those roundings the
        # account stays healthy.
        excess = self.value_of(m, balance - self.supplied(m, user) - resolved)
        hf = self.health_factor_within_rounding(m.pool, user, collateral_excess=excess, floor=1)
        assert hf >= WAD or hfs[(m.pool, user)] < WAD, "224/505"
        if self.p.health_factor(user, m.pool) < WAD <= hfs[(m.pool, user)]:
            event("224: a withdrawal left HF < 1 through rounding")
        self.stays_healthy(hfs, {(m.pool, user)})

    # ---- rules: borrowing and repaying (205-212; 506-513) ---------------------------------------------

    @rule(data=st.data())
    def borrow(self, data: st.DataObject) -> None:
        """A borrow sized on the borrower's room (up to 120 % of it), maybe by a delegate."""
        m = data.draw(st.sampled_from(self.markets), label="market")
        able = [u for u in USERS if self.p.account(u, m.pool).available_borrows_base]
        obo = self.draw_user(data, able, "borrower")
        user = data.draw(st.sampled_from((obo, obo, *USERS)), label="caller")
        r, pool = self.reserve(m), self.pool_of(m)
        unwrap = r.tranche_of is not None and data.draw(st.booleans(), label="unwrap")
        if data.draw(st.integers(0, 9), label="dust") == 0:
            amount = data.draw(st.integers(1, 1_000), label="amount")
        else:
            room = self.p.account(obo, m.pool).available_borrows_base
            amount = max(1, self.draw_fraction(data, room, "fraction", over=12_000) * r.unit // pool.price(r))
        allowance = None
        if user != obo:
            allowance = amount + data.draw(st.integers(-1, 3), label="allowance - amount")
            self.p.approve_delegation(obo, user, m.name, allowance, pool=m.pool)
        holds_a_tokens = any(self.reserve(x).a_scaled.get(obo, 0) for x in self.markets_in(m.pool))
        hfs = self.health_factors()
        debt = self.owed(m, obo)
        token = self.token(m) if unwrap else None
        received_before = self.p.wallet(token, user) if token else self.holdings(m, user)
        _, err = self.attempt(self.p.borrow, user, m.name, amount, obo, pool=m.pool, unwrap=unwrap)
        if not holds_a_tokens:
            assert err is not None, "205/506: no aTokens, no borrow"
        if hfs[(m.pool, obo)] < WAD:
            assert err is not None, "206/507: no borrow below HF 1"
        if allowance is not None and allowance < amount:
            assert err is not None, "46: beyond the delegated allowance"
        if err is not None:
            return
        now = self.p.now
        increase = self.owed(m, obo) - debt
        assert abs(increase - amount) <= tolerance(r.variable_borrow_index), "208/509"
        received = (self.p.wallet(token, user) if token else self.holdings(m, user)) - received_before
        expected = ray_mul(amount, r.tranche_of.normalized_income(now)) if unwrap else amount
        assert received == expected, "the borrower receives the amount"
        if allowance is not None:
            assert r.borrow_allowance[(obo, user)] == allowance - amount, "209/510"
        assert pool.is_borrowing(obo, r)
        # 207/508 restated: a borrow never leaves HF < 1 but for the debt token's rounding, which
        # can mint more debt than the amount (1 satoshi -> 2 at a borrow index of 1.57; see
        # test_invariants_core.py). Without that excess the account is healthy.
        excess = self.value_of(m, increase - amount)
        assert self.health_factor_within_rounding(m.pool, obo, debt_excess=excess) >= WAD, "207/508"
        if self.p.health_factor(obo, m.pool) < WAD:
            event("207: a borrow left HF < 1 through rounding")
        self.stays_healthy(hfs, {(m.pool, obo)})

    @rule(data=st.data())
    def repay(self, data: st.DataObject) -> None:
        """A repayment of part of a debt, the exact debt, or ``max``, maybe by someone else."""
        m = data.draw(st.sampled_from(self.markets), label="market")
        obo = self.draw_user(data, [u for u in USERS if self.owed(m, u)], "borrower")
        payer = data.draw(st.sampled_from((obo, obo, *USERS)), label="payer")
        debt = self.owed(m, obo)
        kind = data.draw(st.sampled_from(("part", "part", "debt", "max")), label="kind")
        if kind == "part":
            amount = self.draw_fraction(data, debt, "fraction", over=12_000) or 1
        else:
            amount = debt if kind == "debt" else UINT256_MAX
        pay = min(amount, debt)
        r, pool = self.reserve(m), self.pool_of(m)
        self.fund(m, payer, pay)
        held, hfs = self.holdings(m, payer), self.health_factors()
        total_debt = r.debt_total_supply(self.p.now)
        _, err = self.attempt(self.p.repay, payer, m.name, amount, obo, pool=m.pool)
        if amount == 0:
            assert err is not None and err.code == "1"
            return
        if debt == 0:
            assert err is not None and err.code == "12"
            return
        if amount == UINT256_MAX and payer != obo:
            assert err is not None and err.code == "13"
            return
        if ray_div(pay, r.normalized_debt(self.p.now)) == 0:
            assert err is not None and err.code == "36", "a repayment worth no scaled unit burns nothing"
            return
        if m.pool != "core" and amount > total_debt:
            # The Mini-Pool subtracts the amount sent from the reserve's total debt.
            assert err is not None and err.code == "panic:0x11"
            return
        if err is not None:
            assert m.pool != "core" and err.code in ("30", *TRANCHE_REPAYMENT_REFUSALS), err
            return
        if pay == debt:
            assert self.owed(m, obo) == 0 and not pool.is_borrowing(obo, r)
        assert abs(debt - self.owed(m, obo) - pay) <= tolerance(r.variable_borrow_index), "210"
        assert held - self.holdings(m, payer) == pay, "211/512"
        assert self.p.health_factor(obo, m.pool) >= hfs[(m.pool, obo)], "212/513"
        self.stays_healthy(hfs)

    @rule(data=st.data())
    def repay_with_a_tokens(self, data: st.DataObject) -> None:
        """Core only: repaying one's debt with aTokens of the same reserve (§4.5)."""
        m = data.draw(st.sampled_from(self.markets_in("core")), label="market")
        user = self.draw_user(data, [u for u in USERS if self.owed(m, u) and self.supplied(m, u)], "user")
        debt, supplied = self.owed(m, user), self.supplied(m, user)
        amount = self.draw_fraction(data, min(debt, supplied), "fraction") or 1
        r = self.reserve(m)
        cash, bit, hfs = r.cash, self.p.core.is_collateral(user, r), self.health_factors()
        _, err = self.attempt(self.p.repay_with_a_tokens, user, m.name, amount)
        if debt == 0:
            assert err is not None and err.code == "12"
            return
        if err is not None:
            return
        assert abs(debt - self.owed(m, user) - amount) <= tolerance(r.variable_borrow_index)
        assert abs(supplied - self.supplied(m, user) - amount) <= tolerance(r.liquidity_index)
        assert r.cash == cash, "no cash moves"
        assert self.p.core.is_collateral(user, r) == bit, "the collateral bit is left alone"
        self.note_lost_collateral("core", user)
        self.stays_healthy(hfs)

    # ---- rules: collateral and transfers (213; 300-304, 320/321; 514; 600-618) ------------------------

    @rule(data=st.data())
    def set_collateral(self, data: st.DataObject) -> None:
        """Turning a deposit's use as collateral on or off."""
        m = data.draw(st.sampled_from(self.markets), label="market")
        user = self.draw_user(data, [u for u in USERS if self.supplied(m, u)], "user")
        enabled = data.draw(st.booleans(), label="enabled")
        r, pool = self.reserve(m), self.pool_of(m)
        balance, hfs = self.supplied(m, user), self.health_factors()
        weighted = self.weighted_collateral(m.pool, user)
        _, err = self.attempt(self.p.set_collateral, user, m.name, enabled, pool=m.pool)
        if balance == 0:
            assert err is not None and err.code == "14"
            return
        if err is not None:
            assert not enabled and err.code in ("15", "panic:0x11"), err
            return
        assert pool.is_collateral(user, r) == enabled
        if enabled:
            self.disabled.discard((m, user))
        else:
            self.disabled.add((m, user))
        # 213/514, restated. Enabling never lowers, and disabling never raises, the collateral
        # weighted by liquidation thresholds, Σ value·LT (exact). The health factor itself uses
        # the *average* threshold floored to a whole basis point, so it can move the other way
        # by up to one basis point of threshold: disabling $0.01 of collateral took an account
        # from avgLT 8499 to 8500 and raised its HF. The contracts compute the same.
        after = self.weighted_collateral(m.pool, user)
        assert after >= weighted if enabled else after <= weighted, "213: weighted collateral"
        hf_before, hf_after = hfs[(m.pool, user)], self.p.health_factor(user, m.pool)
        healthy = self.health_factor_within_rounding(m.pool, user, floor=1) >= WAD
        assert healthy or hf_before < WAD, "213: toggling drops HF below 1 by more than the rounding"
        if hf_after < WAD <= hf_before:
            event("213: a toggle left HF < 1 through rounding")
        account = self.p.account(user, m.pool)
        if account.total_debt_base:
            one_bps = wad_div(percent_mul(account.total_collateral_base, 1) + 1, account.total_debt_base) + 1
            assert hf_after + one_bps >= hf_before if enabled else hf_after <= hf_before + one_bps, "213"
        self.stays_healthy(hfs, {(m.pool, user)})

    def weighted_collateral(self, pool_ref: str | int, user: str) -> int:
        """Σ over the user's collateral of value (USD, 8 decimals, rounded down) × liquidation threshold."""
        pool = self.p.pool(pool_ref)
        total = 0
        for m in self.markets_in(pool_ref):
            r = self.reserve(m)
            if pool.is_collateral(user, r):
                total += pool.price(r) * r.a_balance(user, self.p.now) // r.unit * r.liquidation_threshold
        return total

    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        """An aToken transfer: zero, part, all, one wei too many, or to oneself."""
        m = data.draw(st.sampled_from(self.markets), label="market")
        sender = self.draw_user(data, [u for u in USERS if self.supplied(m, u)], "sender")
        to = data.draw(st.sampled_from(USERS), label="to")
        r, pool = self.reserve(m), self.pool_of(m)
        balance = self.supplied(m, sender)
        amount = self.draw_fraction(data, balance, "fraction", over=12_000)
        if data.draw(st.integers(0, 9), label="over by one") == 0:
            amount = balance + 1
        scaled_before = {h: v for h, v in r.a_scaled.items() if v}
        to_balance, hfs = self.supplied(m, to), self.health_factors()
        index = r.normalized_income(self.p.now)
        _, err = self.attempt(self.p.transfer, sender, to, m.name, amount, pool=m.pool)
        if amount > balance and (sender != to or ray_div(amount, index) > r.a_scaled.get(sender, 0)):
            # 302/602 restated: a self-transfer of balance + 1 whose scaled amount still fits moves
            # nothing and is accepted, as in the contracts (the over-balance subtraction in
            # finalizeTransfer only runs when sender != receiver).
            assert err is not None, "302/602: no transfer above the balance"
            return
        if err is not None:
            assert err.code == "5", err
            assert hfs[(m.pool, sender)] < WAD or amount > 0, "300/600: a zero transfer of a healthy account"
            return
        assert self.p.health_factor(sender, m.pool) >= WAD, "301/601"
        if sender == to:
            assert {h: v for h, v in r.a_scaled.items() if v} == scaled_before, "304/604: self-transfer"
            return
        assert abs(balance - self.supplied(m, sender) - amount) <= tolerance(index), "303/603"
        assert abs(self.supplied(m, to) - to_balance - amount) <= tolerance(index), "303/603"
        if amount == balance:
            assert not pool.is_collateral(sender, r)
        if to_balance == 0 and amount != 0:
            assert pool.is_collateral(to, r)
            self.mark_collateral_received(m, to)
        self.stays_healthy(hfs)

    # ---- rules: liquidation (100-105) -----------------------------------------------------------------

    @rule(data=st.data())
    def liquidate(self, data: st.DataObject) -> None:
        """A liquidation, usually right after a crash made someone liquidatable."""
        if data.draw(st.integers(0, 3), label="crash first") > 0:
            self.crash(data)
        hfs = self.health_factors()
        troubled = sorted({pool for (pool, _), hf in hfs.items() if hf < WAD}, key=str)
        pool_ref = data.draw(st.sampled_from(troubled or self.pools), label="pool")
        unhealthy = [u for u in USERS if hfs[(pool_ref, u)] < WAD]
        target = data.draw(st.sampled_from(unhealthy or list(USERS)), label="target")
        liquidator = data.draw(st.sampled_from([u for u in USERS if u != target]), label="liquidator")
        pool = self.p.pool(pool_ref)
        mine = self.markets_in(pool_ref)
        held = [m for m in mine if self.supplied(m, target) and pool.is_collateral(target, self.reserve(m))]
        owed = [m for m in mine if self.owed(m, target)]
        coll_m = data.draw(st.sampled_from(held or mine), label="collateral")
        debt_m = data.draw(st.sampled_from(owed or mine), label="debt")
        coll, debt_r = self.reserve(coll_m), self.reserve(debt_m)
        receive = data.draw(st.booleans(), label="receive aToken")
        unwrap = coll.tranche_of is not None and not receive and data.draw(st.booleans(), label="unwrap")
        debt = self.owed(debt_m, target)
        cover = (
            UINT256_MAX if data.draw(st.booleans(), label="max") else self.draw_fraction(data, debt, "cover")
        )
        self.fund(debt_m, liquidator, min(cover, debt))

        coll_balance, was_collateral = self.supplied(coll_m, target), pool.is_collateral(target, coll)
        deficit_before = debt_r.deficit
        # The liquidator pays from the debt market's holdings; it is paid in one of three forms.
        # Only one market liquidated in kind, paid in its own holdings, nets the two.
        one_measure = coll_m == debt_m and not receive and not unwrap
        gain_before = self.collateral_received(coll_m, liquidator, receive, unwrap)
        paid_before = self.holdings(debt_m, liquidator)
        events, err = self.attempt(
            self.p.liquidate,
            liquidator,
            target,
            coll_m.name,
            debt_m.name,
            cover,
            receive_a_token=receive,
            pool=pool_ref,
            unwrap=unwrap,
        )
        if hfs[(pool_ref, target)] >= WAD:
            assert err is not None and err.code == "73", "102: only HF < 1 can be liquidated"
            return
        if not was_collateral:
            assert err is not None and err.code == "74", f"100: collateral must be held ({err})"
            return
        if debt == 0:
            assert err is not None and err.code == "75", "101: the debt must be held"
            return
        policy = self.p.liquidation_policy(pool_ref)
        if coll_balance == 0:
            # 100: the bit is on over an empty balance (repayWithATokens leaves it so, §4.5, as
            # the contracts). Nothing is seized, and burning 0 aTokens refuses ("36"); taken as
            # aTokens (a transfer of 0) it goes through when it writes off the account's debt
            # (deficit accounting, no other collateral, as Aave v3.3) or repays something (a
            # cover too small to buy a wei of collateral, as the contracts).
            event("liquidate: the collateral bit over an empty balance")
            refusals = ("36",) if pool_ref == "core" else TRANCHE_REPAYMENT_REFUSALS
            writes_off = policy.deficit_accounting and not any(
                x != coll_m
                and self.reserve(x).liquidation_threshold
                and pool.is_collateral(target, self.reserve(x))
                and self.reserve(x).a_scaled.get(target, 0)
                for x in mine
            )
            if not receive:
                assert err is not None and err.code == "36", f"100: nothing to seize ({err})"
                return
            if err is not None:
                # In a Mini-Pool the automatic Core repayment after it may refuse (see there).
                assert err.code in refusals and not (writes_off and pool_ref == "core"), f"100: {err}"
                return
            call = next(e for e in events if e.name == "LiquidationCall")
            assert call.fields["liquidated_collateral"] == 0
            assert writes_off or call.fields["debt_to_cover"] > 0, "100: nothing done"
            if writes_off:
                event("liquidate: wrote off an account with no collateral left")
                assert all(not self.reserve(x).d_scaled.get(target, 0) for x in mine), "written off"
        if err is not None:
            return
        call = next(e for e in events if e.name == "LiquidationCall")
        actual, seized = call.fields["debt_to_cover"], call.fields["liquidated_collateral"]
        assert actual <= cover and actual <= (
            debt if policy.dynamic_close_factor else percent_mul(debt, CLOSE_FACTOR)
        ), "close factor"
        assert seized <= coll_balance
        written_off = debt_r.deficit - deficit_before
        assert abs(debt - self.owed(debt_m, target) - actual - written_off) <= tolerance(
            debt_r.variable_borrow_index
        ), "103"
        if any(e.name == "DeficitCreated" for e in events):
            event("liquidate: wrote off a deficit")
            assert policy.deficit_accounting and seized == coll_balance
            assert all(not self.reserve(x).d_scaled.get(target, 0) for x in mine), "written off"
        fee = call.fields.get("protocol_fee", 0)
        assert fee <= seized - seized * 10_000 // coll.liquidation_bonus + 1, (
            "the fee is a share of the bonus"
        )
        gained = self.collateral_received(coll_m, liquidator, receive, unwrap) - gain_before
        if receive:
            assert abs(gained - (seized - fee)) <= tolerance(coll.liquidity_index), "104"
        else:
            paid = seized - fee
            expected = ray_mul(paid, coll.tranche_of.normalized_income(self.p.now)) if unwrap else paid
            assert gained == expected - (actual if one_measure else 0), "104"
        target_hf = policy.target_health_factor
        if (
            target_hf
            and actual < cover
            and actual < percent_mul(debt, CLOSE_FACTOR)
            and seized < coll_balance
        ):
            # Limited by the target: reached, up to the flooring of values and average threshold.
            event("liquidate: sized to the target health factor")
            assert self.p.health_factor(target, pool_ref) * 1_000 >= target_hf * 999, "target HF"
        if not one_measure:
            assert paid_before - self.holdings(debt_m, liquidator) == actual, "105"
        if seized == coll_balance:
            assert not pool.is_collateral(target, coll)
        if coll_m == debt_m and not receive:
            self.repaid_in_kind[coll_m] = self.repaid_in_kind.get(coll_m, 0) + actual
        self.note_lost_collateral(pool_ref, target)
        if receive and gain_before == 0 and seized:
            self.mark_collateral_received(coll_m, liquidator)
        self.stays_healthy(hfs, {(pool_ref, target)})
        if written_off and data.draw(st.booleans(), label="the admin covers the deficit"):
            self.cover_deficit(data)

    def collateral_received(self, m: Market, user: str, receive_a_token: bool, unwrap: bool) -> int:
        """What a liquidator holds in the form it is paid: aTokens, the Core underlying of a
        tranche, or the market's own holdings."""
        if receive_a_token:
            return self.supplied(m, user)
        if unwrap:
            return self.p.wallet(self.token(m), user)
        return self.holdings(m, user)

    def note_lost_collateral(self, pool_ref: str | int, user: str) -> None:
        """Remember a user whose debt outlived all their collateral (see 218 in check_user_bitmaps)."""
        pool = self.p.pool(pool_ref)
        mine = self.markets_in(pool_ref)
        has_debt = any(self.reserve(m).d_scaled.get(user, 0) for m in mine)
        has_collateral = any(
            self.reserve(m).a_scaled.get(user, 0) and pool.is_collateral(user, self.reserve(m)) for m in mine
        )
        if has_debt and not has_collateral:
            self.lost_collateral.add((pool_ref, user))

    @rule(data=st.data())
    def cover_deficit(self, data: st.DataObject) -> None:
        """The admin covers (part of) a reserve's deficit with the treasury's aTokens."""
        in_deficit = [m for m in self.markets if self.reserve(m).deficit]
        m = data.draw(st.sampled_from(in_deficit or self.markets), label="market")
        r = self.reserve(m)
        deficit, treasury = r.deficit, r.a_balance(r.treasury, self.p.now)
        amount = (
            UINT256_MAX
            if data.draw(st.booleans(), label="all")
            else self.draw_fraction(data, deficit, "part")
        )
        _, err = self.attempt(self.p.cover_deficit, ADMIN, m.pool, m.name, amount)
        if deficit == 0:
            assert err is not None and err.code == "policy:no_deficit"
            return
        if err is not None:  # nothing (1), less than a scaled unit (36), or more than the treasury holds
            assert err.code in ("1", "36") or min(amount, deficit) > treasury - 2, err
            return
        covered = min(amount, deficit)
        assert r.deficit == deficit - covered
        # The reserve accrues first (which may mint the treasury its reserve factor's share).
        assert r.a_balance(r.treasury, self.p.now) >= treasury - covered - tolerance(r.liquidity_index)

    # ---- rules: flash loans (214, 515) ----------------------------------------------------------------

    @rule(data=st.data())
    def flash_loan(self, data: st.DataObject) -> None:
        """A flash loan whose receiver repays, declines, spends the loan, or deposits and
        withdraws it again inside the callback; mode 1 keeps it as debt."""
        self.flash_step = True
        m = data.draw(st.sampled_from(self.markets), label="market")
        user = data.draw(st.sampled_from(USERS), label="user")
        r, pool = self.reserve(m), self.pool_of(m)
        cash = pool.cash(r)
        amount = max(1, self.draw_fraction(data, cash, "fraction", over=12_000))
        mode = data.draw(st.sampled_from((0, 1)), label="mode")
        behaviour = data.draw(st.sampled_from(("repay", "decline", "spend", "reenter")), label="receiver")
        premium = amount * pool.flash_premium // 10_000 if mode == 0 else 0
        other = next(u for u in USERS if u != user)
        p = self.p

        def receiver(
            assets: Sequence[str], amounts: Sequence[int], premiums: Sequence[int], who: str
        ) -> bool:
            assert list(amounts) == [amount] and list(premiums) == [premium] and who == user
            if behaviour == "decline":
                return False
            if behaviour == "spend":
                p.wallet_transfer(r.asset, user, other, amount)
            if behaviour == "reenter":
                p.deposit(user, m.name, amount, pool=m.pool)
                p.withdraw(user, m.name, amount, pool=m.pool)
            return True

        if r.tranche_of is None:
            self.mint(user, r.asset, premium)
        wallet = p.wallet(r.asset, user) if r.tranche_of is None else 0
        debt, supply, hfs = self.owed(m, user), r.a_total_supply(p.now), self.health_factors()
        treasuries = [h for h in (r.treasury, r.owner_treasury) if h is not None]
        treasury_scaled = sum(r.a_scaled.get(h, 0) for h in treasuries)
        income = r.normalized_income(p.now)
        _, err = self.attempt(p.flash_loan, user, user, receiver, [m.name], [amount], [mode], pool=m.pool)
        if r.tranche_of is not None:
            assert err is not None and err.code == "20"
            return
        if amount > cash:
            # The Core's aToken underflows its managed cash; a Mini-Pool's token transfer fails.
            expected = "panic:0x11" if m.pool == "core" else "error:ERC20InsufficientBalance"
            assert err is not None and err.code == expected, err
            return
        if behaviour == "decline":
            assert err is not None and err.code == "61"
            return
        if err is not None:
            return
        spent = amount if behaviour == "spend" else 0
        if mode == 0:
            assert p.wallet(r.asset, user) == wallet - premium - spent, (
                "214/515: the receiver pays the premium"
            )
            assert pool.cash(r) == cash + premium
            # Suppliers receive the premium through the index; the reserve factors' accrual,
            # minted to the treasuries by the same update, comes on top of it.
            minted = ray_mul(sum(r.a_scaled.get(h, 0) for h in treasuries) - treasury_scaled, income)
            gain = r.a_total_supply(p.now) - minted - supply
            assert abs(gain - premium) <= 3, f"premium {premium} to suppliers: {gain}, {supply=} {minted=}"
        else:
            assert p.wallet(r.asset, user) == wallet + amount - spent
            assert abs(self.owed(m, user) - debt - amount) <= tolerance(r.variable_borrow_index)
        # A premium raises the liquidity index within the block: Mini-Pool prices of Core shares move.
        self.stays_healthy(hfs, {(m.pool, user), *(x for x in self.pools if x != m.pool)})

    # ---- rules: the market ----------------------------------------------------------------------------

    @rule(data=st.data())
    def move_price(self, data: st.DataObject) -> None:
        """An oracle update: -50 % to +50 % (USDC: ±3 %), kept within 1/50 and 50 times the start."""
        asset = data.draw(st.sampled_from(sorted(self.p.wallets)), label="asset")
        bps = data.draw(st.sampled_from(PRICE_MOVES[3:6] if asset == "USDC" else PRICE_MOVES), label="bps")
        initial = self.initial_prices[asset]
        price = min(max(self.p.price(asset) * bps // 10_000, initial // 50), initial * 50)
        self.p.set_price(asset, price)

    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        """Drop the prices of a borrower's collateral-only assets until its HF lands in [0.2, 1) (below
        about 0.8 its collateral no longer covers its debt and the bonus: bad debt)."""
        debtors = [(pool, u) for pool in self.pools for u in USERS if self.p.account(u, pool).total_debt_base]
        if not debtors:
            return
        pool_ref, user = data.draw(st.sampled_from(debtors), label="debtor")
        pool = self.p.pool(pool_ref)
        mine = self.markets_in(pool_ref)
        owed = {self.token(m) for m in mine if self.owed(m, user)}
        assets = sorted(
            {
                r.asset
                for m in mine
                for r in (self.reserve(m),)
                if r.tranche_of is None
                and r.asset not in owed
                and pool.is_collateral(user, r)
                and self.supplied(m, user)
            }
        )
        target = data.draw(st.integers(2_000, 9_990), label="target HF bps") * WAD // 10_000
        for _ in range(4):  # other collateral (a tranche, say) keeps its value: close in
            hf = self.p.health_factor(user, pool_ref)
            if not assets or hf <= target:
                return
            for asset in assets:
                price = max(self.p.price(asset) * target // hf, self.initial_prices[asset] // 50, 1)
                self.p.set_price(asset, price)

    @rule(seconds=st.sampled_from(WARPS))
    def warp(self, seconds: int) -> None:
        """Time passes; the views of both indexes only grow."""
        views = {
            m: (self.reserve(m).normalized_income(self.p.now), self.reserve(m).normalized_debt(self.p.now))
            for m in self.markets
        }
        self.p.advance(seconds)
        for m, principal in self.repaid_in_kind.items():
            rate = self.reserve(m).current_variable_borrow_rate
            self.allowance[m] = (
                self.allowance.get(m, 0) + principal * rate * seconds // (RAY * 31_536_000) + 1
            )
        for m, (income, debt_index) in views.items():
            r = self.reserve(m)
            assert r.normalized_income(self.p.now) >= income and r.normalized_debt(self.p.now) >= debt_index

    # ---- state invariants -----------------------------------------------------------------------------

    def snapshot(self) -> dict[Market, tuple[int, int, int, int]]:
        """Per market: liquidity index, borrow index, stored liquidity rate, scaled debt."""
        return {
            m: (r.liquidity_index, r.variable_borrow_index, r.current_liquidity_rate, r.d_scaled_total)
            for m in self.markets
            for r in (self.reserve(m),)
        }

    @invariant()
    def check_state(self) -> None:
        self.check_token_accounting()
        self.check_indexes()
        self.check_solvency()
        self.check_user_bitmaps()
        self.check_conservation()
        self.check_state_hash()
        self.check_extra()
        self.previous = self.snapshot()
        self.steps += 1
        self.flash_step = False

    def check_extra(self) -> None:
        """Hook for invariants of a subclass's deployment."""

    def check_state_hash(self) -> None:
        """The state hash kept current from the journal equals one computed from scratch:
        every write to a large map (balances, bitmaps, allowances, wallets) was seen."""
        assert self.p.state_hash() == self.p.state_hash(incremental=False)

    def check_token_accounting(self) -> None:
        """320/321, 617/618: scaled balances add up exactly; balances add up to the supply."""
        now = self.p.now
        for m in self.markets:
            r = self.reserve(m)
            for scaled, total, balance, supply in (
                (r.a_scaled, r.a_scaled_total, r.a_balance, r.a_total_supply(now)),
                (r.d_scaled, r.d_scaled_total, r.debt_balance, r.debt_total_supply(now)),
            ):
                assert all(v >= 0 for v in scaled.values())
                assert sum(scaled.values()) == total, f"{m}: scaled balances do not add up"
                balances = [balance(h, now) for h, v in scaled.items() if v]
                assert all(b <= supply for b in balances), "320: nobody holds more than the supply"
                assert abs(sum(balances) - supply) <= len(balances), "321: Σ balances ≈ supply"

    def check_indexes(self) -> None:
        """216/217, 517/518: indexes never fall; the borrow index stands still without debt.

        216 restated: "the liquidity index is unchanged while there are no suppliers" does not
        hold. When the last supplier leaves a reserve that still has debt (its cash being the
        spread the reserve kept), the stored liquidity rate stays non-zero and the index keeps
        growing for nobody, as in the contracts. What holds: the index moves only while the
        stored liquidity rate is non-zero, or by a flash-loan premium.
        """
        for m, (li, bi, rate, debt) in self.previous.items():
            r = self.reserve(m)
            assert r.liquidity_index >= li and r.variable_borrow_index >= bi, f"{m}: an index fell"
            if rate == 0 and not self.flash_step:
                assert r.liquidity_index == li, f"{m}: liquidity index moved at a zero rate"
            if debt == 0:
                assert r.variable_borrow_index == bi, f"{m}: borrow index moved without debt"

    def check_solvency(self) -> None:
        """215/516 restated: every aToken is backed by cash, by a debt claim or by a recorded
        deficit (debt written off by a pool's liquidation policy, issue 15).

        As stated, "Σ aToken supply value ≥ Σ debt value" does not hold (see
        ``test_215_as_stated_fails_at_full_utilization``): debt compounds while supply accrues
        linearly, and the difference stays in the reserve as cash; with no cash left, debt
        exceeds supply. The protocol's solvency is the other direction: the aTokens it owes
        never exceed the cash it holds plus the debt it is owed, ``supply ≤ cash + debt``.
        That holds up to rounding (a few wei per operation) and one quirk of the contracts: a
        liquidation paying out its own debt asset as collateral re-rates the reserve without
        the repayment it is about to receive, so suppliers accrue slightly too much until the
        reserve's next rate update, at most the interest on the repaid amount over that time
        (``self.allowance``).
        """
        now = self.p.now
        for m in self.markets:
            r = self.reserve(m)
            backing = self.pool_of(m).cash(r) + r.debt_total_supply(now) + r.deficit
            supply = r.a_total_supply(now)
            slack = 3 * self.steps + self.allowance.get(m, 0)
            assert supply <= backing + slack, f"{m}: aTokens {supply} exceed backing {backing} + {slack}"

    def check_user_bitmaps(self) -> None:
        """218-221, 519-522: the user configuration bitmaps agree with the balances."""
        for pool_ref in self.pools:
            pool = self.p.pool(pool_ref)
            mine = self.markets_in(pool_ref)
            for u in USERS:
                has_debt = has_collateral = False
                for m in mine:
                    r = self.reserve(m)
                    if r.d_scaled.get(u, 0):
                        has_debt = True
                        assert pool.is_borrowing(u, r), f"221: {u} owes {m} without the borrowing bit"
                    if r.a_scaled.get(u, 0):
                        if pool.is_collateral(u, r):
                            has_collateral = True
                        else:
                            assert (m, u) in self.disabled, f"220: {u} holds {m} without the collateral bit"
                    else:
                        self.disabled.discard((m, u))
                if not has_debt:
                    self.lost_collateral.discard((pool_ref, u))
                elif not has_collateral:
                    assert (pool_ref, u) in self.lost_collateral, (
                        f"218: {u} owes in {pool_ref} without collateral"
                    )

    def check_conservation(self) -> None:
        """Tokens are only created by minting: wallets plus Core cash equal what was minted."""
        for asset, minted in self.minted.items():
            held = sum(self.p.wallets[asset].values())
            held += sum(r.cash for r in self.p.core.reserves if r.asset == asset)
            assert held == minted, f"{asset}: {held} held, {minted} minted"


# ---- running a machine ------------------------------------------------------------------------------

#: Examples each machine runs in all, of up to :data:`MACHINE_STEPS` operations each.
MACHINE_EXAMPLES = 600
MACHINE_STEPS = 80
#: The test items a machine is split into: :data:`MACHINE_EXAMPLES` in one item is a single
#: minute-and-a-half of work that one xdist worker must carry alone while the other one idles.
MACHINE_PARTS = 4


def run_machine(machine: type[LendingMachine], part: int) -> None:
    """Run part ``part`` (0 to ``MACHINE_PARTS - 1``) of ``machine``: its share of the examples,
    drawn from Hypothesis seed ``part``.

    The seed makes every run test the same sequences (a CI failure reproduces) while the parts
    test different ones; without a database nothing from earlier runs is replayed.
    """
    if not 0 <= part < MACHINE_PARTS:
        raise ValueError(f"part {part} of {MACHINE_PARTS}")

    def factory() -> LendingMachine:
        return machine()

    run_state_machine_as_test(
        seed(part)(factory),
        settings=settings(
            max_examples=MACHINE_EXAMPLES // MACHINE_PARTS,
            stateful_step_count=MACHINE_STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
