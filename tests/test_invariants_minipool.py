"""Mini-Pool invariants (spec §11: 500-526, 600-618, 106) over random mixed Core + Mini-Pool
operation sequences, with the Core-Pool invariants (100-105, 200-221, 300-321) checked at
the same time.

The deployment is :func:`strategies.mini_protocol`: the Core-Pool's USDC, WBTC and WETH, and
Mini-Pool 0 with a unique reserve ``EXO`` and a tranche ``aUSDC`` of the Core USDC reserve,
which flow-borrows from the Core when a borrow exceeds its liquidity and repays the Core
from every deposit, repayment and liquidation. Every generic rule of
:class:`strategies.LendingMachine` runs on both pools; this module adds the credit line
(``set_flow_limit``) and the invariants of the Core-to-Mini-Pool link.

Invariants restated because they do not hold as the spec states them (the contracts
behave the same way; see the deterministic tests at the end of the module):

* **523** ("while a Mini-Pool has Core flow, the Core liquidity rate ≤ the Mini-Pool debt
  rate"). The contracts do not guarantee it: the Mini-Pool's floor is the *spread* between
  Core debt growth and Core supply growth (§8.6), not the Core supply rate, so a highly
  utilised Core with a modest Mini-Pool curve breaks it (the Echidna suite lists it as a
  failing property; as coded it even reads the Mini-Pool reserve of the raw underlying).
  What holds, and is asserted: while flow is outstanding and the tranche has debt, its
  liquidity rate is at least ``minLiquidityRate(core rL, core rB)`` computed from the
  Core's *current* rates (every Core rate change re-syncs the Mini-Pool), and its borrow
  rate is at least its liquidity rate.
* **526** ("a Mini-Pool with zero flow is not in the Core's flow-borrowing set"). Only the
  Mini-Pool's own repayment (``repayWithATokens``) takes it off the list; when a third
  party repays its Core debt in full through ``Core.repay(onBehalfOf = miniPool)``, which
  the contracts allow, it stays listed with zero flow (spec §14.10). Asserted: listed
  without flow only after such a repayment.
* **524** ("the Mini-Pool's self-deposit remainder never drops below min(previous,
  ERROR_REMAINDER_MARGIN)"). Repaying the Core consumes the self-deposit; that is its
  purpose. What holds: the self-deposit only drops below that bound in a step that also
  lowered the Mini-Pool's Core debt; the surplus sweep itself never takes it below the
  margin (give or take the rounding of one share movement).
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import rule

from astera.core import DefaultRateStrategy, Protocol
from astera.core.minipool import ERROR_REMAINDER_MARGIN, MiniPool
from astera.core.rates import min_liquidity_rate
from astera.core.wadray import ray_div
from strategies import (
    ADMIN,
    MACHINE_PARTS,
    MINI_ADMIN,
    PCT,
    USERS,
    LendingMachine,
    Market,
    mini_protocol,
    refused,
    run_machine,
    supply,
    tolerance,
)

USDC = 10**6


class MiniMachine(LendingMachine):
    """:class:`LendingMachine` on the Core-Pool and Mini-Pool 0, with the credit line between them."""

    def __init__(self) -> None:
        super().__init__()
        #: Whether a third party, not the Mini-Pool, cleared its Core debt (see 526).
        self.repaid_by_others = False
        #: The Mini-Pool's Core debt and self-deposit after the previous step (see 524).
        self.previous_link = (0, 0)

    def deploy(self) -> Protocol:
        return mini_protocol()

    def list_markets(self) -> list[Market]:
        return [Market("core", a) for a in ("USDC", "WBTC", "WETH")] + [Market(0, "EXO"), Market(0, "aUSDC")]

    def configure(self, data: st.DataObject, m: Market) -> None:
        super().configure(data, m)
        if m.pool != "core":
            owner_rf = data.draw(st.sampled_from((0, 0, 500, 2000)), label="owner RF")
            self.p.set_reserve_factor(MINI_ADMIN, m.pool, m.name, owner_rf, owner=True)
        if m.name == "aUSDC":
            limit = data.draw(st.sampled_from((10**9, 10**11, 10**13)), label="flow limit")
            self.p.set_flow_limit(ADMIN, "USDC", 0, limit)

    @property
    def mini(self) -> MiniPool:
        return self.p.mini_pools[0]

    def flow(self) -> int:
        return self.p.core.current_flow("USDC", self.mini)

    def self_deposit(self) -> int:
        return self.mini.reserve("aUSDC").a_balance(self.mini.address, self.p.now)

    # ---- the credit line (106) ------------------------------------------------------------------------

    @rule(data=st.data())
    def set_flow_limit(self, data: st.DataObject) -> None:
        flow = self.flow()
        delta = data.draw(st.integers(-(flow // 10) - 1, 10**11), label="limit - flow")
        limit = max(0, flow + delta)
        _, err = self.attempt(self.p.set_flow_limit, ADMIN, "USDC", 0, limit)
        if limit < flow:
            assert err is not None and err.code == "1", "the limit may not go below the current flow"
            return
        assert err is None, err
        assert self.p.core.flow_limit("USDC", self.mini) == max(limit, flow), "106"

    @rule(data=st.data())
    def repay_the_mini_pool_flow(self, data: st.DataObject) -> None:
        """Anyone may repay a Mini-Pool's Core debt on its behalf (§4.4 step 5)."""
        payer = data.draw(st.sampled_from(USERS), label="payer")
        flow = self.flow()
        whole = data.draw(st.booleans(), label="all of it")
        amount = flow if whole else self.draw_fraction(data, flow, "fraction") or 1
        pay = min(amount, flow)
        self.mint(payer, "USDC", pay - self.p.wallet("USDC", payer))
        held = self.p.wallet("USDC", payer)
        _, err = self.attempt(self.p.repay, payer, "USDC", amount, on_behalf_of=self.mini.address)
        if amount == 0 or flow == 0:
            assert err is not None and err.code == ("1" if amount == 0 else "12")
            return
        if err is not None:
            assert err.code == "36", err  # a repayment worth no scaled unit of debt
            return
        assert held - self.p.wallet("USDC", payer) == pay
        debt_index = self.p.core.reserve(("USDC", True)).variable_borrow_index
        assert abs(flow - self.flow() - pay) <= tolerance(debt_index)
        if self.flow() == 0:
            self.repaid_by_others = True

    # ---- invariants of the link ------------------------------------------------------------------------

    def check_extra(self) -> None:
        mp, core = self.mini, self.p.core
        tranche, usdc = mp.reserve("aUSDC"), core.reserve(("USDC", True))
        flow = self.flow()
        # 525: the Core lists the Mini-Pool as a flow borrower while it owes the Core.
        listed = mp.id in core.flow_borrowers.get("USDC", {})
        if flow:
            assert listed, "525"
            self.repaid_by_others = False
        else:
            # 526, restated (module docstring): listed without flow only after a third party
            # repaid the Mini-Pool's Core debt in full.
            assert not listed or self.repaid_by_others, "526"
        # 523, restated (module docstring): the floor against the Core's current rates.
        # A tranche with a deficit pays its suppliers less than the floor (liquidation_policy).
        if flow and tranche.d_scaled_total and not tranche.deficit:
            floor = min_liquidity_rate(usdc.current_liquidity_rate, usdc.current_variable_borrow_rate)
            assert tranche.current_liquidity_rate >= floor, "523: the tranche pays at least the Core spread"
            assert tranche.current_variable_borrow_rate >= tranche.current_liquidity_rate
        # 524, restated (module docstring).
        previous_flow, previous_deposit = self.previous_link
        bound = min(previous_deposit, ERROR_REMAINDER_MARGIN) - tolerance(tranche.liquidity_index)
        assert self.self_deposit() >= bound or flow < previous_flow, (
            "524: the self-deposit fell without repaying"
        )
        # The Core's loan is unbacked by design (§4.10): no borrowing bit, so never liquidatable there.
        assert core.user_config.get(mp.address, 0) & int("01" * 128, 2) == 0
        # The Core underlying never stays with the Mini-Pool: a flow borrow re-deposits all of it.
        assert self.p.wallet("USDC", mp.address) == 0
        assert usdc.a_scaled.get(mp.address, 0) <= 1, "the Mini-Pool keeps at most a share of dust"
        self.previous_link = (flow, self.self_deposit())


@pytest.mark.parametrize("part", range(MACHINE_PARTS))
def test_mini_pool_invariants(part: int) -> None:
    run_machine(MiniMachine, part)


# ---- the invariants that do not hold as stated, and the edges around them -------------------------


def _flow_borrowing_deployment(flow: int = 10_000 * USDC, core_borrowed: int = 950_000 * USDC) -> Protocol:
    """A busy Core (bob borrows ``core_borrowed`` of alice's 1,000,000 USDC) and a Mini-Pool with a
    gentle aUSDC curve (at most 12 %) whose borrower, carol, takes ``flow`` aUSDC, all of it
    flow-borrowed from the Core."""
    p = mini_protocol()
    p.set_rate_strategy(ADMIN, 0, "aUSDC", DefaultRateStrategy(80 * PCT, 0, 2 * PCT, 10 * PCT))
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WBTC", 100 * 10**8)
    p.borrow("bob", "USDC", core_borrowed)
    supply(p, "carol", "EXO", 100_000 * 10**18, pool=0)
    p.borrow("carol", "aUSDC", flow, pool=0)
    return p


def _deposit_all_shares(p: Protocol, user: str, usdc: int) -> None:
    """``user`` buys Core USDC shares and deposits all of them as aUSDC (which repays the Core first)."""
    supply(p, user, "USDC", usdc)
    p.deposit(user, "aUSDC", p.wrapper_balance(user, "USDC"), pool=0)


def test_523_as_stated_does_not_hold() -> None:
    """The Core supply rate (~48.8 %) exceeds the Mini-Pool borrow rate (~13.1 %) while the
    Mini-Pool owes the Core; what the contracts guarantee is the spread floor (§8.6)."""
    p = _flow_borrowing_deployment()
    mp, core = p.mini_pools[0], p.core
    usdc, tranche = core.reserve(("USDC", True)), mp.reserve("aUSDC")
    assert core.current_flow("USDC", mp) == 10_000 * USDC
    assert usdc.current_liquidity_rate > tranche.current_variable_borrow_rate  # 523 as stated: false
    floor = min_liquidity_rate(usdc.current_liquidity_rate, usdc.current_variable_borrow_rate)
    assert tranche.current_liquidity_rate == floor  # the curve alone would pay less: floored
    assert tranche.current_variable_borrow_rate >= floor
    # A Core rate change re-syncs the Mini-Pool: the floor follows the Core down, and the
    # tranche's own curve (12 % at full utilization, less 10 % reserve factor) takes over.
    p.repay("bob", "USDC", 500_000 * USDC)
    assert min_liquidity_rate(usdc.current_liquidity_rate, usdc.current_variable_borrow_rate) < 2 * PCT
    assert tranche.current_liquidity_rate == 108 * PCT // 10 < floor


def test_524_as_stated_does_not_hold() -> None:
    """Repaying the Core consumes the self-deposit: it falls far below min(previous, margin)."""
    p = _flow_borrowing_deployment()
    mp = p.mini_pools[0]
    tranche = mp.reserve("aUSDC")
    p.advance(86_400)
    before = tranche.a_balance(mp.address, p.now)
    assert before > 10_000 * USDC // 2  # in shares: the 10,000 USDC flow-borrowed, re-deposited
    _deposit_all_shares(p, "dave", 50_000 * USDC)
    after = tranche.a_balance(mp.address, p.now)
    assert p.core.current_flow("USDC", mp) == 0
    assert 0 < after < min(before, ERROR_REMAINDER_MARGIN)  # 524 as stated: false


def test_the_self_deposit_is_swept_down_to_the_margin() -> None:
    """Once the Core is repaid, the self-deposit above the margin goes to the Astera treasury."""
    p = _flow_borrowing_deployment(flow=100_000 * USDC, core_borrowed=850_000 * USDC)
    mp = p.mini_pools[0]
    tranche = mp.reserve("aUSDC")
    p.advance(86_400)
    treasury = tranche.a_balance("minipool_treasury", p.now)
    _deposit_all_shares(p, "dave", 300_000 * USDC)
    assert p.core.current_flow("USDC", mp) == 0
    remainder = tranche.a_balance(mp.address, p.now)
    assert abs(remainder - ERROR_REMAINDER_MARGIN) <= tolerance(tranche.liquidity_index)
    assert tranche.a_balance("minipool_treasury", p.now) > treasury


def test_an_untouched_flow_outgrows_the_self_deposit() -> None:
    """§7.6 observation: the floor matches 5 days of Core compounding. Left untouched for 10
    days at a ~60 % Core borrow rate, the Mini-Pool's Core debt (compounded) outgrows its
    self-deposit (accrued linearly), and aUSDC deposits are refused with 4 from then on."""
    p = _flow_borrowing_deployment()
    mp = p.mini_pools[0]
    tranche, usdc = mp.reserve("aUSDC"), p.core.reserve(("USDC", True))
    p.advance(10 * 86_400)
    debt_shares = ray_div(p.core.current_flow("USDC", mp), usdc.normalized_income(p.now))
    assert debt_shares > tranche.a_balance(mp.address, p.now)
    supply(p, "dave", "USDC", 100_000 * USDC)
    err = refused(p, p.deposit, "dave", "aUSDC", p.wrapper_balance("dave", "USDC"), pool=0)
    assert (err.code, err.name) == ("4", "VL_NOT_ENOUGH_AVAILABLE_USER_BALANCE")


def _stranded() -> Protocol:
    """After 5 days the self-deposit exactly covers the Core debt; the repayment, rounded in
    shares, leaves 1 wei of Core debt and no self-deposit to pay it with."""
    p = _flow_borrowing_deployment()
    mp = p.mini_pools[0]
    p.advance(5 * 86_400)
    _deposit_all_shares(p, "dave", 100_000 * USDC)
    assert p.core.current_flow("USDC", mp) == 1
    assert mp.reserve("aUSDC").a_balance(mp.address, p.now) == 0
    return p


def test_a_dust_flow_with_no_self_deposit_blocks_the_tranche() -> None:
    """Every later aUSDC deposit must first repay that wei out of a self-deposit of 0: refused (4)."""
    p = _stranded()
    supply(p, "dave", "USDC", 100 * USDC)
    assert refused(p, p.deposit, "dave", "aUSDC", p.wrapper_balance("dave", "USDC"), pool=0).code == "4"


def test_anyone_can_repay_a_mini_pool_core_debt() -> None:
    """The contracts let anyone call ``Core.repay(onBehalfOf = miniPool)`` (§4.4 step 5, §14.10):
    the one way out of the stranded state above."""
    p = _stranded()
    mp = p.mini_pools[0]
    p.mint("dave", "USDC", 1)
    p.repay("dave", "USDC", 1, on_behalf_of=mp.address)
    assert p.core.current_flow("USDC", mp) == 0


def test_a_core_repayment_by_the_mini_pool_needs_core_cash() -> None:
    """AToken.burn lowers the Core reserve's managed cash by the repayment before
    handleRepayment adds it back: when the Mini-Pool repays more than the Core holds in cash,
    the aUSDC payment that triggered it panics (0x11) and changes nothing."""
    p = _flow_borrowing_deployment()  # Core USDC cash 50,000 (the flowed 10,000 is re-deposited)
    mp = p.mini_pools[0]
    supply(p, "dave", "USDC", 30_000 * USDC)  # dave holds his shares before the Core runs dry
    p.borrow("bob", "USDC", 76_000 * USDC)  # Core cash 4,000 < the 10,000 the Mini-Pool owes
    shares = p.wrapper_balance("dave", "USDC")
    err = refused(p, p.deposit, "dave", "aUSDC", shares, pool=0)
    assert (err.code, err.name) == ("panic:0x11", "ARITHMETIC_OVERFLOW")
    supply(p, "alice", "USDC", 6_000 * USDC)  # Core cash back to 10,000: enough
    p.deposit("dave", "aUSDC", shares, pool=0)
    assert p.core.current_flow("USDC", mp) == 0
