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
    """The price feeds (answer, when it was updated, timeout) and the fallback price table.

    A feed reports when its answer was updated in one of two ways: stamped at the block
    that set it (``updated_at``; a real feed, which ages as time passes), or as a constant
    ``age`` before every read (``ages``; the mock aggregator of the scenario format, whose
    answers never age with time). The fallback oracle exists once a first fallback price is
    registered; from then on it answers every asset, with 0 for one it has no price for.
    """

    __slots__ = ("answers", "updated_at", "ages", "timeouts", "fallback")

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}
        self.updated_at: dict[str, int] = {}
        #: asset -> seconds: the feed reports its answer as this old at every read.
        self.ages: dict[str, int] = {}
        #: seconds; 0 means the feed never goes stale.
        self.timeouts: dict[str, int] = {}
        #: The fallback oracle's price table; empty while no fallback oracle is registered.
        self.fallback: dict[str, int] = {}

    def set_price(self, asset: str, price: int, now: int) -> None:
        """Record a feed answer at time ``now`` (the oracle role's price update)."""
        self.answers[asset] = price
        self.updated_at[asset] = now

    def price(self, asset: str, now: int) -> int:
        """The asset's price in base currency units per whole token.

        The feed's answer when it is valid: positive, updated at a non-zero time not in the
        future, and not older than the timeout (strictly). Otherwise the fallback oracle's
        answer, which may be 0; with no fallback oracle, ``78``.
        """
        answer = self.answers.get(asset)
        if answer is None:
            raise InputError("input:unknown_asset", asset)
        if answer > 0:
            # The feed's ``updatedAt`` as read at ``now`` (0 when its age reaches back past 0).
            age = self.ages.get(asset)
            if age is None:
                ts = self.updated_at[asset]
            else:
                ts = now - age if age < now else 0
            timeout = self.timeouts.get(asset, 0)
            if ts != 0 and ts <= now and (timeout == 0 or now - ts <= timeout):
                return answer
        if not self.fallback:
            raise ProtocolError(PRICE_FEED_INCONSISTENCY, asset)
        return self.fallback.get(asset, 0)
