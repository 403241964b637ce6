"""The shock ladder: measured on a rolled-back transaction, equal to the keeper on a copy."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from astera.core import Protocol
from astera.keeper import InProcessSubmitter, KeeperEngine, PlannerConfig
from astera.keeper.scenario import DEFAULT_DEPTH_USD, fund, model_market
from astera.keeper.valuation import Valuation
from astera.lab.ladder import LIQUIDATOR, collateral_assets, shock_ladder
from astera.scenario import build, load_json, run_action

SCENARIO = Path(__file__).parents[2] / "scenarios" / "isolation-crash.json"


@pytest.fixture(scope="module")
def book() -> Protocol:
    """The isolation experiment's book on day 30, before its crash."""
    doc = load_json(SCENARIO)
    p, _ = build({**doc, "actions": []})
    for action in doc["actions"]:
        if action["op"] == "set_price":
            break
        with p.transaction():
            run_action(p, action)
    return p


def test_ladder_changes_nothing_and_is_deterministic(book: Protocol) -> None:
    before = book.state_hash()
    first = shock_ladder(book)
    assert book.state_hash() == before == first["state_hash"]
    assert shock_ladder(book) == first
    assert list(first["assets"]) == collateral_assets(book) == ["USDC", "WETH", "EXA", "EXB"]


def test_ladder_figures_grow_with_the_shock(book: Protocol) -> None:
    rungs = shock_ladder(book, assets=["EXA"])["assets"]["EXA"]
    assert [r["shock_bps"] for r in rungs] == list(range(0, 10_000, 1_000))
    assert rungs[0]["total"]["liquidatable_accounts"] == 0 and rungs[0]["total"]["bad_debt"] == 0
    bad = [r["total"]["bad_debt"] for r in rungs]
    assert bad == sorted(bad) and bad[-1] > 0
    # EXA is collateral in Mini-Pool 0 only: nothing happens to the Core or to Mini-Pool 1.
    for r in rungs:
        assert r["pools"]["core"]["liquidatable_debt"] == r["pools"]["1"]["liquidatable_debt"] == 0
        assert all(isinstance(v, int) for v in r["total"].values())


def test_bad_debt_counts_what_no_collateral_covers_when_the_keeper_stops(book: Protocol) -> None:
    """In a thin market the keeper stops after one liquidation: no account is left without
    collateral, yet the deeper cut leaves more debt than collateral; bad debt says so (it read
    $0 when it counted only debt with no collateral left)."""
    thin = shock_ladder(book, assets=["WETH"], rungs_bps=[5000, 9000], depth_usd=1_000 * 10**8)
    half, tenth = (r["total"] for r in thin["assets"]["WETH"])
    assert half["no_collateral_debt"] == tenth["no_collateral_debt"] == 0 and tenth["stuck_debt"] > 0
    assert 0 < half["bad_debt"] < tenth["bad_debt"] and tenth["bad_debt_accounts"] > 0


def test_a_rung_equals_the_keeper_on_a_copy(book: Protocol) -> None:
    rung = shock_ladder(book, assets=["EXA"], rungs_bps=[7000])["assets"]["EXA"][0]
    copy = pickle.loads(pickle.dumps(book))
    copy.set_price("EXA", copy.price("EXA") * 3 // 10)
    copy.register_user(LIQUIDATOR)
    fund(copy, LIQUIDATOR, 10**23)
    market = model_market(copy, DEFAULT_DEPTH_USD)
    engine = KeeperEngine(
        copy, market, InProcessSubmitter(copy, LIQUIDATOR, market), PlannerConfig(margin_bps=0)
    )
    report = engine.run()
    assert rung["total"]["liquidations"] == len(report.liquidations)
    assert rung["total"]["no_collateral_debt"] == sum(b.value for b in report.bad_debt)
    # Bad debt as the lab counts it: what each account owes beyond its collateral, every borrower.
    short = {}
    for ref, pool in (("core", copy.core), *enumerate(copy.mini_pools)):
        valuation = Valuation(pool)
        accounts = (valuation.position(u).account for u in pool.user_config)
        short[str(ref)] = [a.total_debt_base - a.total_collateral_base for a in accounts]
        assert rung["pools"][str(ref)]["bad_debt"] == sum(x for x in short[str(ref)] if x > 0)
        assert rung["pools"][str(ref)]["bad_debt_accounts"] == sum(1 for x in short[str(ref)] if x > 0)
    assert rung["total"]["bad_debt"] >= rung["total"]["no_collateral_debt"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"assets": ["DOGE"]}, "assets"),
        ({"rungs_bps": [10_000]}, "rungs_bps"),
        ({"depth_usd": 0}, "depth_usd"),
    ],
)
def test_bad_arguments_are_refused(book: Protocol, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        shock_ladder(book, **kwargs)  # type: ignore[arg-type]


def test_the_cli_prints_a_table_for_people_and_json_for_machines(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from astera.cli import app
    from astera.human import usd_short

    runner = CliRunner()
    doc = json.loads(runner.invoke(app, ["lab", "ladder", str(SCENARIO), "--json"]).stdout)
    assert doc["format"] == "astera-shock-ladder/1"
    out = runner.invoke(app, ["lab", "ladder", str(SCENARIO)]).stdout  # not a terminal: 80 columns
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "…" not in out.split("\n", 1)[1]  # no figure cut to fit
    _title, header, _rule, *rows = out.split("WETH (now $2,750.00)")[1].split("\n\n")[0].splitlines()
    assert header.split() == ["down", "price", "HF<1", "debt", "repaid", "slippage", "bad", "debt", "stuck"]
    for rung, row in zip(doc["assets"]["WETH"], rows, strict=True):
        total = rung["total"]
        assert row.split()[2:] == [
            str(total["liquidatable_accounts"]),
            *(usd_short(total[f]) for f in ("liquidatable_debt", "debt_repaid", "slippage")),
            *(usd_short(total[f]) for f in ("bad_debt", "stuck_debt")),
        ]
    missing = runner.invoke(app, ["lab", "ladder", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "no such file" in missing.stderr and missing.exception is not None
    assert isinstance(missing.exception, SystemExit)
