"""Property test of the scenario replay over random scenarios shaped like the reference vectors.

The public vectors (vectors/README.md) cover 13 scenarios; the acceptance set has the same
topology (Core USDC/WBTC/WETH, Mini-Pool 0 with a unique ``EXO`` and an ``aUSDC`` tranche
that flow-borrows the Core's USDC), up to ~200 actions and more PI-controller
configurations. This test builds such scenarios from a seeded :class:`random.Random`: a
public ``random-000N`` vector's deployment with its parameters re-drawn inside the README's
ranges (prices, LTVs, thresholds, bonuses, reserve factors, owner factors, default curves,
PI controllers on random reserves, flow limits, deposit caps, min-debt thresholds), then
100-200 actions drawn with the vectors' mix: deposits (``onBehalfOf``), borrows (``unwrap``),
repays (``"debt"``/``"max"``/on behalf), withdrawals (``"max"``/``to``/``unwrap``),
liquidations (``"max"``/``"debt"``/``"P%"`` covers, ``receive_atoken``, ``unwrap``),
transfers, collateral toggles, price moves and USDC depegs, warps from a minute to 90 days,
flow-limit changes, mints, snapshots and a share of deliberate refusals.

The generator steers its amounts with the live state of a deployment it drives as it
goes (borrow a fraction of the borrowing power, liquidate unhealthy accounts, repay actual
debt), so most actions succeed and the deep paths are reached. The scenario document it
emits is then checked on a fresh replay:

1. :func:`astera.scenario.replay` raises nothing, and no step's error code is an ``input:``
   code or an unknown one (only contract reverts belong in a trace);
2. a failed step leaves the exported state and the timestamp exactly as they were, and
   replacing every failed action by a ``snapshot`` gives the same trace and final
   ``state_hash`` (so the hidden state, e.g. PI integrals, was rolled back too);
3. replaying the same document twice gives identical traces (also in other processes,
   whatever ``PYTHONHASHSEED``), and replay does not modify the document;
4. per-step invariants readable off the exported state (:func:`_state_problems`,
   :func:`_step_problems`): no negative quantity; indexes >= RAY, never decreasing, rolled
   forward >= stored; scaled debt of the holders = total; tokens conserved (only ``mint``
   and implicit funding create any); flow <= flow limit; HF = 2^256-1 without debt; a
   successful liquidation targeted an unhealthy account and repaid at most the close
   factor; a successful borrow, withdrawal, transfer or collateral switch-off leaves the
   account healthy; repaying ``"debt"``/``"max"`` clears the debt; time moves only by warps.

``ASTERA_FUZZ_SCENARIOS`` (default 160) and ``ASTERA_FUZZ_SEED`` (default 0) choose the
seeds, to hunt over many more scenarios than the suite runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from astera.core import ProtocolError
from astera.core.errors import ERROR_NAMES
from astera.scenario import build, export_state, replay, run_action
from vector_diff import diff

RAY = 10**27
WAD = 10**18
UINT256_MAX = 2**256 - 1
DAY = 86_400
USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank")
#: A user outside the scenario's ``users`` list (only ever minted to).
OUTSIDER = "xavier"
BASE_VECTORS = tuple(f"random-000{i}" for i in range(1, 9))
#: Scenarios the suite checks, and the first seed (raise the count to hunt).
N_SCENARIOS = int(os.environ.get("ASTERA_FUZZ_SCENARIOS", "160"))
FIRST_SEED = int(os.environ.get("ASTERA_FUZZ_SEED", "0"))
#: Scenarios per test case, so ``pytest -n 2`` can spread the cases over both workers.
PER_CASE = 5

State = dict[str, Any]
Action = dict[str, Any]


# ---- deployment --------------------------------------------------------------------------------------


def _ray(rng: random.Random, low: float, high: float) -> str:
    """A ray value in [low, high], with six significant decimals as in the vectors."""
    return str(round(rng.uniform(low, high) * 10**6) * 10**21)


def _price(rng: random.Random, low: float, high: float) -> str:
    """A USD price with 8 decimals, rounded to cents (or to 0.0001 below $100)."""
    step = 10**6 if high >= 100 else 10**4
    return str(round(rng.uniform(low, high) * 10**8 / step) * step)


def _risk(rng: random.Random, ltv: tuple[int, int], gap: tuple[int, int]) -> dict[str, int]:
    """LTV, threshold and bonus in steps of 50 bps, with ``threshold·bonus <= 10000²``."""
    lo = rng.randrange(ltv[0], ltv[1] + 1, 50)
    lt = min(lo + rng.randrange(gap[0], gap[1] + 1, 50), 9500)
    bonus = rng.randrange(10_300, 11_451, 50)
    while lt * bonus > 10_000 * 10_000:
        bonus -= 50
    return {"ltv": lo, "liquidation_threshold": lt, "liquidation_bonus": bonus}


def _default_curve(rng: random.Random, stable: bool) -> dict[str, str]:
    return {
        "model": "default",
        "optimal_utilization": _ray(rng, 0.65, 0.9) if stable else _ray(rng, 0.4, 0.8),
        "base_rate": _ray(rng, 0.0, 0.03),
        "slope1": _ray(rng, 0.02, 0.15),
        "slope2": _ray(rng, 0.35, 1.8) if stable else _ray(rng, 1.0, 4.0),
    }


def _pi(rng: random.Random) -> dict[str, Any]:
    """A PI controller: the vectors' ranges (kp 0.5-2, ki 90-350e18, min error -0.24 to -0.39,
    5-20 days of integral), widened on every side."""
    return {
        "model": "pi",
        "optimal_utilization": _ray(rng, 0.5, 0.92),
        "kp": str(rng.choice((250, 500, 1000, 1500, 2000, 3000)) * 10**24),
        "ki": str(rng.randrange(20, 1001, 10) * 10**18),
        "min_controller_error": "-" + _ray(rng, 0.1, 0.5),
        "max_i_time_amp": rng.randrange(1, 31) * DAY,
    }


def make_deployment(rng: random.Random, base: dict[str, Any], seed: int) -> dict[str, Any]:
    """A public vector's deployment with every parameter re-drawn within the README's ranges."""
    doc = copy.deepcopy({k: v for k, v in base.items() if k != "actions"})
    doc["name"] = f"fuzz-{seed:05d}"
    doc["start_timestamp"] = rng.randrange(1_700_000_000, 1_760_000_000)
    assets = doc["assets"]
    assets["USDC"]["price"] = "100000000"
    assets["WBTC"]["price"] = _price(rng, 35_000, 100_000)
    assets["WETH"]["price"] = _price(rng, 1_500, 4_200)
    assets["EXO"]["price"] = _price(rng, 2, 50)
    strategies: dict[str, Any] = {
        "core_stable": _default_curve(rng, True),
        "core_volatile": _default_curve(rng, False),
        "mini_stable": _default_curve(rng, True),
        "mini_volatile": _default_curve(rng, False),
    }
    pi_share = rng.choice((0.0, 0.0, 0.35, 0.6, 1.0))
    if pi_share:
        strategies["pi_a"] = _pi(rng)
        strategies["pi_b"] = _pi(rng)
    doc["rate_strategies"] = strategies

    def strategy(default: str) -> str:
        return rng.choice(("pi_a", "pi_b")) if rng.random() < pi_share else default

    core = doc["core_pool"]["reserves"]
    core_risk = {"USDC": ((7000, 8500), (200, 750)), "WBTC": ((6000, 8000), (300, 900))}
    core_risk["WETH"] = ((6500, 8200), (250, 900))
    for sym, params in core.items():
        params.update(_risk(rng, *core_risk[sym]))
        params["reserve_factor"] = rng.randrange(0, 3001, 250)
        params["rate_strategy"] = strategy("core_stable" if sym == "USDC" else "core_volatile")
        params["deposit_cap"] = rng.choice(
            (0,) * 12 + ({"USDC": 5_000_000, "WBTC": 150, "WETH": 5_000}[sym],)
        )
    mp = doc["mini_pools"][0]
    mp["min_debt_threshold"] = rng.choice((0, 0, 0, 100, 100, 1_000_000))
    mp["flow_limits"] = {"USDC": str(rng.choice((50, 100, 250, 500, 1_000)) * 10**9)}
    for params in mp["reserves"].values():
        tranche = "tranche_of" in params
        params.update(
            _risk(rng, (7000, 8500), (250, 800)) if tranche else _risk(rng, (3500, 5600), (700, 1450))
        )
        params["reserve_factor"] = rng.choice((0, 0, 250, 500, 1000, 1500))
        owner = rng.choice((0, 0, 0, 250, 500, 1000))
        params.pop("owner_reserve_factor", None)
        if owner:
            params["owner_reserve_factor"] = owner
        curve = ("mini_stable" if tranche else "mini_volatile") if rng.random() < 0.85 else "core_stable"
        params["rate_strategy"] = strategy(curve)  # one default curve may serve both pools
        params["deposit_cap"] = 0 if tranche else rng.choice((0, 0, 50_000, 1_000_000))
    doc["users"] = list(USERS[: rng.randint(4, 8)])
    doc["actions"] = []
    return doc


# ---- action generator ------------------------------------------------------------------------------


class ScenarioGen:
    """Draws actions one at a time against a live deployment, so amounts fit the state."""

    def __init__(self, seed: int, base: dict[str, Any]) -> None:
        self.rng = random.Random(seed)
        self.doc = make_deployment(self.rng, base, seed)
        self.p, self.users = build(self.doc)
        self.p.register_user(OUTSIDER)
        self.assets: dict[str, list[str]] = {
            "core": list(self.doc["core_pool"]["reserves"]),
            "mini": list(self.doc["mini_pools"][0]["reserves"]),
        }
        self.initial_prices = {a: int(v["price"]) for a, v in self.doc["assets"].items()}
        self.state: State = export_state(self.p, self.users)
        self.actions: list[Action] = []
        #: Share of explicit amounts that are a few wei (rounding edges), per scenario.
        self.dust = self.rng.choice((0.0, 0.0, 0.03, 0.15))

    # -- state access

    def reserve(self, pool: str, asset: str) -> State:
        if pool == "core":
            return self.state["core"][asset]  # type: ignore[no-any-return]
        return self.state["mini_pools"]["0"]["reserves"][asset]  # type: ignore[no-any-return]

    def position(self, pool: str, user: str, asset: str) -> State:
        u = self.state["users"][user]
        return (u["core"] if pool == "core" else u["mini_pools"]["0"]["reserves"])[asset]  # type: ignore[no-any-return]

    def account(self, pool: str, user: str) -> State:
        u = self.state["users"][user]
        return u["core_account"] if pool == "core" else u["mini_pools"]["0"]["account"]  # type: ignore[no-any-return]

    def units(self, pool: str, asset: str, base_value: int) -> int:
        """``base_value`` (USD, 8 decimals) in the reserve's smallest units at its price."""
        r = self.reserve(pool, asset)
        return int(base_value * 10 ** r["config"]["decimals"] // max(r["price"], 1))

    # -- drawing helpers

    def other(self, user: str) -> str:
        return self.rng.choice([u for u in self.users if u != user])

    def frac(self, amount: int, low: float, high: float) -> int:
        return int(amount * self.rng.uniform(low, high))

    def part(self, total: int, low: float, high: float) -> str:
        """An explicit amount out of ``total``: mostly a fraction, sometimes exactly all of it,
        just over it, or (in dust-heavy scenarios) a few wei."""
        x = self.rng.random()
        if x < self.dust:
            return str(self.rng.randint(1, 1_000))
        if x < self.dust + 0.07:
            return str(max(total, 1))
        if x < self.dust + 0.09:
            return str(total + self.rng.randint(1, 1_000))
        return str(max(self.frac(total, low, high), 1))

    def usd(self, low: float, high: float) -> int:
        """A log-uniform USD value with 8 decimals."""
        return int(math.exp(self.rng.uniform(math.log(low), math.log(high))) * 10**8)

    def pick_asset(self, pool: str) -> str:
        if pool == "core":
            return self.rng.choices(self.assets["core"], (45, 25, 30))[0]
        return self.rng.choices(self.assets["mini"], (55, 45))[0]

    def pool_action(self, op: str, pool: str, user: str, asset: str, **extra: Any) -> Action:
        a: Action = {"op": op, "pool": pool, "user": user, "asset": asset}
        if pool == "mini" and self.rng.random() < 0.1:
            a["mini_pool"] = 0
        a.update(extra)
        return a

    # -- ops

    def deposit(self, pool: str, user: str | None = None, asset: str | None = None) -> Action:
        asset = asset or self.pick_asset(pool)
        user = user or self.rng.choice(self.users)
        amount = max(self.units(pool, asset, self.usd(50, 2_000_000)), 1)
        if self.rng.random() < self.dust:
            amount = self.rng.randint(1, 1_000)
        a = self.pool_action("deposit", pool, user, asset, amount=str(amount))
        if self.rng.random() < 0.08:
            a["onBehalfOf"] = self.other(user)
        return a

    def borrow(self, pool: str) -> Action:
        able = [u for u in self.users if self.account(pool, u)["available_borrows_base"] > 0]
        user = self.rng.choice(able) if able and self.rng.random() < 0.92 else self.rng.choice(self.users)
        asset = self.pick_asset(pool)
        power = self.account(pool, user)["available_borrows_base"]
        x = self.rng.random()
        share = (
            self.frac(power, 1.0, 1.3)
            if x < 0.1
            else self.frac(power, *((0.7, 0.99) if x < 0.55 else (0.05, 0.7)))
        )
        amount = self.units(pool, asset, share)
        r = self.reserve(pool, asset)
        room = r["available_liquidity"]
        if pool == "mini" and asset == "aUSDC":
            flow = self.state["mini_pools"]["0"]["flow"]["USDC"]
            income = self.reserve("core", "USDC")["normalized_income"]
            room += (flow["flow_limit"] - flow["current_flow"]) * RAY // income
        if amount > room and self.rng.random() < 0.85:
            amount = self.frac(room, 0.2, 0.95)
        if self.rng.random() < self.dust:
            amount = self.rng.randint(1, 1_000)
        a = self.pool_action("borrow", pool, user, asset, amount=str(max(amount, 1)))
        if asset == "aUSDC" and self.rng.random() < 0.4:
            a["unwrap"] = True
        return a

    def debts(self, pool: str) -> list[tuple[str, str]]:
        return [
            (u, a) for u in self.users for a in self.assets[pool] if self.position(pool, u, a)["debt_balance"]
        ]

    def holdings(self, pool: str) -> list[tuple[str, str]]:
        return [
            (u, a)
            for u in self.users
            for a in self.assets[pool]
            if self.position(pool, u, a)["a_token_balance"]
        ]

    def holder(self, pool: str) -> tuple[str, str]:
        """Mostly a (user, asset) with aTokens to move; sometimes any pair (a refusal, likely)."""
        held = self.holdings(pool)
        if held and self.rng.random() < 0.95:
            return self.rng.choice(held)
        return self.rng.choice(self.users), self.pick_asset(pool)

    def repay(self, pool: str) -> Action:
        debts = self.debts(pool)
        if debts and self.rng.random() < 0.94:
            user, asset = self.rng.choice(debts)
        else:
            user, asset = self.rng.choice(self.users), self.pick_asset(pool)
        debt = self.position(pool, user, asset)["debt_balance"]
        payer = self.other(user) if self.rng.random() < 0.2 else user
        x = self.rng.random()
        max_share = 0.15 if pool == "core" else 0.04
        if x < 0.25:
            amount = "debt"
        elif x < 0.25 + max_share:
            amount = "max"
        else:
            amount = self.part(debt, 0.05, 0.9)
        a = self.pool_action("repay", pool, payer, asset, amount=amount)
        if payer != user:
            a["onBehalfOf"] = user
        return a

    def withdraw(self, pool: str) -> Action:
        user, asset = self.holder(pool)
        balance = self.position(pool, user, asset)["a_token_balance"]
        amount = "max" if self.rng.random() < 0.25 else self.part(balance, 0.05, 1.0)
        a = self.pool_action("withdraw", pool, user, asset, amount=amount)
        if self.rng.random() < 0.1:
            a["to"] = self.other(user)
        if asset == "aUSDC" and self.rng.random() < 0.5:
            a["unwrap"] = True
        return a

    def unhealthy(self, pool: str) -> list[str]:
        return [u for u in self.users if self.account(pool, u)["health_factor"] < WAD]

    def liquidate(self, pool: str) -> Action:
        sick = self.unhealthy(pool)
        indebted = sorted({u for u, _ in self.debts(pool)})
        if sick and self.rng.random() < 0.9:
            target = self.rng.choice(sick)
        else:
            target = self.rng.choice(indebted or list(self.users))
        colls = [
            a
            for a in self.assets[pool]
            if self.position(pool, target, a)["collateral_enabled"]
            and self.position(pool, target, a)["a_token_balance"]
        ]
        owed = [a for a in self.assets[pool] if self.position(pool, target, a)["debt_balance"]]
        coll = self.rng.choice(colls) if colls and self.rng.random() < 0.95 else self.pick_asset(pool)
        debt_asset = self.rng.choice(owed) if owed and self.rng.random() < 0.95 else self.pick_asset(pool)
        debt = self.position(pool, target, debt_asset)["debt_balance"]
        x = self.rng.random()
        cover: str
        if x < 0.22:
            cover = "max"
        elif x < 0.32:
            cover = "debt"
        elif x < 0.7:
            cover = self.rng.choice(("50%", "10%", "25%", "33%", "40%", "12.5%", "100%", "33.33%", "0.5%"))
        else:
            cover = self.part(debt, 0.02, 0.6)
        a: Action = {
            "op": "liquidate",
            "pool": pool,
            "user": self.other(target),
            "target": target,
            "collateral_asset": coll,
            "debt_asset": debt_asset,
            "debt_to_cover": cover,
        }
        if self.rng.random() < 0.35:
            a["receive_atoken"] = True
        elif self.rng.random() < 0.85:
            a["receive_atoken"] = False  # else omitted: false by default
        if pool == "mini" and coll == "aUSDC" and self.rng.random() < 0.5:
            a["unwrap"] = True
        return a

    def transfer(self, pool: str) -> Action:
        user, asset = self.holder(pool)
        balance = self.position(pool, user, asset)["a_token_balance"]
        amount = "max" if self.rng.random() < 0.2 else self.part(balance, 0.02, 1.0)
        return self.pool_action("transfer", pool, user, asset, to=self.other(user), amount=amount)

    def set_collateral(self, pool: str) -> Action:
        user, asset = self.holder(pool)
        on = self.position(pool, user, asset)["collateral_enabled"]
        return self.pool_action(
            "set_collateral", pool, user, asset, enabled=(not on) ^ (self.rng.random() < 0.1)
        )

    def price_of(self, asset: str) -> int:
        return self.reserve("mini" if asset == "EXO" else "core", asset)["price"]  # type: ignore[no-any-return]

    def squeeze(self) -> tuple[str, float] | None:
        """A price move that pushes the most leveraged healthy account towards liquidation."""
        leveraged = [
            (self.account(pool, u)["health_factor"], pool, u)
            for pool in ("core", "mini")
            for u in self.users
            if WAD <= self.account(pool, u)["health_factor"] < UINT256_MAX
        ]
        if not leveraged:
            return None
        pool = self.rng.choice(sorted({pool for _, pool, _ in leveraged}))
        _, pool, user = min(x for x in leveraged if x[1] == pool)
        colls = [
            a
            for a in self.assets[pool]
            if a in self.initial_prices
            and a != "USDC"
            and self.position(pool, user, a)["collateral_enabled"]
            and self.position(pool, user, a)["a_token_balance"]
        ]
        owed = [
            a
            for a in self.assets[pool]
            if a in self.initial_prices and a != "USDC" and self.position(pool, user, a)["debt_balance"]
        ]
        if colls and (not owed or self.rng.random() < 0.7):
            return self.rng.choice(colls), self.rng.uniform(0.6, 0.92)
        if owed:
            return self.rng.choice(owed), self.rng.uniform(1.08, 1.3)
        return None

    def set_price(self) -> Action:
        if self.rng.random() < 0.2:
            price = 100_000_000 if self.rng.random() < 0.3 else int(self.rng.uniform(0.97, 1.01) * 10**8)
            return {"op": "set_price", "asset": "USDC", "price": str(price)}
        move = self.squeeze() if self.rng.random() < 0.45 else None
        if move is None:
            asset = self.rng.choice(("WETH", "WBTC", "EXO"))
            below = self.price_of(asset) < self.initial_prices[asset]
            move = (
                asset,
                self.rng.uniform(1.0, 1.3)
                if below and self.rng.random() < 0.4
                else self.rng.uniform(0.6, 1.3),
            )
        asset, factor = move
        start = self.initial_prices[asset]
        price = min(max(int(self.price_of(asset) * factor), start // 6), start * 4)
        return {"op": "set_price", "asset": asset, "price": str(max(price, 1))}

    def warp(self) -> Action:
        x = self.rng.random()
        if x < 0.35:
            seconds = self.rng.randint(60, 3_600)
        elif x < 0.75:
            seconds = self.rng.randint(3_600, 7 * DAY)
        else:
            seconds = self.rng.randint(7 * DAY, 90 * DAY)
        return {"op": "warp", "seconds": seconds}

    def set_flow_limit(self) -> Action:
        flow = self.state["mini_pools"]["0"]["flow"]["USDC"]["current_flow"]
        if flow and self.rng.random() < 0.2:
            limit = self.frac(flow, 0.5, 0.999)  # below the current flow: refused with 1
        elif self.rng.random() < 0.5:
            limit = flow + self.rng.randint(1, 200_000) * 10**6
        else:
            limit = self.rng.choice((0, 10, 50, 100, 250, 1_000)) * 10**9
        a: Action = {"op": "set_flow_limit", "asset": "USDC", "limit": str(limit)}
        if self.rng.random() < 0.7:
            a["mini_pool"] = 0
        return a

    def mint(self) -> Action:
        asset = self.rng.choice(("USDC", "WBTC", "WETH", "EXO"))
        r = self.reserve("mini" if asset == "EXO" else "core", asset)
        amount = self.usd(10, 100_000) * 10 ** r["config"]["decimals"] // r["price"]
        # Now and then to a user outside ``users``, who is appended to every state (FORMAT §2).
        user = OUTSIDER if self.rng.random() < 0.15 else self.rng.choice(self.users)
        return {"op": "mint", "user": user, "asset": asset, "amount": str(amount)}

    def refusal(self) -> Action:
        """One of the vectors' deliberate failures."""
        pool = self.rng.choice(("core", "mini"))
        asset = self.pick_asset(pool)
        user = self.rng.choice(self.users)
        kind = self.rng.randrange(7)
        if kind == 0:
            return self.pool_action(self.rng.choice(("borrow", "withdraw")), pool, user, asset, amount="0")
        if kind == 1:
            unit = 10 ** self.reserve(pool, asset)["config"]["decimals"]
            return self.pool_action("repay", pool, user, asset, amount=str(unit))
        if kind == 2:
            a = self.deposit(pool, user, asset)
            a["fund"] = False
            return a
        if kind == 3:
            return self.pool_action("repay", "mini", user, "aUSDC", amount="max")
        if kind in (4, 5):  # payments without implicit funding: they succeed only from a funded wallet
            a = self.repay(pool) if kind == 4 else self.liquidate(pool)
            a["fund"] = False
            return a
        return self.pool_action("set_collateral", pool, user, asset, enabled=True)

    # -- driver

    def draw(self) -> Action:
        pool = "core" if self.rng.random() < 0.58 else "mini"
        sick_pools = [p for p in ("core", "mini") if self.unhealthy(p)]
        sick = bool(sick_pools)
        liq_pool = self.rng.choice(sick_pools) if sick else pool
        ops: dict[str, tuple[float, Callable[[], Action]]] = {
            "deposit": (15, lambda: self.deposit(pool)),
            "borrow": (17, lambda: self.borrow(pool)),
            "repay": (9, lambda: self.repay(pool)),
            "withdraw": (6, lambda: self.withdraw(pool)),
            "liquidate": (22 if sick else 2, lambda: self.liquidate(liq_pool)),
            "transfer": (3, lambda: self.transfer(pool)),
            "set_collateral": (2.5, lambda: self.set_collateral(pool)),
            "set_price": (11, self.set_price),
            "warp": (10, self.warp),
            "set_flow_limit": (1.5, self.set_flow_limit),
            "mint": (0.6, self.mint),
            "snapshot": (0.4, lambda: {"op": "snapshot"}),
            "refusal": (3, self.refusal),
        }
        names = list(ops)
        name = self.rng.choices(names, [ops[n][0] for n in names])[0]
        return ops[name][1]()

    def emit(self, action: Action) -> None:
        """Run the action on the live deployment (as replay does) and record it."""
        if self.rng.random() < 0.03:
            action["expect_revert"] = self.rng.random() < 0.5  # an author's note: no effect
        try:
            with self.p.transaction():
                run_action(self.p, action)
        except Exception:  # a crash stays in the scenario: the replay check reports it
            pass
        self.actions.append(action)
        self.state = export_state(self.p, self.users)

    def scenario(self, n_actions: int) -> dict[str, Any]:
        users = self.users
        # Bootstrap liquidity as the vectors do: large deposits in every market first.
        for i, (pool, asset) in enumerate(
            (("core", "USDC"), ("core", "WBTC"), ("core", "WETH"), ("mini", "EXO"))
        ):
            r = self.reserve(pool, asset)
            value = self.usd(100_000, 2_000_000)
            amount = value * 10 ** r["config"]["decimals"] // r["price"]
            self.emit(self.pool_action("deposit", pool, users[i % len(users)], asset, amount=str(amount)))
        while len(self.actions) < n_actions:
            self.emit(self.draw())
        return {**self.doc, "actions": self.actions}


def generate(seed: int, base: dict[str, Any]) -> dict[str, Any]:
    """The scenario of a seed (deterministic), on the deployment shape of ``base``."""
    gen = ScenarioGen(seed, base)
    return gen.scenario(gen.rng.randint(100, 200))


def load_bases(vectors_dir: Path) -> list[dict[str, Any]]:
    return [json.loads((vectors_dir / f"{n}.scenario.json").read_text()) for n in BASE_VECTORS]


def scenario_for(seed: int, bases: list[dict[str, Any]]) -> dict[str, Any]:
    return generate(seed, bases[seed % len(bases)])


# ---- checks --------------------------------------------------------------------------------------------


def _ints(value: Any, path: str = "") -> Iterator[tuple[str, int]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _ints(v, f"{path}.{k}")
    elif isinstance(value, int) and not isinstance(value, bool):
        yield path, value


def _state_problems(st: State) -> list[str]:
    """Invariants of one exported state."""
    out = [f"{path} = {v} < 0" for path, v in _ints(st) if v < 0]
    mini = st["mini_pools"]["0"]
    reserves = [("core", s, r) for s, r in st["core"].items()]
    reserves += [("mini", n, r) for n, r in mini["reserves"].items()]
    for pool, name, r in reserves:
        where = f"{pool}.{name}"
        if r["liquidity_index"] < RAY or r["variable_borrow_index"] < RAY:
            out.append(f"{where}: index below RAY")
        if r["normalized_income"] < r["liquidity_index"]:
            out.append(f"{where}: normalized_income < liquidity_index")
        if r["normalized_variable_debt"] < r["variable_borrow_index"]:
            out.append(f"{where}: normalized_variable_debt < variable_borrow_index")
        positions = [
            u["core"][name] if pool == "core" else u["mini_pools"]["0"]["reserves"][name]
            for u in st["users"].values()
        ]
        a_scaled = sum(p["a_token_scaled"] for p in positions)
        d_scaled = sum(p["debt_scaled"] for p in positions)
        if pool == "core" and name in mini["flow"]:
            d_scaled += mini["flow"][name]["core_debt_scaled"]
            a_scaled += mini["flow"][name]["core_a_token_scaled"]
        if a_scaled > r["a_token_scaled_total_supply"]:
            out.append(f"{where}: users' aToken scaled {a_scaled} > total {r['a_token_scaled_total_supply']}")
        if d_scaled != r["debt_scaled_total_supply"]:
            out.append(f"{where}: debt scaled of holders {d_scaled} != total {r['debt_scaled_total_supply']}")
        for p in positions:
            if bool(p["debt_scaled"]) != bool(p["debt_balance"]):
                out.append(f"{where}: debt_scaled {p['debt_scaled']} vs debt_balance {p['debt_balance']}")
    for asset, f in mini["flow"].items():
        if f["flow_limit"] < f["current_flow"]:
            out.append(f"flow.{asset}: flow_limit < current_flow")
        if f["core_debt_balance"] != f["current_flow"]:
            out.append(f"flow.{asset}: core_debt_balance != current_flow")
        if f["core_debt_scaled"] and not f["is_flow_borrowing"]:
            out.append(f"flow.{asset}: Core debt but not listed as flow-borrowing")
    for user, u in st["users"].items():
        for pool, acct in [("core", u["core_account"]), ("mini", u["mini_pools"]["0"]["account"])]:
            if acct["total_debt_base"] == 0 and acct["health_factor"] != UINT256_MAX:
                out.append(f"{user}.{pool}: no debt but health factor {acct['health_factor']}")
            if acct["available_borrows_base"] > acct["total_collateral_base"]:
                out.append(f"{user}.{pool}: available_borrows_base > total_collateral_base")
            if acct["ltv"] > 10_000 or acct["current_liquidation_threshold"] > 10_000:
                out.append(f"{user}.{pool}: ltv/threshold above 100 %")
    return out


def _pool_of(action: Action) -> str:
    return "core" if action.get("pool") == "core" else "mini"


def _acct(st: State, pool: str, user: str) -> State:
    u = st["users"][user]
    return u["core_account"] if pool == "core" else u["mini_pools"]["0"]["account"]  # type: ignore[no-any-return]


def _pos(st: State, pool: str, user: str, asset: str) -> State:
    u = st["users"][user]
    return (u["core"] if pool == "core" else u["mini_pools"]["0"]["reserves"])[asset]  # type: ignore[no-any-return]


def _reserves(st: State) -> Iterator[tuple[str, State]]:
    for s, r in st["core"].items():
        yield f"core.{s}", r
    for n, r in st["mini_pools"]["0"]["reserves"].items():
        yield f"mini.{n}", r


def _token_totals(st: State) -> dict[str, int]:
    """Every underlying token in existence: users' wallets plus the reserves' cash.

    The treasuries and the Mini-Pool are only ever paid in aTokens or wrapper shares, and
    the Mini-Pool's flow-borrowed cash goes straight back into the Core within the action.
    """
    users = list(st["users"].values())
    totals = {a: sum(u["wallet"][a] for u in users) for a in users[0]["wallet"]}
    for sym, r in st["core"].items():
        totals[sym] += r["available_liquidity"]
    for name, r in st["mini_pools"]["0"]["reserves"].items():
        if name in totals:  # a unique reserve holds its asset; a tranche holds Core shares
            totals[name] += r["available_liquidity"]
    return totals


#: Actions that may mint tokens to the payer first (implicit funding, FORMAT §3.1).
FUNDED_OPS = ("deposit", "repay", "liquidate")


def _step_problems(step: State, prev: State, prev_ts: int) -> list[str]:
    """Invariants linking a step to the state before it."""
    a, st, ok, ts = step["action"], step["state"], step["ok"], step["timestamp"]
    out: list[str] = []
    if ok != (step["error"] is None):
        out.append(f"ok={ok} but error={step['error']}")
    if not ok:
        code, name = step["error"]["code"], step["error"]["name"]
        if code.startswith("input:"):
            out.append(f"input error {code} {name} recorded in the trace")
        elif ERROR_NAMES.get(code) != name:
            out.append(f"unknown error {code} {name}")
        if ts != prev_ts:
            out.append(f"failed step moved the time {prev_ts} -> {ts}")
        if st != prev:
            out.append("failed step changed the state: " + "; ".join(diff(st, prev)[:5]))
        return out
    expected_ts = prev_ts + a["seconds"] if a["op"] == "warp" else prev_ts
    if ts != expected_ts:
        out.append(f"timestamp {ts}, expected {expected_ts}")
    prev_reserves = dict(_reserves(prev))
    for where, r in _reserves(st):
        p = prev_reserves[where]
        if r["config"] != p["config"]:
            out.append(f"{where}: config changed")
        if (
            r["liquidity_index"] < p["liquidity_index"]
            or r["variable_borrow_index"] < p["variable_borrow_index"]
        ):
            out.append(f"{where}: stored index decreased")
        if r["last_update_timestamp"] > ts:
            out.append(f"{where}: last_update_timestamp in the future")
    op = a["op"]
    before, after = _token_totals(prev), _token_totals(st)
    for asset, total in after.items():
        minted = total - before[asset]
        if op == "mint":
            expected = int(a["amount"]) if a["asset"] == asset else 0
            if minted != expected:
                out.append(f"{asset}: {minted} tokens appeared, minted {expected}")
        elif op in FUNDED_OPS and a.get("fund", True):
            if minted < 0:
                out.append(f"{asset}: {-minted} tokens vanished")
        elif minted:
            out.append(f"{asset}: token supply changed by {minted} without funding")
    pool = _pool_of(a)
    if op == "liquidate":
        hf = _acct(prev, pool, a["target"])["health_factor"]
        if hf >= WAD:
            out.append(f"liquidated a healthy account (HF {hf})")
        before = _pos(prev, pool, a["target"], a["debt_asset"])["debt_balance"]
        after = _pos(st, pool, a["target"], a["debt_asset"])["debt_balance"]
        if after >= before:
            out.append(f"liquidation did not lower the debt ({before} -> {after})")
        # The close factor caps the repayment at half the debt; burning scaled debt rounds
        # by up to one scaled unit, worth ``index`` wei.
        index = dict(_reserves(prev))[f"{pool}.{a['debt_asset']}"]["normalized_variable_debt"]
        if before - after > (before * 5000 + 5000) // 10_000 + index // RAY + 2:
            out.append(f"liquidation repaid more than the close factor ({before} -> {after})")
    elif op in ("borrow", "withdraw", "transfer", "set_collateral"):
        # The HF checks of these actions: a successful transfer leaves the sender healthy; a
        # borrow, or a withdrawal or collateral switch-off that lowered an enabled collateral,
        # leaves the borrower healthy. Dust is exempt from the latter: amounts round to whole
        # scaled units, so a 1-wei borrow can add 2 wei of debt the check valued at 0.
        user = a.get("onBehalfOf", a["user"]) if op == "borrow" else a["user"]
        after_acct = _acct(st, pool, user)
        was = _pos(prev, pool, user, a["asset"])
        lowered = was["collateral_enabled"] and (op != "set_collateral" or not a["enabled"])
        dust = after_acct["total_debt_base"] < 10**8
        if after_acct["health_factor"] < WAD and (
            op == "transfer" or (not dust and (op == "borrow" or lowered))
        ):
            out.append(f"successful {op} left the account unhealthy (HF {after_acct['health_factor']})")
    elif op == "repay":
        borrower = a.get("onBehalfOf", a["user"])
        before = _pos(prev, pool, borrower, a["asset"])["debt_balance"]
        after = _pos(st, pool, borrower, a["asset"])["debt_balance"]
        if after >= before:
            out.append(f"repay did not lower the debt ({before} -> {after})")
        if a["amount"] in ("debt", "max") and after != 0:
            out.append(f"repay {a['amount']} left debt {after}")
    return out


def _locate_crash(doc: dict[str, Any]) -> str:
    """The step at which the replay raised, and the traceback."""
    p, users = build(doc)
    for i, action in enumerate(doc["actions"]):
        try:
            with p.transaction():
                run_action(p, action)
        except ProtocolError:
            continue
        except Exception:
            return f"step {i} {json.dumps(action)}:\n{traceback.format_exc()}"
    return "could not reproduce the crash step by step"


def check_scenario(doc: dict[str, Any]) -> list[str]:
    """Every property of the module docstring; the problems found (empty when all hold)."""
    pristine = copy.deepcopy(doc)
    try:
        trace = replay(doc)
    except Exception as e:
        return [f"crash: replay raised {type(e).__name__}: {e} at {_locate_crash(pristine)}"]
    problems: list[str] = []
    if doc != pristine:
        problems.append("replay modified the scenario document")
    prev, prev_ts = trace["initial"], doc["start_timestamp"]
    problems += [f"initial: {p}" for p in _state_problems(prev)]
    for step in trace["steps"]:
        here = f"step {step['step']} {json.dumps(step['action'])}"
        problems += [f"{here}: {p}" for p in _step_problems(step, prev, prev_ts)]
        problems += [f"{here}: {p}" for p in _state_problems(step["state"])]
        prev, prev_ts = step["state"], step["timestamp"]
    again = replay(copy.deepcopy(pristine))
    if again != trace:
        problems.append("replaying the same scenario twice gave different traces")
    # Hidden-state atomicity: a failed action must be a no-op, PI integrals and all.
    failed = {s["step"] for s in trace["steps"] if not s["ok"]}
    if failed:
        noop = {
            **pristine,
            "actions": [{"op": "snapshot"} if i in failed else a for i, a in enumerate(pristine["actions"])],
        }
        other = replay(noop)
        for s, t in zip(trace["steps"], other["steps"], strict=True):
            if s["step"] in failed:
                continue
            if (s["ok"], s["error"], s["timestamp"], s["state"]) != (
                t["ok"],
                t["error"],
                t["timestamp"],
                t["state"],
            ):
                before = sorted(f for f in failed if f < s["step"])
                problems.append(
                    f"step {s['step']}: outcome differs once the failed steps {before[-5:]} (last 5) are "
                    "replaced by snapshots: a failed action changed hidden state"
                )
                break
        else:
            if other["state_hash"] != trace["state_hash"]:
                problems.append("final state_hash differs once failed steps are replaced by snapshots")
    return problems


def shrink(doc: dict[str, Any], fails: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Drop chunks of actions while ``fails`` still holds (delta debugging, for reports)."""
    actions = list(doc["actions"])
    chunk = max(len(actions) // 2, 1)
    while chunk >= 1:
        i, removed = 0, False
        while i < len(actions):
            trial = actions[:i] + actions[i + chunk :]
            if trial and fails({**doc, "actions": trial}):
                actions, removed = trial, True
            else:
                i += chunk
        if not removed:
            chunk //= 2
    return {**doc, "actions": actions}


def problem_kind(problem: str) -> str:
    """A problem without its step, action and numbers: what :func:`shrink` must preserve."""
    text = re.sub(r"^step \d+ \{.*?\}: ", "", problem.split("\n")[0])
    return re.sub(r"\d+", "N", text)[:80]


def minimal_failure(doc: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The scenario cut down to the fewest actions that still show the first problem."""
    kind = problem_kind(problems[0])
    return shrink(doc, lambda d: any(problem_kind(p) == kind for p in check_scenario(d)))


def op_key(action: Action) -> str:
    return f"{action['op']}:{action['pool']}" if "pool" in action else action["op"]


def outcome_counts(trace: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """Per-op counts of successful and failed steps."""
    ok: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for s in trace["steps"]:
        (ok if s["ok"] else failed)[op_key(s["action"])] += 1
    return ok, failed


# ---- tests ------------------------------------------------------------------------------------------------

CASES = [
    list(range(start, min(start + PER_CASE, FIRST_SEED + N_SCENARIOS)))
    for start in range(FIRST_SEED, FIRST_SEED + N_SCENARIOS, PER_CASE)
]


@pytest.fixture(scope="module")
def bases(vectors_dir: Path) -> list[dict[str, Any]]:
    return load_bases(vectors_dir)


@pytest.mark.parametrize("seeds", CASES, ids=lambda s: f"seeds{s[0]}-{s[-1]}")
def test_random_scenarios_replay_cleanly(bases: list[dict[str, Any]], seeds: list[int]) -> None:
    for seed in seeds:
        doc = scenario_for(seed, bases)
        assert 100 <= len(doc["actions"]) <= 200
        problems = check_scenario(doc)
        if problems:
            small = minimal_failure(doc, problems)
            pytest.fail(
                f"seed {seed} ({len(problems)} problems):\n"
                + "\n".join(p[:2000] for p in problems[:10])
                + f"\nminimal scenario ({len(small['actions'])} actions):\n{json.dumps(small)}"
            )


def test_generator_is_deterministic(bases: list[dict[str, Any]]) -> None:
    assert scenario_for(7, bases) == scenario_for(7, bases)


def test_generated_actions_mostly_succeed(bases: list[dict[str, Any]]) -> None:
    """The scenarios exercise the protocol, not only its refusals: most actions succeed and
    every kind of action succeeds somewhere, in both pools."""
    ok: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    keywords: Counter[str] = Counter()
    for seed in range(6):
        trace = replay(scenario_for(seed, bases), with_states=False)
        o, f = outcome_counts(trace)
        ok.update(o)
        failed.update(f)
        for s in trace["steps"]:
            a = s["action"]
            if s["ok"] and a["op"] == "liquidate":
                keywords[
                    f"liquidate:{a['debt_to_cover'] if not a['debt_to_cover'].isdigit() else 'int'}"
                ] += 1
                keywords["receive_atoken" if a.get("receive_atoken") else "underlying"] += 1
            if s["ok"] and a.get("unwrap"):
                keywords[f"unwrap:{a['op']}"] += 1
    total_ok, total = sum(ok.values()), sum(ok.values()) + sum(failed.values())
    assert total_ok >= 0.7 * total, f"only {total_ok}/{total} actions succeeded: {failed}"
    for op in ("deposit", "borrow", "repay", "withdraw", "liquidate", "transfer", "set_collateral"):
        for pool in ("core", "mini"):
            assert ok[f"{op}:{pool}"] > 0, f"no successful {op} in the {pool} pool: {ok}"
    for kw in ("liquidate:max", "receive_atoken", "underlying", "unwrap:borrow", "unwrap:withdraw"):
        assert keywords[kw] > 0, f"no successful {kw}: {keywords}"


def trace_digest(doc: dict[str, Any]) -> str:
    """SHA-256 of a scenario's whole trace, states included."""
    return hashlib.sha256(json.dumps(replay(doc), sort_keys=True).encode()).hexdigest()


def test_replay_is_independent_of_the_hash_seed(bases: list[dict[str, Any]], tmp_path: Path) -> None:
    """Identical traces in other processes too, whatever ``PYTHONHASHSEED`` orders sets by."""
    docs = [scenario_for(seed, bases) for seed in (2, 5)]
    path = tmp_path / "scenarios.json"
    path.write_text(json.dumps(docs))
    here = [trace_digest(d) for d in docs]
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[2]); from test_replay_fuzz import trace_digest; "
        "print(json.dumps([trace_digest(d) for d in json.load(open(sys.argv[1]))]))"
    )
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", script, str(path), str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == here, f"traces differ with PYTHONHASHSEED={hash_seed}"
