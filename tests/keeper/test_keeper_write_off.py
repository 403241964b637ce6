"""An account whose collateral bit is on over an empty balance (``repayWithATokens`` burnt its
last aTokens, spec §4.5) owes with nothing behind it. Under deficit accounting an aToken
liquidation naming that reserve writes the debt off: the liquidator repays nothing and takes
nothing (core: ``test_write_off_of_an_account_whose_collateral_bit_covers_nothing``). The
keeper sends it, free, instead of reporting the account as bad debt forever."""

from __future__ import annotations

import pytest
from keeper_helpers import USD, USDC, WETH, act, deploy, engine

from astera.core import UINT256_MAX, LiquidationPolicy, Protocol
from astera.keeper import InProcessSubmitter, KeeperEngine
from astera.keeper.in_node import liquidate_params
from astera.keeper.scenario import model_market

#: USDC base units: 10,000 borrowed, 4,629.62963 repaid for the WETH, 1,000 as aTokens.
DEBT_LEFT = 4_370_370_370


def carol(policy: LiquidationPolicy | None) -> Protocol:
    """Carol's WETH is all liquidated at $500, then her last 1,000 USDC of collateral repays her
    USDC debt as aTokens: the USDC bit stays on over 0 and 4,370.37037 USDC are owed."""
    p = deploy(
        act("deposit", "carol", "WETH", 10 * WETH),
        act("deposit", "carol", "USDC", 1_000 * USDC),
        act("borrow", "carol", "USDC", 10_000 * USDC),
    )
    if policy is not None:
        p.set_liquidation_policy("admin", "core", policy)
    p.set_price("WETH", 500 * USD)
    p.register_user("dave")
    p.mint("dave", "USDC", 10_000 * USDC)
    p.liquidate("dave", "carol", "WETH", "USDC", UINT256_MAX)
    p.repay_with_a_tokens("carol", "USDC", 1_000 * USDC)
    assert p.supplied("carol", "USDC") == 0 and p.core.is_collateral("carol", p.core.reserve(("USDC", True)))
    assert p.supplied("carol", "WETH") == 0 and p.debt("carol", "USDC") == DEBT_LEFT
    return p


@pytest.mark.parametrize("screen", [False, True], ids=["valued", "screened"])
def test_the_keeper_writes_off_what_no_collateral_backs(screen: bool) -> None:
    p = carol(LiquidationPolicy(deficit_accounting=True))
    keeper = engine(p)
    if screen:  # the market screen must not skip it as a hopeless sale
        market = model_market(p, 100_000_000 * USD)
        keeper = KeeperEngine(p, market, InProcessSubmitter(p, "keeper", market), screen=True)
    wallet = {a: p.wallet(a, "keeper") for a in ("USDC", "WETH")}
    report = keeper.run()
    assert not report.bad_debt and not report.failures
    [ex] = report.liquidations
    assert ex.plan.write_off and (ex.debt_repaid, ex.collateral_taken, ex.profit) == (0, 0, 0)
    assert report.deficits == {("core", "USDC"): DEBT_LEFT}
    assert p.debt("carol", "USDC") == 0 and p.deficit("USDC") == DEBT_LEFT
    assert {a: p.wallet(a, "keeper") for a in wallet} == wallet  # it cost the keeper nothing
    assert p.supplied("keeper", "USDC") == 0
    params = liquidate_params(ex.plan)  # what a node's keeper signs: the aToken form
    assert params["receive_a_token"] is True and params["collateral_asset"] == "USDC"


def test_without_deficit_accounting_it_stays_bad_debt() -> None:
    p = carol(None)
    report = engine(p).run()
    assert not report.liquidations and not report.deficits
    assert [(b.user, b.reserve, b.amount) for b in report.bad_debt] == [("carol", "USDC", DEBT_LEFT)]


def test_the_third_party_keeper_says_what_it_wrote_off() -> None:
    """Its report at 80 columns: the write-off, not bad debt."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from astera.keeper.remote import Reporter
    from astera.node.metrics import KeeperCounters

    p = carol(LiquidationPolicy(deficit_accounting=True))
    report = engine(p).run()
    screen = io.StringIO()
    keeper = SimpleNamespace(protocol=p, counters=KeeperCounters())
    Reporter(keeper, Console(file=screen, width=80), dry_run=False)(report)  # type: ignore[arg-type]
    shown = " ".join(screen.getvalue().split())
    assert "written off 4,370.37 USDC of debt in the Core-Pool: no collateral left" in shown, shown
    assert "bad debt" not in shown and "…" not in screen.getvalue()
