"""``astera demo``: the walk-through prints the seed's numbers, read from the core."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from astera.core import WAD
from astera.demo import run_demo, section_accrual, section_keeper, seed_example


def render(fn: object, width: int = 160) -> str:
    out = io.StringIO()
    fn(Console(file=out, width=width, color_system=None))  # type: ignore[operator]
    return out.getvalue()


def test_seed_example_is_exactly_the_documents_numbers() -> None:
    p = seed_example().protocol
    data = p.account("bob")
    assert data.total_collateral_base == 110_000 * 10**8
    assert data.total_debt_base == 80_000 * 10**8
    assert data.current_liquidation_threshold == 8000
    assert data.health_factor == 11 * WAD // 10
    assert data.available_borrows_base == 2_500 * 10**8  # 75% of $110,000 − $80,000


def test_demo_prints_every_section() -> None:
    text = render(run_demo)
    for expected in (
        "$110,000",
        "$80,000",
        "1.100000",
        "exactly 1.1",
        "$2,500",  # borrowing power left
        "$2,750.00",  # WETH's oracle price
        "40.000%",  # USDC utilization
        "0.680%",  # USDC supply rate
        "81,615.999999",  # bob's debt after a year at 2%, to the base unit
        "The seed's picture",
        "Core-Pool + flow",
        "does not hold",
        "Who carries A's loss",
        "same number of shares",
    ):
        assert expected in text, expected


def test_figures_are_exact_integers_formatted_not_floats() -> None:
    """The demo formatted dollars and USDC through floats: bob's debt after a year, 81,615.999999
    USDC in the core, printed as 81,616.00; the accrual table now shows what the core holds."""
    text = render(section_accrual)
    assert "81,615.999999" in text and "81,616.00" not in text
    assert "80,131.614937" in text and "19.742241" in text  # day 30: debt, treasury's cut


def test_no_figure_is_cut_at_80_columns() -> None:
    """Rich cuts a cell that does not fit to '…': the reserves' amounts and the keeper's HF were."""
    text = render(run_demo, width=80)
    assert "…" not in text
    assert "200,000" in text and "0.97→0.98" in text


def test_keeper_section_is_skipped_without_the_keeper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "astera.keeper.demo", None)  # makes the import raise ImportError
    assert "skipped" in render(section_keeper)
