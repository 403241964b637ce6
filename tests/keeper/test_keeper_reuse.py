"""The engine reads prices and indexes once per pool and run, and values every account with
them when its turn comes. That is exact because a liquidation (at one moment, with the
liquidator's own funds) moves no price or index and writes no other account's position; a
flash loan's premium does move an index, and then the engine reads them again. These tests
hold the core to both halves, and check every plan against the account as it is."""

from __future__ import annotations

import random

import pytest
from keeper_helpers import USD, USDC, WETH, act, deploy, engine, random_book

from astera.core import Protocol, account_data
from astera.keeper import KeeperEngine, LiquidationPlan, Outcome
from astera.keeper.monitor import PoolRef
from astera.keeper.valuation import Position, Valuation


def snapshot(p: Protocol) -> dict[tuple[object, str], tuple[object, ...]]:
    """Every account of every pool, valued afresh: account data and legs."""
    out: dict[tuple[object, str], tuple[object, ...]] = {}
    for ref, pool in [("core", p.core), *((mp.id, mp) for mp in p.mini_pools)]:
        valuation = Valuation(pool)
        for user in pool.user_config:
            out[(ref, user)] = describe(valuation.position(user))
    return out


def describe(position: Position) -> tuple[object, ...]:
    legs = (*position.collateral, *position.debt)
    return (position.account, *((leg.reserve.id, leg.price, leg.amount, leg.value) for leg in legs))


def crashed(seed: int) -> Protocol:
    """Core and Mini-Pool borrowers (some holding USDC collateral next to WETH), then WETH falls 29%."""
    rng = random.Random(seed)
    extra = []
    for i in range(8):  # USDC collateral: a USDC flash-loan premium moves its value
        u = f"w{i}"
        extra += [
            act("deposit", u, "WETH", 10 * WETH),
            act("deposit", u, "USDC", 5_000 * USDC),
            act("borrow", u, "USDC", (20_000 + 250 * i) * USDC),
        ]
    p = deploy(*random_book(rng, 25), *extra)
    p.advance(15 * 86_400)
    p.set_price("WETH", 1_950 * USD)
    return p


@pytest.mark.parametrize("flash_loan", [False, True])
def test_a_liquidation_changes_no_other_position_unless_a_premium_is_paid(flash_loan: bool) -> None:
    p = crashed(1)
    keeper = engine(p, flash_loan=flash_loan)
    targets = keeper.monitor.scan()
    assert len(targets) > 10 and {u.pool for u in targets} == {"core", 0}
    others_moved = 0
    for target in targets:
        pool = p.pool(target.pool)
        plan = keeper.planner.plan(target.pool, target.user, Valuation(pool).position(target.user))
        if plan is None:
            continue
        before = snapshot(p)
        keeper.submitter.submit(plan)
        after = snapshot(p)
        moved = {key for key in before if before[key] != after.get(key)}
        others = moved - {(target.pool, target.user), *((ref, "keeper") for ref in ("core", 0))}
        if flash_loan:
            others_moved += len(others)
        else:
            assert others == set(), others
    if flash_loan:
        assert others_moved > 0  # the premium raised the USDC index: USDC collateral is worth more


class Checked:
    """A submitter that checks each plan against the account as it is at submission."""

    def __init__(self, keeper: KeeperEngine) -> None:
        self.inner = keeper.submitter
        self.liquidator = self.inner.liquidator
        self.protocol = keeper.protocol
        self.checked = 0
        #: The core's health factor of each liquidated account right after its liquidation.
        self.after: list[int] = []

    def premium_bps(self, pool: PoolRef, pay_asset: str) -> int:
        return self.inner.premium_bps(pool, pay_asset)

    def submit(self, plan: LiquidationPlan) -> Outcome:
        exact = account_data(self.protocol.pool(plan.pool), plan.user)
        assert plan.health_factor == exact.health_factor, (plan.user, "planned from a stale position")
        self.checked += 1
        outcome = self.inner.submit(plan)
        self.after.append(account_data(self.protocol.pool(plan.pool), plan.user).health_factor)
        return outcome


@pytest.mark.parametrize("flash_loan", [False, True])
def test_every_plan_is_made_from_the_account_as_it_is(flash_loan: bool) -> None:
    p = crashed(2)
    keeper = engine(p, flash_loan=flash_loan)
    checked = Checked(keeper)
    keeper.submitter = checked
    report = keeper.run()
    assert checked.checked == len(report.liquidations) > 10
    # The engine values each account after its liquidation itself: exactly as the core does.
    assert [ex.health_factor_after for ex in report.liquidations] == checked.after
    assert any(ex.plan.user.startswith("w") for ex in report.liquidations)
