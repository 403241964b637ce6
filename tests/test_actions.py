"""The action table (:mod:`astera.actions`) is the one declaration the node, the client and
the CLI read: its checks refuse bad parameters the same way everywhere."""

from __future__ import annotations

import pytest

from astera import actions
from astera.client import Client
from astera.node import actions as node_actions
from astera.node.errors import NodeError
from astera.wire import Key

CURVE = {
    "model": "default",
    "optimal_utilization": "8" + "0" * 26,
    "base_rate": "0",
    "slope1": "0",
    "slope2": "0",
}
PI = {
    "model": "pi",
    "optimal_utilization": "0",
    "kp": "0",
    "ki": "0",
    "min_controller_error": "-1",
    "max_i_time_amp": "0",
}


def test_every_action_is_well_formed() -> None:
    for name, action in actions.ACTIONS.items():
        assert callable(action.run), name
        assert action.role is None or isinstance(action.role, actions.Role)
        assert not set(action.required) & set(action.optional), name


@pytest.mark.parametrize(
    ("action", "params", "what"),
    [
        ("fly", {}, "unknown action"),
        ("deposit", [], "must be an object"),
        ("deposit", {"pool": "core", "asset": "WETH"}, "missing ['amount']"),
        ("deposit", {"pool": "core", "asset": "WETH", "amount": "1", "x": 1}, "unexpected ['x']"),
        ("deposit", {"pool": "core", "asset": "WETH", "amount": 1}, "deposit.amount"),
        (
            "deposit",
            {"pool": "core", "asset": "WETH", "amount": "1", "on_behalf_of": "00" * 32},
            "on_behalf_of",
        ),
        ("set_pause", {"pool": "core", "paused": "yes"}, "set_pause.paused"),
        (
            "set_rate_strategy",
            {"pool": "core", "asset": "USDC", "strategy": {**CURVE, "slope1": "-1"}},
            "set_rate_strategy.strategy.slope1 must not be negative",
        ),
        (
            "init_core_reserve",
            {"asset": "USDC", "strategy": {"model": "fixed", "borrow_rate": str(2**256)}},
            "init_core_reserve.strategy.borrow_rate must be",
        ),
        (
            "set_rate_strategy",
            {"pool": 0, "asset": "aUSDC", "strategy": {**PI, "max_i_time_amp": "-86400"}},
            "set_rate_strategy.strategy.max_i_time_amp must not be negative",
        ),
    ],
)
def test_bad_parameters_are_refused_alike_by_the_table_and_the_node(
    action: str, params: object, what: str
) -> None:
    with pytest.raises(actions.InvalidParams) as table:
        actions.parse_params(action, params)
    assert what in table.value.message
    with pytest.raises(NodeError) as node:
        node_actions.parse_params(action, params)
    assert node.value.code == "invalid_tx" and node.value.message == table.value.message


def test_parsed_parameters_are_typed() -> None:
    args = actions.parse_params("withdraw", {"pool": 0, "asset": "wstETH", "amount": "max", "unwrap": True})
    assert args == {"pool": 0, "asset": "wstETH", "amount": 2**256 - 1, "unwrap": True}
    pi = actions.parse_params("set_rate_strategy", {"pool": "core", "asset": "USDC", "strategy": PI})
    assert pi["strategy"]["min_controller_error"] == -1  # the PI controller's error floor is signed


def test_the_client_checks_before_it_signs_or_sends() -> None:
    me = Client("http://127.0.0.1:9").account_for(Key.generate())  # nothing listens there
    with pytest.raises(actions.InvalidParams, match="deposit.amount"):
        me.send("deposit", pool="core", asset="WETH", amount=1.5)
    with pytest.raises(actions.InvalidParams, match="unknown action"):
        me.send("fly")
