"""Prove, for a whole pool at once, which unhealthy accounts no liquidation can profit from now.

After a crash a keeper meets thousands of accounts below HF 1 whose collateral the market
cannot absorb: its own sales have moved the venues so far that no size is worth doing. The
planner finds that account by account (value it exactly, pair its legs, size, quote, prove
hopeless), and does so again for every account at every run until the market recovers. The
screen gets the same answer for a pool's whole index with a few NumPy comparisons, so the
engine skips those accounts without valuing them.

The proof works per pair of reserves (collateral ``c``, debt ``d``), from the market's best
rate for selling ``c`` for ``d`` (:meth:`~astera.keeper.market.Market.rate_bound`: every
sale of ``a`` returns at most ``a·num // den``). A pair is **hopeless** when

    ``(N + 5000) · num · (1 + δ)  ≤  required · den · cp · 10^dd``,   ``δ = 2⁻²⁰``,

with ``N = dp · 10^cd · bonus``, ``cp``/``dp`` the pool's prices, ``cd``/``dd`` the
decimals and ``required = 10⁴ + margin_bps``. Then, whatever the close factor or sizing rule:

* a request of ``r`` that the collateral covers seizes at most ``r·(N + 5000) / D``
  (``D = 10⁴·cp·10^dd``; ``percentMul`` rounds half up, then a floor), which sells for less
  than ``r·required / 10⁴``, and the cost is at least ``r``: unprofitable (the planner's own
  :meth:`~astera.keeper.planner._Pair.hopeless` argument, ``δ = 0``);
* a request that takes all ``s`` units of collateral repays ``needed ≥ (V − 1)·10⁴/bonus − 1``
  (``V = cp·s·10^dd / (dp·10^cd)``, the collateral's worth in debt units; two floors and a
  half-up division) and sells for less than ``required·V / (bonus·(1 + δ))``, which is below
  ``required·needed / 10⁴`` once ``V ≥ (1 + δ)(1 + bonus/10⁴)/δ``. The screen asks twice
  that, plus a unit (covering ``rayMul`` and the float reading of the scaled balance), so an
  account with a few dollars of collateral in the pair is left to the planner.

Pairs paid or received through a Mini-Pool tranche (the executor wraps and unwraps Core
shares), or in the same asset, are never called hopeless; a pair with no route is never
planned, so it does not stop an account from being screened. An account is screened when
every (collateral leg, debt leg) pair it holds is hopeless for it (or has no route).

Within one engine run prices, indexes and the index rows of accounts not yet taken up stand
still, and the venues move only with the engine's own sales: :meth:`MarketScreen.sold`
re-judges the pairs of the assets a sale traded, and a pool's row mask is rebuilt only when
its set of hopeless pairs changes. A venue that does not exist yet proves nothing (the pair
is re-asked until it does). A funding premium moves an index: :meth:`MarketScreen.start`
forgets everything, as at the start of a run.
"""

from __future__ import annotations

import numpy as np

from astera.core import ProtocolError
from astera.core.reserve import Reserve
from astera.core.wadray import HALF_PERCENT, PERCENTAGE_FACTOR, RAY

from .market import Market
from .monitor import Monitor, PoolIndex, PoolRef

#: ``1/δ``: the relative margin a hopeless pair must clear.
INV_DELTA = 1 << 20

#: A pair's verdict: hopeless (with the smallest scaled collateral the proof covers), not
#: hopeless, or unknown until the market has a venue for it.
_UNKNOWN = -1.0


class _PoolScreen:
    """One pool's pairs, their verdicts and the row mask they give, for one run."""

    __slots__ = ("index", "pairs", "by_assets", "verdicts", "unknown", "venues", "mask")

    def __init__(self, index: PoolIndex) -> None:
        self.index = index
        #: (collateral reserve, debt reserve) for every leg pair the planner could try.
        self.pairs: list[tuple[Reserve, Reserve]] = []
        #: The pairs trading each unordered pair of assets (what a sale re-judges).
        self.by_assets: dict[frozenset[str], list[int]] = {}
        #: Per pair: the smallest scaled collateral the proof covers (hopeless), ``inf`` (not
        #: hopeless now), ``0.0`` (no route: never planned) or ``_UNKNOWN`` (no venue yet).
        self.verdicts: list[float] = []
        self.unknown: list[int] = []
        #: How many venues the market had when the unknown pairs were last judged.
        self.venues = 0
        self.mask: np.ndarray | None = None


class MarketScreen:
    """Which unhealthy accounts of each pool are provably futile to plan at current market rates."""

    def __init__(self, monitor: Monitor, market: Market, margin_bps: int) -> None:
        self.monitor = monitor
        self.market = market
        self.required = PERCENTAGE_FACTOR + margin_bps
        self._pools: dict[PoolRef, _PoolScreen] = {}

    def start(self) -> None:
        """A new run (or an index moved within one): judge everything afresh when asked."""
        self._pools = {}

    def futile(self, ref: PoolRef, user: str) -> bool:
        """True when no liquidation of ``user`` in pool ``ref`` can be profitable now."""
        screen = self._pools.get(ref)
        if screen is None:
            screen = self._pools[ref] = self._open(ref)
        if screen.unknown and len(self.market.venues) != screen.venues:
            screen.venues = len(self.market.venues)
            if self._rejudge(screen, screen.unknown):
                screen.mask = None
        if screen.mask is None:
            screen.mask = self._mask(screen)
        row = screen.index.rows.get(user)
        return row is not None and bool(screen.mask[row])

    def sold(self, sell: str, buy: str) -> None:
        """The engine sold ``sell`` for ``buy``: that venue's rates moved (both ways)."""
        traded = frozenset((sell, buy))
        for screen in self._pools.values():
            touched = screen.by_assets.get(traded)
            if touched and self._rejudge(screen, touched):
                screen.mask = None

    def _open(self, ref: PoolRef) -> _PoolScreen:
        index = self.monitor.index(ref)
        screen = _PoolScreen(index)
        reserves = index.pool.reserves
        screen.pairs = [(c, d) for c in reserves if c.liquidation_threshold for d in reserves]
        for k, (c, d) in enumerate(screen.pairs):
            screen.by_assets.setdefault(frozenset((c.asset, d.asset)), []).append(k)
        screen.verdicts = [_UNKNOWN] * len(screen.pairs)
        screen.venues = len(self.market.venues)
        self._rejudge(screen, range(len(screen.pairs)))
        return screen

    def _rejudge(self, screen: _PoolScreen, which: list[int] | range) -> bool:
        """Judge these pairs again; True when any verdict changed."""
        changed = False
        for k in which:
            verdict = self._verdict(screen.index, *screen.pairs[k])
            if verdict != screen.verdicts[k]:
                screen.verdicts[k] = verdict
                changed = True
        screen.unknown = [k for k, v in enumerate(screen.verdicts) if v == _UNKNOWN]
        return changed

    def _verdict(self, index: PoolIndex, c: Reserve, d: Reserve) -> float:
        if c.tranche_of is not None or d.tranche_of is not None or c.asset == d.asset:
            return float("inf")
        market = self.market
        if not market.has_route(c.asset, d.asset):
            return 0.0
        bound = market.rate_bound(c.asset, d.asset)
        if bound is None:
            return _UNKNOWN
        num, den = bound
        pool = index.pool
        try:
            cp, dp = pool.price(c), pool.price(d)
        except ProtocolError:
            return float("inf")
        if cp == 0 or dp == 0:
            return float("inf")
        bonus = c.liquidation_bonus
        n = dp * 10**c.decimals * bonus
        lhs = (n + HALF_PERCENT) * num * (INV_DELTA + 1)
        if lhs > self.required * den * cp * 10**d.decimals * INV_DELTA:
            return float("inf")
        # V ≥ 2·(1 + δ)(1 + bonus/10⁴)/δ debt units, as scaled collateral, plus one unit.
        least_v = 2 * (INV_DELTA + 1) * (PERCENTAGE_FACTOR + bonus) / PERCENTAGE_FACTOR
        per_unit = cp * 10**d.decimals / (dp * 10**c.decimals)  # debt units per collateral unit
        income: int = c.normalized_income(pool.proto.now)
        return float(least_v / per_unit + 1) * RAY / income + 2

    def _mask(self, screen: _PoolScreen) -> np.ndarray:
        """Rows every one of whose (collateral, debt) leg pairs is hopeless for it, or unrouted."""
        index = screen.index
        n = len(index)
        coll, debt = index.collateral[:n], index.debt[:n]
        mask = np.ones(n, dtype=bool)
        for (c, d), least in zip(screen.pairs, screen.verdicts, strict=True):
            if least == 0.0:
                continue
            held = (coll[:, c.id] > 0) & (debt[:, d.id] > 0)
            if least == float("inf") or least == _UNKNOWN:
                mask &= ~held
            else:
                mask &= ~held | (coll[:, c.id] >= least)
        return mask
