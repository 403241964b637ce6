"""``astera keeper SCENARIO.json``: the engine along a replayed scenario."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from astera.cli import app
from astera.keeper.scenario import run_scenario
from astera.scenario import load_json


def test_keeper_command_on_the_seed_example(vectors_dir: Path) -> None:
    result = CliRunner().invoke(app, ["keeper", str(vectors_dir / "seed-example-1.scenario.json")])
    assert result.exit_code == 0, result.output
    assert "bob" in result.output and "40,000 USDC" in result.output and "8%" in result.output
    assert "1 liquidations" in result.output
    # The scenario's own two liquidations find bob healthy already: refused with 73.
    assert "2 scenario actions refused" in result.output


def test_keeper_along_a_random_vector_with_flash_loans(vectors_dir: Path) -> None:
    doc = load_json(vectors_dir / "random-0006.scenario.json")
    run = run_scenario(doc, flash_loan=True)
    executions = [ex for _, report in run.reports for ex in report.liquidations]
    assert executions and all(ex.profit >= 0 for ex in executions)
    assert {ex.plan.pool for ex in executions} == {"core", 0}
    final = run.reports[-1][1]
    assert final.failures == []
    assert run_scenario(doc, flash_loan=True).protocol.state_hash() == run.protocol.state_hash()
