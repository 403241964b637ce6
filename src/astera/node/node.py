"""The node: a chain (store + ledger), its sequencer, and the participants it runs itself.

:class:`Node` is what the HTTP API talks to. It owns the sequencer (the one writer),
the SSE broadcaster, the metrics, a read pool for store queries, and the node's own
signed participants: the faucet on a test network, and the liquidation keeper
(:mod:`astera.keeper.in_node`, a hook receiving every committed block). Those
participants hold ordinary keys and go through the same signing, nonce and role checks
as any client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from astera.human import duration, tokens
from astera.wire import Key, is_address, sign_tx

from . import genesis as genesis_mod
from .blocks import block_json, block_rows, jsonable
from .chain import Chain
from .errors import NodeError
from .limits import Limits, SlidingWindow, Slots
from .metrics import Metrics, Reading
from .sequencer import BlockHook, CommittedBlock, Receipt, Sequencer
from .sse import Broadcaster
from .transactions import SignedTx, decode_tx
from .views import liquidation_status

T = TypeVar("T")


class Service(Protocol):
    """Something the node runs beside the sequencer (the keeper): started after it, shown in
    ``/status``, stopped before it so it can finish what it is sending."""

    address: str

    def status(self) -> dict[str, Any]: ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Participant:
    """A key the node holds and signs with, one transaction at a time (so nonces never race)."""

    def __init__(self, key: Key, node: Node) -> None:
        self.key = key
        self.node = node
        self._lock = asyncio.Lock()

    async def send(self, action: str, params: dict[str, Any]) -> Receipt:
        async with self._lock:
            node = self.node
            nonce = node.chain.ledger.next_nonce(self.key.address)
            envelope = sign_tx(self.key, node.chain_id, nonce, action, params)
            return await node.submit(decode_tx(envelope, node.chain_id))


class Node:
    """Everything a running node holds; see the module docstring."""

    #: The leader's URL on a follower (:mod:`.follower`), which forwards transactions there.
    leader: str | None = None
    #: The height of the snapshot a follower's log starts from (0: the whole log from genesis).
    started_from: int = 0

    def __init__(
        self,
        chain: Chain,
        *,
        snapshot_every: int = 1000,
        max_block_txs: int = 5000,
        faucet_key: Key | None = None,
        keeper_key: Key | None = None,
        clock: Callable[[], float] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.chain = chain
        self.limits = limits = limits or Limits()
        self.chain_id = chain.chain_id
        self.metrics = Metrics(self.reading)
        self.broadcaster = Broadcaster()
        kwargs: dict[str, Any] = {"snapshot_every": snapshot_every, "max_block_txs": max_block_txs}
        if clock is not None:
            kwargs["clock"] = clock
        self.sequencer = Sequencer(chain, self.metrics, **kwargs)
        self.sequencer.hooks.append(self._publish)
        self.faucet_limits = genesis_mod.faucet_limits(chain.genesis)
        holds_faucet = faucet_key is not None and faucet_key.address == chain.ledger.roles.faucet
        self.faucet = Participant(faucet_key, self) if holds_faucet and faucet_key is not None else None
        #: What the faucet gave each (address, asset), and how many requests each client made,
        #: over the last ``limits.faucet_window_seconds``.
        self.faucet_given = SlidingWindow(limits.faucet_window_seconds)
        self.faucet_requests = SlidingWindow(limits.faucet_window_seconds)
        #: Open SSE streams per client.
        self.streams = Slots(limits.streams_per_client, "open streams")
        #: The key the in-node keeper liquidates with (any key: liquidations need no role).
        self.keeper_key = keeper_key
        #: Set by :func:`astera.keeper.attach`; None when the node runs without a keeper.
        self.keeper: Service | None = None
        self._reads = ThreadPoolExecutor(4, thread_name_prefix="astera-read")

    @property
    def store(self) -> Any:
        return self.chain.store

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.sequencer.start()
        if self.keeper is not None:
            self.keeper.start()

    def end_streams(self) -> None:
        """End every SSE stream (thread- and signal-safe), so a shutdown need not wait for them."""
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.broadcaster.close)

    async def stop(self) -> None:
        if self.keeper is not None:
            await self.keeper.stop()  # first: its last transactions still get their receipts
        await self.sequencer.stop()
        self.broadcaster.close()
        self._reads.shutdown(wait=True)
        self.chain.store.close()

    def add_block_hook(self, hook: BlockHook) -> None:
        """Run ``hook`` after every committed block (the keeper's entry point)."""
        self.sequencer.hooks.append(hook)

    async def submit(self, tx: SignedTx) -> Receipt:
        return await self.sequencer.submit(tx)

    def replication(self) -> dict[str, Any]:
        """What ``/status`` says of this node's place in replication: a leader sequences its log."""
        return {"role": "leader"}

    def reading(self) -> Reading:
        """What ``/metrics`` reads from the node's state at each scrape."""
        return Reading(
            self.sequencer.head.height,
            self.sequencer.queued,
            len(self.broadcaster),
            liquidation_status(self.chain.ledger.protocol),
            self.replication(),
        )

    async def ready(self) -> None:
        """Wait for a settled state to read; refuse if the node has failed."""
        await self.sequencer.settled()
        if self.sequencer.failure is not None:
            raise NodeError("unavailable", "the node's store failed; restart it")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store query on the read pool."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)

    async def mint_from_faucet(
        self, address: str, asset: str, amount: int, client: str | None = None
    ) -> Receipt:
        """Mint test funds to ``address`` with the faucet key, within the faucet's limits: per
        request and per address and window (genesis ``faucet_limits``), and per ``client`` and
        window (:class:`Limits`; ``None``: the node's own callers, not counted)."""
        if self.faucet is None:
            if self.leader is not None:  # a follower: the faucet is its leader's
                raise NodeError(
                    "faucet_disabled",
                    f"this node follows {self.leader} and holds no faucet key: ask the leader",
                    leader=self.leader,
                )
            raise NodeError("faucet_disabled", "this node does not hold the faucet key")
        if not is_address(address):
            raise NodeError("invalid_request", f"{address} is not an account address (a valid Ed25519 key)")
        limit = self.faucet_limits.get(asset)
        if limit is None:
            raise NodeError("unknown_asset", f"the faucet has no {asset}", assets=sorted(self.faucet_limits))
        if amount <= 0:
            raise NodeError("invalid_request", "the faucet amount must be at least 1 base unit")
        decimals = self.chain.ledger.protocol.decimals[asset]

        def whole(units: int) -> str:  # people read whole tokens; ``limit`` and ``available`` stay base units
            return tokens(units, decimals, asset, "exact")

        if amount > limit:
            raise NodeError(
                "faucet_limit", f"the faucet gives at most {whole(limit)} per request", limit=jsonable(limit)
            )
        window = self.limits.faucet_window_seconds
        given = self.faucet_given.used((address, asset))
        if given + amount > limit:
            raise NodeError(
                "rate_limited",
                f"this address received {whole(given)} of the {whole(limit)} the faucet gives an address "
                f"every {duration(window)}; it may ask for {whole(limit - given)} more now",
                limit=jsonable(limit),
                available=jsonable(limit - given),
            )
        if client is not None:
            per_client = self.limits.faucet_requests_per_client
            if self.faucet_requests.used(client) >= per_client:
                raise NodeError(
                    "rate_limited",
                    f"at most {per_client} faucet requests per client every {window} s",
                    limit=per_client,
                )
            self.faucet_requests.add(client, 1)
        self.faucet_given.add((address, asset), amount)
        try:
            return await self.faucet.send("mint", {"to": address, "asset": asset, "amount": str(amount)})
        except BaseException:
            self.faucet_given.remove((address, asset), amount)  # nothing was given
            raise

    def _publish(self, block: CommittedBlock) -> None:
        if len(self.broadcaster):
            self.broadcaster.publish(block_message(block))


def block_message(block: CommittedBlock) -> dict[str, Any]:
    """A committed block as the live ``/stream`` sends it: the same shape as ``/blocks/{height}``
    and the stream's backlog, so a client reads one block shape whichever way it arrived."""
    return block_json(block.header, *block_rows(block.header, block.txs, block.events))
