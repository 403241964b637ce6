"""A report says what its study simulated, in plain words, from the study's canonical JSON."""

from __future__ import annotations

from pathlib import Path

from astera.lab.study import load_study
from astera.lab.study_words import describe, parameter_text

STUDIES = Path(__file__).parents[2] / "src" / "astera" / "lab" / "studies"


def words(name: str) -> dict[str, list[str]]:
    return dict(describe(load_study(STUDIES / f"{name}.toml").canonical()))


def test_the_eth_crash_reads_as_its_assumptions() -> None:
    w = words("eth-crash")
    assert list(w) == ["Horizon", "Book", "Prices", "Market and keeper", "Behaviour", "Liquidation policy"]
    assert "200 paths of 720 steps of 60 minutes (30 days); seed 1" in w["Horizon"][1]
    assert w["Book"][0].startswith("The lab's default deployment: a Core-Pool") and w["Book"][1].startswith(
        "400 borrowers in the Core-Pool owing USDC (median $20,000, log-normal σ 0.8) against "
        "WETH 3, WBTC 1 (weights), health factors uniform from 1.08 to 2"
    )
    assert "WETH: geometric Brownian motion, volatility 80 % a year." in w["Prices"]
    assert "Correlations: WETH/WBTC 0.8; other pairs 0." in w["Prices"]
    assert (
        "Shock: WETH −40 % over 6 hours from step 72 (72 hours in), pinned by a Brownian bridge."
        in w["Prices"]
    )
    assert w["Market and keeper"][0].startswith(
        "The keeper sells seized collateral into a constant-product pool of $5,000,000"
    )
    assert "repays 25 % of its debt with probability 5 % each step" in w["Behaviour"][0]


def test_depegs_runs_and_parameters_are_said() -> None:
    depeg = words("usdc-depeg")
    assert (
        "Depeg: USDC to $0.99 from step 48 (48 hours in) over 6 hours, held 24 hours, back over 12 hours."
        in (depeg["Prices"])
    )
    assert depeg["Parameters"] == ["core.USDC.ltv: 79.5%"]
    run = words("core-usdc-run")["Behaviour"][1]
    assert run.startswith(
        "A run on USDC in the Core-Pool: suppliers withdraw 10 % of what they hold each step"
    )
    assert parameter_text("core.WETH.liquidation_bonus", 10_300) == "+3%"
