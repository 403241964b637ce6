"""The seed's picture, with numbers (issue 3, item 7).

Same 15M ETH of liquidity and the same borrower demand (6.0M, 1.8M, 0.6M ETH) in three layouts:
three isolated markets (10M, 2M, 3M); one Core-Pool of 15M whose Mini-Pools flow-borrow up to 2M
and 3M; and the seed's literal wording, Core aTokens worth 2M and 3M deposited into the
Mini-Pools. The seed claims "higher utilization, better rates". On the faithful protocol, with
the deployment's WETH rate strategy, it does not hold for suppliers: these tests pin what the
core actually produces, and the findings printed by ``astera demo`` say so.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from astera.core import RAY
from astera.core.wadray import ray_div
from astera.lab.experiments import render
from astera.lab.seed_picture import LAYOUTS, TRANCHE, LayoutRates, findings, seed_picture
from astera.scenario import replay

ETH = 10**18


@pytest.fixture(scope="module")
def picture() -> dict[str, LayoutRates]:
    return seed_picture()


def pi_rate(utilization: Fraction) -> Fraction:
    """The deployment's WETH PI curve with its integral at 0 (spec §8.3): 0.2·((max(e, −0.3001) + 1)/2)²."""
    u0 = Fraction(7, 10)
    err = (utilization - u0) / u0 if utilization < u0 else (utilization - u0) / (1 - u0)
    err = max(err, Fraction(-3001, 10_000))
    return Fraction(1, 5) * ((err + 1) / 2) ** 2


def close(ray: int, expected: Fraction) -> bool:
    """Equal up to the contracts' ray rounding (a few units in 1e27)."""
    return abs(Fraction(ray, RAY) - expected) < Fraction(1, 10**24)


def test_numbers_are_what_the_core_produces_on_replay(picture: dict[str, LayoutRates]) -> None:
    """Replaying each exported scenario (``astera replay``) ends in exactly the table's numbers."""
    for layout in picture.values():
        final = replay(layout.scenario)["steps"][-1]["state"]
        assert all(step["ok"] for step in replay(layout.scenario, with_states=False)["steps"])
        reserves = [final["core"]["WETH"]] + [
            final["mini_pools"][str(i)]["reserves"]["WETH" if layout.layout == "isolated" else TRANCHE]
            for i in (0, 1)
        ]
        for market, r in zip(layout.markets, reserves, strict=True):
            assert market.borrow_rate == r["current_variable_borrow_rate"]
            assert market.supply_rate == r["current_liquidity_rate"]
            debt, cash = r["debt_total_supply"], r["available_liquidity"]
            assert market.utilization == ray_div(debt, cash + debt)


def test_rates_follow_the_deployment_curve(picture: dict[str, LayoutRates]) -> None:
    """Hand-computed utilizations and rates for every market (reserve factor 20%)."""
    expected_u = {
        "isolated": (Fraction(6, 10), Fraction(9, 10), Fraction(2, 10)),
        "flow": (
            Fraction(84, 150),
            Fraction(1),
            Fraction(1),
        ),  # Core: 8.4M of 15M; tranches: no idle liquidity
        # Core: 6M lent, 6.6M idle (tranche borrowers unwrapped 2.4M of the Core's ETH): 6/12.6 = 10/21.
        "deposit": (Fraction(10, 21), Fraction(9, 10), Fraction(2, 10)),
    }
    for name, us in expected_u.items():
        for market, u in zip(picture[name].markets, us, strict=True):
            assert close(market.utilization, u), (name, market.market)
            assert close(market.borrow_rate, pi_rate(u)), (name, market.market)
            assert close(market.supply_rate, pi_rate(u) * u * Fraction(8, 10)), (name, market.market)
    assert close(picture["isolated"].markets[0].borrow_rate, Fraction(9, 245))  # 0.2·(3/7)² = 3.673%
    assert picture["flow"].markets[1].borrow_rate == RAY // 5  # 20%, the curve at 100%


def test_the_seed_claim_as_the_faithful_protocol_shows_it(picture: dict[str, LayoutRates]) -> None:
    iso, flow, dep = (picture[k] for k in LAYOUTS)
    # Identical demand and liquidity everywhere: 8.4M of 15M ETH lent out.
    for layout in (iso, flow, dep):
        assert layout.deposited == 15 * 10**6 * ETH and layout.borrowed == 84 * 10**5 * ETH
    # "Higher utilization": the pooled Core sits at the pooled average, between the isolated extremes.
    isolated_u = [m.utilization for m in iso.markets]
    assert min(isolated_u) < flow.markets[0].utilization < max(isolated_u)
    assert flow.markets[0].utilization == ray_div(flow.borrowed, flow.deposited)
    # Flow tranches run at 100%, so their borrowers pay the curve's top (plus the Core supply rate).
    assert all(m.utilization == RAY for m in flow.markets[1:])

    def avg(income: int, base: int) -> Fraction:
        return Fraction(income, base)

    supplier = {k: avg(picture[k].depositor_income, picture[k].deposited) for k in LAYOUTS}
    borrower = {k: avg(picture[k].borrower_cost, picture[k].borrowed) for k in LAYOUTS}
    # "Better rates" does not hold for suppliers: isolated > deposit > flow.
    assert supplier["isolated"] > supplier["deposit"] > supplier["flow"]
    # Borrowers: depositing Core aTokens in the tranches is cheapest, flow borrowing dearest.
    assert borrower["deposit"] < borrower["isolated"] < borrower["flow"]
    # With flow borrowing the protocol keeps the tranches' spread.
    assert flow.protocol_take > 5 * iso.protocol_take
    text = " ".join(findings(picture))
    assert "does not hold" in text and "cheapest with deposit" in text
    print("\n".join(findings(picture)))


def test_scenario_files_match_the_builder(repo_root: Path, picture: dict[str, LayoutRates]) -> None:
    for name, layout in picture.items():
        path = repo_root / "scenarios" / f"seed-picture-{name}.json"
        assert path.read_text() == render(layout.scenario), f"{path} is stale: run `astera lab scenarios`"
