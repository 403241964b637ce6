"""The keeper inside the node: after a price crash it liquidates through signed transactions
that land in the log like anyone's, replay to the same state, and stop when the account is
healthy; a node without a keeper does nothing; refusals are counted and recovered from."""

from __future__ import annotations

import asyncio
import io
import json
import pickle
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from astera.cli import app
from astera.compose import create_app, open_node
from astera.core import WAD, ProtocolError
from astera.core.errors import HF_NOT_BELOW_THRESHOLD, INSUFFICIENT_BALANCE
from astera.keeper import Monitor, Planner, attach
from astera.keeper.in_node import InNodeKeeper, NodeSubmitter
from astera.keeper.remote import DryRunSubmitter, Reporter
from astera.keeper.scenario import model_market
from astera.node import genesis
from astera.node.chain import open_chain, verify
from astera.node.node import Node, Participant
from astera.node.serve import ServeConfig
from astera.node.store import SqlStore, open_store
from astera.node.transactions import decode_tx
from astera.wire.keys import Key
from astera.wire.tx import sign_tx
from node.node_harness import START, key, make_genesis, metric

USD = 10**8
WETH = 10**18
USDC = 10**6
KEEPER = key("keeper")
ALICE = key("alice").address


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Callable[[], SqlStore]]:
    """Open (and reopen) one SQLite log; all are closed at teardown."""
    opened: list[SqlStore] = []

    def _open() -> SqlStore:
        opened.append(open_store(None, str(tmp_path / "data")))
        return opened[-1]

    yield _open
    for s in opened:
        s.close()


def funded_genesis() -> dict[str, Any]:
    """The test network with the keeper holding the built-in network's bankroll."""
    return make_genesis(keeper=dict(genesis.KEEPER_BANKROLL))


def make_node(store: SqlStore, doc: dict[str, Any]) -> Node:
    return Node(open_chain(store, doc), snapshot_every=0, faucet_key=key("faucet"), clock=lambda: START + 60)


def run(node: Node, script: Callable[[Node], Awaitable[None]]) -> None:
    """Start the node, run ``script``, wait for the keeper (if any) to be idle, stop the node."""

    async def go() -> None:
        await node.start()
        try:
            await script(node)
            if isinstance(node.keeper, InNodeKeeper):
                await asyncio.wait_for(node.keeper.idle(), 20)
        finally:
            await node.stop()

    asyncio.run(go())


def logged(store: SqlStore, chain_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every logged transaction as (sender, action, params), its signature checked."""
    out = []
    for _, txs in store.log(0):
        for _, body, signature in txs:
            tx = decode_tx({"tx": json.loads(body), "signature": signature}, chain_id)
            out.append((tx.sender, tx.action, json.loads(body)["params"]))
    return out


async def core_borrower_then_crash(node: Node) -> None:
    """Alice: 10 WETH in the Core-Pool, 27,000 USDC borrowed; then WETH falls to $3,000 (HF 0.89)."""
    alice = Participant(key("alice"), node)
    await alice.send("deposit", {"pool": "core", "asset": "WETH", "amount": str(10 * WETH)})
    await alice.send("borrow", {"pool": "core", "asset": "USDC", "amount": str(27_000 * USDC)})
    await crash(node, "WETH", 3_000)


async def crash(node: Node, asset: str, dollars: int) -> None:
    await Participant(key("oracle"), node).send("set_price", {"asset": asset, "price": str(dollars * USD)})


def test_keeper_liquidates_a_crashed_position_with_signed_transactions(
    store: Callable[[], SqlStore], tmp_path: Path
) -> None:
    node = make_node(store(), funded_genesis())
    keeper = attach(node, KEEPER)
    p = node.chain.ledger.protocol
    usdc_before, weth_before = p.wallet("USDC", KEEPER.address), p.wallet("WETH", KEEPER.address)
    run(node, core_borrower_then_crash)

    txs = logged(store(), node.chain_id)
    by_keeper = [(action, params) for sender, action, params in txs if sender == KEEPER.address]
    # HF 0.89 -> three halvings of the debt (13,500, 6,750, 3,375 USDC) bring it back above 1.
    assert [action for action, _ in by_keeper] == ["liquidate"] * 3
    assert all(
        params["target"] == ALICE and params["debt_asset"] == "USDC" and params["collateral_asset"] == "WETH"
        for _, params in by_keeper
    )
    assert [int(params["debt_to_cover"]) for _, params in by_keeper] == [
        13_500 * USDC,
        6_750 * USDC,
        3_375 * USDC,
    ]
    assert p.health_factor(ALICE) >= WAD
    # Own funds: the keeper paid the USDC and kept the WETH (plus the 8% bonus), nothing sold.
    assert usdc_before - p.wallet("USDC", KEEPER.address) == 23_625 * USDC
    assert p.wallet("WETH", KEEPER.address) - weth_before == 23_625 * 108 // 100 * WETH // 3_000
    status = keeper.status()
    assert status["address"] == KEEPER.address and status["liquidations"] == 3
    assert status["refusals"] == {} and status["unhealthy"] == 1 and status["unprofitable"] == 0
    # What it did in USD at the oracle's prices (USDC $1, WETH $3,000), as a third-party keeper reports it.
    assert (status["repaid_usd"], status["seized_usd"]) == (str(23_625 * USD), str(25_515 * USD))
    assert int(status["profit_usd"]) > 0
    assert metric(node.metrics.render().decode(), "astera_keeper_liquidations_total") == 3
    # The keeper's transactions are ordinary log entries: a full replay reproduces the state.
    report = verify(store())
    assert report.transactions == len(txs) == 6
    assert report.state_hash == node.sequencer.head.state_hash == node.chain.ledger.state_hash()
    cli = CliRunner().invoke(app, ["verify", "--data", str(tmp_path / "data")])
    assert cli.exit_code == 0 and "6 transactions replayed from genesis" in cli.output
    assert f"state {node.chain.ledger.state_hash()}" in cli.output


def test_keeper_repays_mini_pool_tranche_debt_with_core_shares(store: Callable[[], SqlStore]) -> None:
    node = make_node(store(), funded_genesis())
    attach(node, KEEPER)

    async def script(node: Node) -> None:
        alice = Participant(key("alice"), node)
        await alice.send("deposit", {"pool": 0, "asset": "wstETH", "amount": str(10 * WETH)})
        await alice.send("borrow", {"pool": 0, "asset": "was-USDC", "amount": str(30_000 * USDC)})
        await crash(node, "wstETH", 3_500)  # HF 35,000 x 75% / 30,000 = 0.875

    run(node, script)
    by_keeper = [
        (a, params) for sender, a, params in logged(store(), node.chain_id) if sender == KEEPER.address
    ]
    actions = [a for a, _ in by_keeper]
    assert actions[0] == "deposit" and by_keeper[0][1]["pool"] == "core"  # Core shares for tranche debt
    assert actions.count("liquidate") >= 1 and set(actions) == {"deposit", "liquidate"}
    assert all(
        params["pool"] == 0 and params["target"] == ALICE for a, params in by_keeper if a == "liquidate"
    )
    assert node.chain.ledger.protocol.health_factor(ALICE, pool=0) >= WAD
    assert verify(store()).state_hash == node.chain.ledger.state_hash()


def test_without_a_keeper_nothing_is_liquidated(store: Callable[[], SqlStore]) -> None:
    node = make_node(store(), funded_genesis())  # no attach: what --no-keeper builds
    run(node, core_borrower_then_crash)
    assert [a for _, a, _ in logged(store(), node.chain_id)] == ["deposit", "borrow", "set_price"]
    assert node.chain.ledger.protocol.health_factor(ALICE) < WAD
    assert "astera_keeper" not in node.metrics.render().decode()


def test_an_unfunded_keeper_refuses_locally_then_liquidates_once_funded(
    store: Callable[[], SqlStore],
) -> None:
    node = make_node(store(), make_genesis())  # the keeper holds nothing
    keeper = attach(node, KEEPER)

    async def script(node: Node) -> None:
        await core_borrower_then_crash(node)
        await keeper.idle()
        assert keeper.counters.refusals[INSUFFICIENT_BALANCE] >= 1 and keeper.counters.liquidations == 0
        # A faucet mint is a role-gated transaction: the keeper looks again, now funded.
        await node.mint_from_faucet(KEEPER.address, "USDC", 1_000_000 * USDC)

    run(node, script)
    senders = [(s, a) for s, a, _ in logged(store(), node.chain_id)]
    assert (KEEPER.address, "liquidate") in senders
    assert senders[:4] == [
        (ALICE, "deposit"),
        (ALICE, "borrow"),
        (key("oracle").address, "set_price"),
        (key("faucet").address, "mint"),  # nothing was sent while the keeper could not pay
    ]
    assert node.chain.ledger.protocol.health_factor(ALICE) >= WAD
    assert verify(store()).state_hash == node.chain.ledger.state_hash()


def test_a_restarted_keeper_looks_at_the_book_without_waiting_for_a_block(
    store: Callable[[], SqlStore],
) -> None:
    """Before, a keeper looked only after a block: restarted over a book with an account already
    below 1, on a quiet network it waited indefinitely (``/status``: 0 unhealthy). Now it looks
    once at start."""
    run(make_node(store(), funded_genesis()), core_borrower_then_crash)  # no keeper: HF 0.89 stays
    node = make_node(store(), funded_genesis())
    keeper = attach(node, KEEPER)

    async def quiet(node: Node) -> None:  # no transaction, so no block
        return

    run(node, quiet)
    assert keeper.counters.runs == 1 and keeper.counters.unhealthy == 1
    assert keeper.counters.liquidations == 3
    assert node.chain.ledger.protocol.health_factor(ALICE) >= WAD


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_unfundable_liquidation_is_said_once_in_words(
    store: Callable[[], SqlStore], dry_run: bool
) -> None:
    """Before, every later run planned it again: ``refused (error:ERC20InsufficientBalance)`` after
    each block, the refusal counter climbing. Now it is said once, in words (what the key holds,
    what the liquidation needs), counted once, and left alone until the key's USDC changes."""
    node = make_node(store(), make_genesis())  # the keeper holds nothing
    keeper = attach(node, KEEPER)
    if dry_run:
        keeper.submitter_class = DryRunSubmitter
    screen = io.StringIO()
    keeper.on_report = [Reporter(keeper, Console(file=screen, width=80), dry_run)]

    async def script(node: Node) -> None:
        await core_borrower_then_crash(node)
        await keeper.idle()
        for dollars in (2_990, 2_980, 2_970):  # new prices: each a run, the keeper still unfunded
            await crash(node, "WETH", dollars)
            await keeper.idle()
        assert keeper.counters.runs == 4 and keeper.counters.refusals == {INSUFFICIENT_BALANCE: 1}
        await node.mint_from_faucet(KEEPER.address, "USDC", 1_000_000 * USDC)  # the wallet changes

    run(node, script)
    shown = " ".join(screen.getvalue().split())
    assert shown.count("refused") == 1, shown
    assert "the key holds 0 USDC; this liquidation needs 13,500 USDC" in shown
    assert "ERC20InsufficientBalance" not in shown.replace("(error:ERC20InsufficientBalance)", "")
    assert "key short of funds (error:ERC20InsufficientBalance) x1" in shown
    assert keeper.counters.refusals == {INSUFFICIENT_BALANCE: 1} and keeper.counters.liquidations >= 1
    assert node.chain.ledger.protocol.health_factor(ALICE) >= WAD or dry_run


def test_a_node_refusal_is_a_protocol_error_with_its_reason(store: Callable[[], SqlStore]) -> None:
    """A plan made on a copy where WETH crashed, sent to the node where it did not: refused ("73")."""
    node = make_node(store(), funded_genesis())
    keeper = attach(node, KEEPER)
    outcome: list[BaseException] = []

    async def script(node: Node) -> None:
        alice = Participant(key("alice"), node)
        await alice.send("deposit", {"pool": "core", "asset": "WETH", "amount": str(10 * WETH)})
        await alice.send("borrow", {"pool": "core", "asset": "USDC", "amount": str(27_000 * USDC)})
        copy = pickle.loads(pickle.dumps(node.chain.ledger.protocol))
        copy.set_price("WETH", 3_000 * USD)
        market = model_market(copy, 10_000_000 * USD)
        (target,) = Monitor(copy).scan()
        plan = Planner(copy, market).plan(target.pool, target.user, target.position)
        assert plan is not None
        submitter = NodeSubmitter(
            copy,
            keeper.participant,
            asyncio.get_running_loop(),
            market,
            keeper.counters,
            timeout=10,
            stopping=threading.Event(),
        )
        try:
            await asyncio.get_running_loop().run_in_executor(None, submitter.submit, plan)
        except ProtocolError as e:
            outcome.append(e)

    run(node, script)
    assert [getattr(e, "code", None) for e in outcome] == [HF_NOT_BELOW_THRESHOLD]
    # In the node's words, not only its code (a keeper shows them).
    assert "only accounts below 1 can be liquidated" in str(outcome[0])
    assert keeper.counters.refusals == {HF_NOT_BELOW_THRESHOLD: 1} and keeper.counters.liquidations == 0
    assert KEEPER.address not in {s for s, _, _ in logged(store(), node.chain_id)}


def test_stopping_the_node_mid_run_ends_the_keeper_cleanly(store: Callable[[], SqlStore]) -> None:
    """A stop while the keeper is liquidating: what it sent is logged and counted, nothing hangs."""
    borrowers = ["alice", "bob", "carol", "dave"]
    node = make_node(store(), funded_genesis())
    keeper = attach(node, KEEPER)

    async def go() -> None:
        await node.start()
        try:
            for name in borrowers:
                user = Participant(key(name), node)
                await user.send("deposit", {"pool": "core", "asset": "WETH", "amount": str(10 * WETH)})
                await user.send("borrow", {"pool": "core", "asset": "USDC", "amount": str(27_000 * USDC)})
            await crash(node, "WETH", 3_000)
            while keeper.counters.liquidations == 0:  # stop once the run is under way
                await asyncio.sleep(0.001)
        finally:
            await asyncio.wait_for(node.stop(), 20)

    asyncio.run(go())
    assert not keeper.busy and keeper.status()["running"] is False
    liquidations = [a for s, a, _ in logged(store(), node.chain_id) if s == KEEPER.address]
    assert 1 <= len(liquidations) == keeper.counters.liquidations
    assert verify(store()).state_hash == node.chain.ledger.state_hash()


def test_status_and_metrics_show_the_keeper(store: Callable[[], SqlStore]) -> None:
    node = make_node(store(), funded_genesis())
    attach(node, KEEPER)
    with TestClient(create_app(node)) as api:
        price = {"asset": "WETH", "price": str(3_000 * USD)}
        tx = sign_tx(key("oracle"), node.chain_id, 0, "set_price", price)
        assert api.post("/txs", json=tx).status_code == 200
        keeper = api.get("/status").json()["keeper"]
        metrics = api.get("/metrics").text
    assert keeper["address"] == KEEPER.address and keeper["liquidations"] == 0 and keeper["refusals"] == {}
    assert keeper["running"] is True  # enabled and watching, between runs too
    assert (
        metric(metrics, "astera_keeper_liquidations_total") == 0
        and metric(metrics, "astera_keeper_unhealthy") == 0
    )


def test_serve_runs_the_keeper_unless_switched_off(tmp_path: Path) -> None:
    off = open_node(ServeConfig(data=tmp_path / "off", keeper=False))
    try:
        assert off.keeper is None and off.metrics.keeper is None
    finally:
        off.store.close()
    on = open_node(ServeConfig(data=tmp_path / "on"))
    try:
        assert on.keeper is not None
        stored = Key.load(tmp_path / "on" / "keys" / "keeper.key")
        assert on.keeper.address == stored.address  # kept in the data directory, like the faucet key
        p = on.chain.ledger.protocol  # the built-in network funds it
        assert {a: p.wallet(a, stored.address) for a in genesis.KEEPER_BANKROLL} == genesis.KEEPER_BANKROLL
    finally:
        on.store.close()
    again = open_node(ServeConfig(data=tmp_path / "on"))  # a restart signs with the same key
    try:
        assert again.keeper is not None and again.keeper.address == stored.address
    finally:
        again.store.close()
