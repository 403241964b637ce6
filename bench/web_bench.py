"""The web app on a node holding 10,000 borrowers: JSON view latency and page interactive time.

A node of the built-in network is opened in a temporary directory and 10,000 accounts are
given positions directly through the core (deposit WETH, borrow USDC, health factors spread
from 1.1 to 3); then the node is served over HTTP and measured:

1. every view the pages read, requested over keep-alive HTTP ``REQUESTS`` times each:
   p50 and p99 latency (target: p99 < 50 ms; the same route twice is told apart by a ``#``
   suffix). Whole-book views (``/risk``,
   ``/risk/shock-ladder``) are computed once per block and cached: their first computation
   is reported separately.
2. each page in Debian's Chromium (Playwright), from navigation to rendered and subscribed to
   the block stream (``window.asteraReady``), in a fresh browser context (cold cache):
   target < 1 s.

Usage: ``.venv/bin/python bench/web_bench.py [--accounts N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.web.conftest import CHROMIUM, ServedNode  # noqa: E402

from astera.wire import Key  # noqa: E402

REQUESTS = 200
PAGES = ["/", "/app/reserve/core/USDC", "/app/mini-pool/0", "/app/account", "/app/liquidations", "/app/risk"]


def populate(served: ServedNode, accounts: int) -> str:
    """Give ``accounts`` users WETH collateral and USDC debt (HF 1.1-3); one user's address."""

    def build(p: Any) -> str:
        weth = p.price("WETH")
        p.register_user("web-bench-lender")
        p.mint("web-bench-lender", "USDC", 10**9 * 10**6)
        p.deposit("web-bench-lender", "USDC", 10**9 * 10**6)
        user = ""
        for i in range(accounts):
            user = Key.from_seed(hashlib.sha256(f"web-bench:{i}".encode()).digest()).address
            p.register_user(user)
            amount = (1 + i % 20) * 10**18
            p.mint(user, "WETH", amount)
            p.deposit(user, "WETH", amount)
            hf_target = 110 + (i * 190) // accounts  # percent (LTV 75 % allows 1.07 and up)
            usd = amount * weth // 10**18 * 80 // hf_target  # threshold 80 %
            p.borrow(user, "USDC", usd * 10**6 // 10**8)
        return user

    return str(served.call(build))


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def views(served: ServedNode, user: str) -> None:
    get = [
        "/markets",
        "/oracle",
        "/pools/0",
        f"/accounts/{user}",
        "/reserves/core/USDC/curve",
        "/reserves/core/USDC/curve.svg",
        "/reserves/core/USDC/history",
        "/liquidations",
        "/risk",
        "/risk/shock-ladder",
    ]
    post = {
        "/what-if": {"address": user, "prices": {"WETH": "200000000000"}, "value_usd": "100000000000"},
        "/preview": {
            "sender": user,
            "action": "borrow",
            "params": {"pool": "core", "asset": "USDC", "amount": "1"},
        },
        # The most a debtor can borrow or withdraw: each a search of dry runs, twice (the window).
        "/max-amount": {"sender": user, "action": "borrow", "pool": "core", "asset": "USDC"},
        "/max-amount#withdraw": {"sender": user, "action": "withdraw", "pool": "core", "asset": "WETH"},
    }
    print(f"{'view':40} {'first ms':>9} {'p50 ms':>8} {'p99 ms':>8}")
    with httpx.Client(base_url=served.url, timeout=120) as http:
        for path in [*get, *post]:
            times = []
            for _ in range(REQUESTS + 1):
                t0 = time.perf_counter()
                r = http.post(path.split("#")[0], json=post[path]) if path in post else http.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            first, rest = times[0], times[1:]
            name = path.replace(user, "{address}")
            print(f"{name:40} {first:9.1f} {statistics.median(rest):8.1f} {percentile(rest, 0.99):8.1f}")


def pages(served: ServedNode) -> None:
    from playwright.sync_api import sync_playwright

    print(f"\n{'page':40} {'interactive ms':>15}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for path in PAGES:
            context = browser.new_context()
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(served.url + path)
            page.wait_for_function("window.asteraReady === true", timeout=30_000)
            print(f"{path:40} {(time.perf_counter() - t0) * 1000:15.0f}")
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        served = ServedNode(Path(tmp) / "data").start()
        try:
            t0 = time.perf_counter()
            user = populate(served, args.accounts)
            print(f"{args.accounts} borrowers set up in {time.perf_counter() - t0:.1f} s\n")
            views(served, user)
            pages(served)
        finally:
            served.stop()


if __name__ == "__main__":
    main()
