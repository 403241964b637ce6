"""The configurator (spec §4.11, §7.1): listing assets, reserves and Mini-Pools, and every
admin change to them, with the roles that may make it and the rules a value must meet.

As Aave's ``PoolConfigurator``, it is the one place configuration is written. Each method
checks its caller's role and its input, then replaces configuration values whole through
the world's journal, atomically: an admin change inside a transaction that fails is undone
with it. Parameters that feed the interest accrual (reserve factor, rate strategy) are
changed between an accrual with the old ones and a re-rating with the new ones.
"""

from __future__ import annotations

from collections.abc import Callable

from . import errors as E
from .core_pool import CORE_TREASURY, CorePool, PoolRef
from .errors import InputError, ProtocolError
from .events import Event
from .inputs import checked_bool, checked_int
from .liquidation_policy import NO_POLICY, LiquidationPolicy, check_fee, cover_deficit
from .minipool import A_TOKEN_ID_BASE, DEBT_TOKEN_ID_BASE, MINI_POOL_TREASURY, UNIQUE_ID_OFFSET, MiniPool
from .pool import MAX_RESERVES, Pool
from .rates import RateStrategy
from .reserve import Reserve
from .wadray import PERCENTAGE_FACTOR, percent_mul
from .world import World

MAX_DEPOSIT_CAP = (1 << 72) - 1
MAX_RESERVE_FACTOR = 4000
MAX_BPS_FIELD = 65535


class Configurator:
    """Admin changes to the pools, checked and journaled; holds the two global roles."""

    __slots__ = ("world", "core", "admin", "emergency_admin")

    def __init__(self, world: World, core: CorePool, admin: str, emergency_admin: str) -> None:
        self.world = world
        self.core = core
        #: The main admin: lists everything, sets the Core's and the global parameters.
        self.admin = admin
        #: May pause and unpause any pool.
        self.emergency_admin = emergency_admin

    def _require(self, caller: str, role_holder: str, code: str) -> None:
        if caller != role_holder:
            raise ProtocolError(code, f"{caller!r} lacks the role")

    def _pool_admin(self, pool: Pool) -> str:
        return pool.admin if isinstance(pool, MiniPool) else self.admin

    def _configure(self, obj: object, *changes: tuple[str, object]) -> None:
        """Replace configuration values of a reserve or pool through the journal."""
        for name, value in changes:
            self.world.journal.setattr(obj, name, value)

    # ---- listing --------------------------------------------------------------------------------

    def add_asset(self, symbol: str, decimals: int, price: int, timeout: int = 0) -> None:
        """List a token: its decimals and first oracle price."""
        if not isinstance(symbol, str) or not symbol or symbol in self.world.wallets:
            raise InputError("input:duplicate", repr(symbol))
        checked_int(decimals, "decimals", 0, 255)
        checked_int(timeout, "timeout")
        checked_int(price, "price", 1, (1 << 255) - 1)
        self.world.atomic(self._add_asset, symbol, decimals, price, timeout)

    def _add_asset(self, symbol: str, decimals: int, price: int, timeout: int) -> None:
        w = self.world
        w.journal.set(w.wallets, symbol, {})
        w.journal.set(w.decimals, symbol, decimals)
        w.journal.set(w.oracle.timeouts, symbol, timeout)
        w.write_price(symbol, price)

    def init_core_reserve(
        self, caller: str, asset: str, strategy: RateStrategy, reserve_type: bool = True
    ) -> Reserve:
        """Add a Core reserve keyed by (asset, reserve type); starts with borrowing off, LTV 0."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        self.world.asset(asset)
        checked_bool(reserve_type, "reserve_type")
        core = self.core
        key = (asset, reserve_type)
        if key in core.by_key:
            raise ProtocolError(E.RESERVE_ALREADY_ADDED)
        if len(core.reserves) >= MAX_RESERVES:
            raise ProtocolError(E.NO_MORE_RESERVES)
        r = Reserve(
            key,
            asset,
            len(core.reserves),
            self.world.decimals[asset],
            strategy.fresh(self.world.now),
            CORE_TREASURY,
            None,
            reserve_type,
        )
        self.world.atomic(self._list_reserve, core, key, r)
        return r

    def _list_reserve(self, pool: Pool, key: object, r: Reserve) -> None:
        self.world.journal.append(pool.reserves, r)
        self.world.journal.set(pool.by_key, key, r)

    def create_mini_pool(self, caller: str, pool_admin: str) -> MiniPool:
        """Deploy a Mini-Pool with its own admin (the main admin only)."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        mp = MiniPool(self.world, self.core, len(self.core.mini_pools), pool_admin)
        self.world.atomic(self._add_mini_pool, mp)
        return mp

    def _add_mini_pool(self, mp: MiniPool) -> None:
        self.world.journal.append(self.core.mini_pools, mp)
        self.world.journal.set(self.core.by_address, mp.address, mp)

    def init_mini_reserve(
        self, caller: str, mp_id: int, name: str, strategy: RateStrategy, tranche_of: str | None = None
    ) -> Reserve:
        """List a unique asset (``name`` is its symbol) or a tranche of a Core (asset, true) reserve."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        mp = self.core.mini_pool(mp_id)
        if name in mp.by_key:
            raise ProtocolError(E.RESERVE_ALREADY_ADDED)
        if len(mp.reserves) >= MAX_RESERVES:
            raise ProtocolError(E.NO_MORE_RESERVES)
        if tranche_of is None:
            decimals = self.world.decimals[self.world.asset(name)]
            core_r = None
            a_id = A_TOKEN_ID_BASE + UNIQUE_ID_OFFSET + mp.unique_count
            d_id = DEBT_TOKEN_ID_BASE + UNIQUE_ID_OFFSET + mp.unique_count
        else:
            if strategy.model == "fixed":
                raise ProtocolError(E.TRANCHE_FIXED_RATE)
            core_r = self.core.reserve((self.world.asset(tranche_of), True))
            if any(r.tranche_of is core_r for r in mp.reserves):
                raise ProtocolError(E.RESERVE_ALREADY_ADDED)
            decimals = core_r.decimals
            a_id, d_id = A_TOKEN_ID_BASE + core_r.id, DEBT_TOKEN_ID_BASE + core_r.id
        r = Reserve(
            name,
            name,
            len(mp.reserves),
            decimals,
            strategy.fresh(self.world.now),
            MINI_POOL_TREASURY,
            mp.owner_treasury,
            True,
            0,
        )
        r.tranche_of = core_r
        r.a_token_id, r.debt_token_id = a_id, d_id
        with self.world.transaction():
            if core_r is None:
                self.world.journal.setattr(mp, "unique_count", mp.unique_count + 1)
            self._list_reserve(mp, name, r)
        return r

    # ---- reserve parameters -----------------------------------------------------------------------

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
        p = self.core.pool(pool)
        self._require(caller, self._pool_admin(p), E.CALLER_NOT_POOL_ADMIN)
        r = p.find(asset, reserve_type)
        ltv = checked_int(ltv, "ltv", 0, MAX_BPS_FIELD)
        lt = checked_int(liquidation_threshold, "liquidation_threshold", 0, MAX_BPS_FIELD)
        bonus = checked_int(liquidation_bonus, "liquidation_bonus", 0, MAX_BPS_FIELD)
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
        self.world.atomic(self._configure, r, *changes)

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
        p = self.core.pool(pool)
        self._require(caller, self._pool_admin(p), E.CALLER_NOT_POOL_ADMIN)
        r = p.find(asset, reserve_type)
        if active is False:
            p.check_no_liquidity(r)
        changes = [
            (name, checked_bool(value, name))
            for name, value in (
                ("borrowing_enabled", borrowing_enabled),
                ("active", active),
                ("frozen", frozen),
                ("flash_loan_enabled", flash_loan_enabled),
            )
            if value is not None
        ]
        self.world.atomic(self._configure, r, *changes)

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
        p = self.core.pool(pool)
        if owner and not isinstance(p, MiniPool):
            raise InputError("input:unsupported", "owner reserve factor is Mini-Pool only")
        self._require(
            caller, p.admin if isinstance(p, MiniPool) and owner else self.admin, E.CALLER_NOT_POOL_ADMIN
        )
        r = p.find(asset, reserve_type)
        rf = checked_int(reserve_factor, "reserve_factor", 0, MAX_BPS_FIELD)
        if rf > MAX_RESERVE_FACTOR:
            raise ProtocolError(E.INVALID_RESERVE_FACTOR)
        attr = "owner_reserve_factor" if owner else "reserve_factor"
        self.world.atomic(self._sync_then, p, r, lambda: self.world.journal.setattr(r, attr, rf))

    def set_rate_strategy(
        self, caller: str, pool: PoolRef, asset: str, strategy: RateStrategy, reserve_type: bool = True
    ) -> None:
        p = self.core.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = p.find(asset, reserve_type)
        if r.tranche_of is not None and strategy.model == "fixed":
            raise ProtocolError(E.TRANCHE_FIXED_RATE)
        w = self.world
        w.atomic(self._sync_then, p, r, lambda: w.journal.setattr(r, "strategy", strategy.fresh(w.now)))

    def set_deposit_cap(
        self, caller: str, pool: PoolRef, asset: str, cap: int, reserve_type: bool = True
    ) -> None:
        """Deposit cap in whole tokens (0 = none)."""
        p = self.core.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = p.find(asset, reserve_type)
        if checked_int(cap, "cap") > MAX_DEPOSIT_CAP:
            raise ProtocolError(E.INVALID_DEPOSIT_CAP)
        self.world.atomic(self._configure, r, ("deposit_cap", cap))

    # ---- pool parameters ----------------------------------------------------------------------------

    def set_flash_premium(self, caller: str, pool: PoolRef, premium: int) -> None:
        p = self.core.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        if checked_int(premium, "premium") > PERCENTAGE_FACTOR:
            raise ProtocolError(E.FLASHLOAN_PREMIUM_INVALID)
        self.world.atomic(self._configure, p, ("flash_premium", premium))

    def set_pause(self, caller: str, pool: PoolRef, paused: bool) -> None:
        """Pause or unpause a pool (emergency admin)."""
        p = self.core.pool(pool)
        self._require(caller, self.emergency_admin, E.CALLER_NOT_EMERGENCY_ADMIN)
        if checked_bool(paused, "paused") == p.paused:
            raise ProtocolError("0")
        self.world.atomic(self._configure, p, ("paused", paused))

    def set_pool_admin(self, caller: str, mp_id: int, new_admin: str) -> None:
        """Hand a Mini-Pool over to a new pool admin (its current admin only)."""
        mp = self.core.mini_pool(mp_id)
        self._require(caller, mp.admin, E.CALLER_NOT_POOL_ADMIN)
        if not isinstance(new_admin, str) or not new_admin:
            raise InputError("input:type", "new_admin must be a non-empty string")
        self.world.atomic(self._configure, mp, ("admin", new_admin))

    def set_max_reserves_with_flow_borrowing(self, caller: str, count: int) -> None:
        """Raise or lower the global cap on (asset, Mini-Pool) pairs with a credit line."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        count = checked_int(count, "count", 0, 1 << 16)
        self.world.atomic(self._configure, self.core, ("max_reserves_with_flow_borrowing", count))

    def set_min_debt_threshold(self, caller: str, mp_id: int, threshold: int) -> None:
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        mp = self.core.mini_pool(mp_id)
        self.world.atomic(self._configure, mp, ("min_debt_threshold", checked_int(threshold, "threshold")))

    def set_flow_limit(self, caller: str, asset: str, mp_id: int, limit: int) -> list[Event]:
        """The Core-Pool's credit line to a Mini-Pool for ``asset`` (must be >= current flow)."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        self.core.reserve((self.world.asset(asset), True))
        mp = self.core.mini_pool(mp_id)
        return self.world.atomic(self.core._set_flow_limit, asset, mp, checked_int(limit, "limit"))

    # ---- liquidation policies (issue 15, astera.core.liquidation_policy) ----------------------------

    def set_liquidation_policy(self, caller: str, pool: PoolRef, policy: LiquidationPolicy) -> None:
        """Replace a pool's liquidation rules (its pool admin); the default policy removes them."""
        p = self.core.pool(pool)
        self._require(caller, self._pool_admin(p), E.CALLER_NOT_POOL_ADMIN)
        if not isinstance(policy, LiquidationPolicy):
            raise InputError("input:type", "policy must be a LiquidationPolicy")
        self.world.atomic(self._configure, p, ("liquidation_policy", None if policy == NO_POLICY else policy))

    def set_liquidation_protocol_fee(
        self, caller: str, pool: PoolRef, asset: str, fee: int, reserve_type: bool = True
    ) -> None:
        """The treasury's share of a reserve's liquidation bonus, in bps (main admin)."""
        p = self.core.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = p.find(asset, reserve_type)
        fee = check_fee(checked_int(fee, "fee", 0, MAX_BPS_FIELD))
        self.world.atomic(self._configure, r, ("liquidation_protocol_fee", fee))

    def cover_deficit(
        self, caller: str, pool: PoolRef, asset: str, amount: int, reserve_type: bool = True
    ) -> list[Event]:
        """Cover up to ``amount`` of a reserve's deficit by burning its treasury's aTokens (main
        admin); ``2**256-1`` covers all of it. Refused without a deficit (``policy:no_deficit``)."""
        p = self.core.pool(pool)
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        r = p.find(asset, reserve_type)
        return self.world.atomic(cover_deficit, p, r, checked_int(amount, "amount"))

    # ---- oracle administration ------------------------------------------------------------------------

    def set_price_timeout(self, caller: str, asset: str, timeout: int) -> None:
        """Seconds after which the asset's feed is stale (0 = never); stale falls back."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        w = self.world
        w.atomic(w.journal.set, w.oracle.timeouts, w.asset(asset), checked_int(timeout, "timeout"))

    def set_fallback_price(self, caller: str, asset: str, price: int) -> None:
        """The fallback oracle's answer, used when the feed is stale or invalid. The first one
        registers the fallback oracle, which then answers every asset (0 without a price)."""
        self._require(caller, self.admin, E.CALLER_NOT_POOL_ADMIN)
        price = checked_int(price, "price", 1, (1 << 255) - 1)
        w = self.world
        w.atomic(w.journal.set, w.oracle.fallback, w.asset(asset), price)
