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
