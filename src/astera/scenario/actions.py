"""The scenario format's actions (FORMAT §3, §3.2) run on the core.

Each protocol action runs through the one action table (:mod:`astera.actions`); what stays
here translates the format: implicit funding (§3.1), ``"max"``/``"debt"``/``"P%"`` amounts,
the scenario's role names.

Beyond the format, this library's liquidation policies (issue 15) have three ops:
``set_liquidation_policy`` (``pool``, ``mini_pool``, and the policy's fields of
``astera.actions.POLICY_FIELDS``), ``set_liquidation_protocol_fee`` (``pool``, ``asset``,
``fee`` in bps) and ``cover_deficit`` (``pool``, ``asset``, ``amount`` or ``"max"``); the
deployment's pools and reserves may set them too (:mod:`astera.deployment`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from astera.actions import ACTIONS as TABLE
from astera.actions import POLICY_FIELDS
from astera.core import UINT256_MAX, Protocol
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.core.wadray import ray_mul

from .document import ADMIN, FLASH_RECEIVER, ScenarioError


def _pool_ref(a: dict[str, Any]) -> str | int:
    pool = a.get("pool")
    if pool == "core":
        return "core"
    if pool == "mini":
        return int(a.get("mini_pool", 0))
    raise ScenarioError(f"bad pool {pool!r}")


def _reserve(p: Protocol, ref: str | int, asset: str) -> tuple[Pool, Reserve]:
    pool = p.pool(ref)
    return pool, pool.reserve((asset, True) if ref == "core" else asset)


def _amount(value: str) -> int:
    """An amount field: an integer string, or ``"max"`` = 2^256 − 1 (FORMAT §3)."""
    return UINT256_MAX if value == "max" else int(value)


def _fund(p: Protocol, pool: Pool, r: Reserve, payer: str, need: int) -> None:
    """Implicit funding (FORMAT §3.1): top the payer up so the payment itself can succeed."""
    cr = r.tranche_of
    if cr is None:
        have = p.wallet(r.asset, payer)
        if have < need:
            p.wallet_credit(r.asset, payer, need - have)
        return
    shares = cr.a_scaled.get(payer, 0)
    if shares >= need:
        return
    assets = ray_mul(need - shares, cr.normalized_income(p.now)) + 2
    have = p.wallet(cr.asset, payer)
    if have < assets:
        p.wallet_credit(cr.asset, payer, assets - have)
    p.deposit(payer, cr.asset, assets)


def _percent(spec: str, debt: int) -> int:
    bps = int((Decimal(spec[:-1]) * 100).to_integral_value(ROUND_HALF_EVEN))
    return debt * bps // 10000


#: configure_reserve's boolean keys, each its own configurator call, in FORMAT §3.2 order.
RESERVE_FLAGS = ("active", "frozen", "borrowing_enabled", "flash_loan_enabled")


def _configure_reserve(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """FORMAT §3.2 ``configure_reserve``: each given setting through its configurator action,
    by the role the contracts require (a Mini-Pool's admin, or the main pool admin)."""
    ref = _pool_ref(a)
    where = {"pool": ref, "asset": a["asset"]}
    admin = p.mini_pool(ref).admin if isinstance(ref, int) else ADMIN
    for flag in RESERVE_FLAGS:
        if flag in a:
            _table(p, "set_reserve_flags", admin, {**where, flag: bool(a[flag])})
    if "ltv" in a:
        _table(
            p,
            "configure_reserve_as_collateral",
            admin,
            {
                **where,
                "ltv": a["ltv"],
                "liquidation_threshold": a["liquidation_threshold"],
                "liquidation_bonus": a["liquidation_bonus"],
            },
        )
    if "reserve_factor" in a:
        _table(p, "set_reserve_factor", ADMIN, {**where, "reserve_factor": a["reserve_factor"]})
    if "owner_reserve_factor" in a:
        _table(p, "set_owner_reserve_factor", admin, {**where, "reserve_factor": a["owner_reserve_factor"]})
    if "deposit_cap" in a:
        _table(p, "set_deposit_cap", ADMIN, {**where, "cap": a["deposit_cap"]})


def _flash_loan(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """FORMAT §3.2 ``flash_loan`` to the scenario's receiver contract, which approves the
    pool and answers ``receiver_pays``; funding mints it exactly each mode-0 premium."""
    ref = _pool_ref(a)
    pays = bool(a.get("receiver_pays", True))
    amounts = [int(x) for x in a["amounts"]]
    modes = list(a["modes"])
    if fund:
        premium = p.pool(ref).flash_premium
        for asset, amount, mode in zip(a["assets"], amounts, modes, strict=False):
            r = _reserve(p, ref, asset)[1]
            if mode == 0 and r.tranche_of is None:  # a tranche reserve is refused (`20`) anyway
                p.mint(FLASH_RECEIVER, r.asset, amount * premium // 10000)

    def receiver(assets: Any, amounts: Any, premiums: Any, initiator: str) -> bool:
        return pays

    p.flash_loan(
        a["user"], FLASH_RECEIVER, receiver, a["assets"], amounts, modes, a.get("onBehalfOf"), pool=ref
    )


def _table(p: Protocol, name: str, sender: str, args: dict[str, Any]) -> object:
    """Run the action table's ``name`` (:mod:`astera.actions`) for ``sender`` with ``args``
    (an optional parameter the scenario leaves out is passed as None). The arguments come as
    one dict: keywords packed into ``**args`` cost ~0.5 us an action."""
    return TABLE[name].run(p, sender, args)


def _deposit(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    ref = _pool_ref(a)
    user, asset = a["user"], a["asset"]
    amount = _amount(a["amount"])
    if fund:
        pool, r = _reserve(p, ref, asset)
        _fund(p, pool, r, user, amount)
    _table(
        p,
        "deposit",
        user,
        {"pool": ref, "asset": asset, "amount": amount, "on_behalf_of": a.get("onBehalfOf")},
    )


def _withdraw(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    _table(
        p,
        "withdraw",
        a["user"],
        {
            "pool": _pool_ref(a),
            "asset": a["asset"],
            "amount": _amount(a["amount"]),
            "to": a.get("to"),
            "unwrap": a.get("unwrap", False),
        },
    )


def _borrow(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    _table(
        p,
        "borrow",
        a["user"],
        {
            "pool": _pool_ref(a),
            "asset": a["asset"],
            "amount": _amount(a["amount"]),
            "on_behalf_of": a.get("onBehalfOf"),
            "unwrap": a.get("unwrap", False),
        },
    )


def _repay(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """``"debt"`` is the borrower's exact debt now; funding covers the debt for ``"max"`` too."""
    ref = _pool_ref(a)
    user = a["user"]
    pool, r = _reserve(p, ref, a["asset"])
    raw = a["amount"]
    if raw == "debt" or raw == "max":
        debt = r.debt_balance(a.get("onBehalfOf", user), p.now)
        amount = debt if raw == "debt" else UINT256_MAX
        need = debt
    else:
        amount = need = int(raw)
    if fund:
        _fund(p, pool, r, user, need)
    _table(
        p,
        "repay",
        user,
        {"pool": ref, "asset": a["asset"], "amount": amount, "on_behalf_of": a.get("onBehalfOf")},
    )


def _set_collateral(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    _table(
        p,
        "set_collateral",
        a["user"],
        {"pool": _pool_ref(a), "asset": a["asset"], "enabled": bool(a["enabled"])},
    )


def _transfer(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """``"max"`` is the sender's whole aToken balance at this block (FORMAT §3)."""
    ref = _pool_ref(a)
    user, raw = a["user"], a["amount"]
    amount = _reserve(p, ref, a["asset"])[1].a_balance(user, p.now) if raw == "max" else int(raw)
    _table(p, "transfer", user, {"pool": ref, "asset": a["asset"], "to": a["to"], "amount": amount})


def _liquidate(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """``debt_to_cover``: an integer, ``"max"``, ``"debt"`` or ``"P%"`` of the target's debt now;
    funding covers what can be repaid, at most the whole debt (FORMAT §3.1)."""
    ref = _pool_ref(a)
    pool, debt_r = _reserve(p, ref, a["debt_asset"])
    user, target = a["user"], a["target"]
    debt = debt_r.debt_balance(target, p.now)
    raw = a["debt_to_cover"]
    if raw == "max":
        cover = UINT256_MAX
    elif raw == "debt":
        cover = debt
    elif raw.endswith("%"):
        cover = _percent(raw, debt)
    else:
        cover = int(raw)
    if fund:
        _fund(p, pool, debt_r, user, min(cover, debt))
    _table(
        p,
        "liquidate",
        user,
        {
            "pool": ref,
            "target": target,
            "collateral_asset": a["collateral_asset"],
            "debt_asset": a["debt_asset"],
            "debt_to_cover": cover,
            "receive_a_token": a.get("receive_atoken", False),
            "unwrap": a.get("unwrap", False),
        },
    )


def _set_oracle(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """The feed's timeout first, then the fallback price (FORMAT §3.2)."""
    if "timeout" in a:
        _table(p, "set_price_timeout", ADMIN, {"asset": a["asset"], "timeout": a["timeout"]})
    if "fallback_price" in a:
        _table(p, "set_fallback_price", ADMIN, {"asset": a["asset"], "price": int(a["fallback_price"])})


def _set_liquidation_policy(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """The pool admin sets the pool's liquidation policy (fields of ``POLICY_FIELDS``; integers
    as numbers or decimal strings, absent ones at their defaults)."""
    ref = _pool_ref(a)
    fields = {k: v if isinstance(v, bool) else int(v) for k, v in a.items() if k in POLICY_FIELDS}
    admin = p.mini_pool(ref).admin if isinstance(ref, int) else ADMIN
    _table(p, "set_liquidation_policy", admin, {"pool": ref, **fields})


def _snapshot(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """Records the state like any step; changes nothing."""


Handler = Callable[[Protocol, dict[str, Any], bool], object]

#: The scenario format's actions (FORMAT §3, §3.2): ``op`` -> how it runs on the core, given
#: the action and whether implicit funding is on. Each protocol action runs through the one
#: action table (:mod:`astera.actions`); what stays here translates the format (implicit
#: funding, ``"max"``/``"debt"``/``"P%"`` amounts, the scenario's role names). Three ops are
#: not protocol actions and have no entry there: ``warp`` is the block clock (a node's blocks
#: carry their own time), ``snapshot`` records the state, and ``flash_loan`` needs receiver
#: code, which only a library caller can supply (a signed transaction cannot carry it).
ACTIONS: dict[str, Handler] = {
    "deposit": _deposit,
    "withdraw": _withdraw,
    "borrow": _borrow,
    "repay": _repay,
    "liquidate": _liquidate,
    "set_collateral": _set_collateral,
    "transfer": _transfer,
    "warp": lambda p, a, fund: p.advance(a["seconds"]),
    "set_price": lambda p, a, fund: _table(
        p, "set_price", ADMIN, {"asset": a["asset"], "price": int(a["price"]), "age": a.get("age", 0)}
    ),
    "set_flow_limit": lambda p, a, fund: _table(
        p,
        "set_flow_limit",
        ADMIN,
        {"asset": a["asset"], "mini_pool": int(a.get("mini_pool", 0)), "limit": _amount(a["limit"])},
    ),
    "mint": lambda p, a, fund: _table(
        p, "mint", ADMIN, {"to": a["user"], "asset": a["asset"], "amount": _amount(a["amount"])}
    ),
    "snapshot": _snapshot,
    "flash_loan": _flash_loan,
    "approve_delegation": lambda p, a, fund: _table(
        p,
        "approve_delegation",
        a["user"],
        {
            "pool": _pool_ref(a),
            "asset": a["asset"],
            "delegatee": a["delegatee"],
            "amount": _amount(a["amount"]),
        },
    ),
    "set_pause": lambda p, a, fund: _table(
        p, "set_pause", p.emergency_admin, {"pool": _pool_ref(a), "paused": bool(a["paused"])}
    ),
    "configure_reserve": _configure_reserve,
    "set_oracle": _set_oracle,
    "set_liquidation_policy": _set_liquidation_policy,
    "set_liquidation_protocol_fee": lambda p, a, fund: _table(
        p,
        "set_liquidation_protocol_fee",
        ADMIN,
        {"pool": _pool_ref(a), "asset": a["asset"], "fee": int(a["fee"])},
    ),
    "cover_deficit": lambda p, a, fund: _table(
        p, "cover_deficit", ADMIN, {"pool": _pool_ref(a), "asset": a["asset"], "amount": _amount(a["amount"])}
    ),
}


def run_action(p: Protocol, a: dict[str, Any]) -> None:
    """Execute one scenario action inside the caller's transaction; raises ProtocolError."""
    handler = ACTIONS.get(a["op"])
    if handler is None:
        raise ScenarioError(f"unknown op {a['op']!r}")
    handler(p, a, a.get("fund", True))
