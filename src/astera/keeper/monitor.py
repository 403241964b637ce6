"""Find every account with a health factor below 1, right after a price tick or a warp.

The monitor keeps an index of every *borrowing* position in the Core-Pool and in every
Mini-Pool, in columnar form: per pool, one row per borrower and one column per reserve,
holding the user's scaled aToken balance where the collateral bit is set and the scaled
debt where the borrowing bit is set (§5.1 counts exactly these). Scaled balances change
only when the user acts; interest and prices change only per-reserve numbers. So after a
tick the whole index is re-scored with three matrix products against per-reserve factors
(price × index / unit, times the liquidation threshold), in floating point.

Floats never decide. Each row gets rigorous bounds on the integer health factor: every
rounding of §5.1 (``ray_mul`` half-up, collateral floored and debt rounded up per asset,
the average threshold floored to a whole basis point, ``percentMul`` and ``wadDiv``) is
covered by an absolute slack, and the float arithmetic by a relative one of 1e-9 (about
10⁵ times the float64 error of these sums). Rows that are provably healthy are dropped;
every other row is a *candidate* and is re-checked with the core's exact
:func:`~astera.core.account_data`.
Result: no misses and no false alarms (tests compare with brute force over random states).

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
from dataclasses import dataclass

import numpy as np

from astera.core import RAY, WAD, AccountData, Protocol, account_data
from astera.core.pool import Pool

#: Pool selector, as in :class:`astera.core.Protocol`: ``"core"`` or a Mini-Pool id.
PoolRef = str | int

#: Relative slack covering float64 error in the scores (actual error is below 1e-14).
FLOAT_SLACK = 1e-9


@dataclass(frozen=True)
class Unhealthy:
    """An account that can be liquidated now, with its exact account data."""

    pool: PoolRef
    user: str
    account: AccountData

    @property
    def health_factor(self) -> int:
        return self.account.health_factor


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

    def _read(self, user: str) -> tuple[list[float], list[float]] | None:
        """The user's (collateral, debt) scaled row, or None if they borrow nothing."""
        cfg = self.pool.user_config.get(user, 0)
        if not cfg & 0x5555555555555555555555555555555555555555555555555555555555555555:
            return None
        coll = [0.0] * self.width
        debt = [0.0] * self.width
        borrows = False
        for r in self.pool.reserves:
            bits = (cfg >> (2 * r.id)) & 3
            if bits & 1:
                s = r.d_scaled.get(user, 0)
                if s:
                    debt[r.id] = float(s)
                    borrows = True
            if bits & 2:
                coll[r.id] = float(r.a_scaled.get(user, 0))
        return (coll, debt) if borrows else None

    def rebuild(self) -> None:
        """Re-read every user of the pool (start-up, or after a reserve was added)."""
        self.width = len(self.pool.reserves)
        users, colls, debts = [], [], []
        for user in self.pool.user_config:
            row = self._read(user)
            if row is not None:
                users.append(user)
                colls.append(row[0])
                debts.append(row[1])
        self.users = users
        self.rows = {u: i for i, u in enumerate(users)}
        self.collateral = np.array(colls, dtype=np.float64).reshape(len(users), self.width)
        self.debt = np.array(debts, dtype=np.float64).reshape(len(users), self.width)

    def update(self, user: str) -> None:
        """Re-read one user after the protocol changed their position."""
        row = self._read(user)
        i = self.rows.get(user)
        if row is None:
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
        self.collateral[i] = row[0]
        self.debt[i] = row[1]

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

    def candidates(self) -> np.ndarray:
        """Rows whose health factor may be below 1 (a superset of the unhealthy rows).

        With ``C`` the collateral value, ``W`` the threshold-weighted collateral and ``D``
        the debt, all in USD base units: the exact ``percentMul(C, avgLT)`` is at least
        ``W − C/10⁴ − slack`` (the average threshold loses under 1 bp to flooring) and the
        exact debt at most ``D + slack``; HF ≥ 1 whenever the first is ≥ the second.
        """
        n = len(self.users)
        if n == 0:
            return np.zeros(0, dtype=np.intp)
        pool, now = self.pool, self.pool.proto.now
        value = np.zeros((self.width, 2))
        debt_value = np.zeros(self.width)
        rounding = 0.0  # per-asset rounding bound, summed over every reserve
        for r in pool.reserves:
            price = pool.price(r)
            if r.liquidation_threshold:
                per_scaled = price * r.normalized_income(now) / (RAY * r.unit)
                value[r.id, 0] = per_scaled
                value[r.id, 1] = per_scaled * r.liquidation_threshold / 10_000
            debt_value[r.id] = price * r.normalized_debt(now) / (RAY * r.unit)
            rounding += price / (2 * r.unit) + 1
        slack = 3 * rounding + 1
        cw = self.collateral[:n] @ value
        d = self.debt[:n] @ debt_value
        lower = (cw[:, 1] - cw[:, 0] * 1e-4) * (1 - FLOAT_SLACK) - slack
        upper_debt = d * (1 + FLOAT_SLACK) + slack
        return np.flatnonzero(lower < upper_debt)

    def unhealthy(self) -> list[Unhealthy]:
        """Exact re-check of the candidates with the core's account data."""
        out = []
        for i in self.candidates().tolist():
            user = self.users[i]
            data = account_data(self.pool, user)
            if data.health_factor < WAD:
                out.append(Unhealthy(self.ref, user, data))
        out.sort(key=lambda u: u.user)
        return out


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
        index = self.index(ref)
        for user in users:
            index.update(user)

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
            for (_, user), index in sorted(touched.items(), key=lambda kv: kv[0][1]):
                index.update(user)

    def candidates(self) -> int:
        """How many rows the float pre-filter could not prove healthy."""
        return sum(len(i.candidates()) for i in self._current())

    def scan(self) -> list[Unhealthy]:
        """Every account with HF < 1, exactly: Core-Pool first, then Mini-Pools, by user."""
        return [u for index in self._current() for u in index.unhealthy()]
