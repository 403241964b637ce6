"""The study report: ``summary.json`` and one self-contained HTML file (figures embedded).

Risk figures over paths, per pool and for the protocol (``total``), all USD with 8 decimals
as integers, computed exactly on the integer outcomes:

* **VaR 95** of bad debt: the 95th percentile by nearest rank (the ``⌈0.95·n⌉``-th smallest);
* **ES 99**: the mean (floored) of the worst ``⌈0.01·n⌉`` paths' bad debt;
* **LaR 95**: the 95th percentile of the debt repaid by liquidations over the horizon;
* keeper slippage losses, liquidation counts, the Core-Pool's exposure to each Mini-Pool and
  its loss when that Mini-Pool fails (has bad debt), and what the other pools lose in the
  same paths: the isolation claim, measured.

Time series (liquidations and volume, utilization and borrow-rate percentile bands) are read
from the per-step Parquet tables. A sweep adds a heatmap of VaR 95 over its grid.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from astera.human import duration, time_unit  # noqa: E402

from .control import CONTROL_DIR  # noqa: E402
from .runner import ResultDir, failure_reason  # noqa: E402
from .study_words import describe, parameter_text, policy_words  # noqa: E402

USD = 10**8


def nearest_rank(values: list[int], q: float) -> int:
    """The ``⌈q·n⌉``-th smallest value (0 for no values)."""
    if not values:
        return 0
    s = sorted(values)
    return s[max(1, math.ceil(q * len(s))) - 1]


def expected_shortfall(values: list[int], q: float) -> int:
    """Mean (floored) of the worst ``⌈(1 − q)·n⌉`` values."""
    if not values:
        return 0
    k = max(1, math.ceil(round((1 - q) * len(values), 9)))
    worst = sorted(values)[-k:]
    return sum(worst) // k


def risk(values: list[int]) -> dict[str, int]:
    return {
        "mean": sum(values) // len(values) if values else 0,
        "var95": nearest_rank(values, 0.95),
        "es99": expected_shortfall(values, 0.99),
        "max": max(values, default=0),
    }


def summarize(results: ResultDir) -> dict[str, Any]:
    """The figures of ``summary.json`` (module docstring). A pool's ``borrowers`` is false when
    no path shows borrower debt in it (none at the horizon, none liquidated, no bad debt): the
    report shows it as a pool with no borrowers rather than a table of zeros."""
    study = results.study()
    outcome = results.table("outcome").to_pydict()
    paths = sorted(set(outcome["path"]))
    pools = list(dict.fromkeys(outcome["pool"]))
    by: dict[str, dict[int, dict[str, int]]] = {p: {} for p in pools}
    for i in range(len(outcome["path"])):
        by[outcome["pool"][i]][outcome["path"][i]] = {k: outcome[k][i] for k in outcome if k not in ("pool",)}

    def column(pool: str | None, key: str, among: list[int] | None = None) -> list[int]:
        chosen = among if among is not None else paths
        if pool is None:
            return [sum(by[p][i][key] for p in pools) for i in chosen]
        return [by[pool][i][key] for i in chosen]

    def figures(pool: str | None) -> dict[str, Any]:
        return {
            "bad_debt": risk(column(pool, "bad_debt_usd")),
            "paths_with_bad_debt": sum(1 for v in column(pool, "bad_debt_usd") if v > 0),
            "liquidated": {
                **risk(column(pool, "repaid_usd")),
                "lar95": nearest_rank(column(pool, "repaid_usd"), 0.95),
            },
            "liquidations": risk(column(pool, "liquidations")),
            "slippage": risk(column(pool, "slippage_usd")),
            "debt_end": risk(column(pool, "debt_end_usd")),
            "over_liquidation": risk(column(pool, "over_liquidation_usd")),
            "deficit": risk(column(pool, "deficit_usd")),
        }

    per_pool = {p: figures(p) for p in pools}
    minis = [p for p in pools if p != "core"]
    for p in pools:
        per_pool[p]["borrowers"] = any(
            by[p][i][key] for i in paths for key in ("debt_end_usd", "liquidations", "bad_debt_usd")
        )
        if p != "core":
            per_pool[p]["core_exposure_max"] = risk(column(p, "core_exposure_max_usd"))
            per_pool[p]["core_loss"] = risk(column(p, "core_loss_usd"))
    if "core" in per_pool:
        # What the Core's suppliers lose: its own bad debt plus its unbacked flow debt to each
        # Mini-Pool (which the Core's own bad debt does not count).
        core = per_pool["core"]
        core["exposure_loss"] = {p: per_pool[p]["core_loss"] for p in minis if per_pool[p]["borrowers"]}
        core["suppliers_loss"] = risk(
            [by["core"][i]["bad_debt_usd"] + sum(by[p][i]["core_loss_usd"] for p in minis) for i in paths]
        )
    isolation = {}
    for p in pools:
        if p == "core":
            continue
        failed = [i for i in paths if by[p][i]["bad_debt_usd"] > 0]
        others = {q: risk(column(q, "bad_debt_usd", failed)) for q in pools if q != p}
        isolation[p] = {
            "paths_failed": len(failed),
            "core_loss_when_failed": risk(column(p, "core_loss_usd", failed)),
            "other_pools_bad_debt_when_failed": others,
        }
    failures = results.failed()
    return {
        "format": "astera-lab-summary/1",
        "study": study.name,
        "digest": study.digest(),
        "seed": study.seed,
        "steps": study.steps,
        "step_seconds": study.step_seconds,
        "paths": {"planned": study.paths, "finished": len(paths), "failed": len(failures)},
        "units": "USD values in base units of 8 decimals; counts as counts",
        "total": figures(None),
        "pools": per_pool,
        "isolation": isolation,
        "deficits": deficits_by_reserve(results),
        "failures": [{"path": f["path"], "seed": f["seed"], "reason": failure_reason(f)} for f in failures],
        "state_hashes": {str(i): by[pools[0]][i]["state_hash"] for i in paths[:1000]} if pools else {},
    }


def matched_isolation(results: ResultDir, control: ResultDir) -> dict[str, Any]:
    """What the isolated Mini-Pool's crash cost, as differences crash − control on the same paths
    (:mod:`astera.lab.control`): its own bad debt, the Core-Pool suppliers' loss (the Core's bad
    debt plus its unbacked flow debt from that Mini-Pool) and, per other pool, its users' bad
    debt, the debt liquidated from them and the number of liquidations."""
    study = results.study()
    assert study.isolation is not None
    crashed = str(study.isolation.mini_pool)

    def table(r: ResultDir) -> dict[tuple[str, int], dict[str, int]]:
        t = r.table("outcome").to_pydict()
        keys = [k for k in t if k not in ("pool", "path", "state_hash")]
        return {(t["pool"][i], t["path"][i]): {k: t[k][i] for k in keys} for i in range(len(t["path"]))}

    crash, calm = table(results), table(control)
    paths = sorted({i for _, i in crash} & {i for _, i in calm})
    pools = list(dict.fromkeys(p for p, _ in crash))

    def delta(pool: str, key: str) -> list[int]:
        return [crash[(pool, i)][key] - calm[(pool, i)][key] for i in paths]

    core_loss = [
        a + b for a, b in zip(delta("core", "bad_debt_usd"), delta(crashed, "core_loss_usd"), strict=True)
    ]
    return {
        "mini_pool": crashed,
        "paths": len(paths),
        "crashed_pool_bad_debt": risk(delta(crashed, "bad_debt_usd")),
        "core_suppliers_loss": risk(core_loss),
        "core_loss_to_crashed_pool": risk(delta(crashed, "core_loss_usd")),
        "others": {
            q: {
                "bad_debt": risk(delta(q, "bad_debt_usd")),
                "liquidated": risk(delta(q, "repaid_usd")),
                "liquidations": risk(delta(q, "liquidations")),
            }
            for q in pools
            if q != crashed
        },
    }


def deficits_by_reserve(results: ResultDir) -> dict[str, dict[str, int]]:
    """Each reserve's recorded deficit at the horizon over paths (``"POOL RESERVE"``: risk
    figures), for the reserves where any path recorded one."""
    s = _step_arrays(results)
    if len(s["step"]) == 0:
        return {}
    last = s["step"] == s["step"].max()
    out = {}
    for pool, reserve in sorted(
        {(str(p), str(r)) for p, r in zip(s["pool"][last], s["reserve"][last], strict=True)}
    ):
        m = last & (s["pool"] == pool) & (s["reserve"] == reserve)
        values = [int(v) for v in s["deficit_usd"][m]]
        if any(values):
            out[f"{pool} {reserve}"] = risk(values)
    return out


# ---- figures ---------------------------------------------------------------------------------------
# Floats from here on are for drawing only: the figures in the tables come from the integers above.


def pool_label(p: str) -> str:
    """A pool's name for a reader: ``Core-Pool`` or ``Mini-Pool N``."""
    return "Core-Pool" if p == "core" else f"Mini-Pool {p}"


def dollars(x: float, _pos: object = None) -> str:
    """A USD axis tick: $0, $950, $740K, $1.2M, $3B (three significant figures at most)."""
    sign, x = ("-" if x < 0 else ""), abs(x)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= size:
            return f"{sign}${x / size:.3g}{suffix}"
    return f"{sign}${x:.3g}"


def _usd_axis(axis: Any) -> None:
    axis.set_major_formatter(FuncFormatter(dollars))


def _time_axis(steps: int, step_seconds: int) -> tuple[float, str]:
    """Length of one step in the x axis' unit, and its label (days past three days, and so on)."""
    name, size = time_unit(steps * step_seconds)
    return step_seconds / size, name


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _step_arrays(results: ResultDir) -> dict[str, np.ndarray]:
    t = results.table("steps")
    return {name: t.column(name).to_numpy(zero_copy_only=False) for name in t.column_names}


def time_series_figures(results: ResultDir, shown: set[str]) -> list[tuple[str, str]]:
    """(title, PNG data URL) of the time-series figures of the pools in ``shown`` (those with
    borrowers), against time in hours or days."""
    s = _step_arrays(results)
    if len(s["step"]) == 0:
        return []
    steps = int(s["step"].max())
    unit, time_label = _time_axis(steps, results.study().step_seconds)
    n_paths = len(np.unique(s["path"]))
    figs = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for pool in sorted(shown, key=lambda p: (p != "core", p)):
        m = s["pool"] == pool
        count = np.bincount(s["step"][m], weights=s["liquidations"][m], minlength=steps + 1) / n_paths
        vol = np.bincount(s["step"][m], weights=s["repaid_usd"][m] / USD, minlength=steps + 1) / n_paths
        time = np.arange(steps + 1) * unit
        ax1.plot(time, np.cumsum(count), label=pool_label(pool))
        ax2.plot(time, np.cumsum(vol), label=pool_label(pool))
    ax1.set(title="Liquidations (cumulative, mean per path)", xlabel=time_label)
    ax2.set(title="Debt repaid by liquidations (cumulative, mean per path)", xlabel=time_label)
    _usd_axis(ax2.yaxis)
    ax1.legend()
    figs.append(("Liquidations over time", _png(fig)))
    keys = sorted(
        {(str(p), str(r)) for p, r in zip(s["pool"], s["reserve"], strict=True) if str(p) in shown},
        key=lambda k: (k[0] != "core", k),
    )
    borrowed = [
        k for k in keys if s["utilization_bps"][(s["pool"] == k[0]) & (s["reserve"] == k[1])].max() > 0
    ]
    if borrowed:
        fig, axes = plt.subplots(
            len(borrowed), 2, figsize=(11, 2.8 * len(borrowed)), squeeze=False, layout="constrained"
        )
        time = np.arange(1, steps + 1) * unit
        for row, (pool, reserve) in enumerate(borrowed):
            m = (s["pool"] == pool) & (s["reserve"] == reserve)
            for col, (name, label) in enumerate(
                (("utilization_bps", "utilization %"), ("borrow_rate_bps", "borrow rate %/yr"))
            ):
                grid = np.zeros((n_paths, steps))
                paths_idx = np.searchsorted(np.unique(s["path"][m]), s["path"][m])
                grid[paths_idx, s["step"][m] - 1] = s[name][m] / 100
                lo, mid, hi = np.percentile(grid, [5, 50, 95], axis=0)
                ax = axes[row][col]
                ax.fill_between(time, lo, hi, alpha=0.3, label="5-95 %")
                ax.plot(time, mid, label="median")
                ax.set(title=f"{pool_label(pool)} {reserve}: {label}", xlabel=time_label)
        axes[0][0].legend()
        figs.append(("Utilization and borrow rate, percentile bands", _png(fig)))
    return figs


def price_figure(results: ResultDir) -> tuple[str, str] | None:
    """Percentile bands of the oracle price of each asset the study moves (shocks, depegs and
    processes checked by eye), from the Core-Pool's reserve of it or else the first pool's."""
    study = results.study()
    p = study.prices
    moving = [*p.assets, *(x.asset for x in p.shocks), *(x.asset for x in p.depegs)]
    s = _step_arrays(results)
    if "price_usd" not in s or len(s["step"]) == 0:
        return None
    assets = [a for a in dict.fromkeys(moving) if (s["reserve"] == a).any()]
    if not assets:
        return None
    steps = int(s["step"].max())
    unit, time_label = _time_axis(steps, study.step_seconds)
    time = np.arange(1, steps + 1) * unit
    fig, axes = plt.subplots(
        1, len(assets), figsize=(min(11, 4 * len(assets)), 3.2), squeeze=False, layout="constrained"
    )
    for ax, asset in zip(axes[0], assets, strict=True):
        pool = (
            "core"
            if ((s["reserve"] == asset) & (s["pool"] == "core")).any()
            else s["pool"][s["reserve"] == asset][0]
        )
        m = (s["reserve"] == asset) & (s["pool"] == pool)
        paths = np.unique(s["path"][m])
        grid = np.zeros((len(paths), steps))
        grid[np.searchsorted(paths, s["path"][m]), s["step"][m] - 1] = s["price_usd"][m] / USD
        lo, mid, hi = np.percentile(grid, [5, 50, 95], axis=0)
        ax.fill_between(time, lo, hi, alpha=0.3, label="5-95 %")
        ax.plot(time, mid, label="median")
        ax.set(title=f"{asset} oracle price", xlabel=time_label)
        _usd_axis(ax.yaxis)
    axes[0][0].legend()
    return "Prices the study drew, percentile bands over paths", _png(fig)


def distribution_figure(results: ResultDir) -> tuple[str, str]:
    t = results.table("outcome").to_pydict()
    totals: dict[int, int] = {}
    for path, bad in zip(t["path"], t["bad_debt_usd"], strict=True):
        totals[path] = totals.get(path, 0) + bad
    fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
    ax.hist(np.array(list(totals.values()), dtype=float) / USD, bins=40)
    ax.set(title="Bad debt at the horizon, all pools", xlabel="bad debt", ylabel="paths")
    _usd_axis(ax.xaxis)
    return "Distribution of bad debt", _png(fig)


# ---- HTML ------------------------------------------------------------------------------------------


def usd(value: int) -> str:
    """Whole dollars for a person, cut toward zero with the sign in front: ``-$1``, and ``$0``
    for a few base units either side (floor division made -3 base units '$-1'); the exact
    base units are in summary.json."""
    dollars = abs(value) // USD
    return f"{'-' if value < 0 and dollars else ''}${dollars:,}"


def _figures_table(name: str, f: dict[str, Any]) -> str:
    if not f.get("borrowers", True):
        return f"<div><h3>{html.escape(name)}</h3><p>No borrowers in this study.</p></div>"
    rows = [
        ("Bad debt VaR 95", usd(f["bad_debt"]["var95"])),
        ("Bad debt ES 99", usd(f["bad_debt"]["es99"])),
        ("Bad debt, mean", usd(f["bad_debt"]["mean"])),
        ("Paths with bad debt", str(f["paths_with_bad_debt"])),
        ("Liquidated debt LaR 95", usd(f["liquidated"]["lar95"])),
        (
            "Liquidations per path, mean / max",
            f"{f['liquidations']['mean']:,} / {f['liquidations']['max']:,}",
        ),
        ("Keeper slippage, mean / VaR 95", f"{usd(f['slippage']['mean'])} / {usd(f['slippage']['var95'])}"),
        (
            "Over-liquidation, mean / VaR 95",
            f"{usd(f['over_liquidation']['mean'])} / {usd(f['over_liquidation']['var95'])}",
        ),
        ("Deficit recorded (in bad debt), mean", usd(f["deficit"]["mean"])),
    ]
    if "core_exposure_max" in f:
        rows.append(("Core exposure (peak flow debt), VaR 95", usd(f["core_exposure_max"]["var95"])))
        rows.append(("Core loss to this pool, VaR 95 / ES 99", _var_es(f["core_loss"])))
    for p, loss in f.get("exposure_loss", {}).items():
        rows.append(
            (f"Core-Pool's loss on its flow lending to {pool_label(p)}, VaR 95 / ES 99", _var_es(loss))
        )
    if "suppliers_loss" in f:
        rows.append(
            (
                "Suppliers' loss (bad debt + losses to Mini-Pools), VaR 95 / ES 99",
                _var_es(f["suppliers_loss"]),
            )
        )
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<div><h3>{html.escape(name)}</h3><table>{body}</table></div>"


def _var_es(r: dict[str, int]) -> str:
    return f"{usd(r['var95'])} / {usd(r['es99'])}"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#111}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left}
td{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}.grid{display:flex;flex-wrap:wrap;gap:2em}
.note{color:#444;font-size:.9em}summary h2{display:inline}h3{margin:.6em 0 .2em;font-size:1em}
details ul{margin:.2em 0}"""


def study_html(study: dict[str, Any]) -> str:
    """The "What was simulated" section: :func:`~astera.lab.study_words.describe` as lists."""
    parts = "".join(
        f"<h3>{html.escape(title)}</h3><ul>{''.join(f'<li>{html.escape(x)}</li>' for x in lines)}</ul>"
        for title, lines in describe(study)
    )
    return f"<details open><summary><h2>What was simulated</h2></summary>{parts}</details>"


def render_html(
    summary: dict[str, Any], figures: list[tuple[str, str]], title: str, study: dict[str, Any]
) -> str:
    pools = summary.get("pools", {})
    tables = _figures_table("Protocol (all pools)", summary["total"]) + "".join(
        _figures_table(pool_label(p), f) for p, f in pools.items()
    )
    idle = {p for p, f in pools.items() if not f.get("borrowers", True)}
    iso = ""
    for p, entry in summary.get("isolation", {}).items():
        if p in idle:
            iso += f"<li>Mini-Pool {html.escape(p)} has no borrowers in this study.</li>"
            continue
        others = ", ".join(
            f"{pool_label(q)}: {usd(r['var95'])}"
            for q, r in entry["other_pools_bad_debt_when_failed"].items()
            if q not in idle
        )
        iso += (
            f"<li>Mini-Pool {html.escape(p)} ends with bad debt in {entry['paths_failed']} paths; in those, "
            f"the Core-Pool's loss to it is {usd(entry['core_loss_when_failed']['var95'])} (VaR "
            f"95) and the other "
            f"pools' own bad debt (VaR 95) is {html.escape(others or 'none')}.</li>"
        )
    imgs = "".join(
        f"<figure><figcaption>{html.escape(t)}</figcaption><img src='{u}' alt='{html.escape(t)}'></figure>"
        for t, u in figures
    )
    paths = summary.get("paths", {})
    head = (
        f"<p>{paths.get('finished', 0):,} paths finished of {paths.get('planned', 0):,} planned, "
        f"{paths.get('failed', 0)} failed; {summary.get('steps', 0)} steps of "
        f"{duration(summary.get('step_seconds', 0))}; seed "
        f"{summary.get('seed')}. Study digest <code>{summary.get('digest')}</code>.</p>"
    )
    top = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{head}"
        f"{_failures_html(summary.get('failures', []))}{study_html(study)}"
    )
    if not paths.get("finished"):
        return f"{top}<p>No path finished, so there are no risk figures.</p></body></html>"
    return (
        f"{top}<p class='note'>Bad debt: the debt no collateral covers at the horizon, account by "
        f"account, at oracle prices, plus any deficit a deficit-accounting policy wrote off. "
        f"Over-liquidation: collateral (with its bonus) the keeper took beyond what brought each "
        f"account it liquidated back to HF 1. "
        f"VaR 95: 95th percentile over paths (nearest rank); ES 99: mean of the worst 1 %; LaR "
        f"95: 95th percentile of "
        f"the debt repaid by liquidations. Exact figures in USD base units are in summary.json.</p>"
        f"<h2>Risk figures</h2><div class='grid'>{tables}</div>"
        f"<h2>Isolation</h2><ul>{iso or '<li>No Mini-Pool in this study.</li>'}</ul>"
        f"{_matched_html(summary.get('matched_isolation'), idle)}"
        f"<h2>Figures</h2>{imgs}</body></html>"
    )


#: Failed paths the report lists one by one (summary.json and failures/ hold them all).
FAILURES_LISTED = 20


def _failures_html(failures: list[dict[str, Any]]) -> str:
    """The failed paths with their reasons: the figures leave them out, so the reader must see them."""
    if not failures:
        return ""
    items = "".join(
        f"<li>path {f['path']}: <code>{html.escape(str(f.get('reason', '')))}</code></li>"
        for f in failures[:FAILURES_LISTED]
    )
    more = len(failures) - FAILURES_LISTED
    rest = f"<li>and {more:,} more (summary.json lists them all)</li>" if more > 0 else ""
    return (
        f"<h2>Failed paths</h2><p>{len(failures):,} paths failed and are left out of every figure; "
        f"their tracebacks are in <code>failures/</code>.</p><ul>{items}{rest}</ul>"
    )


def _pool_words(p: str) -> str:
    return "the Core-Pool" if p == "core" else f"Mini-Pool {p}"


def _matched_html(m: dict[str, Any] | None, idle: set[str]) -> str:
    """The matched-control section: differences crash − control over the same paths (pools
    in ``idle`` have no borrowers and are said to have none)."""
    if m is None:
        return ""

    def fig(r: dict[str, int]) -> str:
        return f"mean {usd(r['mean'])}, VaR 95 {usd(r['var95'])}, worst {usd(r['max'])}"

    rows = [
        (f"Own bad debt of {_pool_words(m['mini_pool'])}", fig(m["crashed_pool_bad_debt"])),
        ("Core-Pool suppliers' loss (Core bad debt + unbacked flow debt)", fig(m["core_suppliers_loss"])),
    ]
    for q, f in m["others"].items():
        if q == "core":
            continue
        if q in idle:
            rows.append((f"Mini-Pool {q}", "no borrowers in this study"))
            continue
        rows.append((f"Mini-Pool {q} users' bad debt", fig(f["bad_debt"])))
        rows.append((f"Mini-Pool {q} users' debt liquidated", fig(f["liquidated"])))
        count = f["liquidations"]
        rows.append((f"Mini-Pool {q} liquidations", f"mean {count['mean']:,}, worst {count['max']:,}"))
    core = m["others"].get("core")
    if core is not None:
        rows.append(("Core-Pool borrowers' debt liquidated", fig(core["liquidated"])))
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        f"<h3>Matched control: what {_pool_words(m['mini_pool'])}'s crash cost the others</h3>"
        f"<p>The same {m['paths']:,} paths run again without the crash (its shocks made neutral, every "
        f"other price identical); each figure is crash minus control, path by path.</p>"
        f"<table>{body}</table>"
    )


def build_report(out: Path) -> Path:
    """(Re)build ``summary.json`` and ``report.html`` of a study or sweep directory; returns "
    "the HTML's path."""
    if (out / "sweep.json").exists():
        return build_sweep_report(out)
    if (out / "compare.json").exists():
        return build_compare_report(out)
    results = ResultDir(out)
    summary = summarize(results)
    control = out / CONTROL_DIR
    if (control / "study.json").exists():
        summary["matched_isolation"] = matched_isolation(results, ResultDir(control))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    shown = {p for p, f in summary["pools"].items() if f["borrowers"]}
    prices = price_figure(results)
    figures = (
        [distribution_figure(results), *([prices] if prices else []), *time_series_figures(results, shown)]
        if summary["paths"]["finished"]
        else []
    )
    page = out / "report.html"
    page.write_text(
        render_html(summary, figures, f"Risk lab: {summary['study']}", results.study().canonical())
    )
    return page


def build_sweep_report(out: Path) -> Path:
    """A sweep's report: each grid point's figures, and a heatmap of VaR 95 over the grid."""
    sweep = json.loads((out / "sweep.json").read_text())
    keys: list[str] = sweep["keys"]
    points = []
    for point in sweep["points"]:
        summary = summarize(ResultDir(out / point["dir"]))
        # Each point's own summary.json too: its state hashes are what a replayed export must match.
        (out / point["dir"] / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        points.append({**point, "summary": summary})
    doc = {
        "format": "astera-lab-sweep/1",
        "keys": keys,
        "points": [
            {
                "values": p["values"],
                "dir": p["dir"],
                "paths": p["summary"]["paths"],
                "total": p["summary"]["total"],
            }
            for p in points
        ],
    }
    (out / "summary.json").write_text(json.dumps(doc, indent=1) + "\n")
    var = [
        p["summary"]["total"]["bad_debt"]["var95"] / USD if p["summary"]["paths"]["finished"] else np.nan
        for p in points
    ]
    fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    if len(keys) >= 2:
        xs = sorted({p["values"][0] for p in points})
        ys = sorted({p["values"][1] for p in points})
        grid = np.full((len(ys), len(xs)), np.nan)
        for p, v in zip(points, var, strict=True):
            grid[ys.index(p["values"][1]), xs.index(p["values"][0])] = v
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(xs)), [parameter_text(keys[0], x) for x in xs])
        ax.set_yticks(range(len(ys)), [parameter_text(keys[1], y) for y in ys])
        ax.set(xlabel=keys[0], ylabel=keys[1], title="Bad debt VaR 95")
        finite = grid[~np.isnan(grid)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        for (yi, xi), v in np.ndenumerate(grid):  # dark text on viridis' light (high) end
            color = "k" if v - lo > 0.6 * (hi - lo) else "w"
            text = "no path finished" if np.isnan(v) else dollars(v)
            ax.text(xi, yi, text, ha="center", va="center", color=color, fontsize=10)
        fig.colorbar(im, format=FuncFormatter(dollars))
    else:
        ax.bar([parameter_text(keys[0], p["values"][0]) for p in points], var)
        ax.set(xlabel=keys[0], title="Bad debt VaR 95")
        _usd_axis(ax.yaxis)
    figures = [("Bad debt VaR 95 over the sweep", _png(fig))]
    rows = "".join(
        f"<tr><td>{html.escape(p['dir'])}</td>"
        + "".join(f"<td>{parameter_text(k, v)}</td>" for k, v in zip(keys, p["values"], strict=True))
        + f"<td>{_paths_cell(p['summary'])}</td>"
        f"<td>{_total(p['summary'], 'bad_debt', 'var95')}</td>"
        f"<td>{_total(p['summary'], 'bad_debt', 'es99')}</td>"
        f"<td>{_total(p['summary'], 'liquidated', 'lar95')}</td></tr>"
        for p in points
    )
    header = (
        "<th>folder</th>"
        + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        + "<th>paths finished (failed)</th><th>VaR 95</th><th>ES 99</th><th>LaR 95</th>"
    )
    imgs = "".join(
        f"<figure><figcaption>{html.escape(t)}</figcaption><img src='{u}' alt='{html.escape(t)}'></figure>"
        for t, u in figures
    )
    page = out / "report.html"
    page.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Sweep: {html.escape(sweep['study'])}</title>"
        f"<style>{STYLE}</style></head><body><h1>Sweep: {html.escape(sweep['study'])}</h1>"
        f"<p>Each grid point runs the study below with the parameters in its row.</p>"
        f"{study_html(ResultDir(out / sweep['points'][0]['dir']).study().canonical())}"
        f"<table><tr>{header}</tr>{rows}</table>{imgs}<p class='note'>Each grid point's paths are in "
        f"its folder; <code>astera lab report {html.escape(str(out))}/point-000</code> builds that "
        f"point's own report. Bad debt and liquidated debt in USD; summary.json has the exact figures "
        f"and the parameters as the study gives them.</p></body></html>"
    )
    return page


def _paths_cell(summary: dict[str, Any]) -> str:
    """A variant's finished paths, and its failed ones in brackets (they are in no figure)."""
    paths = summary["paths"]
    return f"{paths['finished']:,} of {paths['planned']:,} ({paths['failed']:,} failed)"


def _total(summary: dict[str, Any], figure: str, statistic: str) -> str:
    """A figure over all pools for a table cell: none, not $0, when no path finished."""
    if not summary["paths"]["finished"]:
        return "no path finished"
    return usd(summary["total"][figure][statistic])


#: The policy comparison's rows: (label, figure, statistic), over all pools.
COMPARED = (
    ("Bad debt VaR 95", "bad_debt", "var95"),
    ("Bad debt ES 99", "bad_debt", "es99"),
    ("Bad debt, mean", "bad_debt", "mean"),
    ("Liquidated debt LaR 95", "liquidated", "lar95"),
    ("Over-liquidation, mean", "over_liquidation", "mean"),
    ("Over-liquidation VaR 95", "over_liquidation", "var95"),
    ("Deficit recorded, mean", "deficit", "mean"),
    ("Keeper slippage, mean", "slippage", "mean"),
)


def build_compare_report(out: Path) -> Path:
    """A policy comparison's report: the same study under each policy, side by side (each
    policy's own report is in its folder)."""
    compare = json.loads((out / "compare.json").read_text())
    names: list[str] = compare["policies"]
    summaries = {}
    for name in names:
        build_report(out / name)
        summaries[name] = json.loads((out / name / "summary.json").read_text())
    doc = {
        "format": "astera-lab-compare/1",
        "study": compare["study"],
        "policies": {
            name: {
                "policy": compare["settings"].get(name),
                "paths": summaries[name]["paths"],
                "total": summaries[name]["total"],
                "pools": summaries[name]["pools"],
                "deficits": summaries[name]["deficits"],
            }
            for name in names
        },
    }
    (out / "summary.json").write_text(json.dumps(doc, indent=1) + "\n")
    header = "<th></th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = (
        "<tr><th>Paths finished (failed)</th>"
        + "".join(f"<td>{_paths_cell(summaries[n])}</td>" for n in names)
        + "</tr>"
    )
    rows += "".join(
        f"<tr><th>{html.escape(label)}</th>"
        + "".join(f"<td>{_total(summaries[n], fig, stat)}</td>" for n in names)
        + "</tr>"
        for label, fig, stat in COMPARED
    )
    rows += (
        "<tr><th>Liquidations per path, mean</th>"
        + "".join(f"<td>{summaries[n]['total']['liquidations']['mean']:,}</td>" for n in names)
        + "</tr>"
    )
    reserves = sorted({k for n in names for k in summaries[n]["deficits"]})
    rows += "".join(
        f"<tr><th>Deficit at the horizon, {html.escape(k)}, mean / max</th>"
        + "".join(
            "<td>{} / {}</td>".format(
                usd(summaries[n]["deficits"].get(k, {}).get("mean", 0)),
                usd(summaries[n]["deficits"].get(k, {}).get("max", 0)),
            )
            for n in names
        )
        + "</tr>"
        for k in reserves
    )
    settings = "".join(
        f"<li><b>{html.escape(n)}</b>: {html.escape(policy_words(compare['settings'].get(n)))}</li>"
        for n in names
    )
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    width = 0.8 / len(names)
    shown = COMPARED[:2] + COMPARED[3:5]
    for j, n in enumerate(names):
        values = [summaries[n]["total"][f][st] / USD for _, f, st in shown]
        ax.bar(np.arange(len(shown)) + j * width, values, width, label=n)
    ax.set_xticks(np.arange(len(shown)) + width * (len(names) - 1) / 2, [label for label, _, _ in shown])
    ax.set(title="Policies on identical price paths")
    _usd_axis(ax.yaxis)
    ax.legend()
    img = _png(fig)
    page = out / "report.html"
    page.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Liquidation policies: {html.escape(compare['study'])}</title>"
        f"<style>{STYLE}</style></head><body><h1>Liquidation policies: {html.escape(compare['study'])}</h1>"
        f"<p>The same study, price paths and seeds under each policy (all pools):</p><ul>{settings}</ul>"
        f"{study_html(ResultDir(out / names[0]).study().canonical())}"
        f"<table><tr>{header}</tr>{rows}</table>"
        "<figure><figcaption>Risk figures by policy</figcaption>"
        f"<img src='{img}' alt='Risk figures by policy'></figure>"
        "<p class='note'>Bad debt counts the debt no collateral covers at the horizon plus the "
        "deficits a deficit-accounting policy wrote off. Over-liquidation: collateral (USD, with its bonus) "
        "the keeper took beyond what brought each account it liquidated back to HF 1. Each policy's own "
        "report is in its folder; exact figures in summary.json.</p></body></html>"
    )
    return page
