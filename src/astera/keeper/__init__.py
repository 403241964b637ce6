"""The liquidation engine (keeper): find unhealthy accounts, size and execute liquidations.

* :mod:`.monitor`: columnar index of every borrowing position; vectorised pre-filter,
  exact integer re-check.
* :mod:`.market`: where seized collateral is sold (constant-product pools, order books,
  or any :class:`~.market.Venue`).
* :mod:`.planner`: highest-bonus collateral, largest debt, size shrunk to what the market
  absorbs profitably.
* :mod:`.executor`: atomic liquidate-and-sell with own funds or a flash loan, behind the
  :class:`~.executor.Submitter` interface the node plugs into.
* :mod:`.engine`: the loop that ties them together and reports bad debt.
"""

from .engine import BadDebt, Failure, KeeperEngine, KeeperReport, TakenUp
from .executor import Execution, InProcessSubmitter, Outcome, Submitter
from .in_node import attach
from .market import ConstantProductPool, Market, NoRoute, OrderBook, SlippageExceeded, Token, Venue
from .monitor import Monitor, PoolIndex, Unhealthy
from .planner import LiquidationPlan, Planner, PlannerConfig

__all__ = [
    "BadDebt",
    "ConstantProductPool",
    "Execution",
    "Failure",
    "InProcessSubmitter",
    "KeeperEngine",
    "KeeperReport",
    "LiquidationPlan",
    "Market",
    "Monitor",
    "NoRoute",
    "OrderBook",
    "Outcome",
    "PlannerConfig",
    "Planner",
    "PoolIndex",
    "SlippageExceeded",
    "Submitter",
    "TakenUp",
    "Token",
    "Unhealthy",
    "Venue",
    "attach",
]
