"""The node as users run it: ``astera serve`` in a subprocess, driven by the CLI and the SDK.

Covers the README's main flow (key, faucet, deposit, borrow, account, restart, verify),
the SSE stream, concurrent clients, and kill -9 at random moments under load on SQLite
and on PostgreSQL: every acknowledged transaction survives, and the state after restart
equals a clean replay of the log from genesis.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from astera.client import Account, ApiError, Client
from astera.node.chain import verify
from astera.node.store import open_store

from .node_harness import NodeProcess, key, make_genesis


def cli(*args: str, home: Path, node: str) -> subprocess.CompletedProcess[str]:
    envs = {**os.environ, "ASTERA_HOME": str(home), "ASTERA_NODE": node, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "astera", *args], capture_output=True, text=True, env=envs, timeout=120
    )


@pytest.fixture
def node(tmp_path: Path, db_url: str | None) -> Any:
    proc = NodeProcess(tmp_path / "data", make_genesis(), db=db_url, snapshot_every=7, faucet=True)
    yield proc
    proc.stop()


def test_newcomer_cli_flow_survives_a_restart(node: NodeProcess, tmp_path: Path) -> None:
    node.start()
    home = tmp_path / "home"
    out = cli("key", "new", home=home, node=node.url)
    assert out.returncode == 0, out.stderr
    address = out.stdout.split()[0]
    for args in (("faucet", "WETH", "10"), ("deposit", "WETH", "10"), ("borrow", "USDC", "5000")):
        out = cli(*args, home=home, node=node.url)
        assert out.returncode == 0, out.stderr
    out = cli("borrow", "USDC", "1000000", home=home, node=node.url)
    assert out.returncode == 1 and "refused" in out.stderr
    out = cli("account", home=home, node=node.url)
    assert out.returncode == 0 and "health factor" in out.stdout, out.stderr
    with Client(node.url) as c:
        assert c.account(address)["pools"]["core"]["health_factor"] == str(
            10 * 3_700 * 80 // 100 * 10**18 // 5_000
        )
    for args in (("repay", "USDC", "1000"), ("withdraw", "WETH", "0.5")):
        out = cli(*args, home=home, node=node.url)
        assert out.returncode == 0, out.stderr
    out = cli("withdraw", "WETH", "0.0000000000000000001", home=home, node=node.url)
    assert out.returncode == 1 and "error:" in out.stderr and "Traceback" not in out.stderr
    with Client(node.url) as c:
        before = c.account(address)
        positions = {p["asset"]: p for p in before["pools"]["core"]["positions"]}
        assert positions["WETH"]["supplied"] == str(95 * 10**17)
        assert 4_000 * 10**6 <= int(positions["USDC"]["debt"]) < 4_001 * 10**6
        status = c.status()
    node.stop()
    node.start()
    with Client(node.url) as c:
        after = c.account(address)
        assert c.status()["state_hash"] == status["state_hash"]
    assert after["pools"] == before["pools"] and after["wallet"] == before["wallet"]
    node.stop()
    args = ["verify", "--data", str(node.data)] + (["--db", node.db] if node.db else [])
    out = cli(*args, home=home, node=node.url)
    assert out.returncode == 0 and status["state_hash"] in out.stdout, out.stderr


def test_sse_stream_delivers_new_blocks(node: NodeProcess) -> None:
    node.start()
    alice = Account(Client(node.url), key("alice"))
    alice.deposit("USDC", 1_000_000)  # block 1, replayed from ?since=0
    got: list[dict[str, Any]] = []

    def listen() -> None:
        with httpx.stream("GET", node.url + "/stream", params={"since": 0}, timeout=30) as r:
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "block":
                    got.append(json.loads(line[6:]))
                    if len(got) == 2:
                        return

    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.5)
    receipt = alice.deposit("USDC", 2_000_000)
    t.join(30)
    assert [b["height"] for b in got] == [1, 2]
    assert got[1]["txs"][0]["hash"] == receipt["hash"]
    assert got[1]["txs"][0]["events"][0]["event"] == "Deposit"


def test_concurrent_clients(node: NodeProcess) -> None:
    node.start()
    acked: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        acct = Account(Client(node.url), key(f"c{i}"))
        acct.client.faucet(acct.address, "USDC", 15 * 10**6)
        for _ in range(15):
            receipt = acct.deposit("USDC", 10**6)
            with lock:
                acked.append(receipt["hash"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(acked) == 8 * 15
    with Client(node.url) as c:
        status = c.status()
    node.stop()
    store = open_store(node.db, str(node.data))
    try:
        assert set(acked) <= store.all_tx_hashes()
        assert verify(store).state_hash == status["state_hash"]
    finally:
        store.close()


def _load(url: str, name: str, acked: set[str], lock: threading.Lock, stop: threading.Event) -> None:
    """Sign and send deposits until the node dies; remember what was acknowledged."""
    acct = Account(Client(url, timeout=10), key(name))
    try:
        while not stop.is_set():
            receipt = acct.deposit("USDC", random.randint(1, 10**6))
            with lock:
                acked.add(receipt["hash"])
    except (httpx.HTTPError, ApiError):
        return  # killed mid-flight: this one may or may not be in the log


def test_kill9_loses_no_acknowledged_transaction(node: NodeProcess) -> None:
    rng = random.Random(os.getpid())
    acked: set[str] = set()
    lock = threading.Lock()
    for _round in range(3):
        node.start()
        stop = threading.Event()
        workers = [
            threading.Thread(target=_load, args=(node.url, name, acked, lock, stop))
            for name in ("alice", "bob", "carol", "dave")
        ]
        for w in workers:
            w.start()
        time.sleep(rng.uniform(0.3, 1.5))
        node.kill9()
        stop.set()
        for w in workers:
            w.join(30)
    node.start()
    with Client(node.url) as c:
        restarted = c.status()
    node.stop()
    assert len(acked) > 20, "the load should have been acknowledged many times"
    store = open_store(node.db, str(node.data))
    try:
        assert acked <= store.all_tx_hashes(), "an acknowledged transaction was lost"
        clean = verify(store)  # a clean replay from genesis, every hash checked
        assert clean.state_hash == restarted["state_hash"] and clean.height == restarted["height"]
        assert store.latest_snapshot(10**9) is not None
    finally:
        store.close()


def test_shutdown_ends_sse_streams(node: NodeProcess) -> None:
    """A stopping node tells its SSE clients (``event: end``) instead of waiting on them."""
    node.start()
    events: list[str] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", node.url + "/stream", timeout=30) as r:
            connected.set()
            for line in r.iter_lines():
                if line.startswith("event: "):
                    events.append(line[7:])

    t = threading.Thread(target=listen)
    t.start()
    assert connected.wait(10)
    time.sleep(0.3)
    node.stop()
    t.join(30)
    assert not t.is_alive() and events[-1:] == ["end"]
    assert node.proc is not None and node.proc.returncode is not None
