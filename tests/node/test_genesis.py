"""Genesis files (JSON and TOML) and the built-in network."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import ANY

import pytest

from astera.node import Key, genesis
from astera.node.serve import default_genesis_for

from .node_harness import key

TOML = f"""
format = "astera-genesis/1"
chain_id = "toml-net"
start_timestamp = 1700000000

[roles]
admin = "{key("admin").address}"
emergency_admin = "{key("emergency_admin").address}"
oracle = "{key("oracle").address}"
faucet = "{key("faucet").address}"

[assets.USDC]
decimals = 6
price = "100000000"

[assets.WETH]
decimals = 18
price = "300000000000"

[rate_strategies.stable]
model = "default"
optimal_utilization = "800000000000000000000000000"
base_rate = "0"
slope1 = "40000000000000000000000000"
slope2 = "750000000000000000000000000"

[core_pool.reserves.USDC]
rate_strategy = "stable"
ltv = 8000
liquidation_threshold = 8500
liquidation_bonus = 10500
reserve_factor = 1500

[core_pool.reserves.WETH]
rate_strategy = "stable"
ltv = 7500
liquidation_threshold = 8000
liquidation_bonus = 10500

[balances.{key("alice").address}]
USDC = "5000000"
"""


def test_toml_genesis(tmp_path: Path) -> None:
    path = tmp_path / "net.toml"
    path.write_text(TOML)
    doc = genesis.load(path)
    ledger = genesis.build(doc)
    p = ledger.protocol
    assert genesis.chain_id(doc) == "toml-net"
    assert [r.asset for r in p.core.reserves] == ["USDC", "WETH"]  # document order fixes reserve ids
    assert p.core.reserve(("USDC", True)).reserve_factor == 1500
    assert p.wallet("USDC", key("alice").address) == 5_000_000
    assert ledger.roles.oracle == key("oracle").address and p.admin == key("admin").address


def test_json_genesis_refuses_floats_and_bad_documents(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text('{"format": "astera-genesis/1", "start_timestamp": 1.5}')
    with pytest.raises(genesis.GenesisError):
        genesis.load(path)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(genesis.GenesisError):
        genesis.load(path)


def test_a_refused_deployment_is_a_genesis_error(tmp_path: Path) -> None:
    path = tmp_path / "net.toml"
    path.write_text(TOML.replace("liquidation_threshold = 8500", "liquidation_threshold = 7000"))  # LTV > LT
    with pytest.raises(genesis.GenesisError, match="refused"):
        genesis.build(genesis.load(path))


def test_builtin_network(tmp_path: Path) -> None:
    doc = default_genesis_for(tmp_path)
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        "admin.key",
        "emergency_admin.key",
        "faucet.key",
        "keeper.key",
        "oracle.key",
        "pool_admin_0.key",
    ]
    # Keys are reused, not regenerated.
    assert default_genesis_for(tmp_path) == {**doc, "start_timestamp": ANY}
    p = genesis.build(doc).protocol
    assert [r.asset for r in p.core.reserves] == ["WETH", "WBTC", "USDC", "USDT"]
    weth = p.core.reserve(("WETH", True))
    assert (weth.ltv, weth.liquidation_threshold, weth.liquidation_bonus, weth.reserve_factor) == (
        7500,
        8000,
        10800,
        2000,
    )
    assert weth.strategy.model == "pi"
    mp = p.mini_pools[0]
    assert [r.asset for r in mp.reserves] == ["wstETH", "was-USDC"]
    assert mp.reserve("was-USDC").tranche_of is p.core.reserve(("USDC", True))
    assert p.core.flow_limit("USDC", mp) == 1_000_000 * 10**6
    assert p.core.reserve(("USDC", True)).a_total_supply(p.now) == 5_000_000 * 10**6  # bootstrap liquidity
    keeper = Key.load(tmp_path / "keys" / "keeper.key").address  # the in-node keeper starts funded
    assert {a: p.wallet(a, keeper) for a in genesis.KEEPER_BANKROLL} == genesis.KEEPER_BANKROLL
