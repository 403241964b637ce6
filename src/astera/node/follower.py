"""A follower node: the leader's log pulled over HTTP, verified by replay, stored and served.

``astera serve --follow URL`` opens its own store (SQLite by default, PostgreSQL with
``--db``), takes the genesis from the leader (``GET /genesis``) when the store is new,
and then pulls blocks (``GET /log``, :mod:`.replication`) from the height it has
verified. Every block is checked before anything of it is stored or served:

* it extends the verified chain (height, parent hash, timestamp not going back); at
  start-up the leader's copy of the verified head must be the same block, so a leader
  that changed a block it served before is caught;
* every transaction's body is canonical, hashes to the hash logged, and carries its
  sender's valid Ed25519 signature (checked in worker processes, on every core, on pages
  fetched ahead while the previous pages are being replayed: :mod:`.verifier`);
* replayed on the follower's own ledger, every transaction succeeds with the sender's
  next nonce and role, and the block's state hash, block hash and transaction and event
  counts come out as the leader's header says.

A page of verified blocks is written in one database transaction, and only once it is
durable do reads see it (as on the leader: the API waits for a settled state), so a
``kill -9`` loses nothing the follower has served, and a restart resumes after its last
durable block (snapshots every ``snapshot_every`` blocks make that fast, as on the
leader). A block that does not verify stops the follower: the verified prefix is kept,
:attr:`Follower.failure` says which height and what differed, state reads answer 503
``unavailable`` with that report, and ``astera serve`` exits with it.

Transactions posted to a follower are checked (format, signature) and forwarded to the
leader; the answer is the leader's refusal, or the receipt once the follower has itself
verified the block that holds the transaction, with ``forwarded_to`` naming the leader.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from astera.core import Event

from . import genesis as genesis_mod
from . import snapshots
from .blocks import Block, Header, block_hash
from .chain import Chain, open_chain
from .errors import STATUS, NodeError
from .ledger import Ledger, NodeRoles
from .limits import Limits
from .lock import open_locked_store
from .metrics import Metrics
from .node import Node
from .sequencer import CommittedBlock, Receipt, Sequencer
from .transactions import SignedTx
from .verifier import Fields, Verifier, signed_tx

log = logging.getLogger("astera.follower")

#: Blocks and (softly: a block is never split) transactions asked for per request, and
#: seconds a caught-up request waits for the next block. Pages of a few thousand
#: transactions keep the workers, the replay and the store busy at once.
PAGE_BLOCKS: Final = 500
PAGE_TXS: Final = 2000
LONG_POLL: Final = 10.0
#: Pages fetched and being checked by the workers ahead of the replay.
PREFETCH: Final = 4
#: Seconds a forwarded transaction's block may take to reach the follower.
RECEIPT_TIMEOUT: Final = 30.0


class VerificationFailed(Exception):
    """The leader served something that does not verify; the follower stops."""

    def __init__(self, height: int, what: str) -> None:
        super().__init__(f"block {height}: {what}")
        self.height = height
        self.what = what


class LeaderUnreachable(Exception):
    """The leader does not answer (the follower retries); the message says why in plain words."""


class RateLimited(LeaderUnreachable):
    """The leader answered, refusing for now (429 ``rate_limited``: e.g. all the stream slots of
    this host's address are held); retried, with a growing pause, like a silence, but the
    leader is not silent."""


def no_answer(url: str, e: httpx.HTTPError, who: str = "node") -> str:
    """Why the ``who`` at ``url`` gave no answer, in plain words (not the exception's repr)."""
    if isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout)):
        return f"no node answers at {url}"
    if isinstance(e, httpx.TimeoutException):
        return f"the {who} at {url} did not answer in time"
    if isinstance(e, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return f"the {who} at {url} closed the connection without answering"
    return f"the request to the {who} at {url} failed ({type(e).__name__}: {e})"


def refusal_text(r: httpx.Response) -> str:
    """A non-200 answer in plain words: its status and the node's error message if it sent one."""
    try:
        err = r.json()["error"]
        said = f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        said = r.text[:200]
    return f"{r.request.url.copy_with(query=None)} answered {r.status_code} ({said})"


@dataclass(frozen=True)
class WireBlock:
    """A block as ``/log`` serves it, not yet verified."""

    header: Header
    txs: list[tuple[str, str, str]]  # hash, body, signature


def wire_block(item: dict[str, Any]) -> WireBlock:
    """Parse one ``/log`` block; anything malformed is a verification failure at its height."""
    height = item.get("height", "?") if isinstance(item, dict) else "?"
    try:
        header = Header(
            int(item["height"]),
            int(item["timestamp"]),
            str(item["prev_hash"]),
            str(item["state_hash"]),
            str(item["hash"]),
            int(item["tx_count"]),
            int(item["first_tx"]),
            int(item["first_event"]),
            int(item["event_count"]),
        )
        txs = [(str(h), str(b), str(s)) for h, b, s in item["txs"]]
    except (KeyError, TypeError, ValueError) as e:
        raise VerificationFailed(
            height if isinstance(height, int) else -1, f"malformed block ({e!r})"
        ) from None
    return WireBlock(header, txs)


class Leader:
    """The HTTP client of the node followed."""

    def __init__(self, url: str, timeout: float = LONG_POLL + 20) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, timeout=timeout)

    async def close(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, **params: Any) -> Any:
        try:
            r = await self.http.get(path, params=params)
        except httpx.HTTPError as e:
            raise LeaderUnreachable(no_answer(self.url, e)) from None
        if r.status_code == 429:
            raise RateLimited(refusal_text(r))
        if r.status_code != 200:
            raise LeaderUnreachable(refusal_text(r))
        try:
            return r.json()
        except ValueError:
            raise LeaderUnreachable(f"{self.url}{path} answered something that is not JSON") from None

    async def genesis(self) -> dict[str, Any]:
        doc: dict[str, Any] = await self._get("/genesis")
        return doc

    async def header(self, height: int) -> dict[str, Any]:
        block: dict[str, Any] = await self._get(f"/blocks/{height}")
        return block

    async def log(self, after: int, wait: float, limit: int = PAGE_BLOCKS) -> tuple[int, list[WireBlock]]:
        page = await self._get("/log", after=after, limit=limit, txs=PAGE_TXS, wait=wait)
        if not isinstance(page, dict) or not isinstance(page.get("blocks"), list):
            raise LeaderUnreachable(f"{self.url}/log: not a page of blocks")
        return int(page.get("head", 0)), [wire_block(b) for b in page["blocks"]]

    async def snapshot(self) -> tuple[int, str, bytes] | None:
        """The leader's newest snapshot (height, state hash it claims, bytes); None if it has none."""
        try:
            r = await self.http.get("/snapshot")
        except httpx.HTTPError as e:
            raise LeaderUnreachable(no_answer(self.url, e)) from None
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise LeaderUnreachable(refusal_text(r))
        try:
            return int(r.headers["X-Astera-Height"]), r.headers["X-Astera-State-Hash"], r.content
        except (KeyError, ValueError):
            raise VerificationFailed(0, "the leader's snapshot does not say its height") from None

    async def submit(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """POST the transaction; the leader's receipt, or its refusal as a :class:`NodeError`.
        A leader that cannot be reached is ``unavailable``, saying whether the transaction may
        have reached it: nothing was sent when no connection opened; when the connection broke
        after sending, the leader may have logged it (a resend is safe: its nonce is used once)."""
        try:
            r = await self.http.post("/txs", json=envelope)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise NodeError(
                "unavailable",
                f"the leader at {self.url} does not answer; nothing was sent or recorded",
                leader=self.url,
            ) from None
        except httpx.HTTPError as e:
            raise NodeError(
                "unavailable",
                f"{no_answer(self.url, e, 'leader')} after the transaction was sent: it may or may "
                "not be logged (look it up by hash before sending it again)",
                leader=self.url,
            ) from None
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code == 200 and isinstance(body, dict):
            answer: dict[str, Any] = body
            return answer
        err = dict(body.get("error", {})) if isinstance(body, dict) else {}
        code, message = err.pop("code", "unavailable"), err.pop("message", None) or refusal_text(r)
        if code not in STATUS:
            code = "unavailable"
        err["forwarded_to"] = self.url  # this node's leader (a leader's own follower says its own)
        raise NodeError(code, message, **err)


@dataclass
class Page:
    """Fetched blocks, their transactions' checks under way on the workers."""

    blocks: list[WireBlock]
    checked: asyncio.Future[list[list[Fields | str]]]
    failure: VerificationFailed | None = None


def apply_block(ledger: Ledger, prev: Header, wire: WireBlock, txs: list[SignedTx]) -> Block:
    """Replay one block on ``ledger`` after the verified ``prev``; the block as the follower
    computed it, or :class:`VerificationFailed` saying what differs from the leader's header."""
    h = wire.header
    fail = VerificationFailed
    if h.height != prev.height + 1:
        raise fail(h.height, f"expected block {prev.height + 1} after the verified block {prev.height}")
    if h.prev_hash != prev.hash:
        raise fail(
            h.height,
            f"parent hash {h.prev_hash} but the verified block {prev.height} is {prev.hash}: "
            "the leader's history differs from what was verified",
        )
    if h.timestamp < prev.timestamp:
        raise fail(h.height, f"timestamp {h.timestamp} goes back from {prev.timestamp}")
    ledger.open_block(h.timestamp)
    events: list[list[Event]] = []
    for index, tx in enumerate(txs):
        try:
            events.append(ledger.apply(tx))
        except NodeError as e:
            raise fail(h.height, f"transaction {index} ({tx.hash}) does not replay: {e}") from None
    state_hash = ledger.close_block(len(txs))
    if state_hash is None:
        raise fail(h.height, "a block without transactions")
    computed = Header(
        h.height,
        h.timestamp,
        prev.hash,
        state_hash,
        block_hash(h.height, h.timestamp, prev.hash, state_hash, [tx.hash for tx in txs]),
        len(txs),
        prev.first_tx + prev.tx_count,
        prev.first_event + prev.event_count,
        sum(len(e) for e in events),
    )
    if state_hash != h.state_hash:
        raise fail(h.height, f"state hash: the leader says {h.state_hash}, the replay gives {state_hash}")
    if computed != h:
        differs = [f for f in h.as_dict() if getattr(computed, f) != getattr(h, f)]
        differs += [f for f in ("first_tx", "first_event") if getattr(computed, f) != getattr(h, f)]
        raise fail(
            h.height,
            "header fields differ from the replay: "
            + ", ".join(f"{f} {getattr(h, f)} != {getattr(computed, f)}" for f in differs),
        )
    return Block(computed, txs, events)


class Follower(Sequencer):
    """Stands where a leader's sequencer stands: the one writer of the follower's ledger and
    store, fed by the leader's log instead of by submissions. Hooks (SSE, a keeper) get each
    block once it is durable, as on the leader."""

    def __init__(
        self,
        chain: Chain,
        metrics: Metrics,
        leader: Leader,
        *,
        snapshot_every: int = 1000,
        verifier: Verifier | None = None,
    ) -> None:
        super().__init__(chain, metrics, snapshot_every=snapshot_every)
        self.leader = leader
        self.verifier = verifier or Verifier()
        #: Told of the failure that stopped the follower (``astera serve`` exits).
        self.on_failure: list[Callable[[VerificationFailed], None]] = []
        #: Receipts awaited for forwarded transactions, by hash.
        self._awaited: dict[str, asyncio.Future[Receipt]] = {}
        #: When each block reached the follower verified and durable (for lag measurements).
        self.arrivals: deque[tuple[int, float]] = deque(maxlen=4096)
        #: The leader's head as last heard, and since when (monotonic) the follower has been
        #: behind it (None: it holds the leader's head).
        self.leader_head = chain.head.height
        self.behind_since: float | None = None
        #: Whether the leader answered the last request (None: not asked yet), since when (Unix
        #: time) it has not, and why, in plain words (:func:`no_answer`).
        self.leader_answers: bool | None = None
        self.silent_since: float | None = None
        self.leader_error: str | None = None
        #: Why the leader refuses this follower's polls for now (429), while it does; else None.
        self.rate_limited: str | None = None
        #: Set once the follower has held the leader's head as the leader last said it.
        self._at_leader_head = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self.verifier.start()
        super().start()

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
        for task in list(self._hook_tasks):
            task.cancel()
        self._fail_awaited("the follower stopped")
        self.verifier.close()
        self._executor.shutdown(wait=True)
        await self.leader.close()

    # ---- forwarding ------------------------------------------------------------------------------

    async def submit(self, tx: SignedTx) -> Receipt:
        """Forward to the leader; the receipt once this follower has verified its block."""
        if self._stopping or self.failure is not None:
            raise NodeError("unavailable", "the follower is not running; send to the leader")
        fut = self._awaited.get(tx.hash)
        if fut is None:
            fut = self._awaited[tx.hash] = asyncio.get_running_loop().create_future()
        try:
            await self.leader.submit({"tx": json.loads(tx.body), "signature": tx.signature})
            return await asyncio.wait_for(asyncio.shield(fut), RECEIPT_TIMEOUT)
        except TimeoutError:
            raise NodeError(
                "unavailable",
                f"the leader accepted {tx.hash}, but its block did not reach this follower "
                f"within {RECEIPT_TIMEOUT:.0f} s",
            ) from None
        finally:
            if self._awaited.get(tx.hash) is fut:
                del self._awaited[tx.hash]

    def _fail_awaited(self, why: str) -> None:
        for fut in self._awaited.values():
            if not fut.done():
                fut.set_exception(NodeError("unavailable", why))
        self._awaited.clear()

    # ---- the leader's answers --------------------------------------------------------------------

    def _answered(self) -> None:
        """The leader answered: it is heard again if it was silent (logged once)."""
        if self.silent_since is not None:
            log.warning(
                "the leader %s answers again (silent for %.1f s)",
                self.leader.url,
                time.time() - self.silent_since,
            )
        self.leader_answers, self.silent_since, self.leader_error = True, None, None

    def _refused_for_now(self, e: RateLimited) -> None:
        """The leader answered but refused the poll (429): it is heard; the refusal is logged
        once, until a poll goes through."""
        self._answered()
        if self.rate_limited is None:
            log.warning("rate limited by the leader, retrying with a growing pause: %s", e)
        self.rate_limited = str(e)

    def _unanswered(self, e: LeaderUnreachable) -> None:
        """The leader did not answer: remember since when and why (logged when the reason changes,
        not at every retry)."""
        if self.silent_since is None:
            self.silent_since = time.time()
        if str(e) != self.leader_error:
            log.warning("the leader does not answer, retrying until it does: %s", e)
        self.leader_answers, self.leader_error = False, str(e)

    # ---- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        pages: asyncio.Queue[Page] = asyncio.Queue(PREFETCH)
        fetcher = asyncio.get_running_loop().create_task(self._fetch(pages), name="astera-follower-fetch")
        try:
            while True:
                page = await pages.get()
                await self._import(page)
        except VerificationFailed as e:
            self._stop_on(e)
        except Exception as e:  # the store failed, or a bug: nothing more is verified
            log.exception("follower stopped")
            self._stop_on(VerificationFailed(self.head.height + 1, f"the follower failed: {e!r}"))
        finally:
            fetcher.cancel()

    def _stop_on(self, failure: VerificationFailed) -> None:
        self.failure = failure
        self._settled.set()
        log.error(
            "FOLLOWER STOPPED at block %d: %s (verified and durable up to block %d; leader %s)",
            failure.height,
            failure.what,
            self.head.height,
            self.leader.url,
        )
        self._fail_awaited(f"the follower stopped: {failure}")
        for callback in self.on_failure:
            callback(failure)

    async def _fetch(self, pages: asyncio.Queue[Page]) -> None:
        """Pull pages from the leader ahead of the replay and start their signature checks; a
        failure found here travels to the replay as a page, after the pages before it."""
        try:
            await self._pull(pages)
        except VerificationFailed as e:
            await pages.put(Page([], _done([]), e))
        except Exception as e:  # a bug: stop rather than hang
            log.exception("follower fetch failed")
            await pages.put(Page([], _done([]), VerificationFailed(self.head.height + 1, repr(e))))

    async def _pull(self, pages: asyncio.Queue[Page]) -> None:
        await self._check_leader_has_head()
        after, backoff = self.head.height, 0.2
        while True:
            try:
                # A long poll once caught up; a quick one after a silence, so that the leader's
                # return is known at once (a long poll answers only when a block comes).
                caught_up = after >= self.leader_head and self.leader_answers
                head, blocks = await self.leader.log(after, LONG_POLL if caught_up else 0)
            except LeaderUnreachable as e:
                if isinstance(e, RateLimited):
                    self._refused_for_now(e)
                else:
                    self._unanswered(e)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._answered()
            self.rate_limited, backoff = None, 0.2
            self.leader_head = head
            if head <= self.head.height:
                self._at_leader_head.set()
            if head > self.head.height and self.behind_since is None:
                self.behind_since = time.monotonic()
            if not blocks:
                continue
            items = [item for block in blocks for item in block.txs]
            await pages.put(Page(blocks, self.verifier.check(items, self.chain_id)))
            after = blocks[-1].header.height

    async def _check_leader_has_head(self) -> None:
        """The leader's block at the verified head must be the very block verified."""
        ours = self.head
        while True:
            try:
                theirs = await self.leader.header(ours.height)
                break
            except LeaderUnreachable as e:
                self._unanswered(e)
                await asyncio.sleep(1.0)
        self._answered()
        differs = [f"{k} {theirs.get(k)} != {v}" for k, v in ours.as_dict().items() if theirs.get(k) != v]
        if differs:
            raise VerificationFailed(
                ours.height,
                "the leader changed a block it served before (the leader's != the verified): "
                + ", ".join(differs),
            )

    async def caught_up(self) -> None:
        """Wait until the follower has verified the leader's head (as the leader last said it),
        settled: before, the state is a past one and plans on it would only be refused."""
        await self._at_leader_head.wait()
        await self.settled()

    @property
    def chain_id(self) -> str:
        return self.chain.chain_id

    async def _import(self, page: Page) -> None:
        """Verify and replay a page, write what verified in one transaction, then publish it."""
        verified: list[Block] = []
        failure = page.failure
        checked = iter([result for part in await page.checked for result in part])
        self._settled.clear()
        try:
            prev = self.head
            for wire in page.blocks:
                txs = []
                for index, item in enumerate(wire.txs):
                    fields = next(checked)
                    if isinstance(fields, str):
                        raise VerificationFailed(
                            wire.header.height, f"transaction {index} ({item[0]}): {fields}"
                        )
                    txs.append(signed_tx(item, fields))
                block = apply_block(self.ledger, prev, wire, txs)
                verified.append(block)
                prev = block.header
        except VerificationFailed as e:
            failure = e
        if verified:
            await self._commit(verified)
        self._settled.set()
        if failure is not None:
            raise failure

    async def _commit(self, blocks: list[Block]) -> None:
        loop, metrics = asyncio.get_running_loop(), self.metrics
        t0 = time.perf_counter()
        await loop.run_in_executor(self._executor, self.store.append_all, blocks)
        metrics.commit.observe(time.perf_counter() - t0)
        now = time.time()
        last = blocks[-1].header
        crossed = (
            self.snapshot_every
            and last.height // self.snapshot_every > self.head.height // self.snapshot_every
        )
        self.head = last
        if last.height >= self.leader_head:
            self.behind_since = None
            self._at_leader_head.set()
        for block in blocks:
            h = block.header
            self.arrivals.append((h.height, now))
            metrics.blocks.inc()
            metrics.txs_accepted.inc(len(block.txs))
            metrics.block_size.observe(len(block.txs))
            for index, tx in enumerate(block.txs):
                fut = self._awaited.get(tx.hash)
                if fut is not None and not fut.done():
                    fut.set_result(
                        Receipt(
                            tx.hash, h.height, index, h.hash, h.timestamp, h.state_hash, block.events[index]
                        )
                    )
            self._after_block(CommittedBlock(h, block.txs, block.events))
        if crossed:
            data = snapshots.encode(self.ledger)
            await loop.run_in_executor(
                self._executor, self.store.save_snapshot, last.height, last.state_hash, data
            )
            metrics.snapshots.inc()


def _done(value: Any) -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut


class FollowerNode(Node):
    """A :class:`Node` whose blocks come from a leader (see the module docstring)."""

    def __init__(
        self,
        chain: Chain,
        leader: Leader,
        *,
        snapshot_every: int = 1000,
        keeper_key: Any = None,
        limits: Limits | None = None,
        verifier: Verifier | None = None,
    ) -> None:
        super().__init__(chain, snapshot_every=snapshot_every, keeper_key=keeper_key, limits=limits)
        self.leader = leader.url
        self.started_from = chain.store.base()
        self.follower = Follower(
            chain, self.metrics, leader, snapshot_every=snapshot_every, verifier=verifier
        )
        self.sequencer = self.follower
        self.sequencer.hooks.append(self._publish)

    def replication(self) -> dict[str, Any]:
        """A follower: its leader; whether the leader answered the last request, and if not since
        when (Unix time), for how long and why; the leader's head as last heard; how far behind
        the follower is (in blocks, and for how long), or None while the leader does not answer
        (the follower cannot know); and the snapshot it started from (0: genesis)."""
        f = self.follower
        since, silent = f.behind_since, f.silent_since
        known = f.leader_answers is True
        return {
            "role": "follower",
            "leader": self.leader,
            "leader_answers": f.leader_answers,
            "leader_silent_since": None if silent is None else round(silent, 3),
            "leader_silent_seconds": None if silent is None else round(time.time() - silent, 3),
            "leader_error": f.leader_error,
            "leader_height": max(f.leader_head, f.head.height),
            "behind_blocks": max(0, f.leader_head - f.head.height) if known else None,
            "lag_seconds": (0.0 if since is None else round(time.monotonic() - since, 3)) if known else None,
            "started_from": self.started_from,
        }

    async def ready(self) -> None:
        await self.sequencer.settled()
        failure = self.follower.failure
        if failure is not None:
            raise NodeError("unavailable", f"the follower stopped: {failure}")


async def proved_snapshot(leader: Leader, roles: NodeRoles) -> tuple[Header, bytes, Ledger] | None:
    """The leader's newest snapshot, proved against its log: the block at its height, whose
    hash its header fields and transactions reproduce, records the state hash the snapshot's
    ledger (protocol and nonces) hashes to. None when the leader has no snapshot."""
    found = await leader.snapshot()
    if found is None or found[0] < 1:
        return None
    height, claimed, data = found
    _, blocks = await leader.log(height - 1, 0, limit=1)
    if not blocks or blocks[0].header.height != height:
        raise VerificationFailed(height, "the leader serves a snapshot of a block it does not serve")
    h, tx_hashes = blocks[0].header, [tx_hash for tx_hash, _, _ in blocks[0].txs]
    if (
        len(tx_hashes) != h.tx_count
        or block_hash(h.height, h.timestamp, h.prev_hash, h.state_hash, tx_hashes) != h.hash
    ):
        raise VerificationFailed(height, "the block's hash is not that of its header and transactions")
    if claimed != h.state_hash:
        raise VerificationFailed(
            height, f"the snapshot claims state {claimed}, the block says {h.state_hash}"
        )
    try:
        return h, data, snapshots.proved(data, roles, h.state_hash)
    except snapshots.BadSnapshot as e:
        raise VerificationFailed(height, f"the leader's snapshot: {e}") from None


async def bootstrap(
    url: str, genesis: dict[str, Any] | None, from_snapshot: bool
) -> tuple[dict[str, Any], tuple[Header, bytes, Ledger] | None]:
    """What a new follower starts from: the genesis (``genesis``, or the leader's) and, with
    ``from_snapshot``, the leader's newest snapshot proved against its log (if it has one)."""
    leader = Leader(url)
    try:
        doc = genesis if genesis is not None else await leader.genesis()
        base = await proved_snapshot(leader, genesis_mod.build(doc).roles) if from_snapshot else None
        return doc, base
    finally:
        await leader.close()


def open_follower(
    url: str,
    data: Path,
    db: str | None = None,
    *,
    snapshot_every: int = 1000,
    genesis: dict[str, Any] | None = None,
    keeper_key: Any = None,
    verifier: Verifier | None = None,
    from_snapshot: bool = False,
) -> FollowerNode:
    """Open (or create) the follower's store in ``data`` (or ``db``) and build the node; a new
    store starts from ``genesis``, or the leader's when none is given, and with
    ``from_snapshot`` from the leader's newest snapshot once proved (:func:`proved_snapshot`;
    nothing is written if it does not prove)."""
    store = open_locked_store(data, db)
    try:
        doc, base = genesis, None
        if store.genesis_json() is None and (doc is None or from_snapshot):
            doc, base = asyncio.run(bootstrap(url, doc, from_snapshot))
        chain = open_chain(store, doc)
        if store.genesis_json() != genesis_mod.genesis_text(chain.genesis):
            raise VerificationFailed(0, "the stored genesis is not the one given")
        if base is not None:
            header, data_bytes, ledger = base
            store.start_at_snapshot(header, header.state_hash, data_bytes)
            chain = Chain(store, chain.genesis, chain.chain_id, ledger, header)
            log.info(
                "starting from the leader's snapshot at block %d, proved by its state hash", header.height
            )
    except BaseException:
        store.close()
        raise
    return FollowerNode(
        chain, Leader(url), snapshot_every=snapshot_every, keeper_key=keeper_key, verifier=verifier
    )
