"""Benchmark: signed transactions per second through a node, end to end over HTTP, durable commit.

The node runs as a subprocess (``astera serve``) on a loopback port; this process is
the load generator. It pre-signs deposits for ``--accounts`` keys (funded at genesis),
then keeps ``--concurrency`` HTTP/1.1 keep-alive connections busy, one account per
connection, each waiting for the acknowledgement (= durable commit) before sending the
next. Reported: accepted tx/s over the measured window, p50/p99 latency per tx, and the
node process's CPU time per accepted transaction with the share of a core it got: on a
machine shared with other work the node gets less than a core, and tx/s falls with that
share while CPU per tx stays put (the 1-minute load average is printed for that reason).

    .venv/bin/python bench/node_bench.py                # SQLite, then PostgreSQL
    .venv/bin/python bench/node_bench.py --store sqlite --seconds 20
    ASTERA_BENCH_PG_URL=postgresql://me@db:5432/postgres .venv/bin/python bench/node_bench.py --store pg

PostgreSQL runs get a fresh database (``astera_bench_<random>``) that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from astera.node.genesis import chain_id, default_genesis
from astera.wire.keys import Key
from astera.wire.tx import sign_tx

PG_URL = os.environ.get("ASTERA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_genesis(accounts: list[Key], age: int = 0) -> dict[str, Any]:
    """The built-in network, started ``age`` seconds ago, each of ``accounts`` holding USDC."""
    roles = {r: Key.generate().address for r in ("admin", "emergency_admin", "oracle", "faucet")}
    doc = default_genesis(roles, Key.generate().address, int(time.time()) - age)
    for k in accounts:
        doc["balances"][k.address] = {"USDC": str(10**15)}
    return doc


def presign(doc: dict[str, Any], accounts: list[Key], per_account: int) -> list[list[bytes]]:
    cid = chain_id(doc)
    out = []
    for k in accounts:
        txs = []
        for n in range(per_account):
            env = sign_tx(k, cid, n, "deposit", {"pool": "core", "asset": "USDC", "amount": "1000000"})
            txs.append(json.dumps(env, separators=(",", ":")).encode())
        out.append(txs)
    return out


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> int:
    writer.write(
        b"POST /txs HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    port: int, streams: list[list[bytes]], seconds: float, warmup: float, pid: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    t_start = time.perf_counter()
    t_measure, t_end = t_start + warmup, t_start + warmup + seconds
    done_in_window = 0
    cpu_at: dict[str, float] = {}

    async def meter() -> None:
        await asyncio.sleep(warmup)
        cpu_at["start"] = cpu_seconds(pid)
        await asyncio.sleep(seconds)
        cpu_at["end"] = cpu_seconds(pid)

    async def worker(txs: list[bytes]) -> None:
        nonlocal errors, done_in_window
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for body in txs:
                t0 = time.perf_counter()
                if t0 >= t_end:
                    return
                status = await _post(reader, writer, body)
                t1 = time.perf_counter()
                if status != 200:
                    errors += 1
                elif t0 >= t_measure:
                    latencies.append(t1 - t0)
                    done_in_window += 1
        finally:
            writer.close()

    await asyncio.gather(meter(), *(worker(s) for s in streams))
    elapsed = min(time.perf_counter(), t_end) - t_measure
    cpu = cpu_at["end"] - cpu_at["start"]
    latencies.sort()
    return {
        "tx_per_s": done_in_window / elapsed if elapsed > 0 else 0.0,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
        "txs": done_in_window,
        "errors": errors,
        "seconds": elapsed,
        "cpu_ms_per_tx": 1000 * cpu / done_in_window if done_in_window else None,
        "core_share": cpu / seconds,
    }


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("node exited during startup")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("node did not become ready")


def run(store: str, args: argparse.Namespace) -> dict[str, Any]:
    accounts = [Key.generate() for _ in range(args.concurrency)]
    doc = make_genesis(accounts)
    per_account = int(args.seconds * 8000 / args.concurrency) + 200
    streams = presign(doc, accounts, per_account)
    db_name = None
    with tempfile.TemporaryDirectory(prefix="astera-bench-") as tmp:
        gen = Path(tmp) / "genesis.json"
        gen.write_text(json.dumps(doc))
        cmd = [
            sys.executable,
            "-m",
            "astera",
            "serve",
            "--data",
            tmp,
            "--genesis",
            str(gen),
            "--no-keeper",
            "--log-level",
            "warning",
        ]
        if store == "pg":
            import psycopg

            db_name = f"astera_bench_{secrets.token_hex(4)}"
            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f"CREATE DATABASE {db_name}")
            cmd += ["--db", PG_URL.rsplit("/", 1)[0] + "/" + db_name]
        port = free_port()
        proc = subprocess.Popen([*cmd, "--port", str(port)])
        try:
            wait_ready(port, proc)
            result = asyncio.run(drive(port, streams, args.seconds, args.warmup, proc.pid))
        finally:
            proc.terminate()
            proc.wait(30)
            if db_name:
                import psycopg

                with psycopg.connect(PG_URL, autocommit=True) as c:
                    c.execute(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    return {"store": store, "concurrency": args.concurrency, **result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=["sqlite", "pg", "both"], default="both")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    stores = ["sqlite", "pg"] if args.store == "both" else [args.store]
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.concurrency} connections; "
        f"{args.seconds:.0f}s measured after "
        f"{args.warmup:.0f}s warm-up; each tx a signed USDC deposit acknowledged after durable commit"
    )
    for store in stores:
        r = run(store, args)
        print(
            f"{r['store']:>6}: {r['tx_per_s']:8.0f} tx/s   p50 {r['p50_ms']:6.1f} ms"
            f"   p99 {r['p99_ms']:6.1f} ms   ({r['txs']} txs, {r['errors']} errors)   node CPU "
            f"{r['cpu_ms_per_tx']:.3f} ms/tx, {r['core_share']:.0%} of a core; load {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
