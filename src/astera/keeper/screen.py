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
re-judges the pairs of the assets a sale traded, and a pool's mask over its queue is rebuilt
only when its set of hopeless pairs changes. A venue that does not exist yet proves nothing
(the pair is asked again once the market has more venues). A funding premium moves an index:
:meth:`MarketScreen.start` forgets everything, as at the start of a run. The liquidator's own
row is never screened (its position changes within a run).
"""

from __future__ import annotations

import numpy as np

from astera.core import ProtocolError
from astera.core.reserve import Reserve
from astera.core.wadray import HALF_PERCENT, PERCENTAGE_FACTOR, RAY

from .market import Market
from .monitor import PoolIndex, PoolRef

#: ``1/δ``: the relative margin a hopeless pair must clear.
INV_DELTA = 1 << 20

#: A pair's verdict is the smallest scaled collateral its proof covers (hopeless), or one of these.
NOT_HOPELESS = float("inf")
NO_ROUTE = 0.0
NO_VENUE = -1.0


class _PoolScreen:
    """One pool's queue, its leg pairs, their verdicts and the mask they give, for one run."""

    __slots__ = (
        "index", "rows", "coll", "debt", "pairs", "by_assets", "verdicts", "terms", "venues", "todo",
    )  # fmt: skip

    def __init__(self, index: PoolIndex, rows: np.ndarray) -> None:
        self.index = index
        self.rows = rows
        #: The queue's scaled collateral and debt, row by row of ``rows``.
        self.coll = index.collateral[rows]
        self.debt = index.debt[rows]
        #: (collateral reserve, debt reserve) for every leg pair the planner could try.
        self.pairs: list[tuple[Reserve, Reserve]] = [
            (c, d) for c in index.pool.reserves if c.liquidation_threshold for d in index.pool.reserves
        ]
        #: The pairs trading each unordered pair of assets (what a sale re-judges).
        self.by_assets: dict[frozenset[str], list[int]] = {}
        for k, (c, d) in enumerate(self.pairs):
            self.by_assets.setdefault(frozenset((c.asset, d.asset)), []).append(k)
        self.verdicts = [NO_VENUE] * len(self.pairs)
        #: Per pair, once asked: ``(a, b, least)``, hopeless when ``a·num ≤ b·den``, with the
        #: smallest scaled collateral the proof then covers; None for a pair never hopeless.
        self.terms: dict[int, tuple[int, int, float] | None] = {}
        #: How many venues the market had when the pairs without one were last judged.
        self.venues = -1
        #: Positions in ``rows`` the screen cannot prove futile, ascending; None when stale.
        self.todo: np.ndarray | None = None


class MarketScreen:
    """Which unhealthy accounts of each pool are provably futile to plan at current market rates."""

    def __init__(self, market: Market, margin_bps: int, liquidator: str) -> None:
        self.market = market
        self.required = PERCENTAGE_FACTOR + margin_bps
        self.liquidator = liquidator
        self._pools: dict[PoolRef, _PoolScreen] = {}

    def start(self) -> None:
        """A new run (or an index moved within one): judge everything afresh when asked."""
        self._pools = {}

    def next(self, index: PoolIndex, rows: np.ndarray, k: int) -> int:
        """The first position ``≥ k`` of the pool's queue ``rows`` (the same array all run) whose
        account the screen cannot prove futile now; ``len(rows)`` when there is none."""
        screen = self._pools.get(index.ref)
        if screen is None:
            screen = self._pools[index.ref] = _PoolScreen(index, rows)
        if len(self.market.venues) != screen.venues:
            screen.venues = len(self.market.venues)
            unknown = [j for j, v in enumerate(screen.verdicts) if v == NO_VENUE]
            if unknown and self._rejudge(screen, unknown):
                screen.todo = None
        if screen.todo is None:
            screen.todo = np.flatnonzero(~self._mask(screen))
        todo = screen.todo
        at = int(np.searchsorted(todo, k))
        return int(todo[at]) if at < len(todo) else len(rows)

    def sold(self, sell: str, buy: str) -> None:
        """The engine sold ``sell`` for ``buy``: that venue's rates moved (both ways)."""
        traded = frozenset((sell, buy))
        for screen in self._pools.values():
            touched = screen.by_assets.get(traded)
            if touched and self._rejudge(screen, touched):
                screen.todo = None

    def _rejudge(self, screen: _PoolScreen, which: list[int]) -> bool:
        """Judge these pairs again; True when the mask they give can have changed."""
        changed = False
        for j in which:
            verdict = self._verdict(screen, j)
            was = screen.verdicts[j]
            if verdict != was:
                screen.verdicts[j] = verdict
                changed = changed or {verdict, was} != {NOT_HOPELESS, NO_VENUE}
        return changed

    def _verdict(self, screen: _PoolScreen, j: int) -> float:
        c, d = screen.pairs[j]
        if c.tranche_of is not None or d.tranche_of is not None or c.asset == d.asset:
            return NOT_HOPELESS
        market = self.market
        if not market.has_route(c.asset, d.asset):
            return NO_ROUTE
        bound = market.rate_bound(c.asset, d.asset)
        if bound is None:
            return NO_VENUE
        if j not in screen.terms:
            screen.terms[j] = self._terms(screen.index, c, d)
        terms = screen.terms[j]
        if terms is None:
            return NOT_HOPELESS
        a, b, least = terms
        num, den = bound
        return least if a * num <= b * den else NOT_HOPELESS

    def _terms(self, index: PoolIndex, c: Reserve, d: Reserve) -> tuple[int, int, float] | None:
        """What judging the pair needs besides the market's rate: fixed for the run."""
        pool = index.pool
        try:
            cp, dp = pool.price(c), pool.price(d)
        except ProtocolError:
            return None
        if cp == 0 or dp == 0:
            return None
        bonus = c.liquidation_bonus
        a = (dp * 10**c.decimals * bonus + HALF_PERCENT) * (INV_DELTA + 1)
        b = self.required * cp * 10**d.decimals * INV_DELTA
        # V ≥ 2·(1 + δ)(1 + bonus/10⁴)/δ debt units, as scaled collateral, plus one unit.
        least_v = 2 * (INV_DELTA + 1) * (PERCENTAGE_FACTOR + bonus) / PERCENTAGE_FACTOR
        per_unit = cp * 10**d.decimals / (dp * 10**c.decimals)  # debt units per collateral unit
        income: int = c.normalized_income(pool.world.now)
        return a, b, (least_v / per_unit + 1) * RAY / income + 2

    def _mask(self, screen: _PoolScreen) -> np.ndarray:
        """Queue rows every one of whose (collateral, debt) leg pairs is hopeless for it, or unrouted."""
        coll, debt = screen.coll, screen.debt
        mask = np.ones(len(screen.rows), dtype=bool)
        for (c, d), least in zip(screen.pairs, screen.verdicts, strict=True):
            if least == NO_ROUTE:
                continue
            held = (coll[:, c.id] > 0) & (debt[:, d.id] > 0)
            if least == NOT_HOPELESS or least == NO_VENUE:
                mask &= ~held
            else:
                mask &= ~held | (coll[:, c.id] >= least)
        mine = screen.index.rows.get(self.liquidator)
        if mine is not None:
            mask &= screen.rows != mine
        return mask
