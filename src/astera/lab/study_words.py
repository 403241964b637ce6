"""What a study simulates, in plain words, for the top of its report.

A risk figure means nothing without its assumptions: a reader of a report (or of a screenshot
of one) must see the book, the price processes and shocks, the market the keeper sells into,
the borrowers' behaviour and the parameters changed, as Gauntlet's and Chaos Labs' reports
state theirs. Read from the study's canonical JSON (``study.json`` in a result directory), so
an old result directory describes itself too.
"""

from __future__ import annotations

from typing import Any

from astera.human import bps, duration

from .book import RESERVE_FIELDS

Section = tuple[str, list[str]]


def parameter_text(key: str, value: int) -> str:
    """A swept parameter's value for a reader: a reserve's LTV, threshold and reserve factor as
    percentages (``8000`` -> ``80%``), its liquidation bonus as the liquidator's extra
    (``10300`` -> ``+3%``); anything else (rate-strategy rays) as it is."""
    field = key.rsplit(".", 1)[-1]
    if field == "liquidation_bonus":
        return "+" + bps(value - 10_000)
    return bps(value) if field in RESERVE_FIELDS else str(value)


def policy_words(policy: dict[str, Any] | None) -> str:
    """A liquidation policy's settings in a few words (``None``: the contracts' own rules)."""
    if policy is None:
        return "the audited contracts' rules (50 % close factor, no deficit accounting, no fee)"
    words = []
    if policy.get("deficit_accounting"):
        words.append("deficit accounting")
    if policy.get("dynamic_close_factor"):
        words.append(
            f"all of the debt at HF ≤ {policy['close_all_hf']} or below ${policy['dust_usd']:,}, "
            f"no leftover below ${policy['min_leftover_usd']:,}"
        )
    if policy.get("target_health_factor"):
        words.append(f"repay at most to HF {policy['target_health_factor']}")
    if policy.get("protocol_fee_bps"):
        words.append(f"{bps(policy['protocol_fee_bps'])} of the liquidation bonus to the treasury")
    pools = policy.get("pools")
    where = "" if pools is None else f" (pools {', '.join(map(str, pools))})"
    return ("; ".join(words) or "no rule on") + where


def _sentence(words: str) -> str:
    return words[:1].upper() + words[1:] + "."


def _pct(x: float) -> str:
    """A fraction as a percentage without float noise: ``0.8`` -> ``80 %``, ``-0.4`` -> ``−40 %``."""
    text = f"{abs(x) * 100:.4g} %"
    return f"−{text}" if x < 0 else text


def _usd(x: int) -> str:
    return f"${x:,}"


def _pool(ref: object) -> str:
    return "the Core-Pool" if ref == "core" else f"Mini-Pool {ref}"


class _Clock:
    """Steps as a reader reads them: a span (``6 hours``) and a moment (``step 72 (72 hours in)``)."""

    def __init__(self, step_seconds: int) -> None:
        self.step = step_seconds

    def span(self, steps: int) -> str:
        return duration(steps * self.step)

    def at(self, step: int) -> str:
        return f"step {step:,} ({self.span(step)} in)"


def describe(study: dict[str, Any]) -> list[Section]:
    """The study as titled lists of sentences (empty sections left out)."""
    clock = _Clock(int(study.get("step_seconds", 3600)))
    parameters = sorted(study.get("parameters", {}).items())
    sections = [
        ("Horizon", _horizon(study, clock)),
        ("Book", _book(study.get("book", {}))),
        ("Prices", _prices(study.get("prices", {}), clock)),
        ("Market and keeper", _liquidity(study.get("liquidity", {}), clock)),
        ("Behaviour", _behaviour(study.get("behaviour", {}), clock)),
        ("Parameters", [f"{k}: {parameter_text(k, v)}" for k, v in parameters]),
        ("Liquidation policy", [_sentence(policy_words(study.get("policy")))]),
    ]
    return [(title, lines) for title, lines in sections if lines]


def _horizon(study: dict[str, Any], clock: _Clock) -> list[str]:
    lines = [study["description"]] if study.get("description") else []
    steps = int(study.get("steps", 0))
    lines.append(
        f"{int(study.get('paths', 0)):,} paths of {steps:,} steps of {clock.span(1)} ({clock.span(steps)}); "
        f"seed {study.get('seed', 0)}: path i's randomness comes from the seed and i alone."
    )
    return lines


_SOURCES = (
    ("scenario", "a scenario"),
    ("genesis", "a genesis document"),
    ("node", "a running node"),
    ("data_dir", "a node's data directory"),
)


def _book(book: dict[str, Any]) -> list[str]:
    lines = [f"The positions of {what}: {book[key]}." for key, what in _SOURCES if book.get(key)]
    if not lines:
        lines.append(
            "The lab's default deployment: a Core-Pool (WETH, WBTC, USDC, USDT) and two Mini-Pools, "
            "each with an exotic collateral (EXA, EXB) and a was-USDC tranche on a 2M USDC credit line."
        )
    for pop in book.get("population", []):
        mix = ", ".join(f"{asset} {weight:g}" for asset, weight in pop["collateral"].items())
        low, high = pop.get("health_factor", (1.15, 2.5))
        median, sigma = _usd(pop.get("debt_usd_median", 20_000)), pop.get("debt_usd_sigma", 0.8)
        lines.append(
            f"{pop['borrowers']:,} borrowers in {_pool(pop.get('pool', 'core'))} owing {pop['debt']} "
            f"(median {median}, log-normal σ {sigma:g}) against {mix} (weights), health factors "
            f"uniform from {low:g} to {high:g}; {pop.get('suppliers', 20):,} suppliers, utilization "
            f"{_pct(pop.get('utilization', 0.7))}."
        )
    return lines


def _prices(prices: dict[str, Any], clock: _Clock) -> list[str]:
    lines = []
    for asset, proc in prices.get("assets", {}).items():
        words = f"{asset}: geometric Brownian motion, volatility {_pct(proc.get('volatility', 0.0))} a year"
        if proc.get("drift"):
            words += f", drift {_pct(proc['drift'])} a year"
        jumps = proc.get("jumps")
        if jumps and jumps.get("rate"):
            mean, sigma = _pct(jumps.get("mean", 0.0)), _pct(jumps.get("sigma", 0.0))
            words += f", jumps {jumps['rate']:g} a year (mean {mean}, σ {sigma})"
        lines.append(words + ".")
    if prices.get("correlation"):
        pairs = ", ".join(f"{pair} {rho:g}" for pair, rho in prices["correlation"].items())
        lines.append(f"Correlations: {pairs}; other pairs 0.")
    for shock in prices.get("shocks", []):
        lines.append(
            f"Shock: {shock['asset']} {_pct(shock['change'])} over {clock.span(shock.get('duration', 1))} "
            f"from {clock.at(shock['start'])}, pinned by a Brownian bridge."
        )
    for depeg in prices.get("depegs", []):
        lines.append(
            f"Depeg: {depeg['asset']} to ${depeg['target']:g} from {clock.at(depeg['start'])} over "
            f"{clock.span(depeg.get('duration', 1))}, held {clock.span(depeg.get('hold', 0))}, back "
            f"over {clock.span(depeg.get('recover', 1))}."
        )
    history = prices.get("history")
    if history:
        block = history.get("block", 24)
        how = "replayed" if history.get("mode") == "replay" else f"bootstrapped in blocks of {block} steps"
        lines.append(f"Historical prices from {history['csv']}, {how}.")
    return lines or ["Unchanged: no price process, shock, depeg or history."]


def _liquidity(liq: dict[str, Any], clock: _Clock) -> list[str]:
    depth = _usd(int(liq.get("depth_usd", 10_000_000)))
    shape = (
        f"a constant-product pool of {depth} a side, {liq.get('fee_bps', 30)} bps fee"
        if liq.get("model", "constant_product") == "constant_product"
        else f"an order book of {depth} a side in {liq.get('levels', 50)} levels, half-spread "
        f"{liq.get('half_spread_bps', 5)} bps"
    )
    lines = [
        f"The keeper sells seized collateral into {shape}; depth recovers with a half-life of "
        f"{liq.get('recovery_half_life', 24.0):g} steps."
    ]
    lines += [f"{asset}: {_usd(int(d))} a side." for asset, d in liq.get("asset_depth_usd", {}).items()]
    capacity = int(liq.get("keeper_capacity", 0))
    cap = f"at most {capacity:,} liquidations a run" if capacity else "without a cap on liquidations"
    lines.append(
        f"The project's keeper runs every {clock.span(liq.get('keeper_every', 1))}, {cap}, with a "
        f"{liq.get('margin_bps', 50)} bps profit margin."
    )
    return lines


def _behaviour(b: dict[str, Any], clock: _Clock) -> list[str]:
    lines = []
    if b.get("topup_probability"):
        lines.append(
            f"A borrower below health factor {b.get('topup_below', 1.1):g} repays "
            f"{_pct(b.get('topup_fraction', 0.25))} of its debt with probability "
            f"{_pct(b['topup_probability'])} each step."
        )
    for run in b.get("runs", []):
        lines.append(
            f"A run on {run['asset']} in {_pool(run.get('pool', 'core'))}: suppliers withdraw "
            f"{_pct(run.get('fraction', 0.05))} of what they hold each step for "
            f"{clock.span(run.get('steps', 1))} from {clock.at(run['start'])}, as far as its cash goes."
        )
    return lines
