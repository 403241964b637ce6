"""One deployment path: the markets a document describes, built through the core's public API.

A scenario (``astera-scenario/1``), a node's genesis (``astera-genesis/1``) and a lab study
describe a deployment with the same shape: ``assets`` (decimals, price, optional feed
timeout), named ``rate_strategies``, ``core_pool.reserves`` and ``mini_pools`` (reserves,
``min_debt_threshold``, ``flow_limits``), each reserve with its strategy and parameters.
A pool may carry a ``liquidation_policy`` (issue 15: ``deficit_accounting``,
``dynamic_close_factor``, ``close_all_hf``, ``dust_base``, ``min_leftover_base``,
``target_health_factor``; integers as JSON numbers or decimal strings) and a reserve a
``liquidation_protocol_fee`` in bps; absent, the contracts' rules apply.
:func:`deploy_markets` builds that on a :class:`~astera.core.Protocol` the way the
deployment scripts do, through the public, role-checked and journaled admin calls only, so
every rule of the configurator applies (the cap on Mini-Pool credit lines included). What
differs between the documents (roles, users, balances, opening deposits) stays with each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from astera.actions import liquidation_policy, make_strategy, strategy
from astera.core import LiquidationPolicy, Protocol, RateStrategy


def tranche_symbol(asset: str) -> str:
    """The name of a Mini-Pool tranche of the Core-Pool's ``asset``, the wrapper of its Core
    aToken (spec §7): ``was-USDC``. The node's genesis, the web app and the lab all say so."""
    return f"was-{asset}"


class DeploymentError(ValueError):
    """The deployment document is malformed (a missing field, a bad number, an unknown name)."""


def number(value: object, what: str) -> int:
    """An integer field: a JSON integer or a decimal-integer string."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return int(value, 10)
        except ValueError:
            pass
    raise DeploymentError(f"{what}: expected an integer, got {value!r}")


def rate_strategy(specs: dict[str, Any], name: str, now: int) -> RateStrategy:
    """The named rate strategy of the document (PI controllers start their clock at ``now``)."""
    if name not in specs:
        raise DeploymentError(f"unknown rate strategy {name!r}")
    spec = {k: (v if k == "model" else str(v)) for k, v in specs[name].items()}
    try:
        return make_strategy(strategy(spec), now)
    except ValueError as e:
        raise DeploymentError(f"rate strategy {name!r}: {e}") from None


def configure_reserve(p: Protocol, ref: str | int, name: str, params: dict[str, Any]) -> None:
    """Configure a fresh reserve through the admin surface, in the deployment scripts' order.

    Only the reserve-factor setters sync the reserve (accrue, then re-rate), which is why a
    reserve with a non-zero factor starts with its last update at deployment time.
    """
    admin = p.admin
    pool_admin = admin if ref == "core" else p.mini_pool(int(ref)).admin
    p.configure_reserve_as_collateral(
        pool_admin,
        ref,
        name,
        number(params.get("ltv", 0), f"{name}.ltv"),
        number(params.get("liquidation_threshold", 0), f"{name}.liquidation_threshold"),
        number(params.get("liquidation_bonus", 0), f"{name}.liquidation_bonus"),
    )
    p.set_reserve_flags(
        pool_admin,
        ref,
        name,
        borrowing_enabled=bool(params.get("borrowing_enabled", True)),
        flash_loan_enabled=bool(params.get("flash_loan_enabled", True)),
    )
    p.set_deposit_cap(admin, ref, name, number(params.get("deposit_cap", 0), f"{name}.deposit_cap"))
    reserve_factor = number(params.get("reserve_factor", 0), f"{name}.reserve_factor")
    if reserve_factor:
        p.set_reserve_factor(admin, ref, name, reserve_factor)
    owner_factor = number(params.get("owner_reserve_factor", 0), f"{name}.owner_reserve_factor")
    if owner_factor:
        p.set_reserve_factor(pool_admin, ref, name, owner_factor, owner=True)
    fee = number(params.get("liquidation_protocol_fee", 0), f"{name}.liquidation_protocol_fee")
    if fee:
        p.set_liquidation_protocol_fee(admin, ref, name, fee)


def pool_policy(p: Protocol, ref: str | int, pool_doc: dict[str, Any], pool_admin: str) -> None:
    """Set the pool's ``liquidation_policy``, if its document has one."""
    spec = pool_doc.get("liquidation_policy")
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise DeploymentError(f"{ref}.liquidation_policy: expected an object")
    try:
        policy: LiquidationPolicy = liquidation_policy(
            {k: v if isinstance(v, bool) else str(v) for k, v in spec.items()}
        )
    except ValueError as e:
        raise DeploymentError(f"{ref}.liquidation_policy: {e}") from None
    p.set_liquidation_policy(pool_admin, ref, policy)


def deploy_markets(
    p: Protocol, doc: dict[str, Any], pool_admin: Callable[[int, dict[str, Any]], str]
) -> Sequence[str]:
    """List the document's assets, reserves and Mini-Pools on ``p`` (signed by ``p.admin``);
    ``pool_admin(i, mini_pool_doc)`` names each Mini-Pool's admin. The pool admins, in order."""
    admin = p.admin
    start = p.now
    for sym, a in doc["assets"].items():
        p.add_asset(
            sym,
            number(a["decimals"], f"{sym}.decimals"),
            number(a["price"], f"{sym}.price"),
            number(a.get("timeout", 0), f"{sym}.timeout"),
        )
    specs = doc.get("rate_strategies", {})
    core_doc = doc.get("core_pool", {})
    for sym, params in core_doc.get("reserves", {}).items():
        p.init_core_reserve(admin, sym, rate_strategy(specs, params["rate_strategy"], start))
        configure_reserve(p, "core", sym, params)
    pool_policy(p, "core", core_doc, admin)
    admins = []
    for i, mp_doc in enumerate(doc.get("mini_pools", [])):
        if mp_doc.get("id", i) != i:
            raise DeploymentError("mini pool ids must be 0, 1, ... in order")
        admins.append(pool_admin(i, mp_doc))
        p.create_mini_pool(admin, admins[-1])
        threshold = number(mp_doc.get("min_debt_threshold", 100), f"mini_pools[{i}].min_debt_threshold")
        p.set_min_debt_threshold(admin, i, threshold)
        for name, params in mp_doc.get("reserves", {}).items():
            p.init_mini_reserve(
                admin, i, name, rate_strategy(specs, params["rate_strategy"], start), params.get("tranche_of")
            )
            configure_reserve(p, i, name, params)
        for sym, limit in mp_doc.get("flow_limits", {}).items():
            p.set_flow_limit(admin, sym, i, number(limit, f"flow_limits.{sym}"))
        pool_policy(p, i, mp_doc, admins[-1])
    return admins
