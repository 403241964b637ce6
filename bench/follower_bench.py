"""Benchmark: a follower catching up from genesis, and its lag behind a live leader.

1. **Catch-up.** A log of ``--txs`` signed deposits (``--per-block`` per block, from
   ``--accounts`` keys) is written by an in-process node; a leader (``astera serve``, a
   subprocess) then serves it, and a follower in this process pulls it from genesis,
   checking every signature (worker processes, one per core), replaying every transaction
   and checking every block's state hash, writing its own SQLite store. Reported: blocks/s,
   transactions/s (from the follower's start, worker start-up included, and from its first
   verified block on), the time a 10^6-transaction log would take at the steady rate (linear
   extrapolation: the per-transaction work does not grow with the log, the state does
   only with new accounts), and the CPU time per transaction of the follower (its process
   and its workers) and of the leader (serving the log), from ``/proc``: on a machine
   shared with other jobs the rate is what the follower got, the CPU time what it needs.
2. **Lag.** One deposit at a time is sent to the caught-up leader (``--lag-txs`` of them,
   ~20 per second); the lag of a block is the time from the leader's acknowledgement (its
   durable commit, as the submitter sees it) to the follower having verified and stored
   it. Reported: p50 and p99.

    .venv/bin/python bench/follower_bench.py                  # 20,000 txs, 200 lag samples
    .venv/bin/python bench/follower_bench.py --txs 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from node_bench import free_port, make_genesis  # bench/ is the script's directory

from astera.node.chain import open_chain
from astera.node.follower import FollowerNode, open_follower
from astera.node.genesis import chain_id
from astera.node.node import Node
from astera.node.store import open_store
from astera.node.transactions import decode_tx
from astera.wire import Key, sign_tx


def build_log(data: Path, doc: dict[str, Any], accounts: list[Key], txs: int, per_block: int) -> None:
    """Write a log of ``txs`` deposits through an in-process node (no HTTP)."""
    store = open_store(None, str(data))
    node = Node(open_chain(store, doc), snapshot_every=0)
    cid = chain_id(doc)
    nonces = dict.fromkeys((k.address for k in accounts), 0)

    async def go() -> None:
        await node.start()
        sent = 0
        while sent < txs:
            batch = []
            for i in range(min(per_block, txs - sent)):
                k = accounts[(sent + i) % len(accounts)]
                envelope = sign_tx(
                    k, cid, nonces[k.address], "deposit", {"pool": "core", "asset": "USDC", "amount": "1000"}
                )
                nonces[k.address] += 1
                batch.append(node.submit(decode_tx(envelope, cid, check_signature=False)))
            await asyncio.gather(*batch)
            sent += len(batch)
        await node.stop()

    asyncio.run(go())


def start_leader(data: Path, genesis: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "astera", "serve", "--data", str(data), "--genesis", str(genesis)]
    cmd += ["--port", str(port), "--no-keeper", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/status", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("leader did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children() -> set[int]:
    """This process's child processes (the follower's workers and the leader)."""
    pids: set[int] = set()
    for path in Path("/proc/self/task").glob("*/children"):
        pids.update(int(p) for p in path.read_text().split())
    return pids


def settle(pid: int) -> None:
    """Until process ``pid`` is idle (the leader's start-up work, such as the web app's
    history rebuilt from its log, is done and will not compete with the follower)."""
    last = cpu_seconds(pid)
    while True:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < 0.05:
            return
        last = now


async def follow(node: FollowerNode, height: int) -> tuple[float, float, int]:
    """Start the follower; seconds until it has verified ``height``, seconds from its first
    verified block to ``height``, and the height of that first block."""
    t0 = time.perf_counter()
    await node.start()
    first: tuple[float, int] | None = None
    while node.follower.head.height < height:
        if node.follower.failure is not None:
            raise node.follower.failure
        if first is None and node.follower.head.height > 0:
            first = (time.perf_counter(), node.follower.head.height)
        await asyncio.sleep(0.005)
    end = time.perf_counter()
    assert first is not None
    return end - t0, end - first[0], first[1]


async def lag(node: FollowerNode, url: str, key: Key, cid: str, count: int) -> list[float]:
    """Seconds from each acknowledgement to the follower holding the block, ``count`` times."""
    samples = []
    nonce = int(httpx.get(f"{url}/accounts/{key.address}").json()["next_nonce"])
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for _ in range(count):
            envelope = sign_tx(key, cid, nonce, "deposit", {"pool": "core", "asset": "USDC", "amount": "1"})
            nonce += 1
            r = await http.post("/txs", json=envelope)
            acked = time.time()
            height = r.json()["height"]
            while node.follower.head.height < height:
                await asyncio.sleep(0.0005)
            arrived = next(at for h, at in reversed(node.follower.arrivals) if h == height)
            samples.append(max(0.0, arrived - acked))
            await asyncio.sleep(0.05)
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--txs", type=int, default=20_000)
    ap.add_argument("--per-block", type=int, default=200)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--lag-txs", type=int, default=200)
    args = ap.parse_args()
    accounts = [Key.generate() for _ in range(args.accounts)]
    doc = make_genesis(accounts, age=10**6)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        genesis = root / "genesis.json"
        genesis.write_text(json.dumps(doc))
        t0 = time.perf_counter()
        build_log(root / "leader", doc, accounts, args.txs, args.per_block)
        print(f"log of {args.txs} txs built in {time.perf_counter() - t0:.1f}s", flush=True)
        proc, url = start_leader(root / "leader", genesis)
        try:
            head = httpx.get(url + "/status").json()["height"]
            settle(proc.pid)
            node = open_follower(url, root / "follower")
            cpu0 = {pid: cpu_seconds(pid) for pid in children() | {os.getpid()}}

            async def run() -> tuple[tuple[float, float, int], dict[int, float], list[float]]:
                seconds = await follow(node, head)
                cpu = {pid: cpu_seconds(pid) - cpu0.get(pid, 0.0) for pid in children() | {os.getpid()}}
                samples = await lag(node, url, accounts[0], chain_id(doc), args.lag_txs)
                await node.stop()
                return seconds, cpu, samples

            (seconds, steady, first), cpu, samples = asyncio.run(run())
        finally:
            proc.terminate()
            proc.wait(30)
    tx_rate = args.txs / seconds
    steady_rate = (head - first) * args.per_block / steady
    leader_cpu = cpu.pop(proc.pid)
    follower_cpu = sum(cpu.values())
    samples.sort()
    print(
        f"catch-up from genesis: {head} blocks, {args.txs} txs in {seconds:.2f}s: "
        f"{head / seconds:,.0f} blocks/s, {tx_rate:,.0f} tx/s; after the first block "
        f"{steady_rate:,.0f} tx/s (10^6 txs at this rate: {10**6 / steady_rate / 60:.1f} min)"
    )
    per_tx = (follower_cpu + leader_cpu) / args.txs
    print(
        f"CPU per tx: follower {follower_cpu / args.txs * 1e6:.0f} us ({len(cpu)} processes: its own "
        f"and its workers), leader serving the log {leader_cpu / args.txs * 1e6:.0f} us; the follower "
        f"used {follower_cpu / seconds:.2f} cores; load average {os.getloadavg()[0]:.1f}. Bound on 2 idle "
        f"cores (all CPU spread over both, not measured): {2 / per_tx:,.0f} tx/s, "
        f"10^6 txs in {10**6 * per_tx / 2 / 60:.1f} min"
    )
    p50, p99 = samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000
    print(
        f"steady-state lag over {len(samples)} blocks (leader ack -> follower verified and durable): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


if __name__ == "__main__":
    main()
