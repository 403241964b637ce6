"""The market screen (keeper/screen.py) only skips accounts the planner would find nothing for,
and an engine with it liquidates exactly as one without."""

from __future__ import annotations

import random

import pytest
from keeper_helpers import COARSE, USD, USDC, act, charge_fee, coarse_book, deploy, engine, random_book

from astera.core import Protocol
from astera.keeper import ConstantProductPool, Market, Monitor, Planner, PlannerConfig, Token
from astera.keeper.screen import MarketScreen
from astera.keeper.valuation import Valuation

#: The demo Core-Pool's tokens, collateral first.
TOKENS = [Token("WETH", 18), Token("WBTC", 8), Token("USDC", 6)]


def pushed_market(p: Protocol, tokens: list[Token], depth_usd: int, k: int, of: int = 8) -> Market:
    """A pool between every two tokens, each after the keeper's own earlier sales of ``k``/``of``
    of a pool side of the first into it (and a smaller sale the other way, which improves that rate)."""
    prices = {a: p.price(a) for a in p.decimals}
    market = Market()
    for i, a in enumerate(tokens):
        for b in tokens[i + 1 :]:
            pool = ConstantProductPool(a, b, depth_usd * USD, prices)
            if k:
                pool.swap(a.symbol, pool.reserves[a.symbol] * k // of, b.symbol)
                pool.swap(b.symbol, pool.reserves[b.symbol] // 50, a.symbol)
            market.add(pool)
    return market


def check(p: Protocol, market: Market, monitor: Monitor, ref: str | int = "core") -> tuple[int, int]:
    """(accounts screened, unhealthy accounts) in a pool's queue; fails on a screened account the
    planner would liquidate."""
    screen = MarketScreen(market, PlannerConfig().margin_bps, "keeper")
    screen.start()
    planner = Planner(p, market)
    index = monitor.index(ref)
    valuation = Valuation(index.pool)
    rows, _ = index.queue_rows()
    screened = k = 0
    while k < len(rows):
        taken = screen.next(index, rows, k)
        for row in rows[k:taken].tolist():
            user = index.users[row]
            assert planner.plan(ref, user, valuation.position(user)) is None, user
        screened += taken - k
        k = taken + 1
    return screened, len(rows)


@pytest.mark.parametrize("fee_bps", [0, 1_000])
def test_screened_accounts_are_those_the_planner_finds_nothing_for(fee_bps: int) -> None:
    """A crash on a random WETH/WBTC book and on a coarse book (a unit worth $123), venues pushed
    step by step through the edge of profitability, without and with a liquidation protocol fee
    on every collateral: no screened account has a plan, and the screen does take accounts out
    (fewer as the venues recover)."""
    p = deploy(*random_book(random.Random(5), 150))
    charge_fee(p, fee_bps)
    p.set_price("WETH", p.price("WETH") * 70 // 100)
    p.set_price("WBTC", p.price("WBTC") * 70 // 100)
    monitor = Monitor(p)
    results = [check(p, pushed_market(p, TOKENS, 2_000_000, k), monitor) for k in range(0, 16)]
    assert results[0][0] == 0 and results[-1][0] > results[-1][1] // 2 > 10
    assert any(0 < s < n for s, n in results)
    # Mini-Pool 0: WETH collateral, was-USDC tranche debt repaid in Core shares minted by a deposit.
    minis = [check(p, pushed_market(p, TOKENS, 200_000, k), monitor, 0) for k in range(0, 16)]
    assert minis[0][0] == 0 and minis[-1][0] == minis[-1][1] > 10

    coarse = coarse_book(random.Random(3), 200)
    charge_fee(coarse, fee_bps)
    for asset, kept in (("GEM", 60), ("TKN", 75)):
        coarse.set_price(asset, coarse.price(asset) * kept // 100)
    monitor = Monitor(coarse)
    tokens = [Token(asset, decimals) for asset, (decimals, *_rest) in COARSE.items()]
    screened = [check(coarse, pushed_market(coarse, tokens, 100_000, k), monitor) for k in range(16)]
    assert max(s for s, _ in screened) > 0


def test_under_a_protocol_fee_the_screen_counts_the_liquidators_share_only() -> None:
    """Venues pushed to where the whole bonus would pay for a sale and the liquidator's share
    under a 10 % fee does not: the screen takes those accounts out too (unvalued, where it
    would leave them to the planner to size and find nothing for, run after run), and never an
    account the planner has a plan for (:func:`check`)."""
    screened = {}
    for fee_bps in (0, 1_000):
        p = deploy(*random_book(random.Random(5), 150))
        charge_fee(p, fee_bps)
        p.set_price("WETH", p.price("WETH") * 70 // 100)
        p.set_price("WBTC", p.price("WBTC") * 70 // 100)
        monitor = Monitor(p)
        # WETH and WBTC 8 % to 13.5 % below the oracle, 0.5 % a step:
        markets = [pushed_market(p, TOKENS, 2_000_000, k, of=400) for k in range(16, 28)]
        screened[fee_bps] = [check(p, market, monitor)[0] for market in markets]
    assert all(a <= b for a, b in zip(screened[0], screened[1_000], strict=True))
    assert sum(screened[1_000]) > sum(screened[0])


@pytest.mark.parametrize("fee_bps", [0, 1_000])
def test_tranche_collateral_unwrapped_for_a_sale_is_screened_only_when_hopeless(fee_bps: int) -> None:
    """Mini-Pool 0 borrowers of WETH against was-USDC (the keeper unwraps seized tranche shares into
    USDC and sells it for WETH), WETH up 30 %: with the USDC→WETH venue pushed step by step, no
    screened account has a plan, and the screen takes them all once no sale can pay."""
    rng = random.Random(2)
    actions = []
    for i in range(40):
        usdc = rng.randint(2_000, 60_000) * USDC
        weth = usdc * rng.randint(70, 79) // 100 * 10**12 // 2_750
        actions += [act("deposit", f"t{i}", "was-USDC", usdc, pool="mini"),
                    act("borrow", f"t{i}", "WETH", weth, pool="mini")]  # fmt: skip
    p = deploy(*actions)
    charge_fee(p, fee_bps)
    p.set_price("WETH", p.price("WETH") * 130 // 100)
    monitor = Monitor(p)
    prices = {a: p.price(a) for a in p.decimals}
    results = []
    for k in range(12):
        pool = ConstantProductPool(Token("USDC", 6), Token("WETH", 18), 2_000_000 * USD, prices)
        if k:
            pool.swap("USDC", pool.reserves["USDC"] * k // 16, "WETH")
        market = Market()
        market.add(pool)
        results.append(check(p, market, monitor, 0))
    assert results[0] == (0, 40) and results[-1] == (40, 40)


@pytest.mark.parametrize("fee_bps", [0, 1_000])
def test_an_engine_with_the_screen_liquidates_as_one_without(fee_bps: int) -> None:
    """The same liquidations, in the same order, and the same state, on a crash into a shallow
    market that leaves most accounts unprofitable, without and with a protocol fee; the screen
    took some of them out unvalued."""
    actions = random_book(random.Random(11), 200)

    def run(screen: bool) -> tuple[list[object], str, int]:
        p = deploy(*actions)
        charge_fee(p, fee_bps)
        keeper = engine(p, pushed_market(p, TOKENS, 2_000_000, 0))
        if screen:
            keeper.screen = MarketScreen(keeper.market, keeper.config.margin_bps, "keeper")
        p.set_price("WETH", p.price("WETH") * 68 // 100)
        p.set_price("WBTC", p.price("WBTC") * 80 // 100)
        report = keeper.run()
        return list(report.liquidations), p.state_hash(), report.screened

    fast, plain = run(True), run(False)
    assert fast[:2] == plain[:2] and len(fast[0]) > 5
    assert fast[2] > 10 and plain[2] == 0
