"""Scenarios written while they run.

A lab experiment decides its next action from the protocol's state (how much a keeper may
liquidate, whether a borrower is still worth repaying). :class:`LiveScenario` runs each
decided action on the core *through the replayer's own action runner* and records it as an
``astera-scenario/1`` action. The recorded document therefore replays with
``astera replay`` to exactly the same state: the experiment and its exported file cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from astera.core import RAY, Protocol
from astera.scenario import SCENARIO_FORMAT, build, run_action

T = TypeVar("T")

DAY = 24 * 3600


def default_strategy(
    optimal_utilization_pct: int, base_pct: int, slope1_pct: int, slope2_pct: int
) -> dict[str, str]:
    """A two-slope rate strategy in scenario form (percentages → ray strings)."""
    return {
        "model": "default",
        "optimal_utilization": str(optimal_utilization_pct * RAY // 100),
        "base_rate": str(base_pct * RAY // 100),
        "slope1": str(slope1_pct * RAY // 100),
        "slope2": str(slope2_pct * RAY // 100),
    }


def reserve_params(
    strategy: str,
    ltv: int,
    liquidation_threshold: int,
    liquidation_bonus: int,
    reserve_factor: int,
    tranche_of: str | None = None,
    borrowing_enabled: bool = True,
) -> dict[str, Any]:
    """One reserve's parameters in scenario form (FORMAT §2.2)."""
    params: dict[str, Any] = {
        "ltv": ltv,
        "liquidation_threshold": liquidation_threshold,
        "liquidation_bonus": liquidation_bonus,
        "reserve_factor": reserve_factor,
        "rate_strategy": strategy,
        "deposit_cap": 0,
        "borrowing_enabled": borrowing_enabled,
        "flash_loan_enabled": True,
    }
    if tranche_of is not None:
        params["tranche_of"] = tranche_of
    return params


class _RolledBack(Exception):
    """Raised inside :meth:`LiveScenario.probe` to undo the probed operations."""


class LiveScenario:
    """A deployment built from a scenario head, plus the actions run on it so far."""

    def __init__(self, head: dict[str, Any]) -> None:
        """``head`` is a scenario document without ``actions`` (FORMAT §2)."""
        self.head = {"format": SCENARIO_FORMAT, **head}
        self.protocol: Protocol
        self.protocol, self.users = build({**self.head, "actions": []})
        self.actions: list[dict[str, Any]] = []

    def act(self, **action: Any) -> None:
        """Run one scenario action atomically and record it; a refusal raises and records nothing."""
        p = self.protocol
        with p.transaction():
            run_action(p, action)
        self.actions.append(action)

    def probe(self, fn: Callable[[Protocol], T]) -> T:
        """Run ``fn`` on the protocol and undo everything it did; return its result."""
        result: list[T] = []
        try:
            with self.protocol.transaction():
                result.append(fn(self.protocol))
                raise _RolledBack
        except _RolledBack:
            pass
        return result[0]

    def document(self) -> dict[str, Any]:
        """The replayable ``astera-scenario/1`` document of everything run so far."""
        return {**self.head, "actions": [dict(a) for a in self.actions]}
