"""The liquidation document's Example 1, to the dollar, on the audited contracts' numbers.

$110,000 of ETH (40 WETH at $2,750), $80,000 of USDC borrowed, liquidation threshold 80%,
bonus 8%. WETH falls to $2,499.75: the collateral is worth $99,990 and HF = 0.9999. The
engine repays $40,000 and receives $43,200 of WETH; the position keeps $56,790 of WETH
(the document rounds to $56,800) and $40,000 of debt, HF 1.1358.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from keeper_helpers import USD, engine

from astera.core import WAD, Protocol
from astera.scenario import build, run_action


def _before_liquidation(vectors_dir: Path) -> Protocol:
    doc = json.loads((vectors_dir / "seed-example-1.scenario.json").read_text())
    p, _ = build(doc)
    for action in doc["actions"][:4]:  # deposits, the borrow, the price fall
        with p.transaction():
            run_action(p, action)
    p.register_user("keeper")
    return p


def test_seed_example_1_to_the_dollar(vectors_dir: Path) -> None:
    p = _before_liquidation(vectors_dir)
    assert p.account("bob").total_collateral_base == 99_990 * USD
    assert p.health_factor("bob") == 999_900_000_000_000_000

    report = engine(p).run()

    assert [(u.pool, u.user) for u in report.unhealthy] == [("core", "bob")]
    [ex] = report.liquidations
    assert (ex.plan.collateral, ex.plan.debt, ex.plan.bonus) == ("WETH", "USDC", 10800)
    assert ex.debt_repaid == 40_000 * 10**6  # 50% of the $80,000 debt
    assert ex.collateral_taken == 17_281_728_172_817_281_728  # $43,200 / $2,499.75, floored
    taken_value = ex.collateral_taken * p.price("WETH") // 10**18
    assert taken_value == 43_200 * USD - 1  # $43,199.99999999: 40,000 x 1.08 to the dollar
    assert p.supplied("bob", "WETH") == 40 * 10**18 - ex.collateral_taken == 22_718_271_827_182_718_272
    left = p.account("bob")
    assert left.total_collateral_base == 56_790 * USD
    assert left.total_debt_base == 40_000 * USD
    assert left.health_factor == ex.health_factor_after == 1_135_800_000_000_000_000 > WAD
    assert ex.profit > 0


def test_engine_state_equals_the_reference_trace(vectors_dir: Path) -> None:
    """The keeper's liquidation leaves bob exactly as the contracts' own 50% liquidation did."""
    p = _before_liquidation(vectors_dir)
    engine(p).run()
    with gzip.open(vectors_dir / "seed-example-1.trace.json.gz", "rt") as f:
        ref = json.load(f)["steps"][4]["state"]["users"]["bob"]
    assert p.account("bob")._asdict() == ref["core_account"]
    assert p.supplied("bob", "WETH") == ref["core"]["WETH"]["a_token_balance"]
    assert p.debt("bob", "USDC") == ref["core"]["USDC"]["debt_balance"]


def test_a_second_run_finds_nothing(vectors_dir: Path) -> None:
    p = _before_liquidation(vectors_dir)
    keeper = engine(p)
    keeper.run()
    again = keeper.run()
    assert again.unhealthy == [] and again.liquidations == []
