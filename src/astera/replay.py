"""Scenario replay: ``astera-scenario/1`` in, ``astera-trace/1`` out (vectors/FORMAT.md).

A scenario describes a fresh deployment and a list of actions; the replayer builds the
deployment on :class:`astera.core.Protocol`, runs each action atomically (implicit
funding included, FORMAT §3.1) and records the outcome and the complete state after it.
The trace of a correct implementation equals the reference trace field for field.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from . import scenario_reader
from .actions import ACTIONS as TABLE
from .core import (
    UINT256_MAX,
    Protocol,
    ProtocolError,
)
from .core.account import account_data
from .core.minipool import MiniPool
from .core.pool import Pool
from .core.reserve import Reserve
from .core.wadray import ray_mul
from .deployment import DeploymentError, deploy_markets

SCENARIO_FORMAT = "astera-scenario/1"
TRACE_FORMAT = "astera-trace/1"
ADMIN = "admin"
#: The scenario's one flash-loan receiver contract (FORMAT §3.2): an account, never a user.
FLASH_RECEIVER = "flash_receiver"
USER_KEYS = ("user", "target", "onBehalfOf", "to", "delegatee")
#: Actions between two progress reports of ``main_replay`` (a report per action costs ~5 %).
PROGRESS_EVERY = 256


class ScenarioError(ValueError):
    """The scenario document itself is malformed."""


def load_json(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)


# ---- deployment -------------------------------------------------------------------------------


def deploy(scenario: dict[str, Any], users: Iterable[str]) -> Protocol:
    """The deployment a scenario's header describes (its ``actions`` are not read), with
    ``users`` and the flash-loan receiver registered."""
    if scenario.get("format") != SCENARIO_FORMAT:
        raise ScenarioError(f"not a {SCENARIO_FORMAT} document")
    p = Protocol(scenario["start_timestamp"], admin=ADMIN)
    try:
        deploy_markets(p, scenario, lambda i, _: f"pool_admin:{i}")
    except DeploymentError as e:
        raise ScenarioError(str(e)) from None
    for sym, a in scenario["assets"].items():
        p.set_price(sym, int(a["price"]), age=0)  # the mock feeds: never older than `age`
    for u in users:
        p.register_user(u)
    p.register_user(FLASH_RECEIVER)
    return p


def ordered_users(listed: Iterable[str], named: Iterable[str]) -> list[str]:
    """FORMAT §2: the scenario's ``users``, then the users only its actions name, in order."""
    return list(dict.fromkeys([*listed, *named]))


def build(scenario: dict[str, Any]) -> tuple[Protocol, list[str]]:
    """The deployment a scenario describes, and its ordered user list."""
    named = (a[k] for a in scenario["actions"] for k in USER_KEYS if a.get(k) is not None)
    users = ordered_users(scenario.get("users", []), named)
    return deploy(scenario, users), users


# ---- actions ---------------------------------------------------------------------------------


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
            _table(p, "set_reserve_flags", admin, **where, **{flag: bool(a[flag])})
    if "ltv" in a:
        _table(
            p,
            "configure_reserve_as_collateral",
            admin,
            **where,
            ltv=a["ltv"],
            liquidation_threshold=a["liquidation_threshold"],
            liquidation_bonus=a["liquidation_bonus"],
        )
    if "reserve_factor" in a:
        _table(p, "set_reserve_factor", ADMIN, **where, reserve_factor=a["reserve_factor"])
    if "owner_reserve_factor" in a:
        _table(p, "set_owner_reserve_factor", admin, **where, reserve_factor=a["owner_reserve_factor"])
    if "deposit_cap" in a:
        _table(p, "set_deposit_cap", ADMIN, **where, cap=a["deposit_cap"])


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


def _table(p: Protocol, name: str, sender: str, **args: Any) -> object:
    """Run the action table's ``name`` (:mod:`astera.actions`) for ``sender`` with ``args``
    (an optional parameter the scenario leaves out is passed as None)."""
    return TABLE[name].run(p, sender, args)


def _deposit(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    ref = _pool_ref(a)
    user, asset = a["user"], a["asset"]
    amount = _amount(a["amount"])
    if fund:
        pool, r = _reserve(p, ref, asset)
        _fund(p, pool, r, user, amount)
    _table(p, "deposit", user, pool=ref, asset=asset, amount=amount, on_behalf_of=a.get("onBehalfOf"))


def _withdraw(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    _table(
        p,
        "withdraw",
        a["user"],
        pool=_pool_ref(a),
        asset=a["asset"],
        amount=_amount(a["amount"]),
        to=a.get("to"),
        unwrap=a.get("unwrap", False),
    )


def _borrow(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    _table(
        p,
        "borrow",
        a["user"],
        pool=_pool_ref(a),
        asset=a["asset"],
        amount=_amount(a["amount"]),
        on_behalf_of=a.get("onBehalfOf"),
        unwrap=a.get("unwrap", False),
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
    _table(p, "repay", user, pool=ref, asset=a["asset"], amount=amount, on_behalf_of=a.get("onBehalfOf"))


def _set_collateral(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    _table(p, "set_collateral", a["user"], pool=_pool_ref(a), asset=a["asset"], enabled=bool(a["enabled"]))


def _transfer(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """``"max"`` is the sender's whole aToken balance at this block (FORMAT §3)."""
    ref = _pool_ref(a)
    user, raw = a["user"], a["amount"]
    amount = _reserve(p, ref, a["asset"])[1].a_balance(user, p.now) if raw == "max" else int(raw)
    _table(p, "transfer", user, pool=ref, asset=a["asset"], to=a["to"], amount=amount)


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
        pool=ref,
        target=target,
        collateral_asset=a["collateral_asset"],
        debt_asset=a["debt_asset"],
        debt_to_cover=cover,
        receive_a_token=a.get("receive_atoken", False),
        unwrap=a.get("unwrap", False),
    )


def _set_oracle(p: Protocol, a: dict[str, Any], fund: bool) -> None:
    """The feed's timeout first, then the fallback price (FORMAT §3.2)."""
    if "timeout" in a:
        _table(p, "set_price_timeout", ADMIN, asset=a["asset"], timeout=a["timeout"])
    if "fallback_price" in a:
        _table(p, "set_fallback_price", ADMIN, asset=a["asset"], price=int(a["fallback_price"]))


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
        p, "set_price", ADMIN, asset=a["asset"], price=int(a["price"]), age=a.get("age", 0)
    ),
    "set_flow_limit": lambda p, a, fund: _table(
        p,
        "set_flow_limit",
        ADMIN,
        asset=a["asset"],
        mini_pool=int(a.get("mini_pool", 0)),
        limit=_amount(a["limit"]),
    ),
    "mint": lambda p, a, fund: _table(
        p, "mint", ADMIN, to=a["user"], asset=a["asset"], amount=_amount(a["amount"])
    ),
    "snapshot": _snapshot,
    "flash_loan": _flash_loan,
    "approve_delegation": lambda p, a, fund: _table(
        p,
        "approve_delegation",
        a["user"],
        pool=_pool_ref(a),
        asset=a["asset"],
        delegatee=a["delegatee"],
        amount=_amount(a["amount"]),
    ),
    "set_pause": lambda p, a, fund: _table(
        p, "set_pause", p.emergency_admin, pool=_pool_ref(a), paused=bool(a["paused"])
    ),
    "configure_reserve": _configure_reserve,
    "set_oracle": _set_oracle,
}


def run_action(p: Protocol, a: dict[str, Any]) -> None:
    """Execute one scenario action inside the caller's transaction; raises ProtocolError."""
    handler = ACTIONS.get(a["op"])
    if handler is None:
        raise ScenarioError(f"unknown op {a['op']!r}")
    handler(p, a, a.get("fund", True))


# ---- state export (FORMAT §4) -------------------------------------------------------------------


def _reserve_state(p: Protocol, pool: Pool, r: Reserve) -> dict[str, Any]:
    now = p.now
    d: dict[str, Any] = {}
    if isinstance(pool, MiniPool):
        d["a_token_id"] = r.a_token_id
        d["debt_token_id"] = r.debt_token_id
    d.update(
        liquidity_index=r.liquidity_index,
        variable_borrow_index=r.variable_borrow_index,
        current_liquidity_rate=r.current_liquidity_rate,
        current_variable_borrow_rate=r.current_variable_borrow_rate,
        last_update_timestamp=r.last_update_timestamp,
        normalized_income=r.normalized_income(now),
        normalized_variable_debt=r.normalized_debt(now),
        a_token_total_supply=r.a_total_supply(now),
        a_token_scaled_total_supply=r.a_scaled_total,
        debt_total_supply=r.debt_total_supply(now),
        debt_scaled_total_supply=r.d_scaled_total,
        available_liquidity=pool.cash(r),
    )
    if isinstance(pool, MiniPool):
        d["astera_treasury_a_token_balance"] = r.a_balance(r.treasury, now)
        d["owner_treasury_a_token_balance"] = r.a_balance(pool.owner_treasury, now)
    else:
        d["treasury_a_token_balance"] = r.a_balance(r.treasury, now)
    d["price"] = _or_null(pool.price, r)
    cfg = r.config()
    if not isinstance(pool, MiniPool):
        del cfg["owner_reserve_factor"]
    d["config"] = cfg
    return d


def _position(p: Protocol, pool: Pool, r: Reserve, user: str) -> dict[str, Any]:
    return {
        "a_token_balance": r.a_balance(user, p.now),
        "a_token_scaled": r.a_scaled.get(user, 0),
        "debt_balance": r.debt_balance(user, p.now),
        "debt_scaled": r.d_scaled.get(user, 0),
        "collateral_enabled": pool.is_collateral(user, r),
    }


def _or_null(view: Any, *args: Any) -> Any:
    """A view's value, or ``None`` where computing it reverts (an unpriceable reserve, FORMAT §3.2)."""
    try:
        return view(*args)
    except ProtocolError:
        return None


def _account(pool: Pool, user: str) -> dict[str, int] | None:
    data = _or_null(account_data, pool, user)
    return None if data is None else data._asdict()


def export_state(p: Protocol, users: list[str]) -> dict[str, Any]:
    core = p.core
    mini: dict[str, Any] = {}
    for mp in p.mini_pools:
        flow: dict[str, Any] = {}
        assets = [r.tranche_of.asset for r in mp.reserves if r.tranche_of is not None]
        assets += [a for (a, i), _ in core.flow_limits.items() if i == mp.id and a not in assets]
        for asset in assets:
            cr = core.reserve((asset, True))
            flow[asset] = {
                "current_flow": core.current_flow(asset, mp),
                "flow_limit": core.flow_limit(asset, mp),
                "is_flow_borrowing": mp.id in core.flow_borrowers.get(asset, {}),
                "core_a_token_balance": cr.a_balance(mp.address, p.now),
                "core_a_token_scaled": cr.a_scaled.get(mp.address, 0),
                "core_debt_balance": cr.debt_balance(mp.address, p.now),
                "core_debt_scaled": cr.d_scaled.get(mp.address, 0),
            }
        mini[str(mp.id)] = {
            "reserves": {r.asset: _reserve_state(p, mp, r) for r in mp.reserves},
            "flow": flow,
        }
    user_states = {}
    for u in users:
        user_states[u] = {
            "wallet": {a: p.wallet(a, u) for a in p.wallets},
            "core": {r.asset: _position(p, core, r, u) for r in core.reserves},
            "core_account": _account(core, u),
            "mini_pools": {
                str(mp.id): {
                    "reserves": {r.asset: _position(p, mp, r, u) for r in mp.reserves},
                    "account": _account(mp, u),
                }
                for mp in p.mini_pools
            },
        }
    return {
        "core": {r.asset: _reserve_state(p, core, r) for r in core.reserves},
        "mini_pools": mini,
        "users": user_states,
    }


# ---- replay --------------------------------------------------------------------------------------


def _run(p: Protocol, action: dict[str, Any]) -> ProtocolError | None:
    """Run one action atomically (FORMAT §3: a failed step changes nothing); its refusal."""
    try:
        p.atomic(run_action, p, action)
    except ProtocolError as e:
        return e
    return None


def steps(
    p: Protocol, users: list[str], actions: Iterable[dict[str, Any]], with_states: bool = True
) -> Iterator[dict[str, Any]]:
    """The trace's steps (FORMAT §4), one per action, each as soon as it has run."""
    for i, action in enumerate(actions):
        error = _run(p, action)
        step = {
            "step": i,
            "action": action,
            "ok": error is None,
            "error": None if error is None else error.as_dict(),
            "timestamp": p.now,
        }
        if with_states:
            step["state"] = export_state(p, users)
        yield step


def replay(scenario: dict[str, Any], with_states: bool = True) -> dict[str, Any]:
    """Replay a scenario; the trace document (states omitted when ``with_states`` is false)."""
    p, users = build(scenario)
    trace: dict[str, Any] = {
        "format": TRACE_FORMAT,
        "name": scenario.get("name", ""),
        "start_timestamp": scenario["start_timestamp"],
        "initial": export_state(p, users) if with_states else None,
        "steps": list(steps(p, users, scenario["actions"], with_states)),
    }
    trace["state_hash"] = p.state_hash()
    return trace


def main_replay(
    scenario: Path, trace: Path | None, progress: Callable[[int, int], object] | None = None
) -> None:
    """CLI body of ``astera replay``: the file is streamed (:mod:`astera.scenario_reader`),
    so memory does not grow with the number of actions (a small file's actions are decoded
    once and kept from the first pass). With ``trace``, the trace is
    written step by step; without, one summary line (the time covers reading, deployment,
    every action and the final state hash). ``progress(done, total)`` is called every
    :data:`PROGRESS_EVERY` actions and after the last (the total is known from the first pass).
    """
    t0 = time.perf_counter()
    kept: list[Any] | None = [] if scenario_reader.keeps_actions(scenario) else None
    header, named, total = scenario_reader.header_and_users(scenario, USER_KEYS, kept)
    users = ordered_users(header.get("users", []), named)
    p = deploy(header, users)
    actions = kept if kept is not None else scenario_reader.actions(scenario)
    if trace is not None:
        opener = gzip.open if trace.suffix == ".gz" else open
        with opener(trace, "wt") as f:
            head = {
                "format": TRACE_FORMAT,
                "name": header.get("name", ""),
                "start_timestamp": header["start_timestamp"],
            }
            f.write(
                json.dumps(head)[:-1] + ', "initial": ' + json.dumps(export_state(p, users)) + ', "steps": ['
            )
            count = 0
            for step in steps(p, users, actions):
                f.write((", " if count else "") + json.dumps(step))
                count += 1
                if progress is not None and (count % PROGRESS_EVERY == 0 or count == total):
                    progress(count, total)
            f.write("]}")
        print(f"wrote {trace} ({count} steps, final state {p.state_hash()[:16]})")
        return
    count = failed = 0
    for action in actions:
        count += 1
        if _run(p, action) is not None:
            failed += 1
        if progress is not None and (count % PROGRESS_EVERY == 0 or count == total):
            progress(count, total)
    state_hash = p.state_hash()
    seconds = time.perf_counter() - t0
    print(f"{header.get('name', '')}: {count} actions, {failed} failed, state {state_hash}, {seconds:.3f}s")
