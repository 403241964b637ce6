"""The whole protocol as one deterministic state machine: the entry point of the library.

:class:`Protocol` owns the clock (an input: ``advance``/``set_time``), the oracle, the
token wallets, the Core-Pool and the Mini-Pools. Every public method checks its input
(types, ranges, known names, roles), runs atomically (a refusal rolls back everything,
including steps taken inside the Core on behalf of a Mini-Pool), and returns the events
the operation emitted.

Example::

    from astera.core import Protocol, DefaultRateStrategy, RAY
    p = Protocol(start_timestamp=1_700_000_000)
    p.add_asset("USDC", decimals=6, price=100_000_000)
    ...
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from . import dry_run
from . import errors as E
from .account import AccountData, account_data
from .core_pool import CORE_TREASURY, CorePool
from .dry_run import DryRun, Step, V
from .errors import InputError, ProtocolError, overflow
from .events import Event
from .journal import Journal
from .liquidation_policy import NO_POLICY, LiquidationPolicy, check_fee, cover_deficit
from .minipool import A_TOKEN_ID_BASE, DEBT_TOKEN_ID_BASE, MINI_POOL_TREASURY, UNIQUE_ID_OFFSET, MiniPool
from .oracle import Oracle
from .pool import MAX_RESERVES, FlashReceiver, Pool
from .rates import RateStrategy
from .reserve import Reserve
from .state_digest import StateDigest
from .wadray import PERCENTAGE_FACTOR, UINT256_MAX, percent_mul

T = TypeVar("T")

#: Pool selector: ``"core"`` or a Mini-Pool id.
PoolRef = str | int

MAX_DEPOSIT_CAP = (1 << 72) - 1
MAX_RESERVE_FACTOR = 4000
MAX_BPS_FIELD = 65535


def _int(value: object, what: str, low: int = 0, high: int = UINT256_MAX) -> int:
    if type(value) is not int:
        raise InputError("input:type", f"{what} must be an int, got {type(value).__name__}")
    if value < low or value > high:
        raise InputError("input:amount", f"{what} out of range [{low}, {high}]: {value}")
    return value


def _bool(value: object, what: str) -> bool:
    if type(value) is not bool:
        raise InputError("input:type", f"{what} must be a bool")
    return value


#: Reserve slots of the opt-in liquidation policies: in the canonical state only when not 0, so
#: a state without policies hashes as it did before they existed.
_POLICY_FIELDS = ("liquidation_protocol_fee", "deficit")

#: Reserve slots that are not part of its scalar state (maps, objects, the key).
_RESERVE_NOT_SCALAR = frozenset(
    (
        "strategy",
        "tranche_of",
        "key",
        "a_scaled",
        "d_scaled",
        "borrow_allowance",
        *_POLICY_FIELDS,
    )
)


def _entries(m: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """A map's non-empty entries, sorted: its canonical form."""
    return sorted((k, v) for k, v in m.items() if v != 0)


class Protocol:
    """Astera Lend: a Core-Pool and its Mini-Pools, driven by explicit time and prices."""

    __slots__ = (
        "now",
        "oracle",
        "journal",
        "wallets",
        "decimals",
        "core",
        "mini_pools",
        "users",
        "admin",
        "emergency_admin",
        "_depth",
        "_digest",
    )

    def __init__(
        self, start_timestamp: int, admin: str = "admin", emergency_admin: str = "emergency_admin"
    ) -> None:
        self.now = _int(start_timestamp, "start_timestamp", 0, (1 << 40) - 1)
        self.oracle = Oracle()
        self.journal = Journal()
        self.wallets: dict[str, dict[str, int]] = {}
        self.decimals: dict[str, int] = {}
        self.core = CorePool(self)
        self.mini_pools: list[MiniPool] = []
        self.users: dict[str, None] = {}
        self.admin = admin
        self.emergency_admin = emergency_admin
        self._depth = 0
        #: Running hashes of the large maps, made by the first state_hash() (see there).
        self._digest: StateDigest | None = None

    # ---- pickling (node snapshots, the keeper's working copy) -----------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the running state digest: map identities do not survive pickling, so
        a copy builds its own on its first :meth:`state_hash` (and pays no observer until then)."""
        return {name: getattr(self, name) for name in self.__slots__ if name != "_digest"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._digest = None

    # ---- atomicity -----------------------------------------------------------------------------

    def _begin(self) -> int:
        """Open a (possibly nested) transaction level; the journal mark to roll back to."""
        self._depth += 1
        return self.journal.mark()

    def _end(self, mark: int, failed: bool) -> None:
        """Close the level opened at ``mark``: undo it if it failed, commit if it was outermost."""
        self._depth -= 1
        if failed:
            self.journal.rollback(mark)
        elif self._depth == 0:
            self.journal.commit()

    def atomic(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` so that a refusal anywhere inside leaves the state untouched."""
        mark = self._begin()
        try:
            result = fn(*args)
        except BaseException:
            self._end(mark, True)
            raise
        self._end(mark, False)
        return result

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several operations into one all-or-nothing unit (``with p.transaction(): ...``)."""
        mark = self._begin()
        try:
            yield
        except BaseException:
            self._end(mark, True)
            raise
        self._end(mark, False)

    def simulate(
        self,
        steps: Iterable[Step],
        inspect: Callable[[Protocol, str], V] | None = None,
        accounts: Iterable[str] = (),
        refusals: tuple[type[BaseException], ...] = (ProtocolError,),
        at: int | None = None,
    ) -> DryRun[V]:
        """Run ``steps`` on the current state and report what they would do, then undo them.

        Each step (``step(protocol) -> events``) runs atomically, as a transaction of a block
        would: a refusal (an exception in ``refusals``) is recorded with nothing changed and
        the next step runs on. Afterwards every account the steps wrote to (wallets, bitmaps,
        aToken and debt balances), plus ``accounts``, is inspected (``inspect``; by default
        :func:`~astera.core.dry_run.account_after`), and everything is rolled back. ``at``
        runs them at that block timestamp (not before :attr:`now`). It costs what the steps
        touch: nothing is copied.
        """
        return dry_run.run(self, steps, inspect, accounts, refusals, at)

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

    def _user(self, name: str) -> str:
        if not isinstance(name, str) or name not in self.users:
            raise InputError("input:unknown_user", repr(name))
        return name

    def _asset(self, asset: str) -> str:
        if not isinstance(asset, str) or asset not in self.wallets:
            raise InputError("input:unknown_asset", repr(asset))
        return asset

    def pool(self, ref: PoolRef) -> Pool:
        if ref == "core":
            return self.core
        if type(ref) is int and 0 <= ref < len(self.mini_pools):
            return self.mini_pools[ref]
        raise InputError("input:unknown_pool", repr(ref))

    def mini_pool(self, mp_id: int) -> MiniPool:
        pool = self.pool(mp_id)
        assert isinstance(pool, MiniPool)
        return pool

    def _reserve(self, pool: Pool, asset: object, reserve_type: bool = True) -> Reserve:
        key = (asset, reserve_type) if pool is self.core else asset
        return pool.reserve(key)

    # ---- clock and oracle -----------------------------------------------------------------------

    def advance(self, seconds: int) -> None:
        """Move the block timestamp forward (undone with the enclosing transaction)."""
        self.set_time(self.now + _int(seconds, "seconds", 0, (1 << 40) - 1))

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp; time never goes backwards."""
        if _int(timestamp, "timestamp", 0, (1 << 40) - 1) < self.now:
            raise InputError("input:time", f"{timestamp} < {self.now}")
        self.atomic(self.journal.setattr, self, "now", timestamp)

    def set_price(self, asset: str, price: int, age: int | None = None) -> None:
        """The oracle role's price update (USD, 8 decimals): a feed answer, an ``int256``.

        A feed may answer 0 or less; pricing the asset then falls back (or refuses, ``78``).
        By default the answer is stamped with this block's time and ages from there; with
        ``age`` the feed reports it as ``age`` seconds old at every read instead (a constant
        lag, as the scenario format's mock feeds do, vectors FORMAT §3.2).
        """
        self._asset(asset)
        _int(price, "price", -(1 << 255), (1 << 255) - 1)
        if age is not None:
            _int(age, "age")
        self.atomic(self._set_price, asset, price, age)

    def _set_price(self, asset: str, price: int, age: int | None = None) -> None:
        j = self.journal
        j.set(self.oracle.answers, asset, price)
        j.set(self.oracle.updated_at, asset, self.now)
        if age is not None:
            j.set(self.oracle.ages, asset, age)
        elif asset in self.oracle.ages:
            j.delete(self.oracle.ages, asset)

    def price(self, asset: str) -> int:
        return self.oracle.price(self._asset(asset), self.now)

    def set_price_timeout(self, caller: str, asset: str, timeout: int) -> None:
        """Seconds after which the asset's feed is stale (0 = never); stale falls back."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        self.atomic(self.journal.set, self.oracle.timeouts, self._asset(asset), _int(timeout, "timeout"))

    def set_fallback_price(self, caller: str, asset: str, price: int) -> None:
        """The fallback oracle's answer, used when the feed is stale or invalid. The first one
        registers the fallback oracle, which then answers every asset (0 without a price)."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        price = _int(price, "price", 1, (1 << 255) - 1)
        self.atomic(self.journal.set, self.oracle.fallback, self._asset(asset), price)

    # ---- deployment and admin (§4.11, §7.1) ---------------------------------------------------------

    def add_asset(self, symbol: str, decimals: int, price: int, timeout: int = 0) -> None:
        """List a token: its decimals and first oracle price."""
        if not isinstance(symbol, str) or not symbol or symbol in self.wallets:
            raise InputError("input:duplicate", repr(symbol))
        _int(decimals, "decimals", 0, 255)
        _int(timeout, "timeout")
        _int(price, "price", 1, (1 << 255) - 1)
        self.atomic(self._add_asset, symbol, decimals, price, timeout)

    def _add_asset(self, symbol: str, decimals: int, price: int, timeout: int) -> None:
        j = self.journal
        j.set(self.wallets, symbol, {})
        j.set(self.decimals, symbol, decimals)
        j.set(self.oracle.timeouts, symbol, timeout)
        self._set_price(symbol, price)

    def _require(self, caller: str, role_holder: str, code: str) -> None:
        if caller != role_holder:
            raise ProtocolError(code, f"{caller!r} lacks the role")

    def _pool_admin(self, pool: Pool) -> str:
        return pool.admin if isinstance(pool, MiniPool) else self.admin

    def init_core_reserve(
        self, caller: str, asset: str, strategy: RateStrategy, reserve_type: bool = True
    ) -> Reserve:
        """Add a Core reserve keyed by (asset, reserve type); starts with borrowing off, LTV 0."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        self._asset(asset)
        _bool(reserve_type, "reserve_type")
        key = (asset, reserve_type)
        if key in self.core.by_key:
            raise ProtocolError(E.RESERVE_ALREADY_ADDED)
        if len(self.core.reserves) >= MAX_RESERVES:
            raise ProtocolError(E.NO_MORE_RESERVES)
        r = Reserve(
            key,
            asset,
            len(self.core.reserves),
            self.decimals[asset],
            strategy.fresh(self.now),
            CORE_TREASURY,
            None,
            reserve_type,
        )
        self.atomic(self._list_reserve, self.core, key, r)
        return r

    def _list_reserve(self, pool: Pool, key: object, r: Reserve) -> None:
        self.journal.append(pool.reserves, r)
        self.journal.set(pool.by_key, key, r)

    def create_mini_pool(self, caller: str, pool_admin: str) -> MiniPool:
        """Deploy a Mini-Pool with its own admin (the main admin only)."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        mp = MiniPool(self, len(self.mini_pools), pool_admin)
        self.atomic(self._add_mini_pool, mp)
        return mp

    def _add_mini_pool(self, mp: MiniPool) -> None:
        self.journal.append(self.mini_pools, mp)
        self.journal.set(self.core.mini_pools, mp.address, mp)

    def init_mini_reserve(
        self, caller: str, mp_id: int, name: str, strategy: RateStrategy, tranche_of: str | None = None
    ) -> Reserve:
        """List a unique asset (``name`` is its symbol) or a tranche of a Core (asset, true) reserve."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        mp = self.mini_pool(mp_id)
        if name in mp.by_key:
            raise ProtocolError(E.RESERVE_ALREADY_ADDED)
        if len(mp.reserves) >= MAX_RESERVES:
            raise ProtocolError(E.NO_MORE_RESERVES)
        if tranche_of is None:
            decimals = self.decimals[self._asset(name)]
            core_r = None
            a_id = A_TOKEN_ID_BASE + UNIQUE_ID_OFFSET + mp.unique_count
            d_id = DEBT_TOKEN_ID_BASE + UNIQUE_ID_OFFSET + mp.unique_count
        else:
            if strategy.model == "fixed":
                raise ProtocolError(E.TRANCHE_FIXED_RATE)
            core_r = self.core.reserve((self._asset(tranche_of), True))
            if any(r.tranche_of is core_r for r in mp.reserves):
                raise ProtocolError(E.RESERVE_ALREADY_ADDED)
            decimals = core_r.decimals
            a_id, d_id = A_TOKEN_ID_BASE + core_r.id, DEBT_TOKEN_ID_BASE + core_r.id
        r = Reserve(
            name,
            name,
            len(mp.reserves),
            decimals,
            strategy.fresh(self.now),
            MINI_POOL_TREASURY,
            mp.owner_treasury,
            True,
            0,
        )
        r.tranche_of = core_r
        r.a_token_id, r.debt_token_id = a_id, d_id
        with self.transaction():
            if core_r is None:
                self.journal.setattr(mp, "unique_count", mp.unique_count + 1)
            self._list_reserve(mp, name, r)
        return r

    def configure_reserve_as_collateral(
        self,
        caller: str,
        pool: PoolRef,
        asset: str,
        ltv: int,
        liquidation_threshold: int,
        liquidation_bonus: int,
        reserve_type: bool = True,
    ) -> None:
        """Set LTV, liquidation threshold and bonus, with the configurator's rules."""
        p = self.pool(pool)
        self._require(caller, self._pool_admin(p), E.CALLER_NOT_POOL_ADMIN)
        r = self._reserve(p, asset, reserve_type)
        ltv = _int(ltv, "ltv", 0, MAX_BPS_FIELD)
        lt = _int(liquidation_threshold, "liquidation_threshold", 0, MAX_BPS_FIELD)
        bonus = _int(liquidation_bonus, "liquidation_bonus", 0, MAX_BPS_FIELD)
        if ltv > lt:
            raise ProtocolError(E.INVALID_CONFIGURATION)
        if lt != 0:
            if bonus <= PERCENTAGE_FACTOR or percent_mul(lt, bonus) > PERCENTAGE_FACTOR:
                raise ProtocolError(E.INVALID_CONFIGURATION)
        else:
            if bonus != 0:
                raise ProtocolError(E.INVALID_CONFIGURATION)
            p.check_no_liquidity(r)
        changes = (("ltv", ltv), ("liquidation_threshold", lt), ("liquidation_bonus", bonus))
        self.atomic(self._configure, r, *changes)

    def _configure(self, obj: object, *changes: tuple[str, object]) -> None:
        """Replace configuration values of a reserve or pool through the journal."""
        for name, value in changes:
            self.journal.setattr(obj, name, value)

    def set_reserve_flags(
        self,
        caller: str,
        pool: PoolRef,
        asset: str,
        *,
        borrowing_enabled: bool | None = None,
        active: bool | None = None,
        frozen: bool | None = None,
        flash_loan_enabled: bool | None = None,
        reserve_type: bool = True,
    ) -> None:
        """Enable/disable borrowing and flash loans, (de)activate, (un)freeze a reserve."""
        p = self.pool(pool)
        self._require(caller, self._pool_admin(p), E.CALLER_NOT_POOL_ADMIN)
        r = self._reserve(p, asset, reserve_type)
        if active is False:
            p.check_no_liquidity(r)
        changes = [
            (name, _bool(value, name))
            for name, value in (
                ("borrowing_enabled", borrowing_enabled),
                ("active", active),
                ("frozen", frozen),
                ("flash_loan_enabled", flash_loan_enabled),
            )
            if value is not None
        ]
        self.atomic(self._configure, r, *changes)

    def _sync_then(self, p: Pool, r: Reserve, change: Callable[[], None]) -> None:
        """Accrue with the old parameters, change them, re-rate with the new ones."""
        p.update_state(r)
        change()
        p.update_rates(r, 0, 0)

    def set_reserve_factor(
        self,
        caller: str,
        pool: PoolRef,
        asset: str,
        reserve_factor: int,
        *,
        owner: bool = False,
        reserve_type: bool = True,
    ) -> None:
        """Astera reserve factor (main admin), or a Mini-Pool owner's factor (its pool admin)."""
        p = self.pool(pool)
        if owner and not isinstance(p, MiniPool):
            raise InputError("input:unsupported", "owner reserve factor is Mini-Pool only")
        self._require(caller, p.admin if owner else self.admin, E.CALLER_NOT_POOL_ADMIN)  # type: ignore[attr-defined]
        r = self._reserve(p, asset, reserve_type)
        rf = _int(reserve_factor, "reserve_factor", 0, MAX_BPS_FIELD)
        if rf > MAX_RESERVE_FACTOR:
            raise ProtocolError(E.INVALID_RESERVE_FACTOR)
        attr = "owner_reserve_factor" if owner else "reserve_factor"
        self.atomic(self._sync_then, p, r, lambda: self.journal.setattr(r, attr, rf))

    def set_rate_strategy(
        self, caller: str, pool: PoolRef, asset: str, strategy: RateStrategy, reserve_type: bool = True
    ) -> None:
        p = self.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = self._reserve(p, asset, reserve_type)
        if r.tranche_of is not None and strategy.model == "fixed":
            raise ProtocolError(E.TRANCHE_FIXED_RATE)
        self.atomic(
            self._sync_then, p, r, lambda: self.journal.setattr(r, "strategy", strategy.fresh(self.now))
        )

    def set_deposit_cap(
        self, caller: str, pool: PoolRef, asset: str, cap: int, reserve_type: bool = True
    ) -> None:
        """Deposit cap in whole tokens (0 = none)."""
        p = self.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = self._reserve(p, asset, reserve_type)
        if _int(cap, "cap") > MAX_DEPOSIT_CAP:
            raise ProtocolError(E.INVALID_DEPOSIT_CAP)
        self.atomic(self._configure, r, ("deposit_cap", cap))

    def set_flash_premium(self, caller: str, pool: PoolRef, premium: int) -> None:
        p = self.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        if _int(premium, "premium") > PERCENTAGE_FACTOR:
            raise ProtocolError(E.FLASHLOAN_PREMIUM_INVALID)
        self.atomic(self._configure, p, ("flash_premium", premium))

    def set_pause(self, caller: str, pool: PoolRef, paused: bool) -> None:
        """Pause or unpause a pool (emergency admin)."""
        p = self.pool(pool)
        self._require(caller, self.emergency_admin, E.CALLER_NOT_EMERGENCY_ADMIN)
        if _bool(paused, "paused") == p.paused:
            raise ProtocolError("0")
        self.atomic(self._configure, p, ("paused", paused))

    def set_pool_admin(self, caller: str, mp_id: int, new_admin: str) -> None:
        """Hand a Mini-Pool over to a new pool admin (its current admin only)."""
        mp = self.mini_pool(mp_id)
        self._require(caller, mp.admin, E.CALLER_NOT_POOL_ADMIN)
        if not isinstance(new_admin, str) or not new_admin:
            raise InputError("input:type", "new_admin must be a non-empty string")
        self.atomic(self._configure, mp, ("admin", new_admin))

    def set_max_reserves_with_flow_borrowing(self, caller: str, count: int) -> None:
        """Raise or lower the global cap on (asset, Mini-Pool) pairs with a credit line."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        count = _int(count, "count", 0, 1 << 16)
        self.atomic(self._configure, self.core, ("max_reserves_with_flow_borrowing", count))

    def set_min_debt_threshold(self, caller: str, mp_id: int, threshold: int) -> None:
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        mp = self.mini_pool(mp_id)
        self.atomic(self._configure, mp, ("min_debt_threshold", _int(threshold, "threshold")))

    def set_flow_limit(self, caller: str, asset: str, mp_id: int, limit: int) -> list[Event]:
        """The Core-Pool's credit line to a Mini-Pool for ``asset`` (must be >= current flow)."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        self.core.reserve((self._asset(asset), True))
        mp = self.mini_pool(mp_id)
        return self.atomic(self.core._set_flow_limit, asset, mp, _int(limit, "limit"))

    # ---- liquidation policies (issue 15, astera.core.liquidation_policy) ----------------------------

    def set_liquidation_policy(self, caller: str, pool: PoolRef, policy: LiquidationPolicy) -> None:
        """Replace a pool's liquidation rules (its pool admin); the default policy removes them."""
        p = self.pool(pool)
        self._require(caller, self._pool_admin(p), E.CALLER_NOT_POOL_ADMIN)
        if not isinstance(policy, LiquidationPolicy):
            raise InputError("input:type", "policy must be a LiquidationPolicy")
        self.atomic(self._configure, p, ("liquidation_policy", None if policy == NO_POLICY else policy))

    def set_liquidation_protocol_fee(
        self, caller: str, pool: PoolRef, asset: str, fee: int, reserve_type: bool = True
    ) -> None:
        """The treasury's share of a reserve's liquidation bonus, in bps (main admin)."""
        p = self.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = self._reserve(p, asset, reserve_type)
        fee = check_fee(_int(fee, "fee", 0, MAX_BPS_FIELD))
        self.atomic(self._configure, r, ("liquidation_protocol_fee", fee))

    def cover_deficit(
        self, caller: str, pool: PoolRef, asset: str, amount: int, reserve_type: bool = True
    ) -> list[Event]:
        """Cover up to ``amount`` of a reserve's deficit by burning its treasury's aTokens (main
        admin); ``2**256-1`` covers all of it. Refused without a deficit (``policy:no_deficit``)."""
        p = self.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = self._reserve(p, asset, reserve_type)
        return self.atomic(cover_deficit, p, r, _int(amount, "amount"))

    def liquidation_policy(self, pool: PoolRef = "core") -> LiquidationPolicy:
        """A pool's liquidation rules (the contracts' when it set none)."""
        return self.pool(pool).liquidation_policy or NO_POLICY

    def deficit(self, asset: str, pool: PoolRef = "core", reserve_type: bool = True) -> int:
        """Debt written off in a reserve and not yet covered (base units of the reserve asset)."""
        return self._reserve(self.pool(pool), asset, reserve_type).deficit

    # ---- faucet ------------------------------------------------------------------------------------

    def mint(self, user: str, asset: str, amount: int) -> None:
        """Credit tokens to a wallet (test networks, scenarios)."""
        self.atomic(self.wallet_credit, self._asset(asset), self._user(user), _int(amount, "amount"))

    # ---- user actions --------------------------------------------------------------------------------

    def _open(
        self, pool: PoolRef, user: str, asset: str, reserve_type: bool, paused_ok: bool = False
    ) -> tuple[Pool, Reserve]:
        """The pool and reserve an action names. A paused pool refuses (``59``) unless
        ``paused_ok``: token transfers check the pause later, after the token's balance check."""
        p = self.pool(pool)
        self._user(user)
        r = self._reserve(p, asset, reserve_type)
        if not paused_ok:
            p.check_not_paused()
        return p, r

    def deposit(
        self,
        user: str,
        asset: str,
        amount: int,
        on_behalf_of: str | None = None,
        pool: PoolRef = "core",
        reserve_type: bool = True,
    ) -> list[Event]:
        """Supply ``amount``; the aTokens go to ``on_behalf_of`` (default: the user)."""
        p, r = self._open(pool, user, asset, reserve_type)
        obo = self._user(on_behalf_of) if on_behalf_of is not None else user
        return self.atomic(p._deposit, user, r, _int(amount, "amount"), obo)

    def withdraw(
        self,
        user: str,
        asset: str,
        amount: int,
        to: str | None = None,
        pool: PoolRef = "core",
        unwrap: bool = False,
        reserve_type: bool = True,
    ) -> list[Event]:
        """Redeem aTokens (``2**256-1`` = all). ``unwrap`` pays a tranche out in the Core underlying."""
        p, r = self._open(pool, user, asset, reserve_type)
        dest = self._user(to) if to is not None else user
        return self.atomic(p._withdraw, user, r, _int(amount, "amount"), dest, _bool(unwrap, "unwrap"))

    def borrow(
        self,
        user: str,
        asset: str,
        amount: int,
        on_behalf_of: str | None = None,
        pool: PoolRef = "core",
        unwrap: bool = False,
        reserve_type: bool = True,
    ) -> list[Event]:
        """Variable-rate borrow, against ``on_behalf_of``'s collateral if they delegated credit."""
        p, r = self._open(pool, user, asset, reserve_type)
        obo = self._user(on_behalf_of) if on_behalf_of is not None else user
        return self.atomic(p._borrow, user, r, _int(amount, "amount"), obo, _bool(unwrap, "unwrap"))

    def repay(
        self,
        user: str,
        asset: str,
        amount: int,
        on_behalf_of: str | None = None,
        pool: PoolRef = "core",
        reserve_type: bool = True,
    ) -> list[Event]:
        """Pay back debt of ``on_behalf_of`` (``2**256-1`` = all of one's own Core debt).

        In the Core-Pool anyone may also repay a Mini-Pool's flow debt, naming the Mini-Pool.
        """
        p, r = self._open(pool, user, asset, reserve_type)
        if on_behalf_of is None:
            obo = user
        elif p is self.core and on_behalf_of in self.core.mini_pools:
            obo = on_behalf_of
        else:
            obo = self._user(on_behalf_of)
        return self.atomic(p._repay, user, r, _int(amount, "amount"), obo)

    def repay_with_a_tokens(
        self, user: str, asset: str, amount: int, reserve_type: bool = True
    ) -> list[Event]:
        """Core only: repay one's own debt by burning aTokens of the same reserve."""
        p, r = self._open("core", user, asset, reserve_type)
        return self.atomic(self.core._repay_with_a_tokens, user, r, _int(amount, "amount"))

    def set_collateral(
        self, user: str, asset: str, enabled: bool, pool: PoolRef = "core", reserve_type: bool = True
    ) -> list[Event]:
        p, r = self._open(pool, user, asset, reserve_type)
        return self.atomic(p._set_collateral, user, r, _bool(enabled, "enabled"))

    def transfer(
        self, user: str, to: str, asset: str, amount: int, pool: PoolRef = "core", reserve_type: bool = True
    ) -> list[Event]:
        """Transfer aTokens worth ``amount`` (underlying units; shares for a tranche)."""
        p, r = self._open(pool, user, asset, reserve_type, paused_ok=True)
        return self.atomic(p._transfer, user, r, self._user(to), _int(amount, "amount"))

    def transfer_shares(
        self, user: str, to: str, asset: str, shares: int, reserve_type: bool = True
    ) -> list[Event]:
        """Transfer Core aTokens through the non-rebasing wrapper, in shares (scaled units, §10.2)."""
        p, r = self._open("core", user, asset, reserve_type, paused_ok=True)
        self.atomic(self.core.transfer_shares, r, user, self._user(to), _int(shares, "shares"))
        return [Event("Transfer", "core", reserve=asset, sender=user, to=to, shares=shares)]

    def wrapper_balance(self, user: str, asset: str, reserve_type: bool = True) -> int:
        """``ATokenNonRebasing.balanceOf``: the user's Core aToken shares."""
        return self.core.reserve((asset, reserve_type)).a_scaled.get(user, 0)

    def approve_delegation(
        self,
        user: str,
        delegatee: str,
        asset: str,
        amount: int,
        pool: PoolRef = "core",
        reserve_type: bool = True,
    ) -> None:
        """Let ``delegatee`` borrow up to ``amount`` against ``user``'s collateral."""
        p = self.pool(pool)
        r = self._reserve(p, asset, reserve_type)
        key = (self._user(user), self._user(delegatee))
        self.atomic(self.journal.set, r.borrow_allowance, key, _int(amount, "amount"))

    def liquidate(
        self,
        liquidator: str,
        target: str,
        collateral_asset: str,
        debt_asset: str,
        debt_to_cover: int,
        receive_a_token: bool = False,
        pool: PoolRef = "core",
        unwrap: bool = False,
        collateral_type: bool = True,
        debt_type: bool = True,
    ) -> list[Event]:
        """Repay up to 50% of an unhealthy position's debt (or what the pool's liquidation
        policy allows) and seize collateral plus its bonus."""
        p, coll = self._open(pool, liquidator, collateral_asset, collateral_type)
        debt_r = self._reserve(p, debt_asset, debt_type)
        if target not in self.core.mini_pools:  # a Mini-Pool may be named, to be refused with "11"
            self._user(target)
        return self.atomic(
            p._liquidate,
            liquidator,
            coll,
            debt_r,
            target,
            _int(debt_to_cover, "debt_to_cover"),
            _bool(receive_a_token, "receive_a_token"),
            _bool(unwrap, "unwrap"),
        )

    def flash_loan(
        self,
        user: str,
        receiver: str,
        callback: FlashReceiver,
        assets: Sequence[str],
        amounts: Sequence[int],
        modes: Sequence[int],
        on_behalf_of: str | None = None,
        pool: PoolRef = "core",
    ) -> list[Event]:
        """Lend ``amounts`` to ``receiver`` for the span of ``callback`` (§4.9)."""
        p = self.pool(pool)
        self._user(user)
        self._user(receiver)
        p.check_not_paused()
        reserves = [self._reserve(p, a) for a in assets]
        amounts = [_int(a, "amount") for a in amounts]
        modes = [_int(m, "mode") for m in modes]
        obo = self._user(on_behalf_of) if on_behalf_of is not None else user
        return self.atomic(p._flash_loan, user, receiver, callback, reserves, amounts, modes, obo)

    # ---- views ----------------------------------------------------------------------------------------

    def account(self, user: str, pool: PoolRef = "core") -> AccountData:
        """``getUserAccountData`` of a user in one pool."""
        return account_data(self.pool(pool), user)

    def health_factor(self, user: str, pool: PoolRef = "core") -> int:
        return self.account(user, pool).health_factor

    def supplied(self, user: str, asset: str, pool: PoolRef = "core", reserve_type: bool = True) -> int:
        """The user's aToken balance (interest included) in base units of the reserve asset."""
        return self._reserve(self.pool(pool), asset, reserve_type).a_balance(user, self.now)

    def debt(self, user: str, asset: str, pool: PoolRef = "core", reserve_type: bool = True) -> int:
        """The user's variable debt (interest included) in base units of the reserve asset."""
        return self._reserve(self.pool(pool), asset, reserve_type).debt_balance(user, self.now)

    def canonical_state(self) -> dict[str, Any]:
        """Everything that defines the state, as plain JSON-ready data in a fixed order.

        Zero balances and empty sets are left out, so a state reached by different paths
        (an entry written back to zero, or never written) has one canonical form. The maps
        that grow with the number of users are under ``"maps"``, each by its label.
        """
        return self._canonical({label: _entries(m) for label, m in self.large_maps()})

    def state_hash(self, incremental: bool = True) -> str:
        """SHA-256 of the canonical state with each large map replaced by its multiset hash
        (:mod:`astera.core.state_digest`): equal states hash equal on every machine.

        The multiset hashes are kept current from the journal, so a hash costs O(entries
        written since the last one) plus O(reserves). ``incremental=False`` recomputes them
        from scratch (to check the running ones). Inside a transaction the hash is always
        computed from scratch: what is pending may still be undone.
        """
        maps = self.large_maps()
        if not incremental or self._depth or self.journal.log:
            digests = StateDigest().digests(maps)
        else:
            if self._digest is None:
                self._digest = StateDigest()
                self.journal.observer = self._digest.observe
            digests = self._digest.digests(maps)
        blob = json.dumps(self._canonical(digests), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def large_maps(self) -> list[tuple[str, dict[Any, Any]]]:
        """The maps that grow with the number of users (users, wallets, bitmaps, scaled
        balances, allowances), each under a stable label."""
        maps: list[tuple[str, dict[Any, Any]]] = [("users", self.users)]
        maps += [(f"wallet/{asset}", w) for asset, w in sorted(self.wallets.items())]
        for name, pool in (("core", self.core), *((f"mini/{mp.id}", mp) for mp in self.mini_pools)):
            maps.append((f"{name}/user_config", pool.user_config))
            for r in pool.reserves:
                maps.append((f"{name}/{r.key!r}/a_scaled", r.a_scaled))
                maps.append((f"{name}/{r.key!r}/d_scaled", r.d_scaled))
                maps.append((f"{name}/{r.key!r}/borrow_allowance", r.borrow_allowance))
        return maps

    def _canonical(self, maps: dict[str, Any]) -> dict[str, Any]:
        """The state outside the large maps, with ``maps`` (each large map's entries or hash) added."""

        def reserve_state(r: Reserve) -> dict[str, Any]:
            d: dict[str, Any] = {s: getattr(r, s) for s in Reserve.__slots__ if s not in _RESERVE_NOT_SCALAR}
            d["key"] = list(r.key) if isinstance(r.key, tuple) else r.key
            d["tranche_of"] = r.tranche_of.asset if r.tranche_of is not None else None
            d["strategy"] = {**r.strategy.params(), "state": r.strategy.snapshot()}
            d.update((f, getattr(r, f)) for f in _POLICY_FIELDS if getattr(r, f))
            return d

        def pool_state(p: Pool) -> dict[str, Any]:
            return {
                "name": p.name,
                "paused": p.paused,
                "flash_premium": p.flash_premium,
                "reserves": [reserve_state(r) for r in p.reserves],
                **(
                    {"liquidation_policy": p.liquidation_policy.as_dict()}
                    if p.liquidation_policy is not None
                    else {}
                ),
            }

        return {
            "now": self.now,
            "oracle": {
                "answers": sorted(self.oracle.answers.items()),
                "updated_at": sorted(self.oracle.updated_at.items()),
                "timeouts": sorted(self.oracle.timeouts.items()),
                "fallback": sorted(self.oracle.fallback.items()),
                # Only when some feed reports a constant age, so states without one hash as before.
                **({"ages": sorted(self.oracle.ages.items())} if self.oracle.ages else {}),
            },
            "decimals": sorted(self.decimals.items()),
            "roles": [self.admin, self.emergency_admin],
            "core": {
                **pool_state(self.core),
                "flow_borrowers": sorted((a, sorted(m)) for a, m in self.core.flow_borrowers.items() if m),
                "flow_limits": sorted([list(k), v] for k, v in self.core.flow_limits.items()),
                "max_reserves_with_flow_borrowing": self.core.max_reserves_with_flow_borrowing,
            },
            "mini_pools": [
                {**pool_state(mp), "admin": mp.admin, "min_debt_threshold": mp.min_debt_threshold}
                for mp in self.mini_pools
            ],
            "maps": maps,
        }
