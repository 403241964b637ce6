"""One deployment path (:mod:`astera.deployment`): scenarios and genesis documents are built
through the core's public admin calls, so the configurator's rules apply to both."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from astera.core import ProtocolError
from astera.node.genesis import GenesisError
from astera.node.genesis import build as build_genesis
from astera.scenario import ScenarioError, build
from node.node_harness import make_genesis

BASIC = Path(__file__).parent / "vectors" / "basic.scenario.json"


def scenario_with_mini_pools(n: int) -> dict:
    doc = json.loads(BASIC.read_text())
    doc["mini_pools"] = [{**copy.deepcopy(doc["mini_pools"][0]), "id": i} for i in range(n)]
    return doc


def test_the_cap_on_credit_lines_applies_to_scenarios() -> None:
    p, _ = build(scenario_with_mini_pools(6))
    assert len(p.core.flow_limits) == 6 and p.mini_pools[5].min_debt_threshold == 0
    with pytest.raises(ProtocolError) as e:
        build(scenario_with_mini_pools(7))
    assert e.value.code == "29"  # VL_MAX_RESERVES_WITH_FLOW_BORROWING_REACHED


@pytest.mark.parametrize(
    ("where", "value", "says"),
    [
        (("assets", "USDC", "decimals"), "six", "USDC.decimals"),
        (("core_pool", "reserves", "USDC", "rate_strategy"), "nope", "unknown rate strategy"),
        (("mini_pools", 0, "id"), 3, "mini pool ids"),
        # The contracts take uint256: a negative slope (JSON number or string) cannot be deployed.
        (("rate_strategies", "stable", "slope1"), -1, "rate strategy 'stable': slope1 must not be negative"),
        (("rate_strategies", "volatile", "base_rate"), "-5", "'volatile': base_rate must not be negative"),
        (("rate_strategies", "stable", "slope2"), 2**256, "'stable': slope2 must be a decimal-integer"),
    ],
)
def test_malformed_deployments_are_refused_by_both_formats(where: tuple, value: object, says: str) -> None:
    doc = scenario_with_mini_pools(1)
    target = doc
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises(ScenarioError, match=says):
        build(doc)
    genesis = make_genesis()
    genesis.update({k: doc[k] for k in ("assets", "rate_strategies", "core_pool")})
    genesis["mini_pools"] = [{**m, "admin": genesis["roles"]["admin"]} for m in doc["mini_pools"]]
    with pytest.raises(GenesisError, match=says):
        build_genesis(genesis)


def test_documents_and_scenario_ops_set_liquidation_policies() -> None:
    """A pool's ``liquidation_policy`` and a reserve's ``liquidation_protocol_fee`` in a scenario
    and in a genesis are built through the same path; scenario ops change them later."""
    from astera.core import LiquidationPolicy
    from astera.scenario import run_action

    doc = scenario_with_mini_pools(1)
    doc["core_pool"]["liquidation_policy"] = {"dynamic_close_factor": True, "dust_base": 10**11}
    doc["mini_pools"][0]["liquidation_policy"] = {
        "deficit_accounting": True,
        "target_health_factor": "1050000000000000000",
    }
    usdc = next(iter(doc["core_pool"]["reserves"]))
    doc["core_pool"]["reserves"][usdc]["liquidation_protocol_fee"] = 500
    p, _ = build(doc)
    assert p.liquidation_policy() == LiquidationPolicy(dynamic_close_factor=True, dust_base=10**11)
    assert p.liquidation_policy(0) == LiquidationPolicy(
        deficit_accounting=True, target_health_factor=105 * 10**16
    )
    assert p.core.reserves[0].liquidation_protocol_fee == 500
    run_action(
        p, {"op": "set_liquidation_policy", "pool": "mini", "mini_pool": 0, "dynamic_close_factor": True}
    )
    assert p.liquidation_policy(0) == LiquidationPolicy(dynamic_close_factor=True)
    run_action(p, {"op": "set_liquidation_protocol_fee", "pool": "core", "asset": usdc, "fee": 0})
    assert p.core.reserves[0].liquidation_protocol_fee == 0
    with pytest.raises(ProtocolError) as e:
        run_action(p, {"op": "cover_deficit", "pool": "core", "asset": usdc, "amount": "max"})
    assert e.value.code == "policy:no_deficit"
    genesis = make_genesis()
    genesis["core_pool"]["liquidation_policy"] = {"deficit_accounting": True}
    assert build_genesis(genesis).protocol.liquidation_policy() == LiquidationPolicy(deficit_accounting=True)
    genesis["core_pool"]["liquidation_policy"] = {"target_health_factor": "soon"}
    with pytest.raises(GenesisError, match="liquidation_policy"):
        build_genesis(genesis)
