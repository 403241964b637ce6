"""Read-only views of one account in one pool (``getUserAccountData``, balances, health
factor), interest included as of the pool's clock. They write nothing."""

from __future__ import annotations

from .account import account_data
from .core_pool import CorePool
from .liquidation_policy import NO_POLICY, LiquidationPolicy
from .pool import Pool


def health_factor(pool: Pool, user: str) -> int:
    """The user's health factor in ``pool`` (wad; ``2**256-1`` without debt)."""
    return account_data(pool, user).health_factor


def supplied(pool: Pool, user: str, asset: str, reserve_type: bool = True) -> int:
    """The user's aToken balance (interest included) in base units of the reserve asset."""
    return pool.find(asset, reserve_type).a_balance(user, pool.world.now)


def debt(pool: Pool, user: str, asset: str, reserve_type: bool = True) -> int:
    """The user's variable debt (interest included) in base units of the reserve asset."""
    return pool.find(asset, reserve_type).debt_balance(user, pool.world.now)


def wrapper_balance(core: CorePool, user: str, asset: str, reserve_type: bool = True) -> int:
    """``ATokenNonRebasing.balanceOf``: the user's Core aToken shares."""
    return core.find(asset, reserve_type).a_scaled.get(user, 0)


def liquidation_policy(pool: Pool) -> LiquidationPolicy:
    """A pool's liquidation rules (the contracts' when it set none)."""
    return pool.liquidation_policy or NO_POLICY


def deficit(pool: Pool, asset: str, reserve_type: bool = True) -> int:
    """Debt written off in a reserve and not yet covered (base units of the reserve asset)."""
    return pool.find(asset, reserve_type).deficit
