"""The book a study starts from, as one ``astera-scenario/1`` document.

Every path starts from the same book: a deployment (the study's scenario file, or the lab's
default one below), the study's protocol parameters applied to it, the scenario's own actions,
and the synthetic populations as deposit and borrow actions. The book is built by the
replayer (:func:`astera.scenario.build` and :func:`astera.scenario.run_action`), never by hand,
so a path exported as ``book + the path's actions`` replays with ``astera replay`` to the
state the path ended in.

Parameter keys (``parameters`` and ``sweep`` in a study), all integers:

* ``POOL.RESERVE.FIELD``: ``core.WETH.liquidation_threshold``, ``0.was-USDC.reserve_factor``;
  FIELD is one of ``ltv``, ``liquidation_threshold``, ``liquidation_bonus``, ``reserve_factor``;
* ``flow_limit.MINI_POOL.ASSET``: the Core's credit line to a Mini-Pool, in base units;
* ``strategy.NAME.FIELD``: a rate strategy's parameter (ray for rates), e.g. ``strategy.usdc.slope2``.

The default book names its Mini-Pools' tranche of the Core's USDC as the node does,
``was-USDC``; it was ``aUSDC`` before, and a study may still write that (:data:`FORMER_NAMES`).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from astera.core import PERCENTAGE_FACTOR, WAD, Protocol, ProtocolError
from astera.core import errors as E
from astera.core.configurator import MAX_RESERVE_FACTOR
from astera.core.liquidation_policy import LiquidationPolicy
from astera.core.wadray import percent_mul
from astera.deployment import number, tranche_symbol
from astera.scenario import SCENARIO_FORMAT, ScenarioError, build, load_json, run_action

from .scenario import default_strategy, reserve_params
from .sources import genesis_scenario
from .study import Policy, Population, Study, StudyError

#: The account the lab's keeper liquidates from (part of every book).
KEEPER = "keeper"
START = 1_700_000_000
USD = 10**8
RESERVE_FIELDS = ("ltv", "liquidation_threshold", "liquidation_bonus", "reserve_factor")
#: Reserve names the default book used before it took the node's: where a book has no reserve
#: by such a name, a study's population or parameter naming it means the new one.
FORMER_NAMES = {"aUSDC": tranche_symbol("USDC")}


def default_deployment() -> dict[str, Any]:
    """The lab's deployment: a Core-Pool (WETH, WBTC, USDC, USDT) and two Mini-Pools, each with
    an exotic collateral (EXA, EXB) and a USDC tranche drawing on a 2M USDC credit line."""
    assets = {
        "WETH": (18, 3_000),
        "WBTC": (8, 60_000),
        "USDC": (6, 1),
        "USDT": (6, 1),
        "EXA": (18, 2),
        "EXB": (18, 5),
    }
    mini_pools = [
        {
            "id": i,
            "min_debt_threshold": 0,
            "reserves": {
                exotic: reserve_params("exotic", 5000, 6500, 11000, 1000, borrowing_enabled=False),
                tranche_symbol("USDC"): reserve_params("tranche", 8000, 8500, 10500, 1000, tranche_of="USDC"),
            },
            "flow_limits": {"USDC": str(2_000_000 * 10**6)},
        }
        for i, exotic in enumerate(("EXA", "EXB"))
    ]
    return {
        "format": SCENARIO_FORMAT,
        "name": "lab-default",
        "start_timestamp": START,
        "assets": {a: {"decimals": d, "price": str(p * USD)} for a, (d, p) in assets.items()},
        "rate_strategies": {
            "stable": default_strategy(90, 0, 4, 60),
            "volatile": default_strategy(45, 0, 7, 300),
            "tranche": default_strategy(80, 2, 6, 20),
            "exotic": default_strategy(45, 0, 7, 300),
        },
        "core_pool": {
            "reserves": {
                "WETH": reserve_params("volatile", 8000, 8250, 10500, 1500),
                "WBTC": reserve_params("volatile", 7300, 7800, 10650, 2000),
                "USDC": reserve_params("stable", 7700, 8000, 10450, 1000),
                "USDT": reserve_params("stable", 7500, 7800, 10450, 1000),
            }
        },
        "mini_pools": mini_pools,
        "users": [KEEPER],
        "actions": [],
    }


def _reserves(head: dict[str, Any], pool: str) -> dict[str, Any]:
    """The reserves table of ``core`` or a Mini-Pool id (as text) in a scenario head."""
    if pool == "core":
        reserves: dict[str, Any] = head["core_pool"]["reserves"]
        return reserves
    if pool.isdigit() and int(pool) < len(head.get("mini_pools", [])):
        reserves = head["mini_pools"][int(pool)]["reserves"]
        return reserves
    raise KeyError(unknown_pool(pool, len(head.get("mini_pools", []))))


def unknown_pool(pool: str, mini_pools: int) -> str:
    """Why ``pool`` names no pool of a book with ``mini_pools`` Mini-Pools, and which it has."""
    have = {0: "no Mini-Pool", 1: "Mini-Pool 0", 2: "Mini-Pools 0 and 1"}.get(
        mini_pools, f"Mini-Pools 0 to {mini_pools - 1}"
    )
    return f"no pool {pool!r}: the book has the Core-Pool (core) and {have}"


def apply_parameter(head: dict[str, Any], key: str, value: int) -> None:
    """Set one parameter (module docstring) in a scenario head; KeyError says what is unknown."""
    parts = key.split(".")
    if len(parts) != 3:
        raise KeyError("a parameter is POOL.RESERVE.FIELD, flow_limit.POOL.ASSET or strategy.NAME.FIELD")
    a, b, c = parts
    if a == "flow_limit":
        if not b.isdigit() or int(b) >= len(head.get("mini_pools", [])):
            raise KeyError(f"no Mini-Pool {b!r}")
        if c not in head["assets"]:
            raise KeyError(f"no asset {c!r}")
        head["mini_pools"][int(b)].setdefault("flow_limits", {})[c] = str(value)
    elif a == "strategy":
        strategies = head.get("rate_strategies", {})
        if b not in strategies:
            raise KeyError(f"no rate strategy {b!r}")
        if c not in strategies[b] or c == "model":
            raise KeyError(f"rate strategy {b!r} has no parameter {c!r}")
        strategies[b][c] = str(value)
    else:
        reserves = _reserves(head, a)
        if b not in reserves:
            raise KeyError(f"pool {a} has no reserve {b!r}")
        if c not in RESERVE_FIELDS:
            raise KeyError(f"{c!r} is not one of {', '.join(RESERVE_FIELDS)}")
        reserves[b][c] = value


def _ref(pool: str | int) -> dict[str, Any]:
    """The pool fields of a scenario action."""
    return {"pool": "core"} if pool == "core" else {"pool": "mini", "mini_pool": pool}


def _price_of(head: dict[str, Any], pool: str | int, reserve: str) -> tuple[int, int]:
    """(price, decimals) of a reserve: a tranche is priced as its Core asset."""
    params = _reserves(head, str(pool))[reserve]
    asset = params.get("tranche_of", reserve)
    spec = head["assets"][asset]
    return int(spec["price"]), int(spec["decimals"])


def population_actions(head: dict[str, Any], k: int, pop: Population, rng: np.random.Generator) -> list[Any]:
    """Deposit and borrow actions for one synthetic population (the ``k``-th of the book)."""
    reserves = _reserves(head, str(pop.pool))
    weights = {a: w / sum(pop.collateral.values()) for a, w in pop.collateral.items()}
    avg_lt = sum(w * reserves[a]["liquidation_threshold"] for a, w in weights.items()) / 10_000
    avg_ltv = sum(w * reserves[a]["ltv"] for a, w in weights.items()) / 10_000
    debt_price, debt_decimals = _price_of(head, pop.pool, pop.debt)
    sizes = pop.debt_usd_median * np.exp(pop.debt_usd_sigma * rng.standard_normal(pop.borrowers))
    hfs = rng.uniform(pop.health_factor[0], pop.health_factor[1], pop.borrowers)
    # Borrowing needs debt ≤ Σ value·LTV: the start HF is at least avg_lt / avg_ltv (+0.1 %).
    floor = avg_lt / avg_ltv * 1.001
    ref = _ref(pop.pool)
    borrows: list[dict[str, Any]] = []
    total_debt = 0
    for j in range(pop.borrowers):
        user = f"p{k}b{j}"
        debt_usd = float(sizes[j])
        collateral_usd = max(float(hfs[j]), floor) * debt_usd / avg_lt
        for asset, w in weights.items():
            price, decimals = _price_of(head, pop.pool, asset)
            amount = int(collateral_usd * w * USD * 10**decimals // price)
            borrows.append({"op": "deposit", **ref, "user": user, "asset": asset, "amount": str(amount)})
        debt = int(debt_usd * USD * 10**debt_decimals // debt_price)
        total_debt += debt
        borrows.append({"op": "borrow", **ref, "user": user, "asset": pop.debt, "amount": str(debt)})
    supplies: list[dict[str, Any]] = []
    if pop.suppliers:
        each = math.ceil(total_debt / pop.utilization / pop.suppliers)
        supplies = [
            {"op": "deposit", **ref, "user": f"p{k}s{j}", "asset": pop.debt, "amount": str(each)}
            for j in range(pop.suppliers)
        ]
    return supplies + borrows


def book_document(study: Study) -> dict[str, Any]:
    """The study's book as one scenario document (deployment, parameters, actions, populations)."""
    if study.book.genesis is not None:
        try:
            raw = load_json(study.path(study.book.genesis))
        except (OSError, ValueError) as e:
            raise StudyError("book.genesis", f"cannot read a genesis document: {e}") from None
        doc = genesis_scenario(raw, study.name)
    elif study.book.scenario is None:
        doc = default_deployment()
    else:
        try:
            doc = load_json(study.path(study.book.scenario))
        except (OSError, ValueError) as e:
            raise StudyError("book.scenario", f"cannot read a scenario document: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != SCENARIO_FORMAT:
            raise StudyError("book.scenario", f"not an {SCENARIO_FORMAT} document")
        doc = copy.deepcopy(doc)
    doc["name"] = study.name
    doc.setdefault("users", [])
    if KEEPER not in doc["users"]:
        doc["users"].append(KEEPER)
    for key, value in study.parameters.items():
        current = _current_key(doc, key)
        try:
            apply_parameter(doc, current, value)
        except KeyError as e:
            raise StudyError(f"parameters.{key}", e.args[0]) from None
        # Deploying the header alone takes about a millisecond: each parameter is checked as it
        # is applied, so a refusal names it.
        try:
            build(doc)
        except (ProtocolError, ScenarioError) as e:
            raise StudyError(f"parameters.{key}", parameter_refusal(doc, current, value, e)) from None
    rng = np.random.default_rng(study.book.seed if study.book.seed is not None else study.seed)
    actions = list(doc.get("actions", []))
    for k, named in enumerate(study.book.population):
        pop = _current_population(doc, named)
        check_population(doc, k, pop)
        actions += population_actions(doc, k, pop, rng)
    doc["actions"] = actions
    return doc


def _current_name(head: dict[str, Any], pool: str, name: str) -> str:
    """A reserve name as the book spells it: a :data:`FORMER_NAMES` entry the pool does not have
    becomes its new name; anything else is left for the checks to refuse."""
    try:
        reserves = _reserves(head, pool)
    except KeyError:
        return name
    new = FORMER_NAMES.get(name)
    return new if name not in reserves and new in reserves else name


def _current_key(head: dict[str, Any], key: str) -> str:
    parts = key.split(".")
    if len(parts) != 3 or parts[0] in ("flow_limit", "strategy"):
        return key
    return ".".join((parts[0], _current_name(head, parts[0], parts[1]), parts[2]))


def _current_population(head: dict[str, Any], pop: Population) -> Population:
    def name(reserve: str) -> str:
        return _current_name(head, str(pop.pool), reserve)

    return pop.model_copy(
        update={"debt": name(pop.debt), "collateral": {name(a): w for a, w in pop.collateral.items()}}
    )


def parameter_refusal(head: dict[str, Any], key: str, value: int, error: Exception) -> str:
    """Why the deployment refuses parameter ``key`` set to ``value``, in plain words (the
    configurator's rules for a reserve's LTV, threshold, bonus and reserve factor; the
    protocol's own message otherwise)."""
    pool, name, field = key.split(".")
    code = error.code if isinstance(error, ProtocolError) else None
    if code == E.INVALID_RESERVE_FACTOR:
        return f"{value} bps is above the largest reserve factor, {MAX_RESERVE_FACTOR} bps"
    if code == E.INVALID_CONFIGURATION and field in RESERVE_FIELDS:
        reserve = _reserves(head, pool)[name]
        ltv, lt, bonus = (number(reserve.get(f, 0), f) for f in RESERVE_FIELDS[:3])
        if ltv > lt:
            why = "a loan at the LTV would be liquidatable as soon as it is opened"
            if field == "liquidation_threshold":
                return f"{lt} bps is below the LTV {ltv} bps: {why}"
            return f"{ltv} bps is above the liquidation threshold {lt} bps: {why}"
        if lt == 0:
            return (
                f"a reserve with no liquidation threshold is no collateral and takes no bonus ({bonus} bps)"
            )
        if bonus <= PERCENTAGE_FACTOR:
            return (
                f"a liquidation bonus of {bonus} bps is not above {PERCENTAGE_FACTOR} bps: the liquidator "
                "must receive more collateral than the debt it repays"
            )
        return (
            f"liquidation threshold {lt} bps × bonus {bonus} bps is {percent_mul(lt, bonus)} bps, above "
            f"{PERCENTAGE_FACTOR} bps: liquidating an account at the threshold would take more collateral "
            "than it holds"
        )
    if code == "input:amount" and value < 0:
        return f"{value} is negative: it must be at least 0"
    if isinstance(error, ProtocolError):
        return f"the protocol refuses {value}: {error.detail or error.name.replace('_', ' ').lower()}"
    return f"the deployment refuses {value}: {error}"


def check_population(head: dict[str, Any], k: int, pop: Population) -> None:
    """Refuse a population naming pools, reserves or assets the deployment does not have."""
    where = f"book.population.{k}"
    try:
        reserves = _reserves(head, str(pop.pool))
    except KeyError as e:
        raise StudyError(f"{where}.pool", e.args[0]) from None
    if pop.debt not in reserves:
        raise StudyError(f"{where}.debt", f"pool {pop.pool} has no reserve {pop.debt!r}")
    for asset in pop.collateral:
        if asset not in reserves:
            raise StudyError(f"{where}.collateral", f"pool {pop.pool} has no reserve {asset!r}")
        if reserves[asset]["liquidation_threshold"] == 0:
            raise StudyError(f"{where}.collateral", f"{asset!r} is not collateral in pool {pop.pool}")
    if all(number(reserves[asset].get("ltv", 0), "ltv") == 0 for asset in pop.collateral):
        raise StudyError(f"{where}.collateral", f"an LTV of 0 in pool {pop.pool}: nothing can be borrowed")


def _wad(x: float) -> int:
    """A health factor written as a decimal, to wad, four decimal places kept (exactly)."""
    return round(x * 10_000) * (WAD // 10_000)


def pool_fields(ref: str | int) -> dict[str, Any]:
    """A pool as a scenario action names it (FORMAT §3): ``pool`` and, for a Mini-Pool, ``mini_pool``."""
    return {"pool": "core"} if ref == "core" else {"pool": "mini", "mini_pool": int(ref)}


def apply_policy(p: Protocol, policy: Policy) -> list[dict[str, Any]]:
    """Set a study's liquidation policy on the pools it names, through the admin calls, and
    return the same changes as scenario actions: a path exported from a document book carries
    them after the book's own actions, so it replays to the path's state."""
    refs: list[str | int] = ["core", *(mp.id for mp in p.mini_pools)]
    chosen = refs if policy.pools is None else list(policy.pools)
    actions: list[dict[str, Any]] = []
    for ref in chosen:
        if ref not in refs:
            raise StudyError("policy.pools", f"no pool {ref!r}")
        pool = p.pool(ref)
        rules = LiquidationPolicy(
            deficit_accounting=policy.deficit_accounting,
            dynamic_close_factor=policy.dynamic_close_factor,
            close_all_hf=_wad(policy.close_all_hf),
            dust_base=policy.dust_usd * USD,
            min_leftover_base=policy.min_leftover_usd * USD,
            target_health_factor=_wad(policy.target_health_factor),
        )
        where = pool_fields(ref)
        fields = {k: v if isinstance(v, bool) else str(v) for k, v in rules.as_dict().items()}
        actions.append({"op": "set_liquidation_policy", **where, **fields})
        try:
            p.set_liquidation_policy(p.admin if ref == "core" else p.mini_pool(int(ref)).admin, ref, rules)
            fee = policy.protocol_fee_bps
            for r in pool.reserves:
                if fee and r.liquidation_threshold:
                    p.set_liquidation_protocol_fee(p.admin, ref, r.asset, fee, r.reserve_type)
                    actions.append(
                        {"op": "set_liquidation_protocol_fee", **where, "asset": r.asset, "fee": fee}
                    )
        except ProtocolError as e:
            raise StudyError("policy", f"refused by the protocol: {e}") from None
    return actions


def build_book(doc: dict[str, Any]) -> Protocol:
    """Build the book's protocol with the replayer; a refused action refuses the study."""
    try:
        p, _ = build(doc)  # registers every user the actions name; runs none
    except (ProtocolError, ScenarioError, KeyError, TypeError, ValueError) as e:
        raise StudyError("book", f"the deployment is refused: {e}") from None
    for i, action in enumerate(doc["actions"]):
        try:
            with p.transaction():
                run_action(p, action)
        except (ProtocolError, ScenarioError, KeyError) as e:
            what = f"action {i} ({action.get('op')} by {action.get('user')})"
            raise StudyError("book", f"{what} is refused: {e}") from None
    return p
