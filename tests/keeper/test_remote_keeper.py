"""Third-party keepers: two keepers follow a leader over HTTP (each with its own verified copy),
and after a price crash compete to liquidate. Every unhealthy account ends healthy, no
liquidation takes more than the close factor allows, the loser's refusals are clean protocol
refusals never sent twice, and both keepers' state is the leader's, hash for hash."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from astera.compose import create_app
from astera.core import WAD
from astera.core.errors import HF_NOT_BELOW_THRESHOLD
from astera.core.liquidation_policy import CLOSE_FACTOR
from astera.core.wadray import percent_mul
from astera.keeper.in_node import REPEAT, KeeperConfig
from astera.keeper.remote import open_keeper
from astera.node import genesis
from astera.node.follower import FollowerNode
from astera.node.store import open_store
from astera.node.transactions import decode_tx
from astera.node.verifier import Verifier
from astera.wire import sign_tx
from node.follow_harness import follower, leader, until, wait_for
from node.node_harness import LiveApi, free_port, key, make_genesis, metric

USD = 10**8
WETH = 10**18
USDC = 10**6
BORROWERS = ("alice", "bob", "carol", "dave")
KEEPERS = ("keeper1", "keeper2")


def send(url: str, name: str, nonce: int, action: str, **params: Any) -> dict[str, Any]:
    chain_id = httpx.get(url + "/status").json()["chain_id"]
    r = httpx.post(url + "/txs", json=sign_tx(key(name), chain_id, nonce, action, params), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def keepers(
    url: str, tmp_path: Path, stack: ExitStack, dry_run: bool = False, names: tuple[str, ...] = KEEPERS
) -> list[tuple[FollowerNode, io.StringIO]]:
    out = []
    for name in names:
        screen = io.StringIO()
        node = open_keeper(
            url,
            key(name),
            tmp_path / name,
            config=KeeperConfig(rescan_seconds=1),
            dry_run=dry_run,
            console=Console(file=screen, width=80),
            verifier=Verifier(1),
        )
        stack.enter_context(LiveApi(create_app(node), node))
        out.append((node, screen))
    return out


def settle(url: str, nodes: list[FollowerNode], timeout: float = 90) -> dict[str, Any]:
    """Until the leader's head has not moved for a second and every keeper holds it."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        status = httpx.get(url + "/status").json()
        if status["height"] != last:
            last, since = status["height"], time.monotonic()
        elif time.monotonic() - since > 1.5 and all(n.follower.head.height == last for n in nodes):
            return status  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, "the keepers did not settle"
        time.sleep(0.1)


def borrowers_then_crash(url: str) -> None:
    """Each borrower: 10 WETH in, 27,000 USDC out; then WETH falls to $3,000 (HF 0.89)."""
    for name in BORROWERS:
        send(url, name, 0, "deposit", pool="core", asset="WETH", amount=str(10 * WETH))
        send(url, name, 1, "borrow", pool="core", asset="USDC", amount=str(27_000 * USDC))
    send(url, "oracle", 0, "set_price", asset="WETH", price=str(3_000 * USD))


def liquidations_within_close_factor(store_dir: Path) -> int:
    """Replay the log, checking each liquidation against the debt just before it; how many."""
    store = open_store(None, str(store_dir))
    try:
        doc = json.loads(store.genesis_json() or "{}")
        ledger = genesis.build(doc)
        chain_id = genesis.chain_id(doc)
        count = 0
        for header, txs in store.log(0):
            ledger.open_block(header.timestamp)
            for _, body, signature in txs:
                tx = decode_tx({"tx": json.loads(body), "signature": signature}, chain_id)
                before = 0
                if tx.action == "liquidate":
                    before = ledger.protocol.debt(tx.args["target"], tx.args["debt_asset"])
                events = ledger.apply(tx)
                for e in events:
                    if e.name == "LiquidationCall":
                        count += 1
                        assert e.fields["debt_to_cover"] <= percent_mul(before, CLOSE_FACTOR)
            ledger.close_block(len(txs))
        return count
    finally:
        store.close()


def test_two_keepers_compete_after_a_crash(tmp_path: Path) -> None:
    doc = make_genesis(**{name: dict(genesis.KEEPER_BANKROLL) for name in KEEPERS})
    with leader(tmp_path, doc) as lead, ExitStack() as stack:
        pair = keepers(lead.url, tmp_path, stack)
        borrowers_then_crash(lead.url)
        status = settle(lead.url, [n for n, _ in pair])
        for name in BORROWERS:
            account = httpx.get(f"{lead.url}/accounts/{key(name).address}").json()
            assert int(account["pools"]["core"]["health_factor"]) >= WAD, name
        done = {name: 0 for name in KEEPERS}
        for (node, screen), name in zip(pair, KEEPERS, strict=True):
            assert node.follower.head.state_hash == status["state_hash"]  # the leader's state, verified
            counters = node.keeper.status()  # type: ignore[union-attr]
            done[name] = counters["liquidations"]
            # A lost race is a clean protocol refusal (healthy already: 73), never resent.
            assert set(counters["refusals"]) <= {HF_NOT_BELOW_THRESHOLD, REPEAT}, counters["refusals"]
            assert counters["bad_debt"] == 0
            if counters["liquidations"]:
                assert "liquidated" in screen.getvalue() and "est. profit" in screen.getvalue()
            assert "…" not in screen.getvalue()  # nothing cut off at 80 columns
            metrics = httpx.get(f"http://127.0.0.1:{stack_port(stack, node)}/metrics").text
            assert metric(metrics, "astera_keeper_liquidations_total") == counters["liquidations"]
        assert sum(done.values()) >= len(BORROWERS)
    assert liquidations_within_close_factor(tmp_path / "keeper1") == sum(done.values())


def stack_port(stack: ExitStack, node: FollowerNode) -> int:
    for cb in stack._exit_callbacks:  # noqa: SLF001 - find the LiveApi serving this node
        live = getattr(cb[1], "__self__", None)
        if isinstance(live, LiveApi) and live.node is node:
            return live.port
    raise LookupError("node not served")


def test_a_dry_run_sends_nothing_and_shows_what_it_would(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It shows each liquidation it would send once (its report, not also the node's log lines),
    and counts them as a dry run's, never as liquidations sent."""
    caplog.set_level(logging.INFO, "astera.keeper")
    doc = make_genesis(**{name: dict(genesis.KEEPER_BANKROLL) for name in KEEPERS})
    with leader(tmp_path, doc) as lead, ExitStack() as stack:
        [(node, screen)] = keepers(lead.url, tmp_path, stack, dry_run=True, names=KEEPERS[:1])
        borrowers_then_crash(lead.url)
        deadline = time.monotonic() + 60
        while "so far (dry run, nothing sent): would liquidate" not in screen.getvalue():
            assert time.monotonic() < deadline, screen.getvalue()
            time.sleep(0.1)
        height = settle(lead.url, [node])["height"]
        assert height == 2 * len(BORROWERS) + 1  # nothing but the script's transactions
        wait_for(node, height)
        shown = screen.getvalue()
        assert "would liquidate at" in shown and "…" not in shown
        assert not [r for r in caplog.records if "liquidat" in r.getMessage()]  # one report
        status = node.keeper.status()  # type: ignore[union-attr]
        would = status["dry_run_liquidations"]
        assert would >= 1 and status["liquidations"] == 0 and status["repaid_usd"] == "0"
        assert int(status["dry_run_repaid_usd"]) > 0
        metrics = httpx.get(f"http://127.0.0.1:{stack_port(stack, node)}/metrics").text
        assert metric(metrics, "astera_keeper_liquidations_total") == 0
        assert metric(metrics, "astera_keeper_dry_run_liquidations_total") == would
        assert metric(metrics, "astera_keeper_repaid_usd_total") == 0


def test_a_keeper_restarted_at_the_head_liquidates_without_a_new_block(tmp_path: Path) -> None:
    """Before, a keeper whose copy already held the leader's head waited for the next block to
    look at the book: on a quiet network the crashed accounts stayed below 1. Now it looks once
    it has caught up."""
    doc = make_genesis(keeper1=dict(genesis.KEEPER_BANKROLL))
    with leader(tmp_path, doc) as lead:
        borrowers_then_crash(lead.url)
        height = httpx.get(lead.url + "/status").json()["height"]
        with follower(lead.url, tmp_path / "keeper1") as (copy, _):  # its copy, up to the crash
            wait_for(copy, height)
        with ExitStack() as stack:
            [(node, _)] = keepers(lead.url, tmp_path, stack, names=KEEPERS[:1])

            def all_healthy() -> bool:
                accounts = [httpx.get(f"{lead.url}/accounts/{key(n).address}").json() for n in BORROWERS]
                return all(int(a["pools"]["core"]["health_factor"]) >= WAD for a in accounts)

            until(all_healthy, timeout=30)
            assert node.keeper.status()["liquidations"] >= len(BORROWERS)  # type: ignore[union-attr]


def test_sigterm_stops_the_keeper_cleanly(tmp_path: Path) -> None:
    """``astera keeper --node URL`` stopped as a service manager stops it (SIGTERM) shuts its
    follower down and ends its signature-checking workers, releasing their queues'
    semaphores, so no resource-tracker warning (it leaked 5) and no traceback is printed; after
    its graceful shutdown it ends by the signal it was sent, as uvicorn's servers do."""
    key("keeper1").save(tmp_path / "keeper1.key")
    port = free_port()
    with leader(tmp_path, make_genesis()) as lead:
        cmd = [
            sys.executable,
            "-m",
            "astera",
            "keeper",
            "--node",
            lead.url,
            "--key",
            str(tmp_path / "keeper1.key"),
        ]
        cmd += ["--data", str(tmp_path / "keeper"), "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:

            def serving() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/status", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return proc.poll() is not None

            until(serving)
            proc.send_signal(signal.SIGTERM)
            # Until the resource tracker, which shares stderr, has ended too: its warning is
            # written after the keeper exits.
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGTERM, err
    assert "warn" not in err.lower() and "leaked" not in err and "Traceback" not in err, err
    assert f"following {lead.url}" in err  # it had started
