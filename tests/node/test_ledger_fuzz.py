"""Random signed actions against the ledger: each one takes effect or is refused with a 4xx
code and changes nothing; none crashes the node (which would answer 500)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astera.actions import ACTIONS, Role
from astera.node import genesis
from astera.node.errors import NodeError
from astera.node.transactions import decode_tx
from astera.wire.tx import sign_tx

from .node_harness import key, make_genesis

NAMES = ("alice", "bob", "admin", "oracle", "faucet", "pool_admin", "emergency_admin")
ASSETS = ("WETH", "USDC", "wstETH", "was-USDC", "WBTC", "DOGE")
POOL_ASSETS: dict[Any, tuple[str, ...]] = {"core": ("WETH", "USDC", "WBTC"), 0: ("wstETH", "was-USDC")}
BASE = genesis.build(make_genesis())

amounts = st.sampled_from(["0", "1", "1000000", str(10**18), str(10**30), str(2**256 - 1)])
values: dict[str, Any] = {
    "pool": st.sampled_from(["core", 0, 1]),
    "mini_pool": st.sampled_from([0, 1]),
    "asset": st.sampled_from(ASSETS),
    "collateral_asset": st.sampled_from(ASSETS),
    "debt_asset": st.sampled_from(ASSETS),
    "tranche_of": st.sampled_from(ASSETS),
    "amount": amounts | st.just("max"),
    "debt_to_cover": amounts | st.just("max"),
    "price": amounts,
    "limit": amounts,
    "cap": amounts,
    "shares": amounts,
    "threshold": amounts,
}
accounts = st.sampled_from(NAMES).map(lambda n: key(n).address)
bps = st.sampled_from([0, 1, 5000, 8000, 10500, 65535, 2**40])


def param_value(name: str, parser: Any) -> Any:
    if name in values:
        return values[name]
    if parser.__name__ == "account":
        return accounts
    if parser.__name__ == "flag":
        return st.booleans()
    if parser.__name__ == "small_int":
        return bps
    if parser.__name__ == "strategy":
        return st.sampled_from(
            [
                {"model": "fixed", "borrow_rate": str(10**26)},
                {
                    "model": "default",
                    "optimal_utilization": str(8 * 10**26),
                    "base_rate": "0",
                    "slope1": str(4 * 10**25),
                    "slope2": str(75 * 10**25),
                },
                {
                    "model": "default",
                    "optimal_utilization": "0",
                    "base_rate": "0",
                    "slope1": "0",
                    "slope2": "0",
                },
            ]
        )
    return amounts


@st.composite
def actions(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(ACTIONS)))
    spec = ACTIONS[name]
    params = {k: draw(param_value(k, p)) for k, p in spec.required.items()}
    for k, p in spec.optional.items():
        if draw(st.booleans()):
            params[k] = draw(param_value(k, p))
    pool = params.get("pool", params.get("mini_pool"))
    if "asset" in params and draw(st.integers(0, 4)):  # mostly an asset the pool lists
        params["asset"] = draw(st.sampled_from(POOL_ASSETS.get(pool, ASSETS)))
    if spec.role is None:
        holder = draw(st.sampled_from(["alice", "bob"]))
    elif spec.role is Role.POOL_ADMIN:
        holder = "admin" if pool == "core" else "pool_admin"
    else:
        holder = spec.role.value
    sender = holder if draw(st.integers(0, 4)) else draw(st.sampled_from(NAMES))
    return sender, name, params


@given(steps=st.lists(actions(), min_size=1, max_size=12))
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_actions_take_effect_or_change_nothing(steps: list[tuple[str, str, dict[str, Any]]]) -> None:
    import pickle

    ledger = pickle.loads(pickle.dumps(BASE))
    ledger.open_block(ledger.protocol.now + 3600)
    for who, action, params in steps:
        try:
            tx = decode_tx(sign_tx(key(who), "t", ledger.next_nonce(key(who).address), action, params), "t")
        except NodeError as e:  # e.g. "max" where the protocol has no such amount
            assert e.code == "invalid_tx"
            continue
        before = (ledger.protocol.state_hash(), dict(ledger.nonces))
        try:
            ledger.apply(tx)
        except NodeError as e:
            assert e.status < 500
            assert (ledger.protocol.state_hash(), dict(ledger.nonces)) == before, (action, params, e)
