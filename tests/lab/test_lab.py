"""The risk lab: determinism across workers and Dask, exported paths, hand-checked VaR and LaR,
failures, --resume and malformed studies. Studies here are tiny (a few paths of a few steps)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import astera.lab.path as path_module
import astera.lab.runner as runner_module
from astera.keeper import KeeperEngine
from astera.lab.book import KEEPER, USD, book_document, default_deployment
from astera.lab.path import OUTCOME_COLUMNS, run_path
from astera.lab.report import build_report, dollars, expected_shortfall, nearest_rank, summarize, usd
from astera.lab.runner import ResultDir, run_study
from astera.lab.study import Study, StudyError, parse_study
from astera.scenario import replay

TINY: dict[str, Any] = {
    "name": "tiny",
    "seed": 7,
    "steps": 12,
    "paths": 4,
    "book": {
        "population": [
            {"pool": "core", "borrowers": 12, "collateral": {"WETH": 1.0}, "debt": "USDC",
             "health_factor": [1.02, 1.3], "suppliers": 2},
            {"pool": 0, "borrowers": 4, "collateral": {"EXA": 1.0}, "debt": "was-USDC", "suppliers": 0},
        ]
    },
    "prices": {
        "assets": {"WETH": {"volatility": 1.5},
                   "EXA": {"volatility": 2.0, "jumps": {"rate": 50, "mean": -0.1}}},
        "shocks": [{"asset": "WETH", "change": -0.2, "start": 3, "duration": 2}],
    },
    "behaviour": {"topup_probability": 0.5,
                  "runs": [{"pool": "core", "asset": "USDC", "start": 8, "steps": 2}]},
    "liquidity": {"depth_usd": 200_000, "recovery_half_life": 3},
}  # fmt: skip


#: TINY cut to one path of 5 steps, without its supplier run (which starts at step 8).
SHORT: dict[str, Any] = {**TINY, "paths": 1, "steps": 5, "behaviour": {"topup_probability": 0.5}}


def tiny(**changes: Any) -> Study:
    return parse_study({**TINY, **changes})


def tables(results: ResultDir) -> tuple[pa.Table, pa.Table]:
    return results.table("steps"), results.table("outcome")


def test_results_are_identical_with_one_or_two_workers(tmp_path: Path) -> None:
    one = run_study(tiny(), tmp_path / "one", workers=1)
    two = run_study(tiny(), tmp_path / "two", workers=2)
    assert tables(one) == tables(two)
    steps, outcome = tables(one)
    assert outcome.num_rows == 4 * 3 and steps.num_rows > 0
    assert sum(outcome.column("liquidations").to_pylist()) > 0  # the study exercises the keeper


def test_dask_cluster_gives_the_same_results(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = run_study(tiny(paths=2), tmp_path / "local", workers=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, processes=True
    ) as cluster:
        remote = run_study(tiny(paths=2), tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert tables(local) == tables(remote)


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_an_out_that_is_a_file_is_refused_in_one_line(tmp_path: Path, command: str) -> None:
    """It was a NotADirectoryError traceback."""
    from astera.cli import app

    (tmp_path / "s.json").write_text(json.dumps({**SHORT, "sweep": {"core.WETH.ltv": [7000]}}))
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    for out in (afile, afile / "under"):
        result = CliRunner().invoke(app, ["lab", command, str(tmp_path / "s.json"), "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert f"--out: {afile} is a file, not a folder" in " ".join(result.output.split())
    assert afile.read_text() == "mine\n"


def test_an_unreachable_scheduler_is_refused_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was an OSError traceback after 30 s, leaving --out initialised so that the retry without a
    scheduler was refused without --resume."""
    from astera.cli import app

    monkeypatch.setattr(runner_module, "SCHEDULER_TIMEOUT", 0.2)
    (tmp_path / "s.json").write_text(json.dumps(SHORT))
    out = tmp_path / "o"
    args = ["lab", "run", str(tmp_path / "s.json"), "--out", str(out), "--no-report"]
    result = CliRunner().invoke(app, [*args, "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "--scheduler: no Dask scheduler answers at tcp://127.0.0.1:9" in " ".join(result.output.split())
    assert not out.exists()
    with pytest.raises(StudyError, match="--scheduler"):
        run_study(parse_study(SHORT), out, scheduler="tcp://127.0.0.1:9")
    assert not out.exists()
    assert CliRunner().invoke(app, args).exit_code == 0


#: A liquidation policy on every pool, every rule on, a fee on every collateral reserve.
EVERY_RULE = {"deficit_accounting": True, "dynamic_close_factor": True, "target_health_factor": 1.05,
              "dust_usd": 5_000, "min_leftover_usd": 1_000, "protocol_fee_bps": 1_000}  # fmt: skip


@pytest.mark.parametrize("policy", [None, EVERY_RULE], ids=["contracts", "policy"])
def test_an_exported_path_replays_to_the_same_state_hash(policy: dict[str, Any] | None) -> None:
    path = run_path(tiny(**({"policy": policy} if policy else {})), 1)
    hashes = {row[-1] for row in path.outcome()}
    doc = json.loads(json.dumps(path.scenario()))  # what `astera lab export` writes
    assert replay(doc, with_states=False)["state_hash"] == path.protocol.state_hash()
    assert hashes == {path.protocol.state_hash()}
    assert any(a["op"] == "liquidate" for a in path.actions)
    admin = [a for a in doc["actions"] if a["op"].startswith("set_liquidation_")]
    if policy is None:
        assert admin == []
        return
    # The policy's admin actions (one per pool, a fee per collateral reserve) are what makes the
    # document replay to the path's state: the same path without them ends elsewhere.
    assert [a["op"] for a in admin].count("set_liquidation_policy") == 3
    assert any(a["op"] == "set_liquidation_protocol_fee" for a in admin)
    without = {**doc, "actions": [a for a in doc["actions"] if a not in admin]}
    assert replay(without, with_states=False)["state_hash"] != path.protocol.state_hash()


def one_borrower(folder: Path, crash: float, keeper: bool, policy: dict[str, Any] | None = None) -> Study:
    """One borrower: 10 WETH at $3,000, 20,000 USDC borrowed; interest rates zero; WETH falls by
    ``crash`` at step 2; every path is the same (no volatility)."""
    head = default_deployment()
    head["actions"] = [
        {"op": "deposit", "pool": "core", "user": "lp", "asset": "USDC", "amount": str(100_000 * 10**6)},
        {"op": "deposit", "pool": "core", "user": "bob", "asset": "WETH", "amount": str(10 * 10**18)},
        {"op": "borrow", "pool": "core", "user": "bob", "asset": "USDC", "amount": str(20_000 * 10**6)},
    ]
    (folder / "book.json").write_text(json.dumps(head))
    zero = {f"strategy.stable.{k}": 0 for k in ("base_rate", "slope1", "slope2")}
    return parse_study(
        {
            "name": "one-borrower", "steps": 4, "paths": 20, "book": {"scenario": "book.json"},
            "parameters": zero,
            "prices": {"shocks": [{"asset": "WETH", "change": crash, "start": 1, "duration": 1}]},
            "liquidity": {"keeper_every": 1 if keeper else 5, "margin_bps": 0},
            **({"policy": policy} if policy else {}),
        },
        base_dir=folder,
    )  # fmt: skip


def test_var_and_es_of_bad_debt_equal_the_hand_figures(tmp_path: Path) -> None:
    # WETH -60 %: the collateral is worth 10 x $1,200 = $12,000 against $20,000 of debt, no keeper.
    summary = summarize(run_study(one_borrower(tmp_path, -0.6, keeper=False), tmp_path / "r"))
    assert summary["total"]["bad_debt"] == {
        "mean": 8_000 * USD,
        "var95": 8_000 * USD,
        "es99": 8_000 * USD,
        "max": 8_000 * USD,
    }
    assert summary["total"]["liquidated"]["lar95"] == 0


def test_lar_equals_the_hand_figure(tmp_path: Path) -> None:
    # WETH -20 %: HF = 24,000 x 0.825 / 20,000 = 0.99; the keeper repays half the debt (close factor)
    # and the account is healthy again (HF 1.11): LaR 95 = $10,000, no bad debt.
    summary = summarize(run_study(one_borrower(tmp_path, -0.2, keeper=True), tmp_path / "r"))
    assert summary["total"]["liquidated"]["lar95"] == 10_000 * USD
    assert summary["total"]["liquidations"]["max"] == 1
    assert summary["total"]["bad_debt"]["var95"] == 0


def test_policies_by_hand(tmp_path: Path) -> None:
    """WETH -20 % (HF 0.99): S = 24,000 x 0.825 = 19,800, D = 20,000, bonus x threshold 0.86625.
    HF 1 needs x = 200 / 0.13375 = 1,495.33 repaid. The contracts repay 10,000: 8,504.67 too
    much, taken with its 5 % bonus: $8,929.91 over-liquidated. A target HF of 1.05 repays
    x = 1,200 / 0.18375 = 6,530.61 (LaR), over-liquidating (6,530.61 - 1,495.33) x 1.05 = $5,287.04."""
    cent = USD // 100
    plain = summarize(run_study(one_borrower(tmp_path, -0.2, keeper=True), tmp_path / "plain"))
    assert abs(plain["total"]["over_liquidation"]["max"] - 8_929_91 * cent) <= cent
    target = one_borrower(tmp_path, -0.2, keeper=True, policy={"target_health_factor": 1.05})
    summary = summarize(run_study(target, tmp_path / "target"))
    assert abs(summary["total"]["liquidated"]["lar95"] - 6_530_61 * cent) <= cent
    assert abs(summary["total"]["over_liquidation"]["max"] - 5_287_04 * cent) <= cent
    # WETH -60 %: $12,000 of collateral for $20,000. Half the debt repaid for $10,500 of WETH,
    # then the last $1,500 of WETH repays 1,500 / 1.05 = 1,428.57; deficit accounting writes the
    # remaining 8,571.43 off (interest rates are zero, so the contracts leave the same debt).
    for name, policy in (("contracts", None), ("writeoff", {"deficit_accounting": True})):
        crash = one_borrower(tmp_path, -0.6, keeper=True, policy=policy)
        total = summarize(run_study(crash, tmp_path / name))["total"]
        assert abs(total["bad_debt"]["max"] - 8_571_43 * cent) <= cent
        assert total["deficit"]["max"] == (total["bad_debt"]["max"] if policy else 0)


def test_order_book_liquidity_is_walked_and_recovers(tmp_path: Path) -> None:
    """With order books the keeper's sales walk the bids: a thin book (whose depth its sales eat,
    recovering with a half-life) lets fewer liquidations through than a deep one, at more slippage
    per dollar repaid; the same study runs to the same results twice."""
    crash = {"asset": "WETH", "change": -0.3, "start": 2, "duration": 2}

    def run(depth: int, name: str) -> dict[str, Any]:
        study = tiny(
            paths=2, prices={"assets": {"WETH": {"volatility": 0.5}}, "shocks": [crash]}, behaviour={},
            liquidity={"model": "order_book", "depth_usd": depth, "levels": 20, "recovery_half_life": 2},
        )  # fmt: skip
        return summarize(run_study(study, tmp_path / name))["total"]

    deep, thin = run(50_000_000, "deep"), run(60_000, "thin")
    assert deep["liquidated"]["max"] > thin["liquidated"]["max"] > 0
    assert (
        thin["slippage"]["max"] * deep["liquidated"]["max"]
        > deep["slippage"]["max"] * thin["liquidated"]["max"]
    )
    assert run(60_000, "again") == thin


def test_risk_measures_by_hand() -> None:
    values = list(range(1, 101))
    assert nearest_rank(values, 0.95) == 95
    assert expected_shortfall(values, 0.99) == 100
    assert expected_shortfall([0] * 150 + [10, 30], 0.99) == 20  # the worst ceil(1.52) = 2 paths


def test_a_failing_path_is_recorded_and_the_rest_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner_module.run_path

    def flaky(study: Study, index: int) -> Any:
        if index == 2:
            raise RuntimeError("boom on path 2")
        return real(study, index)

    monkeypatch.setattr(runner_module, "run_path", flaky)
    results = run_study(tiny(), tmp_path / "r")
    assert sorted(set(results.table("outcome").column("path").to_pylist())) == [0, 1, 3]
    [failure] = results.failed()
    assert failure["path"] == 2 and failure["seed"] == [7, 2] and "boom on path 2" in failure["traceback"]
    page = build_report(tmp_path / "r").read_text()
    assert "RuntimeError: boom on path 2" in page
    # The report says what was simulated (it said only the name, seed, steps and digest), and
    # draws the prices (WETH's shock and EXA's jumps could not be checked by eye).
    assert "<figcaption>Prices the study drew, percentile bands over paths</figcaption>" in page
    prices = results.table("steps").to_pydict()
    weth = [v for r, v in zip(prices["reserve"], prices["price_usd"], strict=True) if r == "WETH"]
    assert len(set(weth)) > 1
    for said in (
        "12 borrowers in the Core-Pool owing USDC (median $20,000, log-normal σ 0.8) against WETH 1",
        "EXA: geometric Brownian motion, volatility 200 % a year, jumps 50 a year (mean −10 %",
        "Shock: WETH −20 % over 120 minutes from step 3 (180 minutes in)",
        "A run on USDC in the Core-Pool: suppliers withdraw 5 % of what they hold each step",
        "A borrower below health factor 1.1 repays 25 % of its debt with probability 50 % each step.",
        "The audited contracts&#x27; rules (50 % close factor",
    ):
        assert said in page
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["paths"]["failed"] == 1
    assert summary["failures"] == [{"path": 2, "seed": [7, 2], "reason": "RuntimeError: boom on path 2"}]


def test_a_study_whose_paths_all_fail_exits_1_and_its_report_gives_reasons_not_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It exited 0 with a report of 'Bad debt VaR 95 $0' and no reason: as if the protocol were safe."""
    from astera.cli import app

    def broken(study: Study, index: int) -> Any:
        raise RuntimeError(f"no market on path {index}")

    monkeypatch.setattr(runner_module, "run_path", broken)
    (tmp_path / "s.json").write_text(json.dumps({**SHORT, "paths": 2}))
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["lab", "run", str(tmp_path / "s.json"), "--out", str(out)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"2 of 2 paths failed (tracebacks in {out / 'failures'})" in said
    assert "path 0: RuntimeError: no market on path 0" in said
    page = (out / "report.html").read_text()
    assert "RuntimeError: no market on path 1" in page and "no risk figures" in page
    assert "VaR" not in page and "$0" not in page


def test_resume_finishes_without_redoing_paths(tmp_path: Path) -> None:
    out = tmp_path / "r"
    first = run_study(tiny(), out)
    (out / "paths" / "outcome-0000001.parquet").unlink()  # path 1 was interrupted
    with pytest.raises(StudyError, match="--resume"):
        run_study(tiny(), out)
    with pytest.raises(StudyError, match=r"another study's results \(tiny\): seed differ"):
        run_study(tiny(seed=8), out, resume=True)
    ran: list[int] = []
    run_study(tiny(), out, resume=True, progress=lambda r: ran.append(r.index))
    assert ran == [1]
    assert tables(ResultDir(out)) == tables(first)


def test_resume_with_more_paths_runs_only_the_new_ones(tmp_path: Path) -> None:
    """The path count was part of the study's identity, so a first look at few paths could never be
    extended: the refusal even called the user's own study 'another study'."""
    out = tmp_path / "r"
    run_study(tiny(paths=2), out)
    ran: list[int] = []
    run_study(tiny(paths=4), out, resume=True, progress=lambda r: ran.append(r.index))
    assert ran == [2, 3]
    assert tables(ResultDir(out)) == tables(run_study(tiny(paths=4), tmp_path / "fresh"))
    with pytest.raises(StudyError, match="holds 4 paths of this study; --resume can add paths, not drop"):
        run_study(tiny(paths=3), out, resume=True)
    other = tiny(paths=4, steps=10, liquidity={**TINY["liquidity"], "depth_usd": 100_000})
    with pytest.raises(StudyError, match=r"liquidity.depth_usd, steps differ"):
        run_study(other, out, resume=True)
    with pytest.raises(StudyError, match=r"\(tiny\): name differ \(this study is mine\)"):
        run_study(tiny(paths=4, name="mine"), out, resume=True)


def test_chart_axes_read_in_dollars() -> None:
    assert [dollars(x) for x in (0, 950, 740_000, 1_250_000, -2e6, 3e9)] == [
        "$0", "$950", "$740K", "$1.25M", "-$2M", "$3B"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stepz": 3}, "stepz"),
        ({"steps": 0}, "steps"),
        ({"prices": {"assets": {"DOGE": {"volatility": 0.5}}}}, "prices.assets"),
        ({"prices": {"assets": {"WETH": {"volatility": -1}}}}, "prices.assets.WETH.volatility"),
        ({"prices": {"assets": {"WETH": {}, "WBTC": {}},
                     "correlation": {"WETH/WBTC": 1.0, "WBTC/WETH": -1.0}}},
         "prices.correlation"),
        ({"prices": {"shocks": [{"asset": "WETH", "change": -0.5, "start": 11, "duration": 5}]}},
         "prices.shocks.0"),
        ({"book": {"population": [{"borrowers": 1, "collateral": {"EXA": 1}, "debt": "USDC"}]}},
         "book.population.0.collateral"),
        ({"book": {"population": [{"pool": 5, "borrowers": 1, "collateral": {"EXA": 1}, "debt": "USDC"}]}},
         "book.population.0.pool"),
        ({"parameters": {"core.WETH.color": 1}}, "parameters.core.WETH.color"),
        # An LTV above the liquidation threshold: the core refuses the deployment.
        ({"parameters": {"core.WETH.ltv": 9000}}, "parameters.core.WETH.ltv"),
        ({"parameters": {"core.WETH.liquidation_bonus": 13000}}, "parameters.core.WETH.liquidation_bonus"),
        ({"parameters": {"strategy.stable.slope2": -1}}, "parameters.strategy.stable.slope2"),
        ({"behaviour": {"topup_probability": 2}}, "behaviour.topup_probability"),
        ({"policy": {"target_health_factor": 0.9}}, "policy"),
        ({"policy": {"pools": [7]}}, "policy.pools"),
        ({"policy": {"dust_usd": 500}}, "policy"),  # a leftover minimum above the dust threshold
        ({"compare": {"contracts": {}}}, "compare"),
        ({"liquidity": {"model": "order_book", "levels": 200, "step_bps": 60}}, "liquidity"),
        # Supplier runs and depths are checked against the book too, not left to fail every path.
        ({"behaviour": {"runs": [{"asset": "DAI", "start": 1}]}}, "behaviour.runs.0.asset"),
        ({"behaviour": {"runs": [{"pool": 9, "asset": "USDC", "start": 1}]}}, "behaviour.runs.0.pool"),
        ({"behaviour": {"runs": [{"pool": 0, "asset": "USDC", "start": 1}]}}, "behaviour.runs.0.asset"),
        ({"behaviour": {"runs": [{"asset": "USDC", "start": 13}]}}, "behaviour.runs.0.start"),
        ({"liquidity": {"asset_depth_usd": {"DOGE": 100}}}, "liquidity.asset_depth_usd"),
    ],
)  # fmt: skip
def test_malformed_studies_are_refused_with_the_field(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(StudyError) as e:
        run_study(parse_study({**TINY, **change}), tmp_path / "r")
    assert e.value.field == field
    assert not (tmp_path / "r").exists()


#: Bad studies a new user wrote, and the field each refusal names (the corrected study is TINY).
CORRECTED = [
    ({"book": {"population": [{"borrowers": 2, "collateral": {"DOGE": 1}, "debt": "USDC"}]}},
     "book.population.0.collateral", "pool core has no reserve 'DOGE'"),
    ({"book": {"population": [{"pool": 7, "borrowers": 2, "collateral": {"WETH": 1}, "debt": "USDC"}]}},
     "book.population.0.pool", "no pool '7': the book has the Core-Pool (core) and Mini-Pools 0 and 1"),
    ({"parameters": {"core.WETH.ltv": 9500}},
     "parameters.core.WETH.ltv", "9500 bps is above the liquidation threshold 8250 bps"),
    ({"parameters": {"strategy.volatile.slope1": -7}},
     "parameters.strategy.volatile.slope1",
     "the deployment refuses -7: rate strategy 'volatile': slope1 must not be negative (got -7)"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "reason"), CORRECTED, ids=["asset", "pool", "ltv", "slope"])
def test_a_refused_study_writes_nothing_and_the_corrected_one_runs_into_the_same_out(
    tmp_path: Path, change: dict[str, Any], field: str, reason: str
) -> None:
    """The refusal comes before any path runs and before --out is written, so the corrected study
    then runs into the same --out."""
    from astera.cli import app

    small = SHORT
    (tmp_path / "bad.json").write_text(json.dumps({**small, **change}))
    (tmp_path / "good.json").write_text(json.dumps(small))
    out = tmp_path / "o"
    refused = CliRunner().invoke(app, ["lab", "run", str(tmp_path / "bad.json"), "--out", str(out)])
    assert refused.exit_code == 2
    assert f"{field}: {reason}" in " ".join(refused.output.split())
    assert "0/1" not in refused.output and not out.exists()
    ran = CliRunner().invoke(app, ["lab", "run", str(tmp_path / "good.json"), "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    assert ResultDir(out).done() == {0}


def test_a_sweep_with_one_impossible_point_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    from astera.cli import app

    study = {**SHORT, "sweep": {"core.WETH.ltv": [7000, 9000]}}
    (tmp_path / "s.json").write_text(json.dumps(study))
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["lab", "sweep", str(tmp_path / "s.json"), "--out", str(out)])
    assert result.exit_code == 2
    assert "sweep (core.WETH.ltv=9000): parameters.core.WETH.ltv: 9000 bps is above" in " ".join(
        result.output.split()
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "said"),
    [("sweep", "sweep: the study has no [sweep] table"),
     ("compare", "compare: the study has no [compare] table of policies")],
)  # fmt: skip
def test_a_refusal_keeps_its_brackets(tmp_path: Path, command: str, said: str) -> None:
    """Rich read '[sweep]' in a refusal as a markup tag and printed 'the study has no  table'."""
    from astera.cli import app

    (tmp_path / "s.json").write_text(json.dumps(SHORT))
    result = CliRunner().invoke(app, ["lab", command, str(tmp_path / "s.json"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and said in " ".join(result.output.split())


def test_a_sweep_names_each_point_whole_above_its_progress_bar(tmp_path: Path) -> None:
    """The bar's description was the point's values, cut to '…' at 80 columns."""
    from astera.cli import app

    keys = ("core.WETH.liquidation_threshold", "core.WETH.liquidation_bonus")
    study = {**SHORT, "sweep": {keys[0]: [8000, 8250], keys[1]: [10500]}}
    (tmp_path / "s.json").write_text(json.dumps(study))
    result = CliRunner().invoke(app, ["lab", "sweep", str(tmp_path / "s.json"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for n, threshold in ((1, 8000), (2, 8250)):
        assert f"point {n}/2: {keys[0]}={threshold}, {keys[1]}=10500" in text
    # the report reads the values as a risk team does; summary.json keeps the study's integers
    page = (tmp_path / "o" / "report.html").read_text()
    assert (
        "<td>point-001</td><td>82.5%</td><td>+5%</td>" in page and "own report is in its folder" not in page
    )
    assert "What was simulated" in page and "paths of" in page  # the study each point runs, in words
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [p["values"] for p in summary["points"]] == [[8000, 10500], [8250, 10500]]


def test_a_sweep_point_whose_paths_fail_shows_them_not_zero_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grid point whose paths all failed read as VaR 95 $0, and the sweep exited 0."""
    from astera.cli import app

    real = runner_module.run_path

    def fails_at_7000(study: Study, index: int) -> Any:
        if study.parameters.get("core.WETH.ltv") == 7000:
            raise RuntimeError("broken point")
        return real(study, index)

    monkeypatch.setattr(runner_module, "run_path", fails_at_7000)
    (tmp_path / "s.json").write_text(json.dumps({**SHORT, "sweep": {"core.WETH.ltv": [7000, 7500]}}))
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["lab", "sweep", str(tmp_path / "s.json"), "--out", str(out)])
    assert result.exit_code == 1
    assert "core.WETH.ltv=7000: 1 of 1 paths failed" in " ".join(result.output.split())
    page = (out / "report.html").read_text()
    assert "<td>0 of 1 (1 failed)</td><td>no path finished</td>" in page
    assert "<td>1 of 1 (0 failed)</td><td>$" in page
    summary = json.loads((out / "summary.json").read_text())
    assert [p["paths"]["failed"] for p in summary["points"]] == [1, 0]


def test_the_cli_points_the_way(tmp_path: Path) -> None:
    """A mistyped built-in study, a study's [sweep] under `lab run`, and `lab export` of a sweep
    folder each said too little: 'cannot read X', nothing at all, 'holds no study results'."""
    from astera.cli import app

    unknown = CliRunner().invoke(app, ["lab", "run", "eth-crsh", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2
    said = " ".join(unknown.output.split())
    assert "study: eth-crsh is neither a study file nor a built-in study (" in said and "eth-crash," in said
    (tmp_path / "s.json").write_text(json.dumps({**SHORT, "sweep": {"core.WETH.ltv": [7000]}}))
    run = CliRunner().invoke(app, ["lab", "run", str(tmp_path / "s.json"), "--out", str(tmp_path / "r")])
    assert run.exit_code == 0
    assert "its [sweep] table runs with `astera lab sweep`" in " ".join(run.output.split())
    out = tmp_path / "sw"
    assert (
        CliRunner().invoke(app, ["lab", "sweep", str(tmp_path / "s.json"), "--out", str(out)]).exit_code == 0
    )
    assert "state_hashes" in json.loads((out / "point-000" / "summary.json").read_text())
    export = CliRunner().invoke(app, ["lab", "export", str(out), "--path", "0", "--to", str(tmp_path / "p")])
    assert export.exit_code == 2
    assert "its paths are in its grid points' folders (point-000, ...)" in " ".join(export.output.split())


def test_compare_runs_each_policy_on_the_same_paths_and_reports_them(tmp_path: Path) -> None:
    from astera.cli import app

    crash = {"asset": "WETH", "change": -0.6, "start": 2, "duration": 2}
    study = {**TINY, "paths": 2, "prices": {"assets": {"WETH": {"volatility": 0.5}}, "shocks": [crash]},
             "compare": {"writeoff": {"deficit_accounting": True, "pools": ["core"]}}}  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(study))
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["lab", "compare", str(tmp_path / "s.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["policies"]) == ["contracts", "writeoff"]
    contracts, writeoff = (summary["policies"][n] for n in ("contracts", "writeoff"))
    assert contracts["paths"]["finished"] == writeoff["paths"]["finished"] == 2
    assert contracts["deficits"] == {} and writeoff["deficits"]["core USDC"]["max"] > 0
    page = (out / "report.html").read_text()
    assert "writeoff" in page and "deficit accounting (pools core)" in page and "Over-liquidation" in page
    assert "Shock: WETH −60 % over 120 minutes from step 2" in page
    exported = tmp_path / "x.json"
    args = ["lab", "export", str(out / "writeoff"), "--path", "0", "--to", str(exported)]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    rows = ResultDir(out / "writeoff").table("outcome").to_pylist()
    hashes = {row["state_hash"] for row in rows if row["path"] == 0}
    assert {replay(json.loads(exported.read_text()), with_states=False)["state_hash"]} == hashes


def test_report_dollars_are_cut_toward_zero_with_the_sign_in_front() -> None:
    from astera.lab.report import USD, usd

    assert [usd(v) for v in (-3, 0, 3, -150 * USD // 100, 1_234 * USD)] == ["$0", "$0", "$0", "-$1", "$1,234"]


def test_a_policy_reads_in_percent() -> None:
    from astera.lab.study_words import policy_words

    assert policy_words({"protocol_fee_bps": 1000}) == "10% of the liquidation bonus to the treasury"


def test_an_isolation_study_runs_its_matched_control_and_reports_the_difference(tmp_path: Path) -> None:
    """Mini-Pool 0's EXA crashes by 90 %: the control runs the same paths with that shock made
    neutral (the WETH shock stays); the report gives crash minus control, path by path."""
    from astera.cli import app

    crash = {"asset": "EXA", "change": -0.9, "start": 2, "duration": 2}
    study = {**TINY, "paths": 2, "isolation": {"mini_pool": 0},
             "prices": {**TINY["prices"], "shocks": [*TINY["prices"]["shocks"], crash]}}  # fmt: skip
    (tmp_path / "s.json").write_text(json.dumps(study))
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["lab", "run", str(tmp_path / "s.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    control = ResultDir(out / "control").study()
    assert [s.change for s in control.prices.shocks] == [-0.2, 0.0] and control.isolation is None
    matched = json.loads((out / "summary.json").read_text())["matched_isolation"]
    assert matched["paths"] == 2 and matched["crashed_pool_bad_debt"]["max"] > 0
    assert set(matched["others"]) == {"core", "1"}
    page = " ".join((out / "report.html").read_text().split())
    assert "Matched control" in page
    # The Core's table carries what its suppliers lose to Mini-Pool 0 (its bad debt does not).
    pools = json.loads((out / "summary.json").read_text())["pools"]
    loss = pools["0"]["core_loss"]
    assert pools["core"]["exposure_loss"] == {"0": loss} and loss["max"] > 0
    assert pools["core"]["suppliers_loss"]["max"] >= loss["max"]
    # Worded as the Core's loss, not one Mini-Pool 0 suffers ('Loss to Mini-Pool 0' read that way).
    said = "Core-Pool&#x27;s loss on its flow lending to Mini-Pool 0, VaR 95 / ES 99</th>"
    said += f"<td>{usd(loss['var95'])}"
    assert said in page
    # Mini-Pool 1 has no borrowers in this study: said so, not shown as a table of zeros.
    assert pools["1"]["borrowers"] is False and pools["0"]["borrowers"] is True
    assert "<h3>Mini-Pool 1</h3><p>No borrowers in this study.</p>" in page
    assert "Mini-Pool 1 has no borrowers in this study." in page
    # Isolating a Mini-Pool none of whose own assets is shocked is refused before any path runs.
    calm = {**TINY, "isolation": {"mini_pool": 0}}
    (tmp_path / "calm.json").write_text(json.dumps(calm))
    refused = CliRunner().invoke(
        app, ["lab", "run", str(tmp_path / "calm.json"), "--out", str(tmp_path / "c")]
    )
    assert refused.exit_code == 2 and "isolation.mini_pool" in refused.output
    assert not (tmp_path / "c").exists()


def test_cli_refuses_a_bad_file_and_never_creates_a_directory_for_help(tmp_path: Path) -> None:
    from astera.cli import app

    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nsteps = "many"\n')
    result = CliRunner().invoke(app, ["lab", "run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "steps" in result.output
    proc = subprocess.run(
        [sys.executable, "-m", "astera.lab", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "run" in proc.stdout and list(tmp_path.iterdir()) == [bad]


def test_the_default_books_tranche_has_the_nodes_name_and_its_former_one_still_works() -> None:
    """The lab named Mini-Pool tranches ``aUSDC`` where the node and web app say ``was-USDC``; a
    study written with the former name builds the same book."""
    doc = book_document(tiny(parameters={"0.was-USDC.reserve_factor": 1500}))
    assert "was-USDC" in doc["mini_pools"][0]["reserves"]
    assert not any("aUSDC" in json.dumps(part) for part in (doc["mini_pools"], doc["actions"]))
    former = {**TINY["book"], "population": [TINY["book"]["population"][0], {
        "pool": 0, "borrowers": 4, "collateral": {"EXA": 1.0}, "debt": "aUSDC", "suppliers": 0}]}  # fmt: skip
    assert book_document(tiny(book=former, parameters={"0.aUSDC.reserve_factor": 1500})) == doc
    with pytest.raises(StudyError, match="pool 1 has no reserve 'bUSDC'"):
        book_document(tiny(parameters={"1.bUSDC.reserve_factor": 1500}))


def test_keeper_account_is_in_every_book() -> None:
    assert KEEPER in run_path(tiny(paths=1), 0).doc["users"]


def test_the_keepers_market_screen_changes_no_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keeper's market screen skips accounts no sale can profit from (those with no
    collateral left among them): the same liquidations, steps and outcome as the keeper
    without it, on a crash that leaves bad debt."""
    crash = {"asset": "WETH", "change": -0.6, "start": 2, "duration": 2}
    study = tiny(prices={"assets": {"WETH": {"volatility": 0.5}}, "shocks": [crash]})
    fast = run_path(study, 0)
    with monkeypatch.context() as m:
        m.setattr(path_module, "KeeperEngine", lambda *a, **k: KeeperEngine(*a, **{**k, "screen": False}))
        plain = run_path(study, 0)
    assert (fast.actions, fast.steps, fast.outcome()) == (plain.actions, plain.steps, plain.outcome())
    core = fast.outcome()[0]
    assert core[OUTCOME_COLUMNS.index("no_collateral_debt_usd")] > 0  # someone was left with nothing


def test_lab_help_lists_and_open_read_well_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command's help starts with a whole sentence on its first line; `lab studies` wraps
    at 80 columns; `--open` with no browser says where the report is."""
    import astera.lab.cli as lab_cli
    from astera.cli import app

    for command in lab_cli.app.registered_commands:
        assert command.callback is not None and command.callback.__doc__ is not None
        assert command.callback.__doc__.splitlines()[0].endswith("."), command.callback.__name__
    listed = CliRunner().invoke(app, ["lab", "studies"], env={"COLUMNS": "80"})
    assert listed.exit_code == 0 and max(map(len, listed.output.splitlines())) <= 80
    assert all(name in listed.output for name in lab_cli.builtin_studies())
    small = SHORT
    (tmp_path / "s.json").write_text(json.dumps(small))
    assert (
        CliRunner()
        .invoke(app, ["lab", "run", str(tmp_path / "s.json"), "--out", str(tmp_path / "o")])
        .exit_code
        == 0
    )
    monkeypatch.setattr(lab_cli.webbrowser, "open", lambda url: False)
    opened = CliRunner().invoke(app, ["lab", "report", str(tmp_path / "o"), "--open"])
    page = (tmp_path / "o" / "report.html").resolve()
    assert opened.exit_code == 0 and f"no browser could be opened: open {page} yourself" in opened.output
