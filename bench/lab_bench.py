"""Risk-lab throughput: paths/s and account-steps/s on a Core-Pool + two Mini-Pools book.

The issue's target study: 1,000 paths of 720 hourly steps on a 10,000-borrower book (8,000 in
the Core-Pool, 1,000 in each Mini-Pool), keeper active, WETH -40 % over 6 hours at mid-horizon.
By default this measures ``--paths`` paths with 1 worker and with 2 (local processes, or a
Dask LocalCluster with ``--dask``) and extrapolates to ``--target-paths`` linearly (paths are
independent); ``--paths 1000 --workers 2`` runs the whole study. Not a test.

    .venv/bin/python bench/lab_bench.py                       # 4 paths, 720 steps, 10,000 borrowers
    .venv/bin/python bench/lab_bench.py --paths 8 --dask
    .venv/bin/python bench/lab_bench.py --paths 1000 --workers 2   # the whole study, ~7 min idle
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from astera.lab.path import prepared
from astera.lab.runner import PathResult, run_study
from astera.lab.study import Study, parse_study


def bench_study(borrowers: int, steps: int, paths: int) -> Study:
    core, mini = borrowers * 8 // 10, borrowers // 10
    data: dict[str, Any] = {
        "name": "bench", "seed": 11, "steps": steps, "paths": paths,
        "book": {"population": [
            {"pool": "core", "borrowers": core, "collateral": {"WETH": 2.0, "WBTC": 1.0}, "debt": "USDC",
             "suppliers": 50},
            {"pool": 0, "borrowers": mini, "collateral": {"EXA": 1.0}, "debt": "aUSDC", "suppliers": 10},
            {"pool": 1, "borrowers": mini, "collateral": {"EXB": 1.0}, "debt": "aUSDC", "suppliers": 10},
        ]},
        "parameters": {"flow_limit.0.USDC": 10**14, "flow_limit.1.USDC": 10**14},
        "prices": {
            "assets": {"WETH": {"volatility": 0.8}, "WBTC": {"volatility": 0.6}, "EXA": {"volatility": 1.0},
                       "EXB": {"volatility": 1.0}},
            "correlation": {"WETH/WBTC": 0.8},
            "shocks": [
                {"asset": "WETH", "change": -0.4, "start": steps // 2, "duration": min(6, steps // 2)}
            ],
        },
        "liquidity": {"depth_usd": 20_000_000},
    }  # fmt: skip
    return parse_study(data)


def warm(data: dict[str, Any], base_dir: str) -> None:
    """Build the study's book in this worker (what its first path would otherwise do)."""
    prepared(parse_study(data, base_dir))


# Dask's nannies start each worker with MALLOC_TRIM_THRESHOLD_=65536, which pins glibc's trim and
# mmap thresholds: this lab's paths then cost ~15 % more CPU (0.85 against 0.73 s a path on
# 2026-12-04). The README's cluster set-up removes it; so does this bench unless --dask-trim.
DASK_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def timed_run(study: Study, workers: int, dask: bool, trim: bool = False) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds (all of the work with one local worker), and the
    CPU seconds the workers report for the paths. Every worker has built the book before the
    clock starts (local processes are forked from this process, which holds it; Dask workers
    build it once each)."""
    worker_cpu = 0.0

    def tally(result: PathResult) -> None:
        nonlocal worker_cpu
        worker_cpu += result.cpu_seconds

    with tempfile.TemporaryDirectory() as out:
        t0, c0 = time.perf_counter(), time.process_time()
        if dask:
            from dask import config as dask_config
            from distributed import Client, LocalCluster

            no_trim = {} if trim else {DASK_TRIM: None}
            with (
                dask_config.set(no_trim),
                LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster,
            ):
                with Client(cluster.scheduler_address) as client:
                    client.run(warm, study.canonical(), study.base_dir)  # the book, once per worker
                t0, c0 = time.perf_counter(), time.process_time()
                run_study(study, Path(out) / "r", scheduler=cluster.scheduler_address, progress=tally)
                seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        else:
            run_study(study, Path(out) / "r", workers=workers, progress=tally)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        return seconds, cpu, worker_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=4)
    ap.add_argument("--steps", type=int, default=720)
    ap.add_argument("--borrowers", type=int, default=10_000)
    ap.add_argument("--target-paths", type=int, default=1_000)
    ap.add_argument("--dask", action="store_true", help="Dask LocalCluster instead of local processes")
    ap.add_argument("--dask-trim", action="store_true", help="keep Dask's MALLOC_TRIM_THRESHOLD_")
    ap.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2],
        help="worker counts to time in turn (default 1 2; '--paths 1000 --workers 2' is the whole study)",
    )  # fmt: skip
    args = ap.parse_args()
    study = bench_study(args.borrowers, args.steps, args.paths)
    t0 = time.perf_counter()
    prepared(study)
    print(f"book of {args.borrowers:,} borrowers built in {time.perf_counter() - t0:.1f}s (once per worker)")
    kind = "Dask workers" if args.dask else "local processes"
    rates = {}
    print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
    for workers in args.workers:
        seconds, cpu, worker_cpu = timed_run(study, workers, args.dask, args.dask_trim)
        rates[workers] = args.paths / seconds
        account_steps = args.paths * args.steps * args.borrowers / seconds
        target = args.target_paths / rates[workers]
        print(
            f"{workers} {kind}: {args.paths} paths x {args.steps} steps in {seconds:.1f}s: "
            f"{rates[workers]:.3f} paths/s, {account_steps:,.0f} account-steps/s; "
            f"{args.target_paths:,} paths would take ~{target / 60:.0f} min"
        )
        per_path = worker_cpu / args.paths
        print(
            f"  workers' CPU {per_path:.2f}s a path (main process {cpu / args.paths:.2f}s a path): on 2 "
            f"otherwise idle cores {args.target_paths:,} paths would take "
            f"~{args.target_paths * per_path / 2 / 60:.0f} min"
        )
    if 1 in rates and 2 in rates:
        print(f"speed-up of 2 workers over 1: {rates[2] / rates[1]:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
