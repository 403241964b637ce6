"""Counters and latency summaries, rendered in the Prometheus text format at ``/metrics``."""

from __future__ import annotations

from collections import Counter, deque
from typing import Final

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


class Metrics:
    """What the node counts: transactions by outcome, blocks, commit and submit latencies."""

    def __init__(self) -> None:
        self.txs_accepted = 0
        self.txs_rejected: Counter[str] = Counter()
        self.blocks = 0
        self.snapshots = 0
        self.commit = Window()
        self.submit = Window()
        self.block_size = Window()

    def render(self, height: int, queue: int, subscribers: int) -> str:
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
        return "\n".join(lines) + "\n"
