"""What every pool shares: the clock, the undo journal, the oracle, the token wallets and
the known accounts, with the transaction levels that make each operation atomic.

The pools receive this object instead of the whole protocol: it is all they read or write
outside their own reserves (time, prices, token balances), and every write goes through
its journal, so one rollback undoes a refused operation wherever it reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from . import errors as E
from .core_pool import CORE_TREASURY
from .errors import InputError, ProtocolError, overflow
from .inputs import MAX_TIME, checked_int
from .journal import Journal
from .minipool import MINI_POOL_TREASURY
from .oracle import Oracle
from .wadray import UINT256_MAX

T = TypeVar("T")


class World:
    """Clock, journal, oracle, wallets (asset -> holder -> balance) and account names."""

    __slots__ = ("now", "journal", "oracle", "wallets", "decimals", "users", "depth")

    def __init__(self, start_timestamp: int) -> None:
        self.now = checked_int(start_timestamp, "start_timestamp", 0, MAX_TIME)
        self.journal = Journal()
        self.oracle = Oracle()
        self.wallets: dict[str, dict[str, int]] = {}
        self.decimals: dict[str, int] = {}
        #: Known account names (a dict used as an ordered set).
        self.users: dict[str, None] = {}
        #: Open transaction levels; the journal commits when the outermost one closes.
        self.depth = 0

    # ---- atomicity ------------------------------------------------------------------------------

    def begin(self) -> int:
        """Open a (possibly nested) transaction level; the journal mark to roll back to."""
        self.depth += 1
        return self.journal.mark()

    def end(self, mark: int, failed: bool) -> None:
        """Close the level opened at ``mark``: undo it if it failed, commit if it was outermost."""
        self.depth -= 1
        if failed:
            self.journal.rollback(mark)
        elif self.depth == 0:
            self.journal.commit()

    def atomic(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` so that a refusal anywhere inside leaves the state untouched."""
        mark = self.begin()
        try:
            result = fn(*args)
        except BaseException:
            self.end(mark, True)
            raise
        self.end(mark, False)
        return result

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several operations into one all-or-nothing unit."""
        mark = self.begin()
        try:
            yield
        except BaseException:
            self.end(mark, True)
            raise
        self.end(mark, False)

    # ---- clock ----------------------------------------------------------------------------------

    def advance(self, seconds: int) -> None:
        """Move the block timestamp forward (undone with the enclosing transaction)."""
        self.set_time(self.now + checked_int(seconds, "seconds", 0, MAX_TIME))

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp; time never goes backwards."""
        if checked_int(timestamp, "timestamp", 0, MAX_TIME) < self.now:
            raise InputError("input:time", f"{timestamp} < {self.now}")
        self.atomic(self.journal.setattr, self, "now", timestamp)

    def rewind(self, timestamp: int) -> None:
        """Put the clock back to ``timestamp`` after a move under which nothing else
        happened (a node's block that accepted no transaction is not written, so its clock
        move is taken back). Only to undo such a move: anything written since would see
        time go backwards."""
        self.atomic(self.journal.setattr, self, "now", checked_int(timestamp, "timestamp", 0, MAX_TIME))

    # ---- oracle ---------------------------------------------------------------------------------

    def set_price(self, asset: str, price: int, age: int | None = None) -> None:
        """The oracle role's price update (USD, 8 decimals): a feed answer, an ``int256``.

        A feed may answer 0 or less; pricing the asset then falls back (or refuses, ``78``).
        By default the answer is stamped with this block's time and ages from there; with
        ``age`` the feed reports it as ``age`` seconds old at every read instead (a constant
        lag, as the scenario format's mock feeds do, vectors FORMAT §3.2).
        """
        self.asset(asset)
        checked_int(price, "price", -(1 << 255), (1 << 255) - 1)
        if age is not None:
            checked_int(age, "age")
        self.atomic(self.write_price, asset, price, age)

    def write_price(self, asset: str, price: int, age: int | None = None) -> None:
        """Record a checked feed answer (inside the caller's transaction)."""
        j = self.journal
        oracle = self.oracle
        j.set(oracle.answers, asset, price)
        j.set(oracle.updated_at, asset, self.now)
        if age is not None:
            j.set(oracle.ages, asset, age)
        elif asset in oracle.ages:
            j.delete(oracle.ages, asset)

    def price(self, asset: str) -> int:
        """The asset's oracle price now (USD, 8 decimals)."""
        return self.oracle.price(self.asset(asset), self.now)

    # ---- tokens ---------------------------------------------------------------------------------

    def wallet(self, asset: str, holder: str) -> int:
        return self.wallets[asset].get(holder, 0)

    def wallet_debit(self, asset: str, holder: str, amount: int) -> None:
        w = self.wallets[asset]
        bal = w.get(holder, 0)
        if bal < amount:
            raise ProtocolError(E.INSUFFICIENT_BALANCE, f"{holder} holds {bal} {asset}, needs {amount}")
        self.journal.set(w, holder, bal - amount)

    def wallet_credit(self, asset: str, holder: str, amount: int) -> None:
        w = self.wallets[asset]
        balance = w.get(holder, 0) + amount
        if balance > UINT256_MAX:
            raise overflow()
        self.journal.set(w, holder, balance)

    def wallet_transfer(self, asset: str, sender: str, to: str, amount: int) -> None:
        self.wallet_debit(asset, sender, amount)
        self.wallet_credit(asset, to, amount)

    # ---- names ----------------------------------------------------------------------------------

    def register_user(self, name: str) -> None:
        """Make an account known. Internal names (treasuries, pools) are reserved."""
        if (
            not isinstance(name, str)
            or not name
            or ":" in name
            or name in (CORE_TREASURY, MINI_POOL_TREASURY)
        ):
            raise InputError("input:type", f"invalid user name {name!r}")
        if name not in self.users:
            self.atomic(self.journal.set, self.users, name, None)

    def user(self, name: str) -> str:
        """``name`` if it is a known account."""
        if not isinstance(name, str) or name not in self.users:
            raise InputError("input:unknown_user", repr(name))
        return name

    def asset(self, asset: str) -> str:
        """``asset`` if it is a listed token."""
        if not isinstance(asset, str) or asset not in self.wallets:
            raise InputError("input:unknown_asset", repr(asset))
        return asset
