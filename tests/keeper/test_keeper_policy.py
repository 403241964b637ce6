"""The keeper under a pool's liquidation policy (issue 15): it sizes what the policy allows
(dynamic close factor, target health factor), never plans a size the dust rule refuses,
sells only the liquidator's share of a fee-bearing seizure (and does not count on the fee's
rounding), and reports deficits."""

from __future__ import annotations

from keeper_helpers import USD, USDC, WBTC, WETH, act, deploy, engine

from astera.core import WAD, LiquidationPolicy, Protocol
from astera.core.liquidation_policy import max_repay
from astera.keeper import InProcessSubmitter, KeeperEngine, Market, Token
from astera.keeper.engine import oracle_prices
from astera.keeper.scenario import fund
from astera.keeper.valuation import Valuation

ADMIN = "admin"


def bob(price: int, policy: LiquidationPolicy | None = None) -> Protocol:
    """40 WETH against $80,000 of USDC (the seed's Example 1), WETH then at ``price`` dollars."""
    p = deploy(act("deposit", "bob", "WETH", 40 * WETH), act("borrow", "bob", "USDC", 80_000 * USDC))
    if policy is not None:
        p.set_liquidation_policy(ADMIN, "core", policy)
    p.set_price("WETH", price * USD)
    return p


def test_below_the_hf_threshold_the_whole_debt_goes_in_one_liquidation() -> None:
    p = bob(2_300, LiquidationPolicy(dynamic_close_factor=True))  # HF 0.92
    assert p.health_factor("bob") <= 95 * WAD // 100
    report = engine(p).run()
    assert report.liquidations[0].plan.debt_to_cover == 80_000 * USDC
    assert p.debt("bob", "USDC") == 0 and not report.failures


def test_target_health_factor_sizes_the_repayment() -> None:
    target = 105 * WAD // 100
    p = bob(2_450, LiquidationPolicy(target_health_factor=target))  # HF 0.98
    pool = p.core
    coll, debt = pool.reserve(("WETH", True)), pool.reserve(("USDC", True))
    expected = max_repay(
        pool, pool.liquidation_policy, "bob", p.health_factor("bob"), coll, debt,  # type: ignore[arg-type]
        p.debt("bob", "USDC"), p.supplied("bob", "WETH"),
    )  # fmt: skip
    assert expected < 40_000 * USDC  # less than the contracts' half
    report = engine(p).run()
    assert [ex.plan.debt_to_cover for ex in report.liquidations] == [expected]
    assert target <= p.health_factor("bob") < target + 10**9


def test_no_plan_leaves_dust_and_none_is_refused() -> None:
    """A book of small positions near the dust values: every planned liquidation goes through."""
    actions = []
    for i, (weth_tenths, usdc) in enumerate(((10, 1_900), (12, 2_300), (20, 3_900), (30, 6_000))):
        actions += [
            act("deposit", f"u{i}", "WETH", weth_tenths * WETH // 10),
            act("borrow", f"u{i}", "USDC", usdc * USDC),
        ]
    p = deploy(*actions)
    p.set_liquidation_policy(ADMIN, "core", LiquidationPolicy(dynamic_close_factor=True))
    p.set_price("WETH", 2_400 * USD)
    report = engine(p).run()
    assert report.liquidations and not report.failures
    for ex in report.liquidations:
        left = p.debt(ex.plan.user, "USDC")
        assert left == 0 or left * USD // USDC >= 1_000 * USD


def test_the_protocol_fee_is_not_sold() -> None:
    p = bob(2_450)
    p.set_liquidation_protocol_fee(ADMIN, "core", "WETH", 1_000)
    treasury = p.supplied("treasury", "WETH")
    plan = engine(p).run().liquidations[0].plan
    fee = p.supplied("treasury", "WETH") - treasury
    assert fee > 0 and plan.receive_amount == plan.collateral_seized - fee


def test_the_fee_rounding_away_on_dust_is_not_profit() -> None:
    """Under a 10 % protocol fee the liquidator keeps 90 % of WBTC's 6 % bonus, but the core
    rounds the fee half up, so on under ~80 satoshis it is 0 and the whole bonus is the
    liquidator's. A venue 4 % below the oracle (moved by earlier sales) pays for one
    liquidation at the liquidator's share and then for none but such dust: the keeper stops
    there, as without the fee, instead of repaying cents until ``max_rounds`` (it made 32
    liquidations, 31 of them repaying 0.04 USDC). Once arbitrage has brought the venue back
    to the oracle price, the next run restores the account above 1, in as many liquidations
    in all as without the fee."""
    liquidations = {}
    for fee_bps in (0, 1_000):
        p = deploy(act("deposit", "carol", "WBTC", 2 * WBTC), act("borrow", "carol", "USDC", 80_000 * USDC))
        if fee_bps:
            p.set_liquidation_protocol_fee(ADMIN, "core", "WBTC", fee_bps)
        p.set_price("WBTC", 52_000 * USD)  # HF 0.975
        fund(p, "keeper", 10_000_000 * USD)
        moved = {"USDC": USD, "WBTC": 52_000 * USD * 96 // 100}
        market = Market.constant_product([Token("WBTC", 8), Token("USDC", 6)], moved, 1_000_000 * USD)
        keeper = KeeperEngine(p, market, InProcessSubmitter(p, "keeper", market), anchor_market=False)
        first = keeper.run()
        assert p.health_factor("carol") < WAD and first.unprofitable
        market.anchor(oracle_prices(p))
        done = first.liquidations + keeper.run().liquidations
        assert p.health_factor("carol") >= WAD
        assert all(ex.debt_repaid >= 1_000 * USDC for ex in done)
        liquidations[fee_bps] = len(done)
    assert liquidations[1_000] == liquidations[0] == 2


def test_deficits_are_reported_per_reserve() -> None:
    p = deploy(act("deposit", "erin", "WETH", 10 * WETH), act("borrow", "erin", "USDC", 20_600 * USDC))
    p.set_liquidation_policy(
        ADMIN, "core", LiquidationPolicy(deficit_accounting=True, dynamic_close_factor=True)
    )
    p.set_price("WETH", 1_500 * USD)  # $15,000 of WETH for $20,600 of debt
    report = engine(p).run()
    assert p.debt("erin", "USDC") == 0 and not report.bad_debt
    assert report.deficits == {("core", "USDC"): p.deficit("USDC")} and p.deficit("USDC") > 0
    assert Valuation(p.core).position("erin").account.total_debt_base == 0
