"""``Protocol.simulate``: a dry run reports exactly what running the steps does, then leaves
the state as it was (the same canonical hash, incremental and from scratch)."""

from __future__ import annotations

import pickle

from astera.core import Protocol, ProtocolError
from astera.core.dry_run import account_after
from strategies import ADMIN, EMERGENCY, mini_protocol, supply

USDC = 10**6
WETH = 10**18


def funded() -> Protocol:
    p = mini_protocol()
    supply(p, "alice", "USDC", 2_000_000 * USDC)
    supply(p, "bob", "WETH", 100 * WETH)
    p.mint("carol", "WETH", 10 * WETH)
    p.mint("carol", "EXO", 10_000 * WETH)
    p.deposit("carol", "EXO", 10_000 * WETH, pool=0)
    p.state_hash()  # the running digest exists: a dry run must not disturb it
    return p


def steps() -> list:
    return [
        lambda p: p.deposit("carol", "WETH", 10 * WETH),
        lambda p: p.borrow("carol", "USDC", 10**12),  # beyond her collateral: refused with "9"
        lambda p: p.borrow("carol", "USDC", 20_000 * USDC),
        lambda p: p.borrow("carol", "aUSDC", 1_000 * USDC, pool=0),  # flow-borrows from the Core
        lambda p: p.set_pause(EMERGENCY, 0, True),
        lambda p: p.repay("carol", "aUSDC", 1, pool=0),  # the pool is paused now: "59"
        lambda p: p.set_deposit_cap(ADMIN, "core", "USDC", 5),
        lambda p: p.configure_reserve_as_collateral(ADMIN, "core", "WETH", 1, 2, 10001),
    ]


def test_a_dry_run_changes_nothing_and_equals_running_the_steps() -> None:
    p = funded()
    before = p.state_hash()
    twin = pickle.loads(pickle.dumps(p))

    run = p.simulate(steps(), at=p.now + 3_600)

    assert p.state_hash() == before == p.state_hash(incremental=False)
    assert [o.ok for o in run.outcomes] == [True, False, True, True, True, False, True, True]
    assert [o.refusal.code for o in run.outcomes if isinstance(o.refusal, ProtocolError)] == ["9", "59"]
    assert run.timestamp == p.now + 3_600
    assert any(e.name == "FlowBorrow" for e in run.outcomes[3].events)

    # The same steps for real, each atomic on its own, at the same time.
    twin.set_time(twin.now + 3_600)
    for step, outcome in zip(steps(), run.outcomes, strict=True):
        try:
            events = step(twin) or []
        except ProtocolError as e:
            assert outcome.refusal is not None and e.code == outcome.refusal.code  # type: ignore[attr-defined]
        else:
            assert events == outcome.events
    assert list(run.accounts) == ["carol"]  # treasuries and pools are not accounts
    for user, after in run.accounts.items():
        assert after == account_after(twin, user), user
    assert run.accounts["carol"]["core"].data.total_debt_base > 0


def test_named_accounts_are_inspected_even_when_nothing_was_written() -> None:
    p = funded()
    before = p.state_hash()
    run = p.simulate([lambda p: p.borrow("dave", "USDC", 1)], accounts=["dave"])
    assert run.outcomes[0].refusal is not None and list(run.accounts) == ["dave"]
    assert run.accounts["dave"]["core"].positions == []
    assert p.state_hash() == before


def test_a_dry_run_inside_a_transaction_leaves_the_transaction_going() -> None:
    p = funded()
    with p.transaction():
        p.deposit("carol", "WETH", WETH)
        mid = p.state_hash()
        p.simulate([lambda p: p.withdraw("carol", "WETH", WETH)])
        assert p.state_hash() == mid
    assert p.supplied("carol", "WETH") == WETH
