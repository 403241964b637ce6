"""Counters, latency summaries and the pools' deficits and liquidation policies, rendered in the
Prometheus text format at ``/metrics``."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

#: Latency samples kept for the quantiles (a sliding window, not the whole history).
WINDOW: Final = 4096


class Window:
    """The last :data:`WINDOW` samples of a duration, with quantiles."""

    def __init__(self) -> None:
        self.samples: deque[float] = deque(maxlen=WINDOW)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.samples.append(seconds)
        self.count += 1
        self.total += seconds

    def quantile(self, q: float) -> float:
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: The keeper's totals of its liquidations: name, help when sent, help in a dry run.
SENT_TOTALS: Final = (
    (
        "liquidations",
        "Liquidations the keeper signed and the log accepted.",
        "Liquidations a dry run would have sent (run on its own copy only; nothing was sent).",
    ),
    (
        "repaid_usd",
        "USD (8 decimals) repaid by the keeper's liquidations.",
        "USD (8 decimals) a dry run's liquidations would have repaid.",
    ),
    (
        "seized_usd",
        "USD (8 decimals) of collateral the keeper seized.",
        "USD (8 decimals) of collateral a dry run's liquidations would have seized.",
    ),
    (
        "profit_usd",
        "Estimated profit in USD (8 decimals): model sale less repayment.",
        "Estimated profit in USD (8 decimals) of a dry run's liquidations: model sale less repayment.",
    ),
)


def counter(name: str, help_: str, value: float, kind: str = "counter") -> list[str]:
    """One metric in the Prometheus text format: its help, its type and its value."""
    return [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {value}"]


@dataclass
class KeeperCounters:
    """What the in-node keeper did (``astera.keeper.in_node``), for ``/status`` and ``/metrics``."""

    #: Engine runs (each one liquidates every account it can, as far as it is profitable).
    runs: int = 0
    #: ``liquidate`` transactions the keeper signed and the log accepted.
    liquidations: int = 0
    #: Planned liquidations that were not done, by reason: the node's refusal code (``reason``
    #: of a ``refused`` answer, e.g. ``"73"``) or the keeper's own check (``error:ERC20InsufficientBalance``).
    refusals: Counter[str] = field(default_factory=Counter)
    #: Accounts with HF < 1 at the last detection, and what the last run left unhealthy.
    unhealthy: int = 0
    unprofitable: int = 0
    bad_debt: int = 0
    #: Borrowers at the last detection that no one can value (a price the oracle refuses).
    unpriced: int = 0
    #: USD (8 decimals, oracle prices at the time) repaid, seized, and the estimated profit
    #: (the seized collateral's model sale less the repayment) of the keeper's liquidations.
    repaid_usd: int = 0
    seized_usd: int = 0
    profit_usd: int = 0
    #: A dry run's keeper: :attr:`liquidations` and the USD totals are then what it would have
    #: sent (run on its own copy only), reported as ``dry_run_*``; the sent totals report 0.
    dry_run: bool = False

    def sent_totals(self) -> dict[str, int]:
        """:data:`SENT_TOTALS` by name: what was sent (in a dry run, what would have been)."""
        return {name: int(getattr(self, name)) for name, _, _ in SENT_TOTALS}

    def as_dict(self) -> dict[str, Any]:
        """For ``/status``: amounts in USD as decimal strings; a dry run's would-be totals as
        ``dry_run_*`` beside sent totals of 0."""
        totals = self.sent_totals()
        sent = {k: 0 if self.dry_run else v for k, v in totals.items()}
        out: dict[str, Any] = {
            "runs": self.runs,
            "liquidations": sent["liquidations"],
            "refusals": dict(sorted(self.refusals.items())),
            "unhealthy": self.unhealthy,
            "unprofitable": self.unprofitable,
            "bad_debt": self.bad_debt,
            "unpriced": self.unpriced,
            "repaid_usd": str(sent["repaid_usd"]),
            "seized_usd": str(sent["seized_usd"]),
            "profit_usd": str(sent["profit_usd"]),
        }
        if self.dry_run:
            out |= {f"dry_run_{k}": v if k == "liquidations" else str(v) for k, v in totals.items()}
        return out

    def render(self) -> list[str]:
        lines = counter("astera_keeper_runs_total", "Keeper engine runs.", self.runs)
        lines += [
            "# HELP astera_keeper_refusals_total Planned liquidations not done, by reason.",
            "# TYPE astera_keeper_refusals_total counter",
        ]
        lines += [
            f'astera_keeper_refusals_total{{reason="{r}"}} {n}' for r, n in sorted(self.refusals.items())
        ]
        totals = self.sent_totals()
        for name, help_, would in SENT_TOTALS:
            lines += counter(f"astera_keeper_{name}_total", help_, 0 if self.dry_run else totals[name])
            if self.dry_run:
                lines += counter(f"astera_keeper_dry_run_{name}_total", would, totals[name])
        for name, value, help_ in (
            ("unhealthy", self.unhealthy, "Accounts with HF < 1 at the last detection."),
            ("unprofitable", self.unprofitable, "Accounts the last run left unhealthy: no profitable size."),
            ("bad_debt", self.bad_debt, "Accounts the last run left with debt and no collateral."),
            ("unpriced", self.unpriced, "Borrowers at the last detection whose position has no price (78)."),
        ):
            lines += counter(f"astera_keeper_{name}", help_, value, "gauge")
        return lines


def liquidation_lines(pools: Sequence[dict[str, Any]]) -> list[str]:
    """Gauges of :func:`astera.node.views.liquidation_status`: each reserve's deficit (base units)
    and each pool's liquidation policy (an info gauge: 1, the policy's settings as labels)."""
    lines = [
        "# HELP astera_reserve_deficit Debt written off by a deficit-accounting liquidation policy "
        "and not yet covered, in the reserve's base units.",
        "# TYPE astera_reserve_deficit gauge",
    ]
    lines += [
        f'astera_reserve_deficit{{pool="{pool["pool"]}",asset="{asset}"}} {deficit}'
        for pool in pools
        for asset, deficit in pool["deficits"].items()
    ]
    lines += [
        "# HELP astera_liquidation_policy_info A pool's liquidation policy (flags; wad and USD values "
        "with 18 and 8 decimals).",
        "# TYPE astera_liquidation_policy_info gauge",
    ]
    for pool in pools:
        policy = pool["liquidation_policy"]
        labels = ",".join(f'{k}="{str(v).lower() if isinstance(v, bool) else v}"' for k, v in policy.items())
        lines.append(f'astera_liquidation_policy_info{{pool="{pool["pool"]}",{labels}}} 1')
    return lines


def replication_lines(replication: dict[str, Any]) -> list[str]:
    """A follower's view of its leader (its ``/status`` replication block) as gauges: whether the
    leader answered the last poll, for how long it has not, and how far behind the follower is
    (left out while the leader does not answer: unknown). Nothing on a leader."""
    if replication.get("role") != "follower":
        return []
    lines = counter(
        "astera_leader_answers",
        "1 if the leader answered the follower's last poll, else 0.",
        int(replication["leader_answers"] is True),
        "gauge",
    )
    lines += counter(
        "astera_leader_silent_seconds",
        "Seconds since the leader last answered (0 while it answers).",
        replication["leader_silent_seconds"] or 0,
        "gauge",
    )
    if replication["behind_blocks"] is not None:
        lines += counter(
            "astera_behind_blocks",
            "Blocks the follower is behind its leader's head.",
            replication["behind_blocks"],
            "gauge",
        )
    return lines


class Metrics:
    """What the node counts: transactions by outcome, blocks, commit and submit latencies,
    and the keeper's counters when one runs inside the node."""

    def __init__(self) -> None:
        self.txs_accepted = 0
        self.txs_rejected: Counter[str] = Counter()
        self.blocks = 0
        self.snapshots = 0
        self.commit = Window()
        self.submit = Window()
        self.block_size = Window()
        self.keeper: KeeperCounters | None = None

    def render(
        self,
        height: int,
        queue: int,
        subscribers: int,
        pools: Sequence[dict[str, Any]] = (),
        replication: dict[str, Any] | None = None,
    ) -> str:
        """The Prometheus text; ``pools`` is :func:`astera.node.views.liquidation_status` (the
        pools' gauges are left out without it), ``replication`` the node's ``/status`` block of
        that name (:func:`replication_lines`)."""
        lines = [
            "# HELP astera_height Height of the last durable block.",
            "# TYPE astera_height gauge",
            f"astera_height {height}",
            "# HELP astera_queue Transactions waiting for the sequencer.",
            "# TYPE astera_queue gauge",
            f"astera_queue {queue}",
            "# TYPE astera_sse_subscribers gauge",
            f"astera_sse_subscribers {subscribers}",
            "# HELP astera_txs_accepted_total Transactions logged.",
            "# TYPE astera_txs_accepted_total counter",
            f"astera_txs_accepted_total {self.txs_accepted}",
            "# HELP astera_txs_rejected_total Transactions refused, by error code.",
            "# TYPE astera_txs_rejected_total counter",
        ]
        lines += [
            f'astera_txs_rejected_total{{code="{c}"}} {n}' for c, n in sorted(self.txs_rejected.items())
        ]
        lines += [
            "# TYPE astera_blocks_total counter",
            f"astera_blocks_total {self.blocks}",
            "# TYPE astera_snapshots_total counter",
            f"astera_snapshots_total {self.snapshots}",
        ]
        for name, w, help_ in (
            ("astera_commit_seconds", self.commit, "Durable commit time per block."),
            (
                "astera_submit_seconds",
                self.submit,
                "Time from a transaction's arrival to its acknowledgement.",
            ),
            ("astera_block_txs", self.block_size, "Transactions per block."),
        ):
            lines += [f"# HELP {name} {help_}", f"# TYPE {name} summary"]
            lines += [f'{name}{{quantile="{q}"}} {w.quantile(q):.6g}' for q in (0.5, 0.9, 0.99)]
            lines += [f"{name}_sum {w.total:.6g}", f"{name}_count {w.count}"]
        if pools:
            lines += liquidation_lines(pools)
        if replication is not None:
            lines += replication_lines(replication)
        if self.keeper is not None:
            lines += self.keeper.render()
        return "\n".join(lines) + "\n"
