"""The liquidation engine's promises, each as behaviour: close factor and bonus, highest bonus
first, slippage-limited sizing, repetition until healthy, Mini-Pools, bad debt, determinism,
permissionless execution with own funds or a flash loan."""

from __future__ import annotations

import pytest
from keeper_helpers import USD, USDC, WBTC, WETH, act, charge_fee, deploy, engine

from astera.core import WAD, Protocol
from astera.core.liquidation import collateral_to_seize
from astera.keeper import ConstantProductPool, Market, OrderBook, SlippageExceeded, Token
from astera.keeper.demo import liquidation_demo
from astera.keeper.planner import Planner, _Pair
from astera.keeper.scenario import model_market
from astera.keeper.valuation import Valuation


def bob(price: int = 2_200) -> Protocol:
    """The seed's Example 1 position (40 WETH, $80,000 USDC), WETH then set to ``price``."""
    p = deploy(act("deposit", "bob", "WETH", 40 * WETH), act("borrow", "bob", "USDC", 80_000 * USDC))
    p.set_price("WETH", price * USD // 100 if price > 100_000 else price * USD)  # cents above $1,000
    return p


def weth_usdc_market(p: Protocol, depth_usd: int) -> Market:
    prices = {a: p.price(a) for a in p.decimals}
    market = Market()
    market.add(ConstantProductPool(Token("WETH", 18), Token("USDC", 6), depth_usd * USD, prices))
    return market


def test_repays_half_the_debt_and_claims_the_bonus() -> None:
    p = bob(249_975)  # $2,499.75: HF 0.9999
    ex = engine(p).run().liquidations[0]
    assert ex.debt_repaid == 40_000 * USDC == ex.plan.debt_to_cover
    seized, _ = collateral_to_seize(p.price("WETH"), USD, 18, 6, 10800, 40_000 * USDC, 40 * WETH)
    assert ex.collateral_taken == seized
    assert ex.collateral_taken * p.price("WETH") // WETH == 43_200 * USD - 1
    # Every field of the plan in its place (the planner builds it positionally).
    plan = ex.plan
    assert (plan.pool, plan.user, plan.collateral, plan.debt) == ("core", "bob", "WETH", "USDC")
    assert plan.collateral_type and plan.debt_type and not plan.unwrap and not plan.mints_shares
    assert plan.debt_repaid == plan.pay_amount == plan.cost == 40_000 * USDC  # own funds: no premium
    assert plan.collateral_seized == plan.receive_amount == seized and plan.bonus == 10800
    assert (plan.receive_asset, plan.pay_asset) == ("WETH", "USDC")
    assert plan.fair_value == seized * p.price("WETH") * USDC // (USD * WETH)
    assert plan.cost < plan.proceeds < plan.fair_value and plan.health_factor < WAD


def test_claims_the_collateral_with_the_highest_bonus_first() -> None:
    actions = (
        act("deposit", "carol", "WETH", 3 * WETH),
        act("deposit", "carol", "WBTC", WBTC),
        act("borrow", "carol", "USDC", 45_000 * USDC),
    )
    p = deploy(*actions)  # WETH bonus 8% > WBTC 6%
    p.set_price("WBTC", 40_000 * USD)
    report = engine(p).run()
    taken = [ex.plan.collateral for ex in report.liquidations]
    assert taken[0] == "WETH" and "WBTC" in taken
    assert report.liquidations[0].collateral_taken == 3 * WETH  # all of it, then WBTC
    assert p.account("carol").health_factor >= WAD

    p = deploy(*actions, WBTC={"liquidation_bonus": 11000})  # now WBTC pays more
    p.set_price("WBTC", 40_000 * USD)
    assert engine(p).run().liquidations[0].plan.collateral == "WBTC"


def test_shrinks_the_repayment_to_what_the_market_absorbs() -> None:
    p = bob(249_975)
    market = weth_usdc_market(p, 200_000)  # $43,200 of WETH would move this pool ~18%
    report = engine(p, market, margin_bps=50).run()
    first = report.liquidations[0]
    plan = first.plan
    assert 0 < plan.debt_repaid < 40_000 * USDC
    assert plan.proceeds * 10_000 >= plan.cost * 10_050  # still profitable after slippage and margin
    assert first.proceeds == plan.proceeds and first.profit > 0
    # One percent more would not have been: the size sits at the edge of profitability.
    p2 = bob(249_975)
    bigger = plan.debt_repaid * 101 // 100
    seized, _ = collateral_to_seize(p2.price("WETH"), USD, 18, 6, 10800, bigger, 40 * WETH)
    fresh = weth_usdc_market(p2, 200_000)
    assert fresh.quote("WETH", seized, "USDC") * 10_000 < bigger * 10_050


def test_shrinks_against_an_order_book_too() -> None:
    p = bob(249_975)
    prices = {a: p.price(a) for a in p.decimals}
    market = Market()
    market.add(
        OrderBook(
            Token("WETH", 18),
            Token("USDC", 6),
            prices,
            level_usd=2_000 * USD,
            levels=10,
            half_spread_bps=10,
            step_bps=100,
        )
    )
    ex = engine(p, market).run().liquidations[0]
    assert 0 < ex.debt_repaid < 40_000 * USDC and ex.plan.slippage_bps > 0 and ex.profit > 0


def test_liquidates_again_until_healthy() -> None:
    p = bob(2_200)  # HF 0.88: one 50% liquidation leaves 0.896
    report = engine(p).run()
    rounds = report.liquidations
    assert len(rounds) == 4
    assert all(ex.plan.health_factor < WAD for ex in rounds)
    assert [ex.health_factor_after >= WAD for ex in rounds] == [False, False, False, True]
    assert [ex.debt_repaid for ex in rounds] == [40_000 * USDC, 20_000 * USDC, 10_000 * USDC, 5_000 * USDC]
    assert not report.unprofitable and not report.bad_debt and not report.unfinished


def test_round_limit_ends_the_loop() -> None:
    report = engine(bob(2_200), max_rounds=2).run()
    assert len(report.liquidations) == 2 and [u.user for u in report.unfinished] == ["bob"]


def test_bad_debt_is_reported_per_pool_and_reserve() -> None:
    p = deploy(
        act("deposit", "erin", "WETH", 10 * WETH),
        act("borrow", "erin", "USDC", 20_600 * USDC),
        act("deposit", "frank", "WETH", 10 * WETH, pool="mini"),
        act("borrow", "frank", "was-USDC", 20_000 * USDC, pool="mini"),
    )
    p.set_price("WETH", 1_500 * USD)  # collateral now worth less than the debt in both pools
    report = engine(p).run()
    assert p.account("erin").total_collateral_base == 0 and p.account("frank", 0).total_collateral_base == 0
    summary = report.bad_debt_by_reserve()
    assert set(summary) == {("core", "USDC"), (0, "was-USDC")}
    assert summary[("core", "USDC")][0] == p.debt("erin", "USDC") > 0
    assert summary[(0, "was-USDC")][0] == p.debt("frank", "was-USDC", pool=0) > 0
    assert summary[("core", "USDC")][1] == p.account("erin").total_debt_base


def test_mini_pool_liquidation_repays_tranche_debt_and_the_core() -> None:
    p = deploy(
        act("deposit", "frank", "WETH", 20 * WETH, pool="mini"),
        act("borrow", "frank", "was-USDC", 36_000 * USDC, pool="mini"),
    )
    flow = p.core.current_flow("USDC", p.mini_pool(0))
    assert flow > 0
    p.set_price("WETH", 2_200 * USD)
    [ex] = engine(p).run().liquidations
    assert (ex.plan.pool, ex.plan.collateral, ex.plan.debt, ex.plan.pay_asset) == (
        0,
        "WETH",
        "was-USDC",
        "USDC",
    )
    assert ex.debt_repaid == 18_000 * USDC  # shares, at a Core index of 1
    assert p.account("frank", 0).health_factor == ex.health_factor_after >= WAD
    assert p.core.current_flow("USDC", p.mini_pool(0)) < flow  # the Mini-Pool paid the Core back


def test_mini_pool_liquidation_seizes_tranche_collateral_unwrapped() -> None:
    p = deploy(
        act("deposit", "gina", "was-USDC", 50_000 * USDC, pool="mini"),
        act("borrow", "gina", "WETH", 14 * WETH, pool="mini"),
    )
    p.set_price("WETH", 3_700 * USD)  # debt up: $51,800 of WETH against $50,000 of was-USDC
    report = engine(p).run()
    first = report.liquidations[0]
    assert (first.plan.collateral, first.plan.receive_asset, first.plan.unwrap) == ("was-USDC", "USDC", True)
    assert first.received == p.core.shares_to_assets(p.core.reserve(("USDC", True)), first.collateral_taken)
    assert first.plan.pay_asset == "WETH" and first.profit > 0


def test_flash_loan_lets_an_account_without_funds_liquidate() -> None:
    p = bob(249_975)
    p.register_user("zed")  # any account: no role, no balance
    report = engine(p, flash_loan=True, funded=False, liquidator="zed").run()
    [ex] = report.liquidations
    premium = ex.plan.pay_amount * p.core.flash_premium // 10_000
    assert premium > 0 and ex.plan.cost == ex.plan.pay_amount + premium
    assert p.wallet("USDC", "zed") == ex.proceeds - ex.plan.cost > 0
    assert p.wallet("WETH", "zed") == 0
    assert p.account("bob").health_factor >= WAD


def test_own_funds_liquidator_without_funds_is_refused_and_nothing_changes() -> None:
    p = bob(249_975)
    keeper = engine(p, funded=False)
    before = p.state_hash()
    report = keeper.run()
    assert report.liquidations == [] and [f.reason for f in report.failures] == [
        "error:ERC20InsufficientBalance"
    ]
    assert p.state_hash() == before


def test_a_sale_that_falls_short_rolls_the_liquidation_back() -> None:
    class Mirage:
        """Quotes $3,000 per WETH, but fills at $1,000."""

        def quote(self, sell: str, amount: int, buy: str) -> int:
            return amount * 3_000 // 10**12

        def swap(self, sell: str, amount: int, buy: str, min_out: int = 0) -> int:
            out = amount * 1_000 // 10**12
            if out < min_out:
                raise SlippageExceeded(f"{out} < {min_out}")
            return out

    p = bob(249_975)
    market = Market()
    market.add(Mirage(), ("WETH", "USDC"))
    keeper = engine(p, market)
    before = p.state_hash()
    report = keeper.run()
    assert report.liquidations == [] and [f.reason for f in report.failures] == ["SlippageExceeded"]
    assert p.state_hash() == before


def test_same_inputs_same_liquidations() -> None:
    def once() -> tuple[list[object], str]:
        p = deploy(
            act("deposit", "bob", "WETH", 40 * WETH),
            act("borrow", "bob", "USDC", 80_000 * USDC),
            act("deposit", "carol", "WETH", 30 * WETH),
            act("deposit", "carol", "WBTC", WBTC // 2),
            act("borrow", "carol", "USDC", 80_000 * USDC),
            act("deposit", "frank", "WETH", 20 * WETH, pool="mini"),
            act("borrow", "frank", "was-USDC", 36_000 * USDC, pool="mini"),
        )
        p.advance(30 * 86_400)
        p.set_price("WETH", 2_150 * USD)
        report = engine(p, weth_usdc_market(p, 20_000_000)).run()
        return list(report.liquidations), p.state_hash()

    first, second = once(), once()
    assert len(first[0]) >= 3 and first == second


def test_demo_shows_each_liquidation() -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    liquidation_demo(console)
    text = console.export_text()
    for needle in ("bob", "carol", "dave", "erin", "frank", "HF", "slip.", "bonus", "Bad debt", "USDC"):
        assert needle in text


def test_accounts_the_oracle_cannot_price_are_left_alone_and_the_rest_go_on() -> None:
    """A stale feed without a fallback makes the protocol refuse to value (78) every account
    with a position in that reserve, so nobody can liquidate it until a price returns. The
    monitor sets those rows aside and the engine liquidates everyone else."""
    p = bob(2_200)  # bob: WETH collateral, HF < 1
    p.mint("carol", "WBTC", WBTC)
    p.deposit("carol", "WBTC", WBTC)
    p.borrow("carol", "USDC", 1_000 * USDC)
    keeper = engine(p)  # funded and its market anchored while every price is there
    # A scenario deployment's feeds report every answer as fresh (FORMAT §3.2, age 0); a plain
    # price update makes WBTC's a feed stamped now, which ages.
    p.set_price("WBTC", p.price("WBTC"))
    p.set_price_timeout("admin", "WBTC", 60)
    p.advance(61)  # WBTC's feed is stale: carol cannot be valued (alice, who only supplies, is no borrower)
    triage = {t for t in keeper.monitor.index("core").triage().unpriced.tolist()}
    assert {keeper.monitor.index("core").users[i] for i in triage} == {"carol"}
    assert keeper.monitor.detect() == {"core": ["bob"], 0: []}
    fresh = model_market(p, 10**6 * USD)  # as the in-node keeper builds one per run
    assert fresh.has_route("WETH", "USDC") and not fresh.has_route("WBTC", "USDC")
    report = keeper.run()
    assert {ex.plan.user for ex in report.liquidations} == {"bob"} and not report.failures
    assert report.unpriced == [("core", "carol")]
    assert p.account("bob").health_factor >= WAD
    p.set_fallback_price("admin", "WBTC", 1_000 * USD)  # a price again: carol is valued, and in trouble
    assert keeper.monitor.detect() == {"core": ["carol"], 0: []}


@pytest.mark.parametrize("fee_bps", [0, 1_000])
def test_a_venue_no_size_can_profit_from_ends_the_search_with_the_bisections_answer(
    monkeypatch: pytest.MonkeyPatch, fee_bps: int
) -> None:
    """The planner's shortcut (:meth:`_Pair.hopeless`) only ever skips a bisection that would
    have found nothing: with venues pushed below the oracle step by step through the edge of
    profitability, on half and on all of the collateral (capped), WETH (18 decimals) and WBTC
    (8), a pool and an order book, without and with a liquidation protocol fee, the plans are
    those of the bare bisection."""
    checked = skipped = 0
    hopeless = _Pair.hopeless
    shortcuts: list[bool] = []

    def counted(self: _Pair, max_cover: int) -> bool:
        shortcuts.append(hopeless(self, max_cover))
        return shortcuts[-1]

    monkeypatch.setattr(_Pair, "hopeless", counted)

    def plans(p: Protocol, market: Market, user: str) -> tuple[object, object]:
        position = Valuation(p.core).position(user)
        fast = Planner(p, market).plan("core", user, position)
        with monkeypatch.context() as m:
            m.setattr(_Pair, "hopeless", lambda self, max_cover: False)
            slow = Planner(p, market).plan("core", user, position)
        return fast, slow

    for weth_price in (2_200, 1_000):  # HF 0.88: half the debt; HF 0.41: all the collateral
        for asset, push in (("WETH", 40 * WETH), ("WBTC", 2 * WBTC)):
            p = deploy(act("deposit", "bob", asset, 40 * WETH if asset == "WETH" else 2 * WBTC),
                       act("borrow", "bob", "USDC", 80_000 * USDC))  # fmt: skip
            charge_fee(p, fee_bps)
            p.set_price(asset, weth_price * USD if asset == "WETH" else weth_price * 20 * USD)
            prices = {a: p.price(a) for a in p.decimals}
            for k in range(0, 24):
                pool = ConstantProductPool(Token(asset, 18 if asset == "WETH" else 8), Token("USDC", 6),
                                           2_000_000 * USD, prices)  # fmt: skip
                pool.swap(asset, push * k // 8, "USDC")  # the keeper's own earlier sales
                book = OrderBook(Token(asset, 18 if asset == "WETH" else 8), Token("USDC", 6), prices,
                                 level_usd=10_000 * USD, half_spread_bps=k * 40)  # fmt: skip
                for venue in (pool, book):
                    market = Market()
                    market.add(venue)
                    fast, slow = plans(p, market, "bob")
                    assert fast == slow
                    checked += 1
                    skipped += fast is None
    # Both outcomes, on both sides of the edge, and the shortcut taken in both cases (half, all).
    assert checked == 192 and 20 < skipped < 170 and 20 < sum(shortcuts) < len(shortcuts)
