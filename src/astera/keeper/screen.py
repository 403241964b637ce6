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
    ``sL = N·K·U·num·10⁴ / (D·W·RAY·den)``, ``sR = M·R / RAY``,

where ``K/W`` is the share of the seized collateral the planner judges a sale on under the
collateral's liquidation protocol fee (:func:`~astera.keeper.planner.liquidator_share`: the
bonus less the fee's exact share; ``K = W`` without a fee). The proceeds here are those the
planner judges: what the fee's half-up rounding leaves the liquidator beyond that share on a
few units of collateral is not counted (:func:`~astera.keeper.planner.judged_fee`).

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
re-judges the pairs of the assets a sale traded (only pairs some queued account holds: no
other pair can change who is screened), and the queue positions left to value are recomputed,
from the engine's place in the queue on, only when such a pair's verdict changes. A venue
that does not exist yet proves nothing (the pair is asked again once the market has more
venues). A funding premium moves an index: :meth:`MarketScreen.start` forgets everything, as
at the start of a run. The liquidator's own row is never screened (its position changes within
a run), nor, in a pool with deficit accounting, an account with no collateral left: the
planner writes its debt off at no cost, no sale involved.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import NamedTuple

import numpy as np

from astera.core import ProtocolError
from astera.core.reserve import Reserve
from astera.core.wadray import HALF_PERCENT, PERCENTAGE_FACTOR, RAY

from .market import Market
from .monitor import PoolIndex, PoolRef
from .planner import liquidator_share

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
    #: ``K`` and ``W``: the liquidator's share of a seizure under the protocol fee.
    kept: int
    whole: int


class _PoolScreen:
    """One pool's queue, the leg pairs its accounts hold, their verdicts, and the positions the
    screen cannot prove futile, for one run.

    Only pairs some queued account holds are kept: a pair no row holds cannot change which
    rows are screened, so it is never judged and never makes the positions stale."""

    __slots__ = (
        "index",
        "pairs",
        "values",
        "base",
        "by_assets",
        "verdicts",
        "terms",
        "venues",
        "todo",
        "since",
    )

    def __init__(self, index: PoolIndex, rows: np.ndarray, liquidator: str) -> None:
        self.index = index
        coll = index.collateral[rows]
        debt = index.debt[rows]
        holds_coll, holds_debt = coll > 0, debt > 0
        # How many queued rows hold each (collateral, debt) pair, in one small product (exact:
        # counts far below 2**53) instead of a test per pair.
        counts = holds_coll.T.astype(np.float64) @ holds_debt.astype(np.float64)
        #: (collateral reserve, debt reserve) of every leg pair a queued account holds, and per
        #: pair each row's scaled collateral in it, +inf where the row does not hold the pair.
        self.pairs: list[tuple[Reserve, Reserve]] = []
        self.values: list[np.ndarray] = []
        reserves = index.pool.reserves
        for c in reserves:
            if c.liquidation_threshold:
                for d in reserves:
                    if counts[c.id, d.id]:
                        held = holds_coll[:, c.id] & holds_debt[:, d.id]
                        self.pairs.append((c, d))
                        self.values.append(np.where(held, coll[:, c.id], np.inf))
        #: Rows the screen may take out at all: every one but the liquidator's own.
        self.base = np.ones(len(rows), dtype=bool)
        mine = index.rows.get(liquidator)
        if mine is not None:
            self.base &= rows != mine
        policy = index.pool.liquidation_policy
        if policy is not None and policy.deficit_accounting:
            self.base &= holds_coll.any(axis=1)  # no collateral: the planner may write it off
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
        #: Positions ``>= since`` in the queue the screen cannot prove futile, ascending; None
        #: when stale. The engine only moves forward in a queue, so earlier ones are not kept.
        self.todo: list[int] | None = None
        self.since = 0


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
            screen = self._pools[index.ref] = _PoolScreen(index, rows, self.liquidator)
        if len(self.market.venues) != screen.venues:
            screen.venues = len(self.market.venues)
            unknown = [j for j, v in enumerate(screen.verdicts) if v == NO_VENUE]
            if unknown and self._rejudge(screen, unknown):
                screen.todo = None
        if screen.todo is None or k < screen.since:
            screen.todo, screen.since = self._todo(screen, k), k
        todo = screen.todo
        at = bisect_left(todo, k)
        return todo[at] if at < len(todo) else len(rows)

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
        k, w = t.kept, t.whole
        # sL·(1 + δ) ≤ sR, times D·W·RAY·den·2²⁰:
        if t.n * k * u * num * PERCENTAGE_FACTOR * (INV_DELTA + 1) > m * r * t.d * w * den * INV_DELTA:
            return NOT_HOPELESS
        if t.d - HALF_PERCENT >= t.n:
            # At a* = (D − 5000)/N, below which nothing is seized (the planner plans nothing),
            # times 2·W·RAY·den·N: num·10⁴·(2·K·U + [W·RAY])·N < 2·(D − 5000)·W·M·R·den.
            lhs = num * PERCENTAGE_FACTOR * (2 * k * u + (w * RAY if t.unwrap else 0)) * t.n
            rhs = 2 * (t.d - HALF_PERCENT) * w * m * r * den
        else:
            # At a = 1, times 2·D·W·RAY·den: (2(N + 5000)·K·U + [D·W·RAY])·num·10⁴ < 2·M·R·D·W·den.
            lhs = (2 * (t.n + HALF_PERCENT) * k * u + (t.d * w * RAY if t.unwrap else 0)) * num
            lhs *= PERCENTAGE_FACTOR
            rhs = 2 * m * r * t.d * w * den
        if lhs >= rhs:
            return NOT_HOPELESS
        # The request that takes all the collateral: the least balance the proof covers.
        slope = t.n * k * u * num * PERCENTAGE_FACTOR / (t.d * w * RAY * den)
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
            *liquidator_share(c.liquidation_bonus, c.liquidation_protocol_fee),
        )

    def _todo(self, screen: _PoolScreen, since: int) -> list[int]:
        """Positions ``>= since`` of the queue some (collateral, debt) leg pair of which is not
        hopeless for its account (a routed pair without a verdict, or a balance below what the
        pair's proof covers)."""
        mask = screen.base[since:].copy()
        for values, least in zip(screen.values, screen.verdicts, strict=True):
            if least == NO_ROUTE:
                continue
            bound = np.inf if least == NOT_HOPELESS or least == NO_VENUE else least
            mask &= values[since:] >= bound
        todo: list[int] = (np.flatnonzero(~mask) + since).tolist()
        return todo
