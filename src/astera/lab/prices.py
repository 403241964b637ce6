"""Price paths: correlated geometric Brownian motion, jumps, scheduled shocks, depegs, history.

:func:`price_paths` draws one path's oracle prices for every step as integers (USD with 8
decimals, as the oracle takes them). Floats live here only: the processes are analytics; the
protocol sees the rounded integers. The draws depend on the generator alone, in a fixed order,
so a path's prices are a function of the study and the path's seed.

The log price of each asset is the sum of

* a Brownian part ``(drift − σ²/2)·dt + σ·√dt·Z``, with ``Z`` correlated by the Cholesky factor
  of the study's correlation matrix, or, for an asset of the historical CSV, its log returns
  replayed from the start or bootstrapped in blocks;
* compound Poisson jumps with normal log sizes;
* each scheduled shock: a Brownian bridge (the asset's σ) from 0 to ``log(1 + change)`` over its
  window, the level kept afterwards;
* each depeg: a bridge to ``log(target)``, held, and a bridge back to 0.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .study import Study, StudyError

YEAR = 365 * 24 * 3600
#: Prices stay within int64 and positive.
MAX_PRICE = 10**17


def correlation_matrix(study: Study, assets: list[str]) -> np.ndarray:
    """The correlation matrix of the Brownian parts over ``assets`` (identity where unspecified)."""
    n = len(assets)
    corr = np.eye(n)
    pos = {a: i for i, a in enumerate(assets)}
    for key, rho in study.prices.correlation.items():
        pair = key.split("/")
        if len(pair) != 2 or pair[0] == pair[1] or any(a not in pos for a in pair):
            raise StudyError(f"prices.correlation.{key}", "name two different assets of prices.assets as A/B")
        i, j = pos[pair[0]], pos[pair[1]]
        corr[i, j] = corr[j, i] = rho
    return corr


def cholesky(corr: np.ndarray) -> np.ndarray:
    """Its Cholesky factor; :class:`StudyError` if it is not a correlation matrix."""
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        raise StudyError("prices.correlation", "not positive definite: not a correlation matrix") from None


def load_history(path: Path) -> tuple[list[str], np.ndarray]:
    """A price CSV: header of asset names, one row of positive prices per step → log returns."""
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise StudyError("prices.history.csv", f"cannot read {path}: {e.strerror}") from None
    if len(rows) < 3:
        raise StudyError("prices.history.csv", "needs a header and at least two rows of prices")
    header = [h.strip() for h in rows[0]]
    try:
        values = np.array([[float(x) for x in row] for row in rows[1:]], dtype=float)
    except ValueError as e:
        raise StudyError("prices.history.csv", f"not a number: {e}") from None
    if values.shape[1] != len(header) or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise StudyError("prices.history.csv", "every row needs one positive price per column")
    return header, np.diff(np.log(values), axis=0)


def _bridge(rng: np.random.Generator, n: int, end: float, sigma: float) -> np.ndarray:
    """n+1 points from 0 to ``end``: the line plus a Brownian bridge of step std ``sigma``."""
    t = np.arange(n + 1) / n
    w = np.concatenate(([0.0], np.cumsum(rng.standard_normal(n) * sigma)))
    bridge: np.ndarray = end * t + (w - t * w[-1])
    return bridge


class PriceModel:
    """Everything about a study's prices that does not depend on the path: checked once."""

    def __init__(self, study: Study, start_prices: dict[str, int]) -> None:
        self.study = study
        p = study.prices
        for where, names in (
            ("prices.assets", list(p.assets)),
            *((f"prices.shocks.{i}.asset", [s.asset]) for i, s in enumerate(p.shocks)),
            *((f"prices.depegs.{i}.asset", [d.asset]) for i, d in enumerate(p.depegs)),
            ("liquidity.asset_depth_usd", list(study.liquidity.asset_depth_usd)),
        ):
            for a in names:
                if a not in start_prices:
                    raise StudyError(where, f"unknown asset {a!r}")
        for i, s in enumerate(p.shocks):
            if s.start + s.duration > study.steps:
                raise StudyError(f"prices.shocks.{i}", "ends after the horizon")
        for i, d in enumerate(p.depegs):
            if d.start + d.duration + d.hold + d.recover > study.steps:
                raise StudyError(f"prices.depegs.{i}", "ends after the horizon")
        self.history: tuple[list[str], np.ndarray] | None = None
        if p.history is not None:
            names, returns = load_history(study.path(p.history.csv))
            for a in names:
                if a not in start_prices:
                    raise StudyError("prices.history.csv", f"unknown asset {a!r} in the header")
            if p.history.mode == "bootstrap" and p.history.block > len(returns):
                raise StudyError("prices.history.block", "longer than the history")
            self.history = (names, returns)
        moving = set(p.assets) | {s.asset for s in p.shocks} | {d.asset for d in p.depegs}
        if self.history is not None:
            moving |= set(self.history[0])
        #: The assets whose price moves, in listing order; the rest keep their start price.
        self.assets = [a for a in start_prices if a in moving]
        self.start = np.array([start_prices[a] for a in self.assets], dtype=float)
        self.sigma = np.array(
            [p.assets[a].volatility if a in p.assets else 0.0 for a in self.assets], dtype=float
        )
        self.drift = np.array([p.assets[a].drift if a in p.assets else 0.0 for a in self.assets], dtype=float)
        self.chol = cholesky(correlation_matrix(study, self.assets))
        self.dt = study.step_seconds / YEAR

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One path: int64 prices, shape (steps + 1, assets); row 0 is the start."""
        steps, n, dt = self.study.steps, len(self.assets), self.dt
        p = self.study.prices
        z = rng.standard_normal((steps, n)) @ self.chol.T
        inc = (self.drift - 0.5 * self.sigma**2) * dt + self.sigma * math.sqrt(dt) * z
        if self.history is not None:
            names, returns = self.history
            cols = [self.assets.index(a) for a in names]
            inc[:, cols] = self._history_returns(rng, returns)
        for i, a in enumerate(self.assets):
            jumps = p.assets[a].jumps if a in p.assets else None
            if jumps is not None and jumps.rate > 0:
                count = rng.poisson(jumps.rate * dt, steps)
                inc[:, i] += count * jumps.mean + np.sqrt(count) * jumps.sigma * rng.standard_normal(steps)
        log = np.zeros((steps + 1, n))
        log[1:] = np.cumsum(inc, axis=0)
        for s in p.shocks:
            i = self.assets.index(s.asset)
            level = math.log1p(s.change)
            bridge = _bridge(rng, s.duration, level, self.sigma[i] * math.sqrt(dt))
            log[s.start : s.start + s.duration + 1, i] += bridge
            log[s.start + s.duration + 1 :, i] += level
        for d in p.depegs:
            i = self.assets.index(d.asset)
            level, sd = math.log(d.target), self.sigma[i] * math.sqrt(dt)
            t0, t1 = d.start, d.start + d.duration
            t2 = t1 + d.hold
            log[t0 : t1 + 1, i] += _bridge(rng, d.duration, level, sd)
            log[t1 + 1 : t2 + 1, i] += level
            log[t2 : t2 + d.recover + 1, i] += level - _bridge(rng, d.recover, level, sd)
            log[t2, i] -= level  # the hold's last point and the way back's first are one point
        prices = np.rint(self.start * np.exp(log))
        out: np.ndarray = np.clip(prices, 1, MAX_PRICE).astype(np.int64)
        return out

    def _history_returns(self, rng: np.random.Generator, returns: np.ndarray) -> np.ndarray:
        """``steps`` rows of historical log returns: replayed (cycling) or block-bootstrapped."""
        steps, h = self.study.steps, self.study.prices.history
        assert h is not None
        if h.mode == "replay":
            return returns[np.arange(steps) % len(returns)]
        blocks = -(-steps // h.block)
        starts = rng.integers(0, len(returns) - h.block + 1, blocks)
        idx = (starts[:, None] + np.arange(h.block)[None, :]).ravel()[:steps]
        picked: np.ndarray = returns[idx]
        return picked
