"""Throughput of ``astera replay`` end to end: parse, build, run every action, summary line.

Run: ``.venv/bin/python bench/replay_bench.py [--trials N] [--big-mb M]``. Not a test: figures
depend on the machine. Two generated workloads in the scenario format (vectors FORMAT §2–§3):

* **core**: 13,501 actions by 5,000 borrowers on the Core-Pool: a liquidity deposit, a
  WETH deposit and a USDC borrow per borrower, 3,000 repays and 500 time steps, interleaved.
  Target: >= 50,000 actions/s.
* **mini**: 2,000 borrowers each deposit EXO in Mini-Pool 0 and borrow aUSDC, every borrow
  flow-borrowing from the Core-Pool's USDC, with 100 time steps. Target: >= 19,000 actions/s.

Each figure is the best of ``--trials`` runs of ``astera replay FILE`` in a fresh process:
the wall time its summary line reports (read + deploy + every action + final state hash;
interpreter start and imports excluded), with the process's CPU time over the same span
(the figure to trust on a machine shared with other work). ``--big-mb`` also replays a core
workload repeated to about that many megabytes and reports its peak memory (``ru_maxrss``),
which must not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

START = 1_748_736_000
RAY = 10**27
USDC = 10**6
WETH = 10**18

STRATEGIES = {
    "stable": {
        "model": "default",
        "optimal_utilization": str(8 * RAY // 10),
        "base_rate": "0",
        "slope1": str(4 * RAY // 100),
        "slope2": str(75 * RAY // 100),
    },
    "volatile": {
        "model": "default",
        "optimal_utilization": str(45 * RAY // 100),
        "base_rate": "0",
        "slope1": str(7 * RAY // 100),
        "slope2": str(3 * RAY),
    },
}


def _reserve(strategy: str, ltv: int, lt: int, bonus: int, rf: int = 1000) -> dict[str, Any]:
    return {
        "ltv": ltv,
        "liquidation_threshold": lt,
        "liquidation_bonus": bonus,
        "reserve_factor": rf,
        "rate_strategy": strategy,
    }


def deployment(name: str) -> dict[str, Any]:
    """The vectors' topology: Core USDC/WBTC/WETH; Mini-Pool 0 with EXO and an aUSDC tranche."""
    return {
        "format": "astera-scenario/1",
        "name": name,
        "start_timestamp": START,
        "assets": {
            "USDC": {"decimals": 6, "price": "100000000"},
            "WBTC": {"decimals": 8, "price": str(67_000 * 10**8)},
            "WETH": {"decimals": 18, "price": str(3_000 * 10**8)},
            "EXO": {"decimals": 18, "price": str(10 * 10**8)},
        },
        "rate_strategies": STRATEGIES,
        "core_pool": {
            "reserves": {
                "USDC": _reserve("stable", 8000, 8500, 10500),
                "WBTC": _reserve("volatile", 7000, 7500, 11000),
                "WETH": _reserve("volatile", 8000, 8250, 10500),
            }
        },
        "mini_pools": [
            {
                "id": 0,
                "min_debt_threshold": 0,
                "reserves": {
                    "EXO": _reserve("volatile", 5000, 6500, 11000),
                    "aUSDC": {**_reserve("stable", 8000, 8500, 10500), "tranche_of": "USDC"},
                },
                "flow_limits": {"USDC": str(10**9 * USDC)},
            }
        ],
        "actions": [],
    }


def core_workload(borrowers: int = 5_000, repays: int = 3_000, warps: int = 500) -> dict[str, Any]:
    """13,501 actions with the defaults: 1 + 2·borrowers + repays + warps."""
    doc = deployment("bench-core")
    users = [f"b{i:05d}" for i in range(borrowers)]
    acts: list[dict[str, Any]] = [
        {"op": "deposit", "pool": "core", "user": "whale", "asset": "USDC", "amount": str(10**12 * USDC)}
    ]
    for i, u in enumerate(users):
        acts.append({"op": "deposit", "pool": "core", "user": u, "asset": "WETH", "amount": str(WETH)})
        acts.append({"op": "borrow", "pool": "core", "user": u, "asset": "USDC", "amount": str(1_000 * USDC)})
        if i * warps // borrowers != (i + 1) * warps // borrowers:
            acts.append({"op": "warp", "seconds": 3_600})
    for i in range(repays):
        amount = "debt" if i % 3 == 0 else str(100 * USDC)
        acts.append(
            {"op": "repay", "pool": "core", "user": users[i % borrowers], "asset": "USDC", "amount": amount}
        )
    doc["users"] = ["whale", *users]
    doc["actions"] = acts
    return doc


def mini_workload(borrowers: int = 2_000, warps: int = 100) -> dict[str, Any]:
    """Every borrow of aUSDC in Mini-Pool 0 finds no tranche liquidity and flow-borrows from the Core."""
    doc = deployment("bench-mini")
    users = [f"m{i:05d}" for i in range(borrowers)]
    acts: list[dict[str, Any]] = [
        {"op": "deposit", "pool": "core", "user": "whale", "asset": "USDC", "amount": str(10**12 * USDC)}
    ]
    for i, u in enumerate(users):
        acts.append({"op": "deposit", "pool": "mini", "user": u, "asset": "EXO", "amount": str(1_000 * WETH)})
        acts.append(
            {"op": "borrow", "pool": "mini", "user": u, "asset": "aUSDC", "amount": str(1_000 * USDC)}
        )
        if i * warps // borrowers != (i + 1) * warps // borrowers:
            acts.append({"op": "warp", "seconds": 600})
    doc["users"] = ["whale", *users]
    doc["actions"] = acts
    return doc


def write_big(path: Path, megabytes: int) -> int:
    """A core workload repeated until the file is about ``megabytes`` MB, written as it goes
    (so the generator does not hold it either); the number of actions."""
    base = core_workload()
    actions = base.pop("actions")
    head = json.dumps(base)[:-1] + ', "actions": ['
    n = 0
    with path.open("w") as f:
        f.write(head)
        first = True
        while f.tell() < megabytes * 1_000_000:
            for a in actions:
                f.write(("" if first else ",") + json.dumps(a))
                first = False
                n += 1
        f.write("]}")
    return n


SUMMARY = re.compile(
    r"^(?P<name>\S+): (?P<actions>\d+) actions, (?P<failed>\d+) failed, state \S+, (?P<s>[\d.]+)s$"
)


def replay_once(path: Path) -> tuple[int, int, float, float, int]:
    """``astera replay PATH`` in a fresh process: (actions, failed, wall seconds as the summary
    line reports them, CPU seconds of the same span, peak RSS in kB)."""
    code = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from astera.scenario import main_replay\n"
        "t0 = time.process_time()\n"
        "main_replay(Path(sys.argv[1]), None)\n"
        "print('cpu', time.process_time() - t0)\n"
        "print('rss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    m = SUMMARY.match(lines[0])
    if m is None:
        raise RuntimeError(out.stdout + out.stderr)
    return (
        int(m["actions"]),
        int(m["failed"]),
        float(m["s"]),
        float(lines[1].split()[1]),
        int(lines[2].split()[1]),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument(
        "--big-mb", type=int, default=0, help="also replay a ~N MB scenario and report its memory"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, doc, target in (
            ("core", core_workload(), 50_000),
            ("mini", mini_workload(), 19_000),
        ):
            path = Path(tmp) / f"{label}.scenario.json"
            path.write_text(json.dumps(doc))
            runs = [replay_once(path) for _ in range(args.trials)]
            n, failed, wall, cpu, rss = min(runs, key=lambda r: r[2])
            rate = n / wall
            verdict = "met" if rate >= target else "NOT met"
            print(
                f"{label}: {n} actions ({failed} failed) in {wall:.3f} s = {rate:,.0f} actions/s "
                f"(target {target:,}: {verdict}; CPU {cpu:.3f} s = {n / cpu:,.0f}/s); "
                f"peak RSS {rss / 1024:.0f} MB"
            )
        if args.big_mb:
            path = Path(tmp) / "big.scenario.json"
            n = write_big(path, args.big_mb)
            size = path.stat().st_size / 1e6
            count, failed, seconds, cpu, rss = replay_once(path)
            print(
                f"big: {size:.0f} MB, {count} actions ({failed} failed) in {seconds:.1f} s = "
                f"{count / seconds:,.0f} actions/s (CPU {cpu:.1f} s); peak RSS {rss / 1024:.0f} MB"
            )


if __name__ == "__main__":
    main()
