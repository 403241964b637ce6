"""Atomicity by construction: every public method of ``Protocol`` that writes state, called
inside a transaction that then fails, leaves the state exactly as it was.

The methods are found by introspection: a new public method fails
:func:`test_every_public_method_is_covered` until it is given a call below (or declared a
view). "Exactly as it was" is checked on the whole object graph (every slot of the
protocol, its pools, reserves, strategies and oracle), not only on the state hash.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from astera.core import Protocol
from astera.core.liquidation_policy import LiquidationPolicy
from strategies import ADMIN, EMERGENCY, MINI_ADMIN, WETH_PRICE, mini_protocol, supply, volatile_curve

USDC = 10**6
WETH = 10**18

#: Public methods that only read (or are the transaction machinery itself).
VIEWS = frozenset(
    {
        "account",
        "canonical_state",
        "debt",
        "deficit",
        "health_factor",
        "large_maps",
        "liquidation_policy",
        "mini_pool",
        "pool",
        "price",
        "state_hash",
        "supplied",
        "wallet",
        "wrapper_balance",
        "atomic",
        "transaction",
        "simulate",
    }
)


def _flash(p: Protocol) -> Any:
    def receiver(assets: Sequence[str], amounts: Sequence[int], premiums: Sequence[int], who: str) -> bool:
        p.mint("dave", assets[0], premiums[0])
        return True

    return p.flash_loan("dave", "dave", receiver, ["USDC"], [1_000 * USDC], [0])


def _write_off(p: Protocol) -> None:
    """Carol's collateral falls to a third of her debt; a full liquidation writes the rest off."""
    policy = LiquidationPolicy(deficit_accounting=True, dynamic_close_factor=True)
    p.set_liquidation_policy(ADMIN, "core", policy)
    p.set_price("WETH", 1_000 * 10**8)
    p.liquidate("dave", "carol", "WETH", "USDC", 2**256 - 1)


#: One successful call of each state-changing public method, on :func:`deployment`.
CALLS: dict[str, Callable[[Protocol], Any]] = {
    "add_asset": lambda p: p.add_asset("NEW", 8, 10**8),
    "advance": lambda p: p.advance(3_600),
    "approve_delegation": lambda p: p.approve_delegation("alice", "bob", "USDC", 5 * USDC),
    "borrow": lambda p: p.borrow("bob", "USDC", 1_000 * USDC),
    "configure_reserve_as_collateral": lambda p: p.configure_reserve_as_collateral(
        ADMIN, "core", "WETH", 10, 20, 10_100
    ),
    "cover_deficit": lambda p: (_write_off(p), p.cover_deficit(ADMIN, "core", "USDC", 1_000)),
    "create_mini_pool": lambda p: p.create_mini_pool(ADMIN, "someone"),
    "deposit": lambda p: p.deposit("alice", "USDC", USDC),
    "flash_loan": _flash,
    "init_core_reserve": lambda p: (
        p.add_asset("NEW", 8, 10**8),
        p.init_core_reserve(ADMIN, "NEW", volatile_curve()),
    ),
    "init_mini_reserve": lambda p: p.init_mini_reserve(
        ADMIN, 0, "aWETH", volatile_curve(), tranche_of="WETH"
    ),
    "liquidate": lambda p: (
        p.set_price("WETH", WETH_PRICE // 2),
        p.liquidate("dave", "carol", "WETH", "USDC", 100 * USDC),
    ),
    "mint": lambda p: p.mint("dave", "WETH", WETH),
    "register_user": lambda p: p.register_user("erin"),
    "repay": lambda p: p.repay("carol", "USDC", 10 * USDC),
    "repay_with_a_tokens": lambda p: p.repay_with_a_tokens("alice", "USDC", 10 * USDC),
    "set_collateral": lambda p: p.set_collateral("bob", "WETH", False),
    "set_deposit_cap": lambda p: p.set_deposit_cap(ADMIN, "core", "USDC", 10**9),
    "set_fallback_price": lambda p: p.set_fallback_price(ADMIN, "USDC", 99_000_000),
    "set_flash_premium": lambda p: p.set_flash_premium(ADMIN, 0, 30),
    "set_flow_limit": lambda p: p.set_flow_limit(ADMIN, "WETH", 0, 10 * WETH),
    "set_max_reserves_with_flow_borrowing": lambda p: p.set_max_reserves_with_flow_borrowing(ADMIN, 3),
    "set_liquidation_policy": lambda p: p.set_liquidation_policy(
        MINI_ADMIN, 0, LiquidationPolicy(target_health_factor=105 * 10**16)
    ),
    "set_liquidation_protocol_fee": lambda p: p.set_liquidation_protocol_fee(ADMIN, "core", "WETH", 1000),
    "set_min_debt_threshold": lambda p: p.set_min_debt_threshold(ADMIN, 0, 7),
    "set_pause": lambda p: p.set_pause(EMERGENCY, 0, True),
    "set_pool_admin": lambda p: p.set_pool_admin(MINI_ADMIN, 0, "new_admin"),
    "set_price": lambda p: p.set_price("WETH", WETH_PRICE + 1),
    "set_price_timeout": lambda p: p.set_price_timeout(ADMIN, "USDC", 60),
    "set_rate_strategy": lambda p: p.set_rate_strategy(ADMIN, "core", "USDC", volatile_curve()),
    "set_reserve_factor": lambda p: p.set_reserve_factor(ADMIN, "core", "USDC", 100),
    "set_reserve_flags": lambda p: p.set_reserve_flags(
        ADMIN, "core", "USDC", frozen=True, borrowing_enabled=False
    ),
    "set_time": lambda p: p.set_time(p.now + 1),
    "transfer": lambda p: p.transfer("alice", "dave", "USDC", 5 * USDC),
    "transfer_shares": lambda p: p.transfer_shares("alice", "dave", "USDC", 5 * USDC),
    "wallet_credit": lambda p: p.wallet_credit("USDC", "dave", 1),
    "wallet_debit": lambda p: p.wallet_debit("USDC", "dave", 1),
    "wallet_transfer": lambda p: p.wallet_transfer("USDC", "dave", "erin", 1),
    "withdraw": lambda p: p.withdraw("bob", "WETH", WETH),
}


def public_methods() -> list[str]:
    return sorted(n for n, m in inspect.getmembers(Protocol, callable) if not n.startswith("_"))


def deployment() -> Protocol:
    """Mini-Pool deployment with suppliers, a borrower near her limit and a funded liquidator."""
    p = mini_protocol()
    supply(p, "alice", "USDC", 2_000_000 * USDC)
    supply(p, "bob", "WETH", 100 * WETH)
    supply(p, "carol", "WETH", 10 * WETH)
    p.borrow("carol", "USDC", 27_000 * USDC)
    p.borrow("alice", "USDC", 1_000 * USDC)
    p.mint("dave", "USDC", 1_000_000 * USDC)
    p.mint("carol", "USDC", 100 * USDC)
    p.advance(86_400)
    p.state_hash()
    return p


def whole_state(obj: Any, path: str = "p", seen: dict[int, str] | None = None) -> Any:
    """Every value reachable from ``obj`` (slots, maps, lists), maps in a canonical order;
    an object met again is named by the path where it was first seen."""
    seen = {} if seen is None else seen
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if id(obj) in seen:
        return ("ref", seen[id(obj)])
    seen[id(obj)] = path
    if isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: repr(kv[0]))
        return {repr(k): whole_state(v, f"{path}[{k!r}]", seen) for k, v in items}
    if isinstance(obj, (list, tuple)):
        return [whole_state(v, f"{path}[{i}]", seen) for i, v in enumerate(obj)]
    slots = [s for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ())]
    return {
        "type": type(obj).__name__,
        **{
            s: whole_state(getattr(obj, s), f"{path}.{s}", seen)
            for s in slots
            if s not in ("journal", "_digest")
        },
    }


class Abort(Exception):
    pass


def test_every_public_method_is_covered() -> None:
    missing = [n for n in public_methods() if n not in VIEWS and n not in CALLS]
    assert not missing, f"give these new Protocol methods a call in CALLS (or list them in VIEWS): {missing}"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_failing_transaction_undoes_the_method(name: str) -> None:
    p = deployment()
    before, hashed = whole_state(p), p.state_hash()
    with pytest.raises(Abort), p.transaction():
        CALLS[name](p)
        assert whole_state(p) != before, f"{name} changed nothing: the call does not exercise it"
        raise Abort
    assert whole_state(p) == before
    assert p.state_hash() == hashed == p.state_hash(incremental=False)
    CALLS[name](p)  # and the state is still usable: the same call succeeds for real


def test_views_write_nothing() -> None:
    p = deployment()
    before = whole_state(p)
    p.account("carol"), p.health_factor("carol", 0), p.supplied("alice", "USDC"), p.debt("carol", "USDC")
    p.price("WETH"), p.wallet("USDC", "dave"), p.wrapper_balance("alice", "USDC"), p.canonical_state()
    p.liquidation_policy(0), p.deficit("USDC")
    assert whole_state(p) == before
