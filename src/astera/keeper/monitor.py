"""Find every account with a health factor below 1, right after a price tick or a warp.

The monitor keeps an index of every *borrowing* position in the Core-Pool and in every
Mini-Pool, in columnar form: per pool, one row per borrower and one column per reserve,
holding the user's scaled aToken balance where the collateral bit is set and the scaled
debt where the borrowing bit is set (§5.1 counts exactly these). Scaled balances change
only when the user acts; interest and prices change only per-reserve numbers. So after a
tick the whole index is re-scored with three matrix-vector products against per-reserve
factors (price × index / unit, times the liquidation threshold), in floating point.

Floats never decide alone: each row gets rigorous bounds that sort it into *proved
unhealthy*, *proved healthy*, or *unsure*, and only unsure rows (those within a hair of
HF = 1) are valued exactly, in integers (:class:`~astera.keeper.valuation.Valuation`,
equal to the core's :func:`~astera.core.account_data`). The bounds, for one row, with
``x_j`` the real value ``price·scaled·index / (RAY·unit)`` of a leg and ``e_j = price / (2·unit)``:

* ``rayMul`` is off by at most half a unit and the value then rounds once, so a
  collateral leg ``c_j`` lies in ``[x_j − e_j − 1, x_j + e_j]`` and a debt leg (rounded
  up) in ``[x_j − e_j, x_j + e_j + 1]``;
* the average threshold is ``⌊Σ c_j·lt_j / C⌋``, less than 1 bp below the exact ratio, so
  ``C·avgLT`` lies in ``(Σ c_j·lt_j − C, Σ c_j·lt_j]``; ``percentMul`` adds ±½; every
  ``lt_j`` is below 100% (the configurator requires ``lt·bonus ≤ 100%`` with a bonus above 100%);
* ``wadDiv`` rounds half-up: HF < 1 exactly when ``num·10¹⁸ + ⌊D/2⌋ < D·10¹⁸`` for
  ``num = percentMul(C, avgLT)``: ``num ≥ D`` proves HF ≥ 1, ``num < D·(1 − 10⁻¹⁸)`` HF < 1.

With ``W = Σ x_j·lt_j / 10⁴``, ``X = Σ x_j`` over the collateral legs and ``D̃ = Σ x_j``
over the debt legs, and the pool allowance ``A = 1 + Σ_reserves (e_r + 1)`` (covering any
subset of legs), this gives ``num ≤ W + A``, ``num > W − X/10⁴ − 1.0001·A`` and
``|D − D̃| ≤ A``. The float sums have a relative error below 1e-13 (non-negative terms,
correctly rounded factors); ``FLOAT_SLACK = 1e-9`` of ``X + D̃`` covers it, the 10⁻¹⁸ of
``wadDiv`` and the rounding of the comparison itself, and the third ``A`` what is left.
Tests check the bounds against the exact integers row by row, and the result against
brute force (no misses and no false alarms), at and away from the boundary.

Keeping the index in sync. A pool row changes only when the protocol writes that user's
bitmap or scaled balances, and every such write goes through the core's undo journal.
:meth:`Monitor.tracking` runs any block of protocol operations in a transaction and
re-reads the (pool, user) pairs whose entries it wrote; :meth:`Monitor.touch` does the
same for callers that already know who was touched (the node, per transaction). New
reserves or Mini-Pools are noticed at scan time and rebuild the affected pool's index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from astera.core import PERCENTAGE_FACTOR, RAY, WAD, AccountData, Protocol, ProtocolError
from astera.core.account import BORROWING_MASK
from astera.core.pool import Pool

from .valuation import Position, Valuation

#: Pool selector, as in :class:`astera.core.Protocol`: ``"core"`` or a Mini-Pool id.
PoolRef = str | int

#: Relative slack covering float64 error in the sums (actual error is below 1e-13).
FLOAT_SLACK = 1e-9


class Unhealthy(NamedTuple):
    """An account that can be liquidated now, with its exact position (legs and account data)."""

    pool: PoolRef
    user: str
    position: Position

    @property
    def account(self) -> AccountData:
        return self.position.account

    @property
    def health_factor(self) -> int:
        return self.position.account.health_factor


class Triage(NamedTuple):
    """Rows of a pool index sorted by their float bounds (row numbers, ascending)."""

    #: Rows proved to have HF < 1.
    unhealthy: np.ndarray
    #: Rows whose bounds straddle 1: only the exact integer check can tell.
    unsure: np.ndarray
    #: Every row's debt value, as the float sums estimate it (USD base units): for ordering only.
    debt: np.ndarray
    #: Rows holding a position in a reserve the oracle cannot price now (stale or invalid feed,
    #: no fallback: ``78``). The protocol cannot value them, so it cannot liquidate them
    #: either, until a price returns; they are in neither list above.
    unpriced: np.ndarray


def _below_one(valuation: Valuation, user: str) -> bool:
    """HF < 1, exactly; False when the oracle cannot price a reserve the account has a bit in
    (with a zero balance there, the index cannot see it): the protocol could not value it either."""
    try:
        return valuation.health_factor(user) < WAD
    except ProtocolError:
        return False


class PoolQueue(NamedTuple):
    """One pool's work for the engine (:meth:`PoolIndex.queue`)."""

    ref: PoolRef
    #: Accounts with HF < 1, exactly, the largest debt first.
    unhealthy: list[str]
    #: Accounts holding a position the oracle cannot price now: neither liquidatable nor known healthy.
    unpriced: list[str]


class PoolIndex:
    """Columnar borrowing positions of one pool."""

    def __init__(self, pool: Pool, ref: PoolRef) -> None:
        self.pool = pool
        self.ref = ref
        self.width = len(pool.reserves)
        self.users: list[str] = []
        self.rows: dict[str, int] = {}
        self.collateral = np.zeros((0, self.width))
        self.debt = np.zeros((0, self.width))

    def __len__(self) -> int:
        return len(self.users)

    def _read(self, users: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The users' scaled (collateral, debt) rows, a column per reserve: each balance where
        its bit is set, zero elsewhere. Read column by column (one pass over each reserve's
        balances), which costs a fraction of reading user by user."""
        config = self.pool.user_config
        bitmaps = [config.get(user, 0) for user in users]
        coll = np.zeros((len(users), self.width))
        debt = np.zeros((len(users), self.width))
        for r in self.pool.reserves:
            borrowing, collateral = 1 << (2 * r.id), 2 << (2 * r.id)
            d_scaled, a_scaled = r.d_scaled, r.a_scaled
            if any(b & borrowing for b in bitmaps):
                debt[:, r.id] = [
                    float(d_scaled.get(u, 0)) if b & borrowing else 0.0
                    for u, b in zip(users, bitmaps, strict=True)
                ]
            if any(b & collateral for b in bitmaps):
                coll[:, r.id] = [
                    float(a_scaled.get(u, 0)) if b & collateral else 0.0
                    for u, b in zip(users, bitmaps, strict=True)
                ]
        return coll, debt

    def rebuild(self) -> None:
        """Re-read every borrower of the pool (start-up, or after a reserve was added)."""
        self.width = len(self.pool.reserves)
        users = [u for u, bitmap in self.pool.user_config.items() if bitmap & BORROWING_MASK]
        coll, debt = self._read(users)
        borrows = np.count_nonzero(debt, axis=1) > 0
        self.users = [users[k] for k in np.flatnonzero(borrows).tolist()]
        self.rows = {u: i for i, u in enumerate(self.users)}
        self.collateral = coll[borrows]
        self.debt = debt[borrows]

    def update(self, user: str) -> None:
        """Re-read one user after the protocol changed their position."""
        self.update_many([user])

    def update_many(self, users: Iterable[str]) -> None:
        """Re-read users after the protocol changed their positions: rows that stay are
        rewritten in one NumPy assignment; rows that appear or go are handled one by one."""
        users = list(users)
        if not users:
            return
        coll, debt = self._read(users)
        borrows = np.count_nonzero(debt, axis=1) > 0
        rows = np.array([self.rows.get(u, -1) for u in users], dtype=np.intp)
        stay = borrows & (rows >= 0)
        self.collateral[rows[stay]] = coll[stay]
        self.debt[rows[stay]] = debt[stay]
        for k in np.flatnonzero(~stay).tolist():
            self._place(users[k], coll[k], debt[k], bool(borrows[k]))

    def _place(self, user: str, coll: np.ndarray, debt: np.ndarray, borrows: bool) -> None:
        """Add, rewrite or drop one user's row."""
        i = self.rows.get(user)
        if not borrows:
            if i is not None:
                self._remove(i)
            return
        if i is None:
            i = len(self.users)
            if i == len(self.collateral):
                grow = max(16, i)
                self.collateral = np.vstack([self.collateral, np.zeros((grow, self.width))])
                self.debt = np.vstack([self.debt, np.zeros((grow, self.width))])
            self.users.append(user)
            self.rows[user] = i
        self.collateral[i] = coll
        self.debt[i] = debt

    def _remove(self, i: int) -> None:
        """Drop row ``i`` by moving the last row into its place."""
        last = len(self.users) - 1
        gone = self.users[i]
        if i != last:
            moved = self.users[last]
            self.users[i] = moved
            self.rows[moved] = i
            self.collateral[i] = self.collateral[last]
            self.debt[i] = self.debt[last]
        self.users.pop()
        del self.rows[gone]

    def triage(self) -> Triage:
        """Sort the rows by what their float bounds prove: HF < 1, HF ≥ 1, or undecided.

        See the module docstring for why the bounds are conservative. With ``X`` the
        collateral value, ``W`` the threshold-weighted collateral and ``D`` the debt of a row
        (float sums, USD base units), ``A`` the per-pool rounding allowance and
        ``tol = 3·A + FLOAT_SLACK·(X + D)``:

        * ``W − D < −tol`` proves HF < 1;
        * ``W − X/10⁴ − D ≥ tol`` proves HF ≥ 1;
        * every other row is *unsure* and goes to the exact check.
        """
        n = len(self.users)
        if n == 0:
            empty = np.zeros(0, dtype=np.intp)
            return Triage(empty, empty, np.zeros(0), empty)
        pool, now = self.pool, self.pool.world.now
        value = np.zeros(self.width)
        weighted = np.zeros(self.width)
        debt_value = np.zeros(self.width)
        allowance = 1.0
        unpriced: list[int] = []
        for r in pool.reserves:
            try:
                price = pool.price(r)
            except ProtocolError:
                unpriced.append(r.id)
                continue
            if r.liquidation_threshold:
                value[r.id] = price * r.normalized_income(now) / (RAY * r.unit)
                weighted[r.id] = value[r.id] * r.liquidation_threshold / PERCENTAGE_FACTOR
            debt_value[r.id] = price * r.normalized_debt(now) / (RAY * r.unit)
            allowance += price / (2 * r.unit) + 1
        # Matrix-vector products only: a skinny matrix-matrix product can be far slower in BLAS.
        x = self.collateral[:n] @ value
        w = self.collateral[:n] @ weighted
        d = self.debt[:n] @ debt_value
        gap = w - d
        tol = (x + d) * FLOAT_SLACK + 3 * allowance
        unhealthy = gap < -tol
        decided = unhealthy | (gap - x * (1 / PERCENTAGE_FACTOR) >= tol)
        blocked = np.zeros(n, dtype=bool)
        if unpriced:
            held = (self.collateral[:n, unpriced] != 0) | (self.debt[:n, unpriced] != 0)
            blocked = held.any(axis=1)
            unhealthy &= ~blocked
            decided |= blocked
        return Triage(np.flatnonzero(unhealthy), np.flatnonzero(~decided), d, np.flatnonzero(blocked))

    def unhealthy_rows(self, triage: Triage | None = None, valuation: Valuation | None = None) -> np.ndarray:
        """Rows with HF < 1, exactly, ascending: proved ones and confirmed unsure ones."""
        triage = triage or self.triage()
        if len(triage.unsure) == 0:
            return triage.unhealthy
        valuation = valuation or Valuation(self.pool)
        users = self.users
        confirmed = [i for i in triage.unsure.tolist() if _below_one(valuation, users[i])]
        return np.sort(np.concatenate([triage.unhealthy, np.array(confirmed, dtype=np.intp)]))

    def unhealthy(self) -> list[Unhealthy]:
        """Every account with HF < 1, by user, with its exact position."""
        valuation = Valuation(self.pool)
        users = self.users
        out = []
        for user in sorted([users[i] for i in self.unhealthy_rows(valuation=valuation).tolist()]):
            try:
                out.append(Unhealthy(self.ref, user, valuation.position(user)))
            except ProtocolError:  # see _below_one: an unpriced reserve the index cannot see
                continue
        return out

    def queue_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`queue` as row numbers: the rows with HF < 1 in the order to take them up, and
        the rows that cannot be valued now."""
        triage = self.triage()
        rows = self.unhealthy_rows(triage)
        return rows[np.argsort(-triage.debt[rows], kind="stable")], triage.unpriced

    def queue(self) -> PoolQueue:
        """Every account with HF < 1, exactly, the largest debt first; and the accounts that
        cannot be valued now (:attr:`Triage.unpriced`).

        The order is a priority, not a promise: it follows the float estimate of each debt
        (ties keep the index's order), which costs nothing next to valuing every account.
        """
        rows, unpriced = self.queue_rows()
        users = self.users
        return PoolQueue(self.ref, [users[i] for i in rows.tolist()], [users[i] for i in unpriced.tolist()])


class Monitor:
    """The index over the Core-Pool and every Mini-Pool of one protocol."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.indexes: list[PoolIndex] = []
        #: id() of each journaled dict that holds positions (bitmaps, scaled balances) -> its index.
        self._owners: dict[int, PoolIndex] = {}
        self._shape: tuple[int, ...] = ()
        self.rebuild()

    def _pools(self) -> list[tuple[PoolRef, Pool]]:
        p = self.protocol
        return [("core", p.core), *((mp.id, mp) for mp in p.mini_pools)]

    def rebuild(self) -> None:
        """Index every borrower of every pool from scratch."""
        self.indexes = [PoolIndex(pool, ref) for ref, pool in self._pools()]
        for index in self.indexes:
            index.rebuild()
        self._shape = ()
        self._current()

    def _current(self) -> list[PoolIndex]:
        """The indexes, after catching up with new Mini-Pools and new reserves."""
        pools = self._pools()
        for ref, pool in pools[len(self.indexes) :]:
            index = PoolIndex(pool, ref)
            index.rebuild()
            self.indexes.append(index)
        for index in self.indexes:
            if index.width != len(index.pool.reserves):
                index.rebuild()
        shape = tuple(index.width for index in self.indexes)
        if shape != self._shape:
            self._shape = shape
            self._owners = {}
            for index in self.indexes:
                self._owners[id(index.pool.user_config)] = index
                for r in index.pool.reserves:
                    self._owners[id(r.a_scaled)] = index
                    self._owners[id(r.d_scaled)] = index
        return self.indexes

    def index(self, ref: PoolRef) -> PoolIndex:
        for index in self._current():
            if index.ref == ref:
                return index
        raise KeyError(ref)

    @property
    def positions(self) -> int:
        """Borrowing positions indexed, over all pools."""
        return sum(len(i) for i in self.indexes)

    def touch(self, ref: PoolRef, users: Iterable[str]) -> None:
        """Re-read these users of one pool (the caller knows who an operation touched)."""
        self.index(ref).update_many(users)

    @contextmanager
    def tracking(self) -> Iterator[None]:
        """Run protocol operations atomically and re-index every (pool, user) they wrote.

        The core journals every write to a user bitmap or scaled balance until the
        outermost transaction ends; the entries written inside this block name exactly
        the positions that may have changed. On a refusal nothing changed, and the
        re-read positions are the old ones.
        """
        self._current()
        owners = self._owners
        journal = self.protocol.journal
        touched: dict[tuple[int, str], PoolIndex] = {}
        try:
            with self.protocol.transaction():
                mark = journal.mark()
                try:
                    yield
                finally:
                    for target, key, _ in journal.log[mark:]:
                        index = owners.get(id(target))
                        if index is not None and isinstance(key, str):
                            touched[(id(index), key)] = index
        finally:
            self._current()
            per_index: dict[int, tuple[PoolIndex, list[str]]] = {}
            for (key, user), index in sorted(touched.items(), key=lambda kv: kv[0][1]):
                per_index.setdefault(key, (index, []))[1].append(user)
            for index, users in per_index.values():
                index.update_many(users)

    def candidates(self) -> int:
        """How many rows the float bounds could not prove healthy (proven unhealthy or unsure)."""
        return sum(len(t.unhealthy) + len(t.unsure) for t in self.triage())

    def triage(self) -> list[Triage]:
        """Each pool's :meth:`PoolIndex.triage`, Core-Pool first."""
        return [index.triage() for index in self._current()]

    def detect(self) -> dict[PoolRef, list[str]]:
        """Every account with HF < 1, exactly, per pool (in index order), without account data.

        The fastest exact answer: only rows whose bounds straddle 1 are valued in integers.
        """
        out: dict[PoolRef, list[str]] = {}
        for index in self._current():
            users = index.users
            out[index.ref] = [users[i] for i in index.unhealthy_rows().tolist()]
        return out

    def queue(self) -> list[PoolQueue]:
        """Every account with HF < 1, exactly, as the engine takes them up: Core-Pool first,
        then Mini-Pools, the largest debt first within each (:meth:`PoolIndex.queue`), with
        the accounts no one can value now."""
        return [index.queue() for index in self._current()]

    def queue_rows(self) -> list[tuple[PoolIndex, np.ndarray, np.ndarray]]:
        """:meth:`queue` as each pool's index and row numbers (:meth:`PoolIndex.queue_rows`),
        for a caller that looks users up only for the rows it takes."""
        return [(index, *index.queue_rows()) for index in self._current()]

    def scan(self) -> list[Unhealthy]:
        """Every account with HF < 1, exactly, with its position: Core-Pool, then Mini-Pools, by user."""
        return [u for index in self._current() for u in index.unhealthy()]
