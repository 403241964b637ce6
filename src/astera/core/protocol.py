"""The whole protocol as one deterministic state machine: the entry point of the library.

:class:`Protocol` is a thin facade over the parts that do the work: a
:class:`~astera.core.world.World` (clock, journal, oracle, token wallets, account names)
shared by the pools, the :class:`~astera.core.core_pool.CorePool` and its Mini-Pools, a
:class:`~astera.core.configurator.Configurator` for every admin change, the read-only
:mod:`~astera.core.views`, and a :class:`~astera.core.hashing.StateHasher`. Every public
method checks its input (types, ranges, known names, roles), runs atomically (a refusal
rolls back everything, including steps taken inside the Core on behalf of a Mini-Pool),
and returns the events the operation emitted.

Example::

    from astera.core import Protocol, DefaultRateStrategy, RAY
    p = Protocol(start_timestamp=1_700_000_000)
    p.add_asset("USDC", decimals=6, price=100_000_000)
    ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import update_wrapper
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from . import dry_run, views
from .account import AccountData, account_data
from .configurator import Configurator
from .core_pool import CorePool, PoolRef
from .dry_run import DryRun, Step, V
from .errors import ProtocolError
from .events import Event
from .hashing import StateHasher
from .inputs import checked_bool, checked_int
from .journal import Journal
from .liquidation_policy import LiquidationPolicy
from .minipool import MiniPool
from .oracle import Oracle
from .pool import FlashReceiver, Pool
from .reserve import Reserve
from .world import World

__all__ = ["PoolRef", "Protocol"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


class _Delegated(property, Generic[S, P, R]):
    """A :class:`Protocol` method that is ``method`` of one of its parts (the attribute
    ``part``): same name, signature and documentation, declared once where the work is done.

    Read on a protocol it is the part's bound method. It is a :class:`property` whose getter
    is an :func:`~operator.attrgetter`, so the read runs in C: no Python frame, neither a
    wrapper's nor a ``__get__``'s (a Python ``__get__`` cost ~0.2 us per call, ~33,000 calls
    in a 13,501-action replay)."""

    def __init__(self, part: str, method: Callable[Concatenate[S, P], R]) -> None:
        super().__init__(attrgetter(f"{part}.{method.__name__}"))
        self.part = attrgetter(part)
        self.method = method
        update_wrapper(self, method)

    if TYPE_CHECKING:  # what the C getter returns, for the type checker only

        @overload
        def __get__(self, obj: None, owner: type | None = None) -> _Delegated[S, P, R]: ...
        @overload
        def __get__(self, obj: Protocol, owner: type | None = None) -> Callable[P, R]: ...
        def __get__(self, obj: Protocol | None, owner: type | None = None) -> Any: ...

    def __call__(self, protocol: Protocol, /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Called on the class (``Protocol.deposit(p, ...)``): the part's method on ``p``'s part."""
        return self.method(self.part(protocol), *args, **kwargs)


def _on(part: str, method: Callable[Concatenate[S, P], R]) -> _Delegated[S, P, R]:
    return _Delegated(part, method)


class Protocol:
    """Astera Lend: a Core-Pool and its Mini-Pools, driven by explicit time and prices."""

    __slots__ = ("world", "core", "configurator", "hasher")

    def __init__(
        self, start_timestamp: int, admin: str = "admin", emergency_admin: str = "emergency_admin"
    ) -> None:
        self.world = World(start_timestamp)
        self.core = CorePool(self.world)
        self.configurator = Configurator(self.world, self.core, admin, emergency_admin)
        self.hasher = StateHasher(self.world, self.configurator, self.core)

    # ---- the parts' state, read through the facade ----------------------------------------------

    @property
    def now(self) -> int:
        """The block timestamp (move it with :meth:`advance` / :meth:`set_time`)."""
        return self.world.now

    @property
    def journal(self) -> Journal:
        return self.world.journal

    @property
    def oracle(self) -> Oracle:
        return self.world.oracle

    @property
    def wallets(self) -> dict[str, dict[str, int]]:
        return self.world.wallets

    @property
    def decimals(self) -> dict[str, int]:
        return self.world.decimals

    @property
    def users(self) -> dict[str, None]:
        return self.world.users

    @property
    def mini_pools(self) -> list[MiniPool]:
        return self.core.mini_pools

    @property
    def admin(self) -> str:
        return self.configurator.admin

    @property
    def emergency_admin(self) -> str:
        return self.configurator.emergency_admin

    # ---- atomicity -----------------------------------------------------------------------------

    atomic = _on("world", World.atomic)
    transaction = _on("world", World.transaction)

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

    # ---- clock, oracle, tokens, names (the world) -----------------------------------------------

    advance = _on("world", World.advance)
    set_time = _on("world", World.set_time)
    set_price = _on("world", World.set_price)
    price = _on("world", World.price)
    wallet = _on("world", World.wallet)
    wallet_debit = _on("world", World.wallet_debit)
    wallet_credit = _on("world", World.wallet_credit)
    wallet_transfer = _on("world", World.wallet_transfer)
    register_user = _on("world", World.register_user)

    # ---- pools (the Core-Pool) -------------------------------------------------------------------

    pool = _on("core", CorePool.pool)
    mini_pool = _on("core", CorePool.mini_pool)

    # ---- deployment and admin (the configurator) -------------------------------------------------

    add_asset = _on("configurator", Configurator.add_asset)
    init_core_reserve = _on("configurator", Configurator.init_core_reserve)
    create_mini_pool = _on("configurator", Configurator.create_mini_pool)
    init_mini_reserve = _on("configurator", Configurator.init_mini_reserve)
    configure_reserve_as_collateral = _on("configurator", Configurator.configure_reserve_as_collateral)
    set_reserve_flags = _on("configurator", Configurator.set_reserve_flags)
    set_reserve_factor = _on("configurator", Configurator.set_reserve_factor)
    set_rate_strategy = _on("configurator", Configurator.set_rate_strategy)
    set_deposit_cap = _on("configurator", Configurator.set_deposit_cap)
    set_flash_premium = _on("configurator", Configurator.set_flash_premium)
    set_pause = _on("configurator", Configurator.set_pause)
    set_pool_admin = _on("configurator", Configurator.set_pool_admin)
    set_max_reserves_with_flow_borrowing = _on(
        "configurator", Configurator.set_max_reserves_with_flow_borrowing
    )
    set_min_debt_threshold = _on("configurator", Configurator.set_min_debt_threshold)
    set_flow_limit = _on("configurator", Configurator.set_flow_limit)
    set_price_timeout = _on("configurator", Configurator.set_price_timeout)
    set_fallback_price = _on("configurator", Configurator.set_fallback_price)
    set_liquidation_policy = _on("configurator", Configurator.set_liquidation_policy)
    set_liquidation_protocol_fee = _on("configurator", Configurator.set_liquidation_protocol_fee)
    cover_deficit = _on("configurator", Configurator.cover_deficit)

    # ---- faucet ------------------------------------------------------------------------------------

    def mint(self, user: str, asset: str, amount: int) -> None:
        """Credit tokens to a wallet (test networks, scenarios)."""
        w = self.world
        w.atomic(w.wallet_credit, w.asset(asset), w.user(user), checked_int(amount, "amount"))

    # ---- user actions --------------------------------------------------------------------------------

    def _open(
        self, pool: PoolRef, user: str, asset: str, reserve_type: bool, paused_ok: bool = False
    ) -> tuple[Pool, Reserve]:
        """The pool and reserve an action names. A paused pool refuses (``59``) unless
        ``paused_ok``: token transfers check the pause later, after the token's balance check."""
        p = self.core.pool(pool)
        self.world.user(user)
        r = p.find(asset, reserve_type)
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
        obo = self.world.user(on_behalf_of) if on_behalf_of is not None else user
        return self.world.atomic(p._deposit, user, r, checked_int(amount, "amount"), obo)

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
        dest = self.world.user(to) if to is not None else user
        return self.world.atomic(
            p._withdraw, user, r, checked_int(amount, "amount"), dest, checked_bool(unwrap, "unwrap")
        )

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
        obo = self.world.user(on_behalf_of) if on_behalf_of is not None else user
        return self.world.atomic(
            p._borrow, user, r, checked_int(amount, "amount"), obo, checked_bool(unwrap, "unwrap")
        )

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
        elif p is self.core and on_behalf_of in self.core.by_address:
            obo = on_behalf_of
        else:
            obo = self.world.user(on_behalf_of)
        return self.world.atomic(p._repay, user, r, checked_int(amount, "amount"), obo)

    def repay_with_a_tokens(
        self, user: str, asset: str, amount: int, reserve_type: bool = True
    ) -> list[Event]:
        """Core only: repay one's own debt by burning aTokens of the same reserve."""
        p, r = self._open("core", user, asset, reserve_type)
        return self.world.atomic(self.core._repay_with_a_tokens, user, r, checked_int(amount, "amount"))

    def set_collateral(
        self, user: str, asset: str, enabled: bool, pool: PoolRef = "core", reserve_type: bool = True
    ) -> list[Event]:
        p, r = self._open(pool, user, asset, reserve_type)
        return self.world.atomic(p._set_collateral, user, r, checked_bool(enabled, "enabled"))

    def transfer(
        self, user: str, to: str, asset: str, amount: int, pool: PoolRef = "core", reserve_type: bool = True
    ) -> list[Event]:
        """Transfer aTokens worth ``amount`` (underlying units; shares for a tranche)."""
        p, r = self._open(pool, user, asset, reserve_type, paused_ok=True)
        return self.world.atomic(p._transfer, user, r, self.world.user(to), checked_int(amount, "amount"))

    def transfer_shares(
        self, user: str, to: str, asset: str, shares: int, reserve_type: bool = True
    ) -> list[Event]:
        """Transfer Core aTokens through the non-rebasing wrapper, in shares (scaled units, §10.2)."""
        p, r = self._open("core", user, asset, reserve_type, paused_ok=True)
        self.world.atomic(
            self.core.transfer_shares, r, user, self.world.user(to), checked_int(shares, "shares")
        )
        return [Event("Transfer", "core", {"reserve": asset, "sender": user, "to": to, "shares": shares})]

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
        p = self.core.pool(pool)
        r = p.find(asset, reserve_type)
        key = (self.world.user(user), self.world.user(delegatee))
        self.world.atomic(self.world.journal.set, r.borrow_allowance, key, checked_int(amount, "amount"))

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
        debt_r = p.find(debt_asset, debt_type)
        if target not in self.core.by_address:  # a Mini-Pool may be named, to be refused with "11"
            self.world.user(target)
        return self.world.atomic(
            p._liquidate,
            liquidator,
            coll,
            debt_r,
            target,
            checked_int(debt_to_cover, "debt_to_cover"),
            checked_bool(receive_a_token, "receive_a_token"),
            checked_bool(unwrap, "unwrap"),
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
        p = self.core.pool(pool)
        self.world.user(user)
        self.world.user(receiver)
        p.check_not_paused()
        reserves = [p.find(a) for a in assets]
        amounts = [checked_int(a, "amount") for a in amounts]
        modes = [checked_int(m, "mode") for m in modes]
        obo = self.world.user(on_behalf_of) if on_behalf_of is not None else user
        return self.world.atomic(p._flash_loan, user, receiver, callback, reserves, amounts, modes, obo)

    # ---- views ----------------------------------------------------------------------------------------

    def account(self, user: str, pool: PoolRef = "core") -> AccountData:
        """``getUserAccountData`` of a user in one pool."""
        return account_data(self.core.pool(pool), user)

    def health_factor(self, user: str, pool: PoolRef = "core") -> int:
        return views.health_factor(self.core.pool(pool), user)

    def supplied(self, user: str, asset: str, pool: PoolRef = "core", reserve_type: bool = True) -> int:
        """The user's aToken balance (interest included) in base units of the reserve asset."""
        return views.supplied(self.core.pool(pool), user, asset, reserve_type)

    def debt(self, user: str, asset: str, pool: PoolRef = "core", reserve_type: bool = True) -> int:
        """The user's variable debt (interest included) in base units of the reserve asset."""
        return views.debt(self.core.pool(pool), user, asset, reserve_type)

    def wrapper_balance(self, user: str, asset: str, reserve_type: bool = True) -> int:
        """``ATokenNonRebasing.balanceOf``: the user's Core aToken shares."""
        return views.wrapper_balance(self.core, user, asset, reserve_type)

    def liquidation_policy(self, pool: PoolRef = "core") -> LiquidationPolicy:
        """A pool's liquidation rules (the contracts' when it set none)."""
        return views.liquidation_policy(self.core.pool(pool))

    def deficit(self, asset: str, pool: PoolRef = "core", reserve_type: bool = True) -> int:
        """Debt written off in a reserve and not yet covered (base units of the reserve asset)."""
        return views.deficit(self.core.pool(pool), asset, reserve_type)

    # ---- hashing ----------------------------------------------------------------------------------------

    canonical_state = _on("hasher", StateHasher.canonical_state)
    state_hash = _on("hasher", StateHasher.state_hash)
    large_maps = _on("hasher", StateHasher.large_maps)
