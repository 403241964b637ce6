"""The sequencer: orders transactions into blocks, applies them, and acknowledges once durable.

Group commit: submissions queue up while the previous block is being written; the
sequencer then takes everything queued (up to ``max_block_txs``) as the next block,
applies it to the ledger at the block's timestamp, writes it in one database
transaction on the commit thread, and only then answers every submitter. A refused
transaction is answered in the same round, with nothing changed.

The block timestamp is ``max(previous block's, wall clock seconds)``: the shell reads
the clock, the core never does. After each block, registered hooks (the keeper, SSE)
get the block; a hook never delays acknowledgements.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from astera.core import Event

from . import snapshots
from .blocks import Block, Header, block_hash
from .chain import Chain
from .errors import NodeError
from .metrics import Metrics
from .transactions import SignedTx

log = logging.getLogger("astera.node")


@dataclass(frozen=True)
class Receipt:
    """What a submitter gets back: where its transaction sits in the durable log."""

    hash: str
    height: int
    index: int
    block_hash: str
    timestamp: int
    state_hash: str
    events: list[Event]


@dataclass(frozen=True)
class CommittedBlock:
    """A block after its commit, as hooks and the SSE stream see it."""

    header: Header
    txs: list[SignedTx]
    events: list[list[Event]]


BlockHook = Callable[[CommittedBlock], Awaitable[None] | None]


class Sequencer:
    """The one writer of the ledger and the log."""

    def __init__(
        self,
        chain: Chain,
        metrics: Metrics,
        *,
        snapshot_every: int = 1000,
        max_block_txs: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = chain
        self.ledger = chain.ledger
        self.store = chain.store
        self.head: Header = chain.head
        self.metrics = metrics
        self.snapshot_every = snapshot_every
        self.max_block_txs = max_block_txs
        self.clock = clock
        self.hooks: list[BlockHook] = []
        self.failure: BaseException | None = None
        self._queue: deque[tuple[SignedTx, asyncio.Future[Receipt], float]] = deque()
        self._wakeup = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="astera-commit")
        self._task: asyncio.Task[None] | None = None
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="astera-sequencer")

    async def stop(self) -> None:
        """Finish the block in progress, refuse what is still queued, stop the commit thread."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        for task in list(self._hook_tasks):
            task.cancel()
        self._executor.shutdown(wait=True)

    @property
    def queued(self) -> int:
        return len(self._queue)

    # ---- submitting ------------------------------------------------------------------------------

    async def submit(self, tx: SignedTx) -> Receipt:
        """Queue a checked transaction; its receipt once durable, or the refusal."""
        if self._stopping or self.failure is not None:
            raise NodeError("unavailable", "the node is not accepting transactions")
        fut: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._queue.append((tx, fut, time.perf_counter()))
        self._wakeup.set()
        return await fut

    async def settled(self) -> None:
        """Wait until no applied block is still waiting for its commit (reads see durable state)."""
        await self._settled.wait()

    async def caught_up(self) -> None:
        """Wait until this node holds the newest block of its log, settled (a leader's log is its
        own: at once); what a keeper waits for before its first look at the book."""
        await self.settled()

    # ---- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue and not self._stopping:
                n = min(len(self._queue), self.max_block_txs)
                batch = [self._queue.popleft() for _ in range(n)]
                try:
                    await self._produce(batch)
                except BaseException as e:  # the store failed: memory is ahead of the log
                    self.failure = e
                    self._settled.set()  # readers must not hang; the API answers 503 from now on
                    log.exception("block commit failed; the node stops accepting transactions")
                    self._refuse_all(batch)
                    self._refuse_all(list(self._queue))
                    self._queue.clear()
                    return
                await asyncio.sleep(0)  # let readers waiting for a settled state run
            if self._stopping:
                self._refuse_all(list(self._queue))
                self._queue.clear()
                return

    @staticmethod
    def _refuse_all(items: list[tuple[SignedTx, asyncio.Future[Receipt], float]]) -> None:
        for _, fut, _ in items:
            if not fut.done():
                fut.set_exception(
                    NodeError("unavailable", "the node stopped before this transaction was logged")
                )

    async def _produce(self, batch: list[tuple[SignedTx, asyncio.Future[Receipt], float]]) -> None:
        ledger, metrics = self.ledger, self.metrics
        prev = self.head
        timestamp = max(prev.timestamp, int(self.clock()))
        ledger.open_block(timestamp)
        accepted: list[SignedTx] = []
        events: list[list[Event]] = []
        outcomes: list[tuple[asyncio.Future[Receipt], int | NodeError, float]] = []
        for tx, fut, t0 in batch:
            try:
                events.append(ledger.apply(tx))
                outcomes.append((fut, len(accepted), t0))
                accepted.append(tx)
            except NodeError as e:
                outcomes.append((fut, e, t0))
            except Exception:  # a bug in the core: its journal rolled the action back
                log.exception("transaction %s raised unexpectedly", tx.hash)
                outcomes.append(
                    (fut, NodeError("internal_error", "the action failed unexpectedly; nothing changed"), t0)
                )
        state_hash = ledger.close_block(len(accepted))
        header = prev
        if state_hash is not None:
            height = prev.height + 1
            hashes = [tx.hash for tx in accepted]
            header = Header(
                height,
                timestamp,
                prev.hash,
                state_hash,
                block_hash(height, timestamp, prev.hash, state_hash, hashes),
                len(accepted),
                prev.first_tx + prev.tx_count,
                prev.first_event + prev.event_count,
                sum(len(e) for e in events),
            )
            self._settled.clear()
            t_commit = time.perf_counter()
            await asyncio.get_running_loop().run_in_executor(
                self._executor, self.store.append, Block(header, accepted, events)
            )
            metrics.commit.observe(time.perf_counter() - t_commit)
            self.head = header
            self._settled.set()
            metrics.blocks.inc()
            metrics.txs_accepted.inc(len(accepted))
            metrics.block_size.observe(len(accepted))
        now = time.perf_counter()
        for fut, outcome, t0 in outcomes:
            if isinstance(outcome, NodeError):
                metrics.txs_rejected.labels(outcome.code).inc()
                if not fut.done():
                    fut.set_exception(outcome)
                continue
            metrics.submit.observe(now - t0)
            if not fut.done():
                fut.set_result(
                    Receipt(
                        accepted[outcome].hash,
                        header.height,
                        outcome,
                        header.hash,
                        header.timestamp,
                        header.state_hash,
                        events[outcome],
                    )
                )
        if state_hash is not None:
            self._after_block(CommittedBlock(header, accepted, events))
            if self.snapshot_every and header.height % self.snapshot_every == 0:
                data = snapshots.encode(ledger)
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self.store.save_snapshot, header.height, header.state_hash, data
                )
                metrics.snapshots.inc()

    def _after_block(self, block: CommittedBlock) -> None:
        for hook in self.hooks:
            try:
                result = hook(block)
            except Exception:
                log.exception("block hook failed")
                continue
            if result is not None:
                task = asyncio.ensure_future(result)
                self._hook_tasks.add(task)
                task.add_done_callback(self._hook_done)

    def _hook_done(self, task: asyncio.Future[Any]) -> None:
        self._hook_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("block hook failed", exc_info=task.exception())
