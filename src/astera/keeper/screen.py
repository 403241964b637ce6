"""Prove, for a whole pool at once, which unhealthy accounts no liquidation can profit from now.

After a crash a keeper meets thousands of accounts below HF 1 whose collateral the market
cannot absorb: its own sales have moved the venues so far that no size is worth doing. The
planner finds that account by account (value it exactly, pair its legs, size, quote, prove
hopeless), and does so again for every account at every run until the market recovers. The
screen gets the same answer for a pool's whole index with a few NumPy comparisons, so the
engine skips those accounts without valuing them.

The proof works per pair of reserves (collateral ``c``, debt ``d``), from the market's best
rate for selling what the liquidator receives for what it pays with
(:meth:`~astera.keeper.market.Market.rate_bound`: a sale of ``x`` returns at most
``x·num // den``). With ``N = dp·10^cd·bonus`` and ``D = 10⁴·cp·10^dd`` (``cp``/``dp`` the
pool's prices of the two reserves, ``cd``/``dd`` their decimals), ``R = 10⁴ + margin_bps``, and
for a Mini-Pool tranche the Core index ``U`` at which seized tranche collateral is unwrapped
(received ``≤ seized·U/RAY + ½``) or ``M`` at which tranche debt is repaid in Core shares
minted by a deposit (paid ``≥ repaid·M/RAY``: the deposit is rounded up; ``U = M = RAY`` and no
½ term without a tranche), a repayment of ``a`` (debt units) that the collateral covers seizes at most
``(a·N + 5000)/D`` (``percentMul`` rounds half up, then a floor), so

    ``10⁴·proceeds ≤ a·sL + cL``  and  ``R·cost ≥ a·sR``,
    ``sL = N·U·num·10⁴ / (D·RAY·den)``, ``sR = M·R / RAY``.

A pair is **hopeless** when ``sL·(1 + δ) ≤ sR`` (``δ = 2⁻²⁰``) and the inequality
``a·sL + cL < a·sR`` holds at ``a = max(1, (D − 5000)/N)`` (below that nothing is seized and
the planner plans nothing), both checked exactly in integers: both sides are linear in ``a``,
so no covered request of any size is profitable, whatever the close factor or sizing rule.
The one request the collateral does not cover takes all ``s`` of it and
repays ``needed ≥ (V − 1)·10⁴/bonus − 1`` (``V = cp·s·10^dd/(dp·10^cd)``: two floors and a
half-up division), hence ``s ≤ (needed + 2)·N/D``, and is unprofitable once
``needed > (2 + cL'/sL)/δ`` (``cL'`` the receive rounding's share of ``cL``). The screen
turns that into a least scaled collateral balance per pair, doubled and plus a unit (covering
``rayMul`` and the float reading of the index), so an account with only a little collateral in
the pair is left to the planner. A pair received and paid in the same asset is never hopeless;
a pair with no route is never planned, so it does not stop an account from being screened. An
account is screened when every (collateral leg, debt leg) pair it holds is hopeless for it.

Within one engine run prices, indexes and the index rows of accounts not yet taken up stand
still, and the venues move only with the engine's own sales: :meth:`MarketScreen.sold`
re-judges the pairs of the assets a sale traded, and a pool's mask over its queue is rebuilt
only when its set of hopeless pairs changes. A venue that does not exist yet proves nothing
(the pair is asked again once the market has more venues). A funding premium moves an index:
:meth:`MarketScreen.start` forgets everything, as at the start of a run. The liquidator's own
row is never screened (its position changes within a run).
"""

from __future__ import annotations

from typing import NamedTuple

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
NO_ROUTE = -2.0
NO_VENUE = -1.0


class _Terms(NamedTuple):
    """What judging a pair needs besides the market's rate: fixed for the run."""

    receive: str
    pay: str
    n: int
    d: int
    #: Core indexes for unwrapping seized tranche collateral and minting tranche debt shares.
    unwrap: int | None
    mint: int | None
    #: Debt units per unit of collateral, and the collateral's normalized income (float).
    per_unit: float
    income: int
    bonus: int


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
            receive = c.asset if c.tranche_of is None else c.tranche_of.asset
            pay = d.asset if d.tranche_of is None else d.tranche_of.asset
            self.by_assets.setdefault(frozenset((receive, pay)), []).append(k)
        self.verdicts = [NO_VENUE] * len(self.pairs)
        #: Per pair, once asked: its :class:`_Terms`; None for a pair never hopeless.
        self.terms: dict[int, _Terms | None] = {}
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
        if j not in screen.terms:
            screen.terms[j] = self._terms(screen.index, *screen.pairs[j])
        t = screen.terms[j]
        if t is None:
            return NOT_HOPELESS
        market = self.market
        if not market.has_route(t.receive, t.pay):
            return NO_ROUTE
        bound = market.rate_bound(t.receive, t.pay)
        if bound is None:
            return NO_VENUE
        num, den = bound
        r, u, m = self.required, t.unwrap or RAY, t.mint or RAY
        # sL·(1 + δ) ≤ sR, times D·RAY·den·2²⁰:
        if t.n * u * num * PERCENTAGE_FACTOR * (INV_DELTA + 1) > m * r * t.d * den * INV_DELTA:
            return NOT_HOPELESS
        if t.d - HALF_PERCENT >= t.n:
            # At a* = (D − 5000)/N, below which nothing is seized (the planner plans nothing),
            # times 2·RAY·den·N: num·10⁴·(2·U + [RAY])·N < 2·(D − 5000)·M·R·den.
            lhs = num * PERCENTAGE_FACTOR * (2 * u + (RAY if t.unwrap else 0)) * t.n
            rhs = 2 * (t.d - HALF_PERCENT) * m * r * den
        else:
            # At a = 1, times 2·D·RAY·den: (2(N + 5000)·U + [D·RAY])·num·10⁴ < 2·M·R·D·den.
            lhs = (2 * (t.n + HALF_PERCENT) * u + (t.d * RAY if t.unwrap else 0)) * num * PERCENTAGE_FACTOR
            rhs = 2 * m * r * t.d * den
        if lhs >= rhs:
            return NOT_HOPELESS
        # The request that takes all the collateral: the least balance the proof covers.
        slope = t.n * u * num * PERCENTAGE_FACTOR / (t.d * RAY * den)
        rounding = num * PERCENTAGE_FACTOR / (2 * den) if t.unwrap else 0.0
        needed = (2 + rounding / slope) * INV_DELTA if slope > 0 else 0.0
        least_v = (needed + 2) * t.bonus / PERCENTAGE_FACTOR + 1
        return 2 * (least_v / t.per_unit + 1) * RAY / t.income + 2

    def _terms(self, index: PoolIndex, c: Reserve, d: Reserve) -> _Terms | None:
        pool, now = index.pool, index.pool.world.now
        receive = c.asset if c.tranche_of is None else c.tranche_of.asset
        pay = d.asset if d.tranche_of is None else d.tranche_of.asset
        if receive == pay:
            return None
        try:
            cp, dp = pool.price(c), pool.price(d)
        except ProtocolError:
            return None
        if cp == 0 or dp == 0:
            return None
        return _Terms(
            receive,
            pay,
            dp * 10**c.decimals * c.liquidation_bonus,
            PERCENTAGE_FACTOR * cp * 10**d.decimals,
            None if c.tranche_of is None else c.tranche_of.normalized_income(now),
            None if d.tranche_of is None else d.tranche_of.normalized_income(now),
            cp * 10**d.decimals / (dp * 10**c.decimals),
            c.normalized_income(now),
            c.liquidation_bonus,
        )

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
