"""Isolation, shown and tested (issue 3, item 6; spec §7.13).

Mini-Pool A's exotic collateral (EXA) loses 95% of its value on day 30 and its borrowers cannot
be made whole; Mini-Pool B (collateral EXB) and the Core-Pool carry on. The same schedule runs
with and without the crash (``astera.lab.isolation``); these tests compare the two runs.

What the runs share, and therefore where they may differ at all: the Core-Pool's USDC reserve.
A's liquidations repay part of A's Core flow and the keeper deposits USDC into the Core to pay,
so from day 30 the Core's USDC utilization and rates differ between the runs. B sees the Core
through two numbers: the USDC value of a tranche share (the Core supply index) and the interest
on its own Core flow (the Core borrow index). B's own accounting, in shares, is identical; the
USDC amounts differ by exactly the change in the Core supply index, which the tests compute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from astera.core import RAY, WAD
from astera.core.wadray import ray_mul
from astera.lab.experiments import render, scenario_documents
from astera.lab.isolation import (
    A_BORROWERS,
    A_DEPOSITORS,
    B_BORROWERS,
    B_DEPOSITORS,
    CORE_SUPPLIERS,
    FLOW_LIMIT,
    MINI_A,
    MINI_B,
    TRANCHE,
    USDC,
    IsolationReport,
    IsolationRun,
    isolation_report,
)
from astera.lab.scenario import LiveScenario
from astera.scenario import replay

DROPS = (9500, 5500)  # 95%: the loss exceeds A's other deposits; 55%: it does not


@pytest.fixture(scope="module", params=DROPS, ids=lambda d: f"drop{d // 100}")
def report(request: pytest.FixtureRequest) -> IsolationReport:
    return isolation_report(request.param)


@pytest.fixture(scope="module")
def report95() -> IsolationReport:
    return isolation_report(9500)


def runs(report: IsolationReport) -> tuple[IsolationRun, IsolationRun]:
    return report.calm, report.crash


def test_the_crash_leaves_a_with_bad_debt_and_the_calm_run_does_not(report: IsolationReport) -> None:
    calm, crash = runs(report)
    assert crash.liquidations > 0 and calm.liquidations == 0
    assert crash.a_bad_debt > 0 and crash.a_cash == 0
    assert calm.a_bad_debt == 0 and calm.claim_on_a == 0
    assert all(calm.stranded_shares[u] == 0 for u in (*A_DEPOSITORS, *B_DEPOSITORS))
    assert all(crash.stranded_shares[u] > 0 for u in A_DEPOSITORS)
    # What is left in A is really unrecoverable: replaying the crash scenario, A's borrowers hold at
    # most dust the keeper cannot take (it would repay 0 debt: refused), worth under a cent.
    live = LiveScenario({k: v for k, v in crash.scenario.items() if k != "actions"})
    for action in crash.scenario["actions"]:
        live.act(**action)
    for u in A_BORROWERS:
        account = live.protocol.account(u, MINI_A)
        assert account.total_collateral_base < 10**6 and account.health_factor < WAD // 1000


def test_no_user_of_b_is_liquidatable_in_the_crash_run_who_is_not_in_the_calm_run(
    report: IsolationReport,
) -> None:
    calm, crash = runs(report)
    calm_at: dict[int, set[str]] = {}
    for o in calm.observations:
        calm_at.setdefault(o.timestamp, set()).update(o.b_liquidatable)
    for o in crash.observations:
        extra = o.b_liquidatable - calm_at[o.timestamp]
        assert not extra, f"step {o.step} ({o.phase}): {sorted(extra)} liquidatable in B only after A's crash"
    # Not vacuous: in the same blocks A's borrowers were liquidatable, and B's were checked.
    assert any(o.b_health_factors for o in crash.observations if o.phase == "shock")
    assert all(hf >= WAD for o in crash.observations for hf in o.b_health_factors.values())


def test_b_suppliers_withdraw_the_same_amounts_in_both_runs(report: IsolationReport) -> None:
    """B's depositors withdraw exactly the same number of tranche shares in both runs, and at every
    step could have withdrawn the same number. In USDC the amounts differ by
    ``shares × (Core supply index in the crash run − in the calm run)``: a tranche share is a Core
    USDC aToken share, and A's liquidations lowered the Core's USDC utilization (part of A's flow
    repaid, the keeper's USDC deposited), hence its supply rate, from day 30 on."""
    calm, crash = runs(report)

    def withdrawable_path(run: IsolationRun) -> list[dict[str, int]]:
        path: list[dict[str, int]] = []
        for o in run.observations:
            if not path or path[-1] != o.b_withdrawable:
                path.append(o.b_withdrawable)
        return path

    assert withdrawable_path(calm) == withdrawable_path(crash)
    lines = []
    for u in B_DEPOSITORS:
        shares = calm.withdrawn_shares[u]
        assert shares > 0 and crash.withdrawn_shares[u] == shares
        for run in (calm, crash):  # unwrapping pays shares × Core supply index, to the wei
            assert run.withdrawn_usdc[u] == ray_mul(shares, run.core_income)
        diff = crash.withdrawn_usdc[u] - calm.withdrawn_usdc[u]
        assert diff == ray_mul(shares, crash.core_income) - ray_mul(shares, calm.core_income)
        lines.append(
            f"{u}: {shares} shares; {calm.withdrawn_usdc[u]} vs {crash.withdrawn_usdc[u]} USDC units "
            f"({diff / USDC:+.6f} USDC)"
        )
    # B's borrowers owed the same shares in both runs, too.
    assert all(calm.repaid_shares[u] == crash.repaid_shares[u] > 0 for u in B_BORROWERS)
    assert calm.b_rates_after_shock == crash.b_rates_after_shock
    # Direction, as explained: lower Core utilization in the crash run, so lower Core rates.
    (cl, cb), (xl, xb) = report.shared_rates.core_rates
    assert xl < cl and xb < cb and crash.core_income < calm.core_income
    assert crash.b_flow_before_repay < calm.b_flow_before_repay
    assert "same number of shares" in report.shared_rates.explanation()
    print("\n".join(lines), "\n", report.shared_rates.explanation())


def test_no_core_supplier_balance_ever_decreases(report: IsolationReport) -> None:
    for run in runs(report):
        for before, after in zip(run.observations, run.observations[1:], strict=False):
            for u in CORE_SUPPLIERS:
                assert after.core_supplier_balances[u] >= before.core_supplier_balances[u], (
                    f"{'crash' if run.crash else 'calm'} step {after.step}: {u}'s Core balance fell"
                )


def test_core_claim_on_a_never_exceeds_flow_limit_plus_its_interest(report: IsolationReport) -> None:
    """The bound is the flow limit grown by the Core USDC borrow index since A first drew on the
    credit line: the most A can owe if it drew the whole limit at once and never repaid."""
    for run in runs(report):
        assert any(o.claim_on_a for o in run.observations)
        for o in run.observations:
            assert o.claim_on_a <= o.claim_bound or o.claim_bound == 0 and o.claim_on_a == 0
            assert o.claim_bound == 0 or o.claim_bound >= FLOW_LIMIT
        assert run.claim_bound > FLOW_LIMIT  # interest accrued on the limit
    crash = report.crash
    assert report.loss.core_suppliers == crash.claim_on_a <= crash.claim_bound


def test_who_carries_a_loss_in_numbers(report: IsolationReport) -> None:
    """Spec §7.13: liquidation proceeds repay the Core before anyone else (§7.6), so A's other
    tranche depositors absorb the loss first; only what exceeds their deposits reaches the Core's
    USDC suppliers, through A's flow debt, which nobody can liquidate."""
    loss = report.loss
    crash = report.crash
    print("\n" + loss.summary())
    assert loss.bad_debt == (
        loss.other_depositors
        + loss.core_suppliers
        + loss.mini_pool_spread
        + loss.treasuries
        + loss.accrual_gap
    )
    # Debt compounds per second, deposits accrue linearly: over 60 days at most 28%/yr on A's 100,000
    # of loans that opens a gap of at most (0.28 · 60/365)² / 2 ≈ 0.1% of it.
    assert 0 <= loss.accrual_gap < 100_000 * USDC // 1000
    assert loss.other_depositors > 0 and loss.other_depositors_vs_calm > 0
    a_lp_deposit = 20_000 * USDC
    if loss.bad_debt > a_lp_deposit:
        # The loss exceeds A's other deposits: they lose everything, the Core carries the rest.
        assert all(crash.withdrawn_usdc[u] == 0 for u in A_DEPOSITORS)
        assert loss.core_suppliers > 0 and loss.core_claim_vs_calm == loss.core_suppliers
        assert sum(loss.core_supplier_shares.values()) <= loss.core_suppliers
        assert all(v > 0 for v in loss.core_supplier_shares.values())
    else:
        # The loss fits in A's other deposits: the Core is repaid in full, they keep the rest.
        assert loss.core_suppliers == 0 and crash.claim_on_a == 0
        assert all(crash.withdrawn_usdc[u] > 0 for u in A_DEPOSITORS)
        assert loss.swept_to_treasury > 0  # the surplus sweep paid the treasury before them (§7.6)


def test_b_tranche_rate_is_refreshed_only_by_a_core_rate_change(report95: IsolationReport) -> None:
    """Why the schedule has routine Core activity on day 30 in both runs. After an unwrapped
    tranche borrow, the tranche's stored rate was computed on its liquidity before the unwrap
    (the Core syncs its flow-borrowing Mini-Pools before burning the shares; the public vectors
    agree). It stays so until the Core's next USDC rate change re-syncs the tranche. Without the
    top-up, only the crash run's liquidations would refresh B, a difference of timing alone."""
    doc = report95.calm.scenario
    opening = [o for o in report95.calm.observations if o.phase == "open"]
    live = LiveScenario({k: v for k, v in doc.items() if k != "actions"})
    for action in doc["actions"][: len(opening)]:
        live.act(**action)
    p = live.protocol
    b = p.mini_pools[MINI_B]
    tranche = b.reserve(TRANCHE)
    assert b.cash(tranche) == 0  # all of B's liquidity is lent: utilization 100%
    stale = tranche.current_variable_borrow_rate
    assert stale < 28 * RAY // 100  # yet the stored rate is below the curve's 100% point (2% + 6% + 20%)
    live.act(op="deposit", pool="core", user="core_lp2", asset="USDC", amount=str(USDC))
    assert tranche.current_variable_borrow_rate == 28 * RAY // 100


def test_scenario_files_replay_to_the_experiment(repo_root: Path, report95: IsolationReport) -> None:
    docs = scenario_documents()
    for run in (report95.calm, report95.crash):
        name = f"{run.scenario['name']}.json"
        assert docs[name] == run.scenario
        path = repo_root / "scenarios" / name
        assert path.read_text() == render(run.scenario), f"{path} is stale: run `astera lab scenarios`"
        trace = replay(run.scenario, with_states=False)
        assert all(step["ok"] for step in trace["steps"])
        assert trace["state_hash"] == run.state_hash
