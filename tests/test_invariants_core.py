"""Core-Pool invariants (spec §11: 100-105, 200-221, 300-321) over random operation sequences.

:class:`strategies.LendingMachine` drives deposits, withdrawals (including ``max``), borrows
(including delegated ones), repayments (including ``max`` and on behalf of others),
``repayWithATokens``, collateral toggles, aToken transfers (including zero, self and
over-balance ones), liquidations, flash loans whose receiver repays, declines, spends the
loan or re-enters the pool, price moves, crashes and time warps, on the Core-Pool's USDC,
WBTC (PI-controller rates) and WETH reserves with random risk parameters. Each operation is
checked against its own properties, every refusal against an unchanged state hash, and the
whole state against the invariants after every step.

Restated invariants (the contracts themselves do not satisfy them as the spec words them;
each restatement is explained where it is asserted, in ``strategies.py``):

* 207/224: a borrow or a withdrawal leaves HF >= 1 once the rounding of the token movement
  is given back (the debt token can mint more than the amount: see the test below) and, for
  withdrawals, the average threshold's flooring (one basis point).
* 213: the *exact* threshold-weighted collateral Σ value·LT moves the stated way; the health
  factor may move the other way by one basis point of average threshold (it is floored).
* 215: solvency is ``aToken supply ≤ cash + debt`` per reserve (see the test below for why
  "Σ supply value ≥ Σ debt value" fails), up to rounding and one re-rating quirk.
* 216: the liquidity index moves only at a non-zero stored rate (or by a flash premium),
  not "only while there are suppliers".
* 218/220: a user may owe without collateral after a liquidation or ``repayWithATokens``
  took it all, and may hold aTokens without the collateral bit after turning it off.
* 302: a self-transfer of balance + 1 that fits in the same scaled amount moves nothing and
  is accepted.
"""

from __future__ import annotations

import pytest

from astera.core import Protocol
from astera.core.wadray import percent_mul
from strategies import (
    ADMIN,
    MACHINE_PARTS,
    LendingMachine,
    Market,
    add_core_reserve,
    core_protocol,
    run_machine,
    stable_curve,
    supply,
    volatile_curve,
)

USDC = 10**6
WETH = 10**18
YEAR = 365 * 86_400


class CoreMachine(LendingMachine):
    """:class:`LendingMachine` on the Core-Pool alone."""

    def deploy(self) -> Protocol:
        return core_protocol()

    def list_markets(self) -> list[Market]:
        return [Market("core", a) for a in ("USDC", "WBTC", "WETH")]


@pytest.mark.parametrize("part", range(MACHINE_PARTS))
def test_core_invariants(part: int) -> None:
    run_machine(CoreMachine, part)


def test_215_as_stated_fails_at_full_utilization() -> None:
    """ "Σ aToken supply value ≥ Σ debt value" is not an invariant of the contracts.

    Debt compounds while supply accrues linearly at ``rL = rB·U·(1 − RF)``; the difference
    (plus the reserve factor until it is minted) stays in the reserve as cash. A reserve with
    no cash left and no one touching it for years ends up owed more than it owes, enough to
    outweigh the collateral sitting idle elsewhere. What does hold is
    ``supply ≤ cash + debt`` on every reserve.
    """
    p = Protocol(start_timestamp=1_700_000_000, admin=ADMIN)
    p.add_asset("USDC", decimals=6, price=10**8)
    p.add_asset("WETH", decimals=18, price=3_700 * 10**8)
    add_core_reserve(p, "USDC", stable_curve(), 8000, 8500, 10500, 1500)
    add_core_reserve(p, "WETH", volatile_curve(), 7500, 8000, 10800, 1500)
    for user in ("alice", "bob"):
        p.register_user(user)
    supply(p, "alice", "USDC", 2_000 * USDC)
    supply(p, "bob", "WETH", WETH)
    p.borrow("bob", "USDC", 2_000 * USDC)  # all of the USDC: utilization 100 %, borrow rate 79 %
    p.advance(3 * YEAR)

    def value(r, amount: int) -> int:
        return p.core.price(r) * amount // r.unit

    usdc, weth = p.core.reserve(("USDC", True)), p.core.reserve(("WETH", True))
    supplied = sum(value(r, r.a_total_supply(p.now)) for r in (usdc, weth))
    owed = sum(value(r, r.debt_total_supply(p.now)) for r in (usdc, weth))
    assert owed > supplied  # 215 as stated
    for r in (usdc, weth):  # 215 restated
        assert r.a_total_supply(p.now) <= r.cash + r.debt_total_supply(p.now)


def test_a_same_asset_liquidation_rerates_without_the_repayment() -> None:
    """The quirk behind the solvency allowance of ``LendingMachine.check_solvency``.

    Liquidating USDC collateral for USDC debt re-rates the USDC reserve twice: once for the
    debt with the repayment as incoming cash, then for the collateral with only the seized
    amount leaving, *before* the repayment arrives. The second rates stick, computed on a
    utilization too high by the repaid share, so suppliers accrue a little more than
    borrowers pay until the next update: here 21 micro-USDC over a week.
    """
    p = core_protocol()
    for asset in ("USDC", "WBTC", "WETH"):
        p.configure_reserve_as_collateral(ADMIN, "core", asset, 4900, 5000, 10100)
        p.set_reserve_factor(ADMIN, "core", asset, 0)
    supply(p, "alice", "USDC", 100 * USDC)
    supply(p, "alice", "WBTC", 310_701)  # ~$208
    p.borrow("alice", "USDC", 75_501_575)
    usdc = p.core.reserve(("USDC", True))
    p.set_price("WBTC", 16_000 * 10**8)  # ($100 + $49.7) * 50 % < $75.5: alice's HF falls below 1
    assert p.health_factor("alice") < 10**18
    debt = usdc.debt_balance("alice", p.now)
    p.mint("bob", "USDC", debt)
    (event,) = p.liquidate("bob", "alice", "USDC", "USDC", debt // 1000)
    repaid, seized = event.fields["debt_to_cover"], event.fields["liquidated_collateral"]
    assert seized > repaid > 0
    # The stored rates correspond to the cash before the repayment came in:
    cash, debt_now = usdc.cash, usdc.debt_total_supply(p.now)
    assert usdc.strategy.calculate(cash - repaid, 0, 0, debt_now, 0, p.now)[0] == usdc.current_liquidity_rate
    assert usdc.strategy.calculate(cash, 0, 0, debt_now, 0, p.now)[0] < usdc.current_liquidity_rate
    assert usdc.a_total_supply(p.now) == cash + debt_now  # balanced right after the liquidation
    p.advance(7 * 86_400)
    shortfall = usdc.a_total_supply(p.now) - usdc.cash - usdc.debt_total_supply(p.now)
    assert 0 < shortfall <= repaid * usdc.current_variable_borrow_rate * 7 * 86_400 // (10**27 * YEAR) + 1
    assert percent_mul(shortfall, 1) == 0  # dust: far below a basis point of anything


def test_207_as_stated_a_borrow_can_leave_hf_below_one() -> None:
    """The borrow check values the *amount*; the debt token mints ``rayDiv(amount, index)``
    scaled units, read back as ``rayMul(scaled, index)``. At a borrow index of 1.57, 1 satoshi
    borrowed is 2 satoshis owed: an account allowed to borrow it ends at HF 0.63. The contracts
    do the same (the Echidna suite flags 207 as broken); the machine asserts HF >= 1 with the
    minted excess given back.
    """
    p = core_protocol()
    p.set_rate_strategy(ADMIN, "core", "WBTC", volatile_curve())
    supply(p, "alice", "WBTC", 10**8)
    supply(p, "bob", "WETH", 100 * WETH)
    p.borrow("bob", "WBTC", 99 * 10**6)  # 99 % utilization: about 301 % a year
    p.advance(55 * 86_400)
    wbtc = p.core.reserve(("WBTC", True))
    assert 15 * 10**26 < wbtc.normalized_debt(p.now) < 2 * 10**27
    supply(p, "carol", "USDC", 1_000)  # $0.001 of collateral: room for 1 satoshi ($0.00067)
    p.borrow("carol", "WBTC", 1)
    assert wbtc.debt_balance("carol", p.now) == 2
    account = p.account("carol")
    assert account.total_debt_base == 2 * 67_000  # two satoshis at $67,000 a bitcoin
    assert account.health_factor == 634_328_358_208_955_224  # 85,000 / 134,000
