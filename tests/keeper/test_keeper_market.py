"""The market model: integer constant-product pools, order-book depth, routing."""

from __future__ import annotations

import pytest

from astera.keeper import ConstantProductPool, Market, NoRoute, OrderBook, SlippageExceeded, Token, Venue

USD = 10**8
USDC, WETH = Token("USDC", 6), Token("WETH", 18)
PRICES = {"USDC": USD, "WETH": 2_000 * USD}


def test_constant_product_quote_and_swap() -> None:
    pool = ConstantProductPool(WETH, USDC, 1_000_000 * USD, PRICES, fee_bps=30)
    assert pool.reserves == {"WETH": 500 * 10**18, "USDC": 1_000_000 * 10**6}
    a = 10**18
    expected = 1_000_000 * 10**6 * a * 9970 // (500 * 10**18 * 10_000 + a * 9970)
    assert pool.quote("WETH", a, "USDC") == expected
    assert pool.swap("WETH", a, "USDC") == expected
    assert pool.reserves == {"WETH": 501 * 10**18, "USDC": 1_000_000 * 10**6 - expected}
    assert pool.quote("WETH", a, "USDC") < expected  # the price moved against the next seller
    pool.anchor(PRICES)
    assert pool.quote("WETH", a, "USDC") == expected


def test_slippage_grows_with_size() -> None:
    pool = ConstantProductPool(WETH, USDC, 1_000_000 * USD, PRICES)
    per_unit = [pool.quote("WETH", n * 10**18, "USDC") // n for n in (1, 10, 100, 1000)]
    assert per_unit == sorted(per_unit, reverse=True) and per_unit[-1] < per_unit[0] // 2


def test_order_book_walks_the_depth_curve() -> None:
    book = OrderBook(WETH, USDC, PRICES, level_usd=10_000 * USD, levels=3, half_spread_bps=10, step_bps=100)
    # Bids at $1,998, $1,978, $1,958 for 5 WETH each ($10,000 at $2,000).
    assert [(lv.price, lv.size) for lv in book.bids] == [
        (1_998 * 10**6, 5 * 10**18),
        (1_978 * 10**6, 5 * 10**18),
        (1_958 * 10**6, 5 * 10**18),
    ]
    assert book.quote("WETH", 7 * 10**18, "USDC") == (5 * 1_998 + 2 * 1_978) * 10**6
    assert book.swap("WETH", 7 * 10**18, "USDC") == (5 * 1_998 + 2 * 1_978) * 10**6
    assert book.bids[0].size == 0 and book.bids[1].size == 3 * 10**18
    assert (
        book.quote("WETH", 100 * 10**18, "USDC") == (3 * 1_978 + 5 * 1_958) * 10**6
    )  # the rest finds no bid
    with pytest.raises(NoRoute):
        book.quote("USDC", 10**6, "WETH")


def test_market_routes_and_accepts_any_venue() -> None:
    class FixedRate:
        """A venue with no depth limit: the Venue interface is all a real one needs."""

        def quote(self, sell: str, amount: int, buy: str) -> int:
            return amount * 3

        def swap(self, sell: str, amount: int, buy: str, min_out: int = 0) -> int:
            out = self.quote(sell, amount, buy)
            if out < min_out:
                raise SlippageExceeded(f"{out} < {min_out}")
            return out

    market = Market.constant_product([USDC, WETH], PRICES, 1_000_000 * USD)
    assert market.has_route("WETH", "USDC") and market.has_route("USDC", "WETH")
    assert market.quote("USDC", 123, "USDC") == 123  # no venue needed
    with pytest.raises(NoRoute):
        market.quote("WETH", 1, "WBTC")
    venue = FixedRate()
    assert isinstance(venue, Venue)
    market.add(venue, ("WETH", "WBTC"))
    assert market.swap("WETH", 5, "WBTC") == 15
    market.anchor(PRICES)  # leaves the custom venue alone
    with pytest.raises(ValueError):
        market.add(venue)


def test_a_sale_below_its_minimum_trades_nothing() -> None:
    pool = ConstantProductPool(WETH, USDC, 1_000_000 * USD, PRICES)
    book = OrderBook(WETH, USDC, PRICES, level_usd=10_000 * USD, levels=5)
    market = Market()
    market.add(pool)
    for venue in (pool, book):
        out = venue.quote("WETH", 10**18, "USDC")
        before = (dict(pool.reserves), [(b.price, b.size) for b in book.bids])
        with pytest.raises(SlippageExceeded):
            venue.swap("WETH", 10**18, "USDC", min_out=out + 1)
        assert (dict(pool.reserves), [(b.price, b.size) for b in book.bids]) == before
        assert venue.swap("WETH", 10**18, "USDC", min_out=out) == out
    with pytest.raises(SlippageExceeded):
        market.swap("USDC", 5, "USDC", min_out=6)
    assert market.swap("USDC", 5, "USDC", min_out=5) == 5
