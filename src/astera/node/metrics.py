"""The node's Prometheus metrics at ``/metrics``, kept and rendered by prometheus-client.

What happens is counted as it happens: transactions by outcome, blocks, snapshots (counters),
durable commit and submit latencies and transactions per block (histograms). What the node
*is* is read from its state at each scrape, by :meth:`Metrics.collect`: height, queue, streams,
each reserve's deficit and each pool's liquidation policy, a follower's view of its leader and
the keeper's counters. Each node has its own registry (never the library's global one), so
several nodes in one process (tests) keep their metrics apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import prometheus_client
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

#: Durable commit and submit latencies, in seconds: an fsync of SQLite's WAL takes a few
#: milliseconds, a loaded node's acknowledgement about 50-150 ms.
LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: Transactions per block, up to ``astera serve``'s largest block (5,000).
BLOCK_TXS_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)

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

    def families(self) -> Iterator[Metric]:
        """The counters as metric families: totals as counters, the last run's state as gauges."""
        yield CounterMetricFamily("astera_keeper_runs", "Keeper engine runs.", value=self.runs)
        refusals = CounterMetricFamily(
            "astera_keeper_refusals", "Planned liquidations not done, by reason.", labels=["reason"]
        )
        for reason, n in sorted(self.refusals.items()):
            refusals.add_metric([reason], n)
        yield refusals
        totals = self.sent_totals()
        for name, help_, would in SENT_TOTALS:
            yield CounterMetricFamily(
                f"astera_keeper_{name}", help_, value=0 if self.dry_run else totals[name]
            )
            if self.dry_run:
                yield CounterMetricFamily(f"astera_keeper_dry_run_{name}", would, value=totals[name])
        for name, help_ in (
            ("unhealthy", "Accounts with HF < 1 at the last detection."),
            ("unprofitable", "Accounts the last run left unhealthy: no profitable size."),
            ("bad_debt", "Accounts the last run left with debt and no collateral."),
            ("unpriced", "Borrowers at the last detection whose position has no price (78)."),
        ):
            yield GaugeMetricFamily(f"astera_keeper_{name}", help_, value=getattr(self, name))


@dataclass(frozen=True)
class Reading:
    """What a scrape reads from the node's state (:meth:`astera.node.node.Node.reading`)."""

    #: Height of the last durable block, and transactions waiting for the sequencer.
    height: int
    queue: int
    #: Subscribers to new blocks: open ``/stream`` streams and waiting ``/log?wait=`` polls.
    subscribers: int
    #: :func:`astera.node.views.liquidation_status`: each pool's policy and reserves' deficits.
    pools: Sequence[dict[str, Any]]
    #: The node's ``/status`` replication block (a follower's view of its leader).
    replication: dict[str, Any]


def liquidation_families(pools: Sequence[dict[str, Any]]) -> Iterator[Metric]:
    """Each reserve's deficit (base units) and each pool's liquidation policy (an info metric:
    1, the policy's settings as labels)."""
    deficit = GaugeMetricFamily(
        "astera_reserve_deficit",
        "Debt written off by a deficit-accounting liquidation policy and not yet covered, "
        "in the reserve's base units.",
        labels=["pool", "asset"],
    )
    policy = InfoMetricFamily(
        "astera_liquidation_policy",
        "A pool's liquidation policy (flags; wad and USD values with 18 and 8 decimals).",
        labels=["pool"],
    )
    for pool in pools:
        for asset, amount in pool["deficits"].items():
            deficit.add_metric([str(pool["pool"]), asset], int(amount))
        settings = pool["liquidation_policy"].items()
        policy.add_metric(
            [str(pool["pool"])], {k: str(v).lower() if isinstance(v, bool) else v for k, v in settings}
        )
    yield deficit
    yield policy


def replication_families(replication: dict[str, Any]) -> Iterator[Metric]:
    """A follower's view of its leader: whether the leader answered the last poll, for how long
    it has not, and how far behind the follower is (left out while the leader does not answer:
    unknown). Nothing on a leader."""
    if replication.get("role") != "follower":
        return
    yield GaugeMetricFamily(
        "astera_leader_answers",
        "1 if the leader answered the follower's last poll, else 0.",
        value=int(replication["leader_answers"] is True),
    )
    yield GaugeMetricFamily(
        "astera_leader_silent_seconds",
        "Seconds since the leader last answered (0 while it answers).",
        value=replication["leader_silent_seconds"] or 0,
    )
    if replication["behind_blocks"] is not None:
        yield GaugeMetricFamily(
            "astera_behind_blocks",
            "Blocks the follower is behind its leader's head.",
            value=replication["behind_blocks"],
        )


class Metrics:
    """A node's registry: what it counts as it happens, and (as a custom collector) what
    ``read`` gives at each scrape, with the keeper's counters when one runs inside the node."""

    def __init__(self, read: Callable[[], Reading]) -> None:
        self.read = read
        self.registry = registry = CollectorRegistry()
        self.txs_accepted = prometheus_client.Counter(
            "astera_txs_accepted", "Transactions logged.", registry=registry
        )
        self.txs_rejected = prometheus_client.Counter(
            "astera_txs_rejected", "Transactions refused, by error code.", ["code"], registry=registry
        )
        self.blocks = prometheus_client.Counter("astera_blocks", "Blocks logged.", registry=registry)
        self.snapshots = prometheus_client.Counter(
            "astera_snapshots", "Snapshots of the state written.", registry=registry
        )
        self.commit = Histogram(
            "astera_commit_seconds",
            "Durable commit time per block.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.submit = Histogram(
            "astera_submit_seconds",
            "Time from a transaction's arrival to its acknowledgement.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.block_size = Histogram(
            "astera_block_txs", "Transactions per block.", buckets=BLOCK_TXS_BUCKETS, registry=registry
        )
        self.keeper: KeeperCounters | None = None
        registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """The families read from the node's state at this scrape (prometheus-client's custom
        collector protocol; the registry calls it)."""
        now = self.read()
        yield GaugeMetricFamily("astera_height", "Height of the last durable block.", value=now.height)
        yield GaugeMetricFamily("astera_queue", "Transactions waiting for the sequencer.", value=now.queue)
        yield GaugeMetricFamily(
            "astera_sse_subscribers", "Open /stream streams and waiting /log polls.", value=now.subscribers
        )
        yield from liquidation_families(now.pools)
        yield from replication_families(now.replication)
        if self.keeper is not None:
            yield from self.keeper.families()

    def render(self) -> bytes:
        """The exposition in the Prometheus text format (:data:`CONTENT_TYPE`). Not OpenMetrics,
        which a scraper may prefer: it refuses a counter below 0, and the keeper's estimated
        profit is a sum of estimates that a loss can take below 0 (the whole scrape would fail)."""
        return generate_latest(self.registry)


#: The content type of :meth:`Metrics.render`'s answer.
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
