"""Followers: a follower catches up from genesis by verifying every block, serves the same state,
forwards transactions; a leader that serves a block that does not verify (a bad signature, a
state hash the replay does not reproduce, a changed earlier block) stops it at that height with
nothing unverified served."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from astera.cli import app
from astera.compose import create_app
from astera.node import verifier
from astera.node.chain import ReplayError, open_chain, verify
from astera.node.errors import NodeError
from astera.node.follower import Leader, VerificationFailed
from astera.node.limits import Limits
from astera.node.node import Node
from astera.node.snapshots import MAGIC
from astera.node.store import open_store
from astera.node.transactions import decode_tx
from astera.wire import sign_tx

from .follow_harness import Stub, follower, leader, tampered_leader, until, wait_for, wait_stopped
from .node_harness import LiveApi, key, make_genesis, metric, schema_errors

WETH = 10**18
USDC = 10**6


def send(http: httpx.Client, name: str, nonce: int, action: str, **params: Any) -> httpx.Response:
    chain_id = http.get("/status").json()["chain_id"]
    return http.post("/txs", json=sign_tx(key(name), chain_id, nonce, action, params))


def some_blocks(url: str) -> int:
    """Deposits and a borrow on the leader, one block each; the leader's head."""
    with httpx.Client(base_url=url, timeout=30) as http:
        for n in range(3):
            assert send(http, "alice", n, "deposit", pool="core", asset="WETH", amount=str(WETH)).is_success
        r = send(http, "alice", 3, "borrow", pool="core", asset="USDC", amount=str(1_000 * USDC))
        assert r.is_success
        return int(http.get("/status").json()["height"])


def test_a_follower_catches_up_from_genesis_serves_the_same_state_and_forwards(
    tmp_path: Path, db_url: str | None
) -> None:
    """On either store: SQLite in the data directory, or PostgreSQL by ``--db``."""
    with leader(tmp_path, make_genesis()) as lead:
        height = some_blocks(lead.url)
        with (
            follower(lead.url, tmp_path / "follower", db=db_url) as (node, live),
            httpx.Client(base_url=live.url, timeout=30) as http,
        ):
            wait_for(node, height)
            ours, theirs = http.get("/status").json(), httpx.get(lead.url + "/status").json()
            assert (ours["height"], ours["state_hash"]) == (theirs["height"], theirs["state_hash"])
            assert theirs["replication"] == {"role": "leader"}
            assert schema_errors(http.get("/openapi.json").json(), "GET", "/status", 200, ours) == []
            assert ours["replication"] == {
                "role": "follower",
                "leader": lead.url,
                "leader_answers": True,
                "leader_silent_since": None,
                "leader_silent_seconds": None,
                "leader_error": None,
                "leader_height": height,
                "behind_blocks": 0,
                "lag_seconds": 0.0,
                "started_from": 0,
            }
            alice = key("alice").address
            assert http.get(f"/accounts/{alice}").json() == httpx.get(f"{lead.url}/accounts/{alice}").json()
            # A transaction sent to the follower goes to the leader; the answer says so and comes
            # once the follower has verified the block that holds it.
            r = send(http, "alice", 4, "repay", pool="core", asset="USDC", amount=str(USDC))
            assert r.status_code == 200, r.text
            receipt = r.json()
            assert receipt["forwarded_to"] == lead.url and receipt["height"] == height + 1
            assert node.follower.head.height == height + 1
            assert http.get(f"/txs/{receipt['hash']}").json()["action"] == "repay"
            # The leader's refusal comes back as it is, marked forwarded.
            r = send(http, "alice", 5, "borrow", pool="core", asset="USDC", amount=str(10**9 * USDC))
            assert r.status_code == 422 and r.json()["error"]["forwarded_to"] == lead.url
            assert r.json()["error"]["code"] == "refused"
            # The command line says so too; the faucet is the leader's, and the answer names it.
            key("alice").save(tmp_path / "home" / "keys" / "alice.key")
            env = {"ASTERA_HOME": str(tmp_path / "home"), "ASTERA_NODE": live.url, "COLUMNS": "200"}
            cli = CliRunner().invoke(app, ["repay", "USDC", "1", "-k", "alice"], env=env)
            assert cli.exit_code == 0 and f"forwarded to the leader {lead.url}" in cli.stdout, cli.output
            cli = CliRunner().invoke(app, ["faucet", "USDC", "1", "-k", "alice"], env=env)
            assert cli.exit_code == 1, cli.output
            assert f"this node follows {lead.url} and has no faucet: use --node {lead.url}" in cli.stderr
        # The follower's own store replays from genesis to the leader's state.
        store = open_store(db_url, str(tmp_path / "follower"))
        try:
            assert verify(store).state_hash == httpx.get(lead.url + "/status").json()["state_hash"]
        finally:
            store.close()


def test_a_follower_says_when_its_leader_does_not_answer_and_forwards_nothing(tmp_path: Path) -> None:
    """The leader stops: the follower's /status says the leader does not answer, since when and
    why, and claims no lag it cannot know; a transaction sent through it is refused in plain
    words as ``unavailable``. Once the leader is back the follower says so and forwards again."""
    genesis = make_genesis()
    with ExitStack() as first:
        lead = first.enter_context(leader(tmp_path, genesis))
        url, height = lead.url, some_blocks(lead.url)
        with (
            follower(url, tmp_path / "follower", genesis=genesis) as (node, live),
            httpx.Client(base_url=live.url, timeout=30) as http,
        ):

            def replication() -> dict[str, Any]:
                answer: dict[str, Any] = http.get("/status").json()["replication"]
                return answer

            wait_for(node, height)
            first.close()  # the leader stops
            until(lambda: replication()["leader_error"] == f"no node answers at {url}")
            state = replication()
            assert state["leader_answers"] is False and state["leader_height"] == height
            assert state["behind_blocks"] is None and state["lag_seconds"] is None  # unknown, not 0
            assert 0 <= state["leader_silent_seconds"] < 60
            assert abs(state["leader_silent_since"] - time.time()) < 60
            metrics = http.get("/metrics").text
            assert (
                metric(metrics, "astera_leader_answers") == 0
                and metric(metrics, "astera_behind_blocks") is None
            )

            r = send(http, "alice", 4, "repay", pool="core", asset="USDC", amount=str(USDC))
            assert r.status_code == 503, r.text
            assert r.json()["error"] == {
                "code": "unavailable",
                "message": f"the leader at {url} does not answer; nothing was sent or recorded",
                "leader": url,
            }
            key("alice").save(tmp_path / "home" / "keys" / "alice.key")
            env = {"ASTERA_HOME": str(tmp_path / "home"), "ASTERA_NODE": live.url, "COLUMNS": "80"}
            cli = CliRunner().invoke(app, ["repay", "USDC", "1", "-k", "alice"], env=env)
            assert cli.exit_code == 1, cli.output
            said = " ".join(cli.stderr.split())
            assert f"the leader at {url} does not answer; nothing was sent or recorded" in said

            with leader(tmp_path, genesis, port=lead.port):  # back where the follower looks
                until(lambda: replication()["leader_answers"] is True)
                state = replication()
                assert state["leader_error"] is None and state["leader_silent_since"] is None
                assert (state["behind_blocks"], state["lag_seconds"]) == (0, 0.0)
                metrics = http.get("/metrics").text
                assert (
                    metric(metrics, "astera_leader_answers") == 1
                    and metric(metrics, "astera_behind_blocks") == 0
                )
                assert (
                    metric(httpx.get(url + "/metrics").text, "astera_leader_answers") is None
                )  # a leader has none
                r = send(http, "alice", 4, "repay", pool="core", asset="USDC", amount=str(USDC))
                assert r.status_code == 200 and r.json()["forwarded_to"] == url, r.text


def test_a_rate_limited_follower_says_so_once_and_backs_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The leader refuses the caught-up follower's long polls (429: this host's stream slots are
    all held). Before, each 429 was logged as "the leader does not answer", the quick poll after
    it as "answers again", and the pause reset to 0.2 s: flapping. Now one line says it is rate
    limited, the pause grows, and once a slot is free the follower goes on."""
    caplog.set_level(logging.INFO, "astera.follower")
    store = open_store(None, str(tmp_path / "leader"))
    node = Node(open_chain(store, make_genesis()), snapshot_every=0, limits=Limits(streams_per_client=1))
    with (
        LiveApi(create_app(node), node) as lead,
        httpx.Client(base_url=lead.url, timeout=30) as http,
        ExitStack() as slot,
    ):
        height = some_blocks(lead.url)
        assert slot.enter_context(http.stream("GET", "/stream")).status_code == 200  # the one slot
        with follower(lead.url, tmp_path / "follower") as (copy, _):
            refused: list[float] = []

            async def seen(r: httpx.Response) -> None:
                if r.status_code == 429:
                    refused.append(time.monotonic())

            copy.follower.leader.http.event_hooks["response"].append(seen)
            wait_for(copy, height)
            until(lambda: len(refused) >= 3, timeout=20)
            said = [r.getMessage() for r in caplog.records if r.name == "astera.follower"]
            assert not [m for m in said if "does not answer" in m or "answers again" in m], said
            assert len([m for m in said if m.startswith("rate limited by the leader")]) == 1, said
            assert refused[2] - refused[1] > refused[1] - refused[0] >= 0.15  # a growing pause
            slot.close()  # the slot is free again
            r = send(http, "alice", 4, "repay", pool="core", asset="USDC", amount=str(USDC))
            assert r.is_success, r.text
            wait_for(copy, height + 1)
            assert copy.follower.rate_limited is None


def broken_off(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection reset", request=request)


def timed_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def proxy_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(502, text="Bad Gateway")


def test_the_leader_and_a_follower_serve_metrics_prometheus_can_parse(tmp_path: Path) -> None:
    """The whole /metrics answer of a leader and of a follower parses as Prometheus parses it (the
    parser raises on malformed exposition), with prometheus-client's content type."""
    genesis = make_genesis()
    with leader(tmp_path, genesis) as lead, httpx.Client(base_url=lead.url, timeout=30) as http:
        height = some_blocks(lead.url)
        r = send(http, "alice", 4, "borrow", pool="core", asset="USDC", amount=str(10**9 * USDC))
        assert r.status_code == 422, r.text  # refused by the protocol: counted by code
        with follower(lead.url, tmp_path / "follower", genesis=genesis) as (node, live):
            wait_for(node, height)
            for url, own in ((lead.url, {"astera_txs_rejected"}), (live.url, {"astera_leader_answers"})):
                r = httpx.get(url + "/metrics")
                assert r.headers["content-type"] == CONTENT_TYPE_PLAIN_0_0_4
                families = {f.name: f for f in text_string_to_metric_families(r.text)}
                assert families["astera_commit_seconds"].type == "histogram"
                assert (
                    metric(r.text, "astera_height") == height
                    and metric(r.text, "astera_txs_accepted_total") == 4
                )
                assert {s.labels.get("code") for s in families["astera_txs_rejected"].samples} <= {"refused"}
                assert own <= {name for name, f in families.items() if f.samples}
                assert metric(r.text, "astera_reserve_deficit", pool="0", asset="was-USDC") == 0


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            broken_off,
            "the leader at http://leader.test closed the connection without answering after "
            "the transaction was sent: it may or may not be logged (look it up by hash before sending "
            "it again)",
        ),
        (timed_out, "the leader at http://leader.test did not answer in time after the transaction was sent"),
        (proxy_error, "http://leader.test/txs answered 502 (Bad Gateway)"),
    ],
    ids=["broken-off", "timed-out", "not-a-node"],
)
def test_a_forwarded_transaction_the_leader_does_not_answer_is_unavailable_in_plain_words(
    answer: Any, says: str
) -> None:
    """Once sent, a transaction may have been logged: the refusal says so (a connection that never
    opened is the end-to-end test's case above: nothing was sent)."""

    async def forward() -> NodeError:
        leader = Leader("http://leader.test")
        await leader.http.aclose()
        leader.http = httpx.AsyncClient(base_url=leader.url, transport=httpx.MockTransport(answer))
        try:
            with pytest.raises(NodeError) as refused:
                await leader.submit({"tx": {}, "signature": ""})
            return refused.value
        finally:
            await leader.close()

    e = asyncio.run(forward())
    assert e.code == "unavailable" and e.message.startswith(says), e.message
    assert "Error(" not in e.message and "Timeout(" not in e.message  # no exception reprs


def bad_signature(block: dict[str, Any]) -> None:
    tx = block["txs"][0]
    tx[2] = ("0" if tx[2][0] != "0" else "1") + tx[2][1:]


def wrong_state(block: dict[str, Any]) -> None:
    block["state_hash"] = "0" * 64


def resigned_amount(block: dict[str, Any]) -> None:
    """The sender's own key signs a different amount: a valid signature, a different history."""
    body = json.loads(block["txs"][0][1])
    body["params"]["amount"] = str(int(body["params"]["amount"]) + 1)
    envelope = sign_tx(key("alice"), body["chain_id"], body["nonce"], body["action"], body["params"])
    tx = decode_tx(envelope, body["chain_id"])
    block["txs"][0] = [tx.hash, tx.body, tx.signature]


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (bad_signature, "bad signature"),
        (wrong_state, "state hash: the leader says 0000"),
        (resigned_amount, "state hash"),
    ],
    ids=["bad-signature", "state-hash", "re-signed-amount"],
)
def test_a_tampered_block_stops_the_follower_at_its_height(tmp_path: Path, tamper: Any, says: str) -> None:
    bad = 3
    with leader(tmp_path, make_genesis()) as lead:
        some_blocks(lead.url)
        genesis = httpx.get(lead.url + "/genesis").text
    store = open_store(None, str(tmp_path / "leader"))

    def edit(block: dict[str, Any]) -> None:
        if block["height"] == bad:
            tamper(block)

    try:
        with (
            LiveApi(tampered_leader(store, genesis, edit), Stub()) as double,
            follower(double.url, tmp_path / "follower") as (node, live),
        ):
            failure = wait_stopped(node)
            assert f"block {bad}: " in str(failure) and says in str(failure)
            assert node.follower.head.height == bad - 1  # the verified prefix is kept
            # Nothing unverified is served: state reads refuse with the report.
            r = httpx.get(live.url + "/markets")
            assert r.status_code == 503 and f"block {bad}" in r.json()["error"]["message"]
            assert httpx.get(f"{live.url}/blocks/{bad}").status_code == 404
    finally:
        store.close()


def test_a_leader_that_changed_a_served_block_is_caught_on_restart(tmp_path: Path) -> None:
    with leader(tmp_path, make_genesis()) as lead:
        height = some_blocks(lead.url)
        with follower(lead.url, tmp_path / "follower") as (node, _):
            wait_for(node, height)
        genesis = httpx.get(lead.url + "/genesis").text
    store = open_store(None, str(tmp_path / "leader"))
    try:
        with (
            LiveApi(tampered_leader(store, genesis, wrong_state), Stub()) as double,
            follower(double.url, tmp_path / "follower") as (node, _),
        ):
            failure = wait_stopped(node)
            assert f"block {height}: " in str(failure) and "changed a block it served before" in str(failure)
            assert node.follower.head.height == height
    finally:
        store.close()


def test_a_follower_starts_from_a_snapshot_proved_by_the_log_and_verifies_on(
    tmp_path: Path, db_url: str | None
) -> None:
    """On the follower's SQLite store, and on PostgreSQL (``--db``)."""
    with leader(tmp_path, make_genesis(), snapshot_every=3) as lead:
        height = some_blocks(lead.url)  # 4 blocks: the leader's newest snapshot is at block 3
        alice = key("alice").address
        with (
            follower(lead.url, tmp_path / "follower", db=db_url, from_snapshot=True) as (node, live),
            httpx.Client(base_url=live.url, timeout=30) as http,
        ):
            assert node.store.base() == 3
            wait_for(node, height)  # block 4 replayed on the snapshot's state
            assert http.get("/status").json()["replication"]["started_from"] == 3
            # It serves the log after its snapshot only: it holds no earlier transactions.
            r = http.get("/log", params={"after": 2})
            assert r.status_code == 404 and r.json()["error"]["starts_at"] == 3
            assert [b["height"] for b in http.get("/log", params={"after": 3}).json()["blocks"]] == [4]
            r = send(http, "alice", 4, "repay", pool="core", asset="USDC", amount=str(USDC))
            assert r.status_code == 200 and r.json()["height"] == height + 1
            ours, theirs = http.get("/status").json(), httpx.get(lead.url + "/status").json()
            assert (ours["height"], ours["state_hash"]) == (theirs["height"], theirs["state_hash"])
            assert http.get(f"/accounts/{alice}").json() == httpx.get(f"{lead.url}/accounts/{alice}").json()
        with follower(lead.url, tmp_path / "follower", db=db_url) as (node, _):  # a restart resumes
            assert node.follower.head.height == height + 1 and node.store.base() == 3
    store = open_store(db_url, str(tmp_path / "follower"))
    try:
        with pytest.raises(ReplayError, match="starts from a snapshot at block 3"):
            verify(store)  # it holds no transactions before its snapshot
    finally:
        store.close()


def fewer_nonces(data: bytes) -> bytes:
    """Alice's nonce set back: her signed deposits would replay (the state hash covers nonces)."""
    protocol, nonces = pickle.loads(data[len(MAGIC) :])
    nonces[key("alice").address] = 1
    return MAGIC + pickle.dumps((protocol, nonces))


class Exploit:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch pwned",))


def code(data: bytes) -> bytes:
    """A pickle that would run a command when loaded."""
    return MAGIC + pickle.dumps((Exploit(), {}))


@pytest.mark.parametrize(
    ("snapshot", "says"),
    [(fewer_nonces, "the snapshot hashes to"), (code, "a snapshot may not name posix.system")],
    ids=["nonces", "code"],
)
def test_a_tampered_snapshot_is_refused_before_anything_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot: Any, says: str
) -> None:
    with leader(tmp_path, make_genesis(), snapshot_every=3) as lead:
        some_blocks(lead.url)
        genesis = httpx.get(lead.url + "/genesis").text
    store = open_store(None, str(tmp_path / "leader"))
    monkeypatch.chdir(tmp_path)
    try:
        with (
            LiveApi(tampered_leader(store, genesis, lambda b: None, snapshot), Stub()) as double,
            pytest.raises(VerificationFailed, match=f"block 3: the leader's snapshot: {says}"),
        ):
            with follower(double.url, tmp_path / "follower", from_snapshot=True):
                pass
    finally:
        store.close()
    assert not (tmp_path / "pwned").exists()
    store = open_store(None, str(tmp_path / "follower"))
    try:
        assert store.genesis_json() is None  # nothing written
    finally:
        store.close()


def test_the_workers_answer_every_transaction_in_order_with_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain_id = "astera-test"
    txs = [
        decode_tx(
            sign_tx(key("alice"), chain_id, n, "deposit", {"pool": "core", "asset": "USDC", "amount": "1"}),
            chain_id,
        )
        for n in range(40)
    ]
    items = [(tx.hash, tx.body, tx.signature) for tx in txs]
    items[25] = (items[25][0], items[25][1], ("0" if items[25][2][0] != "0" else "1") + items[25][2][1:])
    items[31] = (items[31][0], items[31][1].replace('"nonce":31', '"nonce": 31'), items[31][2])
    monkeypatch.setattr(verifier, "BATCH", 8)  # five parts, answered in order

    async def run() -> list[Any]:
        checker = verifier.Verifier(1)
        try:
            return [r for part in await checker.check(items, chain_id) for r in part]
        finally:
            checker.close()

    results = asyncio.run(run())
    assert results[25] == "bad signature"
    assert results[31].startswith("its body is not canonical")
    for i in set(range(40)) - {25, 31}:
        assert verifier.signed_tx(items[i], results[i]) == txs[i]
