"""The price oracle (spec §9): one USD price (8 decimals) per asset, shared by every pool.

Each asset has a feed (last answer and when it was set) and a timeout; a stale or
invalid answer falls back to the fallback price, or refuses with ``78`` if there is
none. Stablecoins float like any other asset. The price of a Core aToken wrapper share
is not set here: the pools derive it as ``underlying price · Core normalized income``.
"""

from __future__ import annotations

from .errors import PRICE_FEED_INCONSISTENCY, InputError, ProtocolError

#: Base currency unit: USD with 8 decimals.
BASE_CURRENCY_UNIT = 10**8


class Oracle:
    __slots__ = ("answers", "updated_at", "timeouts", "fallback")

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}
        self.updated_at: dict[str, int] = {}
        #: seconds; 0 means the feed never goes stale.
        self.timeouts: dict[str, int] = {}
        self.fallback: dict[str, int] = {}

    def set_price(self, asset: str, price: int, now: int) -> None:
        """Record a feed answer at time ``now`` (the oracle role's price update)."""
        self.answers[asset] = price
        self.updated_at[asset] = now

    def price(self, asset: str, now: int) -> int:
        """The asset's price in base currency units per whole token."""
        answer = self.answers.get(asset)
        if answer is not None and answer > 0:
            ts = self.updated_at[asset]
            timeout = self.timeouts.get(asset, 0)
            if ts != 0 and ts <= now and (timeout == 0 or now - ts <= timeout):
                return answer
        fb = self.fallback.get(asset)
        if fb is None or fb <= 0:
            if asset not in self.answers and asset not in self.fallback:
                raise InputError("input:unknown_asset", asset)
            raise ProtocolError(PRICE_FEED_INCONSISTENCY, asset)
        return fb
