"""Where a liquidator sells the collateral it seized: a market model with slippage.

A liquidation is only worth doing if the seized collateral sells for more than the debt
repaid. Oracle prices say nothing about depth, so the keeper quotes every sale against a
:class:`Venue`. Two model venues are provided, both in integer token base units:

* :class:`ConstantProductPool`: an ``x·y = k`` pool for one pair with a fee, whose depth
  is the USD value held on each side. Large sales move its price.
* :class:`OrderBook`: a bid ladder built from a depth curve (half-spread, price step and
  size per level); a sale walks down the levels.

A real venue (an exchange API, an on-chain router) implements the two methods of
:class:`Venue` and plugs into :class:`Market` the same way. The model venues can also be
re-centred on the oracle price (:class:`Anchored`), which stands in for arbitrageurs
bringing the market back in line between keeper runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Basis points in one.
BPS = 10_000
#: Oracle prices are USD with 8 decimals.
USD = 10**8


class NoRoute(LookupError):
    """The market has no venue that buys ``buy`` for ``sell``."""


class SlippageExceeded(Exception):
    """A sale would return less than its minimum; nothing was traded."""


@runtime_checkable
class Venue(Protocol):
    """A place that buys one asset for another. Amounts are token base units."""

    def quote(self, sell: str, amount: int, buy: str) -> int:
        """How much of ``buy`` selling ``amount`` of ``sell`` would return now (no state change)."""
        ...

    def swap(self, sell: str, amount: int, buy: str, min_out: int = 0) -> int:
        """Sell ``amount`` of ``sell``; returns the amount of ``buy`` received.

        Raises :class:`SlippageExceeded`, trading nothing, if that would be less than ``min_out``.
        """
        ...


@runtime_checkable
class Anchored(Protocol):
    """A model venue that can be re-centred on oracle prices (arbitrage between runs)."""

    def anchor(self, prices: dict[str, int]) -> None:
        """Reset the venue around ``prices`` (USD, 8 decimals, per whole token)."""
        ...

    def pairs(self) -> Iterator[tuple[str, str]]:
        """The directed (sell, buy) pairs the venue trades."""
        ...


def _check_min(out: int, min_out: int, sell: str, amount: int, buy: str) -> None:
    if out < min_out:
        raise SlippageExceeded(f"{amount} {sell} sells for {out} {buy}, needed {min_out}")


@dataclass(frozen=True)
class Token:
    """What the market needs to know about an asset: its symbol and decimals."""

    symbol: str
    decimals: int

    @property
    def unit(self) -> int:
        return int(10**self.decimals)

    def amount_for_usd(self, usd: int, price: int) -> int:
        """Base units worth ``usd`` (8-decimal USD) at ``price``."""
        return usd * self.unit // price


class ConstantProductPool:
    """An ``x·y = k`` pool between two tokens, holding ``depth_usd`` of each at anchor time.

    ``out = y·a·(1−fee) / (x + a·(1−fee))``, floored; the pool keeps the fee. After a
    sale the reserves stay moved until the next :meth:`anchor`.
    """

    def __init__(self, a: Token, b: Token, depth_usd: int, prices: dict[str, int], fee_bps: int = 30) -> None:
        if depth_usd <= 0 or not 0 <= fee_bps < BPS:
            raise ValueError("depth must be positive and the fee below 100%")
        self.tokens = (a, b)
        self.depth_usd = depth_usd
        self.fee_bps = fee_bps
        self.reserves: dict[str, int] = {}
        self.anchor(prices)

    def anchor(self, prices: dict[str, int]) -> None:
        self.reserves = {t.symbol: t.amount_for_usd(self.depth_usd, prices[t.symbol]) for t in self.tokens}

    def pairs(self) -> Iterator[tuple[str, str]]:
        a, b = (t.symbol for t in self.tokens)
        yield a, b
        yield b, a

    def quote(self, sell: str, amount: int, buy: str) -> int:
        x, y = self.reserves[sell], self.reserves[buy]
        net = amount * (BPS - self.fee_bps)
        return y * net // (x * BPS + net)

    def rate_bound(self, sell: str, buy: str) -> tuple[int, int] | None:
        """``(num, den)`` with ``quote(sell, a, buy) ≤ a·num // den`` for every ``a``: the first
        unit's price after the fee (the curve only gets worse as the sale grows)."""
        den = self.reserves[sell] * BPS
        return (self.reserves[buy] * (BPS - self.fee_bps), den) if den > 0 else None

    def swap(self, sell: str, amount: int, buy: str, min_out: int = 0) -> int:
        out = self.quote(sell, amount, buy)
        _check_min(out, min_out, sell, amount, buy)
        self.reserves[sell] += amount
        self.reserves[buy] -= out
        return out


@dataclass
class Level:
    """One bid: up to ``size`` of the base token at ``price`` quote base units per whole base token."""

    price: int
    size: int


class OrderBook:
    """Bids for ``base`` in ``quote`` along a depth curve: a sale walks down the ladder.

    Level ``i`` bids at ``mid · (1 − half_spread − i·step)`` for ``level_usd · (1 + i·growth/10⁴)``
    worth of base; whatever is sold past the last level finds no buyer (returns nothing for it).
    """

    def __init__(
        self,
        base: Token,
        quote: Token,
        prices: dict[str, int],
        *,
        level_usd: int,
        levels: int = 50,
        half_spread_bps: int = 5,
        step_bps: int = 10,
        growth_bps: int = 0,
    ) -> None:
        if level_usd <= 0 or levels <= 0 or half_spread_bps + (levels - 1) * step_bps >= BPS:
            raise ValueError("the depth curve must stay at positive prices")
        self.base, self.quote_token = base, quote
        self.level_usd, self.levels = level_usd, levels
        self.half_spread_bps, self.step_bps, self.growth_bps = half_spread_bps, step_bps, growth_bps
        self.bids: list[Level] = []
        self.anchor(prices)

    def anchor(self, prices: dict[str, int]) -> None:
        pb, pq = prices[self.base.symbol], prices[self.quote_token.symbol]
        bids = []
        for i in range(self.levels):
            discount = BPS - self.half_spread_bps - i * self.step_bps
            price = pb * self.quote_token.unit * discount // (pq * BPS)
            usd = self.level_usd * (BPS + i * self.growth_bps) // BPS
            bids.append(Level(price, self.base.amount_for_usd(usd, pb)))
        self.bids = bids

    def pairs(self) -> Iterator[tuple[str, str]]:
        yield self.base.symbol, self.quote_token.symbol

    def _walk(self, amount: int) -> tuple[int, list[tuple[int, int]]]:
        """Proceeds of selling ``amount``, and the fills (level index, size taken)."""
        out, fills, left, unit = 0, [], amount, self.base.unit
        for i, level in enumerate(self.bids):
            if left == 0:
                break
            take = min(left, level.size)
            if take:
                out += take * level.price // unit
                fills.append((i, take))
                left -= take
        return out, fills

    def quote(self, sell: str, amount: int, buy: str) -> int:
        self._check(sell, buy)
        return self._walk(amount)[0]

    def rate_bound(self, sell: str, buy: str) -> tuple[int, int] | None:
        """``(num, den)`` with ``quote(sell, a, buy) ≤ a·num // den`` for every ``a``: the best bid."""
        if (sell, buy) != (self.base.symbol, self.quote_token.symbol) or not self.bids:
            return None
        return max(level.price for level in self.bids), self.base.unit

    def swap(self, sell: str, amount: int, buy: str, min_out: int = 0) -> int:
        self._check(sell, buy)
        out, fills = self._walk(amount)
        _check_min(out, min_out, sell, amount, buy)
        for i, take in fills:
            self.bids[i].size -= take
        return out

    def _check(self, sell: str, buy: str) -> None:
        if (sell, buy) != (self.base.symbol, self.quote_token.symbol):
            raise NoRoute(
                f"order book {self.base.symbol}/{self.quote_token.symbol} cannot sell {sell} for {buy}"
            )


class Market:
    """Routes each sale to the venue registered for its (sell, buy) pair.

    Selling an asset for itself needs no venue and has no slippage.
    """

    def __init__(self) -> None:
        self.venues: dict[tuple[str, str], Venue] = {}

    def add(self, venue: Venue, *pairs: tuple[str, str]) -> None:
        """Register ``venue`` for the given directed pairs (default: the pairs the model venue trades)."""
        if not pairs:
            if not isinstance(venue, ConstantProductPool | OrderBook):
                raise ValueError("name the pairs a custom venue trades")
            pairs = tuple(venue.pairs())
        for pair in pairs:
            self.venues[pair] = venue

    def venue(self, sell: str, buy: str) -> Venue:
        try:
            return self.venues[(sell, buy)]
        except KeyError:
            raise NoRoute(f"no venue sells {sell} for {buy}") from None

    def has_route(self, sell: str, buy: str) -> bool:
        return sell == buy or (sell, buy) in self.venues

    def quote(self, sell: str, amount: int, buy: str) -> int:
        if sell == buy or amount == 0:
            return amount
        return self.venue(sell, buy).quote(sell, amount, buy)

    def rate_bound(self, sell: str, buy: str) -> tuple[int, int] | None:
        """``(num, den)`` bounding what any sale of ``sell`` for ``buy`` returns per unit sold
        (``quote ≤ amount·num // den``), from the pair's model venue if it already exists (asking
        never makes one); None when nothing is known."""
        venue = self.venues.get((sell, buy))
        if isinstance(venue, ConstantProductPool | OrderBook):
            return venue.rate_bound(sell, buy)
        return None

    def swap(self, sell: str, amount: int, buy: str, min_out: int = 0) -> int:
        """Sell through the pair's venue; below ``min_out`` nothing is traded (:class:`SlippageExceeded`)."""
        if sell == buy or amount == 0:
            _check_min(amount, min_out, sell, amount, buy)
            return amount
        return self.venue(sell, buy).swap(sell, amount, buy, min_out)

    def anchor(self, prices: dict[str, int]) -> None:
        """Re-centre every model venue on ``prices``; real venues, and model venues trading an
        asset ``prices`` leaves out (its feed is stale), are left as they are."""
        seen: set[int] = set()
        for venue in self.venues.values():
            if id(venue) not in seen and isinstance(venue, Anchored):
                seen.add(id(venue))
                if all(asset in prices for pair in venue.pairs() for asset in pair):
                    venue.anchor(prices)

    @classmethod
    def constant_product(
        cls, tokens: list[Token], prices: dict[str, int], depth_usd: int, fee_bps: int = 30
    ) -> Market:
        """A pool of ``depth_usd`` per side between every two of ``tokens``."""
        market = cls()
        for i, a in enumerate(tokens):
            for b in tokens[i + 1 :]:
                market.add(ConstantProductPool(a, b, depth_usd, prices, fee_bps))
        return market
