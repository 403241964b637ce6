"""The keeper inside the node: an ordinary signed participant that liquidates after blocks.

:func:`attach` plugs a :class:`InNodeKeeper` into a :class:`~astera.node.node.Node` as a
block hook. ``astera serve`` does so unless ``--no-keeper`` is given, with the key it keeps
in the data directory (``keys/keeper.key``). The keeper holds no role and no privilege:
each liquidation is a ``liquidate`` transaction signed with its key, checked (signature,
nonce), ordered and logged like any client's, so replaying the log (``astera verify``)
reproduces it like any other entry.

After each committed block, on the event loop:

1. **Index.** A :class:`~astera.keeper.monitor.Monitor` over the node's live protocol is
   kept current by re-reading, in every pool, the positions of the accounts the block's
   transactions name (sender, ``on_behalf_of``, ``to``, ``target``, ...): a transaction
   changes no other borrower's position. The keeper only reads the live protocol.
2. **Detect**, when something can have made an account unhealthy: a block with a
   role-gated transaction (a price, a reserve's parameters, a pause, a mint), or
   :attr:`KeeperConfig.rescan_seconds` of block time since the last detection (interest
   accrues with time alone). Detection is the monitor's exact scan. It also runs once at
   start, as soon as the node holds its newest block (a follower: the leader's head), block
   or no block: an account already below 1 on a quiet network is not left waiting.
3. **Liquidate**, when it found accounts with HF < 1: the protocol is copied (a pickle
   round trip, between two transactions) and the :class:`~astera.keeper.engine.KeeperEngine`
   runs on the copy in a worker thread. Its submitter, :class:`NodeSubmitter`, sends each
   planned liquidation as a signed transaction through the node's sequencer, waits for the
   durable receipt, and applies the same call to the copy, so the engine sees its effect
   and goes on round after round until the account is healthy, as it does in-process.

Bounded work: one run at a time, so blocks that arrive during a run only mark another
detection as due. Accounts a run could not help (unprofitable, bad debt, refused) are
*stuck*: a detection that finds only stuck accounts starts no run unless a role-gated
transaction came in since (a new price, or a mint that funds the keeper). The engine's
``max_rounds`` bounds the liquidations per account and run, each send has a timeout, and a
node that stops or does not answer ends the run. The copy costs one pickle of the state on
the event loop, and only when something is to be liquidated.

Funding: the keeper liquidates with its own balances; flash loans cannot be node
transactions (their receiver is code). The built-in network funds the keeper at genesis
(:data:`astera.node.genesis.KEEPER_BANKROLL`); elsewhere, send funds to its address (in
``/status``), e.g. through the faucet. Before each send the balance is checked on the copy:
a short one is refused locally with the token's code (``error:ERC20InsufficientBalance``),
in words (what the key holds, what the liquidation needs), and nothing is sent. That is said
and counted once: the same liquidation is held back, unsent and unreported, until what the
key holds of that asset changes. Mini-Pool tranche debt is repaid in Core aToken shares, so the keeper
first deposits the underlying into the Core (a signed ``deposit``), one basis point more
than needed so that interest accrued until that block cannot leave it short; shares left
over stay the keeper's deposit and are used first the next time.

Seized collateral: inside the node there is no market, so **the keeper keeps what it
seizes** (its wallet gains collateral and loses debt assets). The planner still sizes each
liquidation against a model market of constant-product pools (:attr:`KeeperConfig.depth_usd`
per side, re-centred on the oracle every run): it liquidates only where the collateral
would sell for the repayment plus ``margin_bps``, and shrinks sizes whose sale would slip
through the bonus. :attr:`~astera.keeper.executor.Execution.proceeds` reports that model
value; nothing is sold.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from astera.actions import ACTIONS
from astera.core import PERCENTAGE_FACTOR, Protocol, ProtocolError
from astera.core.errors import INSUFFICIENT_BALANCE
from astera.human import health_factor, pool_name, tokens
from astera.node.errors import NodeError
from astera.node.metrics import KeeperCounters
from astera.node.node import Node, Participant
from astera.node.sequencer import CommittedBlock, Receipt
from astera.wire import Key, canonical_json

from .engine import KeeperEngine, KeeperReport
from .executor import HeldBack, Outcome
from .market import Market
from .monitor import Monitor, PoolRef
from .planner import LiquidationPlan, PlannerConfig, deposit_for_shares
from .scenario import DEFAULT_DEPTH_USD, model_market
from .tables import reserve_decimals

log = logging.getLogger("astera.keeper")


@dataclass(frozen=True)
class KeeperConfig:
    """How the in-node keeper sizes liquidations and paces itself."""

    #: Profit over cost a liquidation must show against the model market, in bps of the cost.
    margin_bps: int = 50
    #: Most liquidations of one account in one run.
    max_rounds: int = 32
    #: Depth per side (USD, 8 decimals) and fee of the model pools the planner sizes against.
    depth_usd: int = DEFAULT_DEPTH_USD
    fee_bps: int = 30
    #: Block-time seconds after which a detection is due without any price or parameter change.
    rescan_seconds: int = 10
    #: Seconds to wait for a transaction's receipt before giving up the run.
    submit_timeout: float = 30.0


#: The refusal reason of a transaction not sent because the node refused the same one before.
REPEAT = "repeat"


class RunAborted(Exception):
    """The run cannot go on: the node is stopping or does not answer, or the copy no longer
    accepts what the node did. The next detection starts afresh from the node's state."""


class NodeSubmitter:
    """A :class:`~astera.keeper.executor.Submitter` that liquidates through the node.

    Runs in the keeper's worker thread against ``workspace``, a copy of the node's protocol
    taken at detection. Each liquidation is signed and sent by ``participant`` on the node's
    event loop; once the log holds it, the same call is applied to the copy at the copy's
    own time (the engine reasons about a run as a moment in which only it acts).
    """

    def __init__(
        self,
        workspace: Protocol,
        participant: Participant,
        loop: asyncio.AbstractEventLoop,
        market: Market,
        counters: KeeperCounters,
        *,
        timeout: float,
        stopping: threading.Event,
        refused: set[str] | None = None,
        unfunded: dict[tuple[PoolRef, str, str], int] | None = None,
    ) -> None:
        self.protocol = workspace
        self.participant = participant
        self.liquidator = participant.key.address
        self.loop = loop
        self.market = market
        self.counters = counters
        self.timeout = timeout
        self.stopping = stopping
        #: Transactions the node refused (their canonical text): never sent again.
        self.refused = refused if refused is not None else set()
        #: Liquidations the keeper could not fund, by (pool, account, asset short): what it held
        #: of that asset when it said so. Held back unsent and unreported while that is unchanged.
        self.unfunded = unfunded if unfunded is not None else {}

    def premium_bps(self, pool: PoolRef, pay_asset: str) -> int:
        """Own funds: no funding premium."""
        return 0

    def submit(self, plan: LiquidationPlan) -> Outcome:
        """Send ``plan`` as signed transactions; a refusal raises :class:`ProtocolError` with
        the node's reason code (nothing was logged), a stop :class:`RunAborted`; one the keeper
        said it cannot fund, while it holds as little as then, :class:`HeldBack` (not counted)."""
        p, me = self.protocol, self.liquidator
        try:
            if plan.mints_shares:
                self._deposit_for_shares(plan)
            else:
                self._require(plan, plan.pay_asset, plan.pay_amount)
            receipt = self._send("liquidate", liquidate_params(plan))
        except ProtocolError as e:
            self.counters.refusals[e.code] += 1
            raise
        self.counters.liquidations += 1
        call = next(e for e in receipt.events if e.name == "LiquidationCall")
        before = p.wallet(plan.receive_asset, me)
        self._mirror(
            lambda: p.liquidate(
                me,
                plan.user,
                plan.collateral,
                plan.debt,
                plan.debt_to_cover,
                receive_a_token=plan.write_off,
                pool=plan.pool,
                unwrap=plan.unwrap,
            )
        )
        received = p.wallet(plan.receive_asset, me) - before
        return Outcome(
            call.fields["debt_to_cover"],
            call.fields["liquidated_collateral"],
            received,
            # kept, not sold (a write-off receives nothing)
            self.market.quote(plan.receive_asset, received, plan.pay_asset) if received else 0,
        )

    def _deposit_for_shares(self, plan: LiquidationPlan) -> None:
        """Deposit enough underlying into the Core for the Core aToken shares tranche debt is repaid in."""
        p, me = self.protocol, self.liquidator
        core_reserve = p.pool(plan.pool).reserve(plan.debt).tranche_of
        assert core_reserve is not None
        short = plan.debt_repaid - core_reserve.a_scaled.get(me, 0)
        if short <= 0:
            return
        amount = deposit_for_shares(core_reserve.normalized_income(p.now), short)
        amount += amount // PERCENTAGE_FACTOR + 1  # interest accrued until the deposit's block
        self._require(plan, plan.pay_asset, amount)
        self._send("deposit", {"pool": "core", "asset": plan.pay_asset, "amount": str(amount)})
        self._mirror(lambda: p.deposit(me, plan.pay_asset, amount))

    def _require(self, plan: LiquidationPlan, asset: str, amount: int) -> None:
        """The keeper's wallet must hold ``amount`` of ``asset`` for ``plan``: if not, the token's
        refusal in plain words, said once; while the holding stays what it was, the plan is
        held back (nothing the keeper can do changes the outcome, and the person was told)."""
        have = self.protocol.wallet(asset, self.liquidator)
        short = (plan.pool, plan.user, asset)
        if have >= amount:
            self.unfunded.pop(short, None)
            return
        if self.unfunded.get(short) == have:
            raise HeldBack(f"still {have} {asset}, short of {amount}")
        self.unfunded[short] = have
        d = self.protocol.decimals[asset]
        held, needed = tokens(have, d, asset), tokens(amount, d, asset, "up")
        raise ProtocolError(
            INSUFFICIENT_BALANCE,
            f"the key holds {held}; this liquidation needs {needed}: send {asset} to the keeper's "
            f"address (on a test network: astera faucet {asset} AMOUNT --key KEYFILE); it is not "
            f"tried again until the key's {asset} changes",
        )

    def _send(self, action: str, params: dict[str, Any]) -> Receipt:
        """Sign and send one transaction on the node's loop; its receipt once durable. One the
        node refused before (another keeper got there first) is refused here, unsent (``repeat``)."""
        if self.stopping.is_set():
            raise RunAborted("the node is stopping")
        text = canonical_json([action, params])
        if text in self.refused:
            raise ProtocolError(REPEAT, f"the node refused this same {action} before; it is not sent again")
        future = asyncio.run_coroutine_threadsafe(self.participant.send(action, params), self.loop)
        try:
            return future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            raise RunAborted(f"no receipt for {action} within {self.timeout} s") from None
        except CancelledError:
            raise RunAborted(f"{action} was cancelled (the node is stopping)") from None
        except NodeError as e:
            if e.code == "unavailable":
                raise RunAborted(e.message) from None
            self.refused.add(text)
            words = e.extra.get("explanation") or e.message  # the node's plain words, without the code
            why = f"{words}; the node refused it, re-planned on the next block"
            raise ProtocolError(str(e.extra.get("reason", e.code)), why) from None

    def _mirror(self, call: Callable[[], object]) -> None:
        """Apply to the copy what the node just logged."""
        try:
            call()
        except ProtocolError as e:
            raise RunAborted(f"the copy refuses what the node logged ({e})") from None


def value(protocol: Protocol, asset: str, amount: int) -> int:
    """USD (8 decimals) of ``amount`` base units of an underlying asset at its oracle price."""
    try:
        return int(amount * protocol.price(asset) // 10 ** protocol.decimals[asset])
    except (ProtocolError, KeyError):
        return 0


def liquidate_params(plan: LiquidationPlan) -> dict[str, Any]:
    """The ``liquidate`` transaction's parameters for ``plan`` (collateral received in the
    underlying, as the planner sized it, but for a write-off, which only the aToken form makes;
    a node's reserves all have the default type)."""
    return {
        "pool": plan.pool,
        "target": plan.user,
        "collateral_asset": plan.collateral,
        "debt_asset": plan.debt,
        "debt_to_cover": str(plan.debt_to_cover),
        "unwrap": plan.unwrap,
        **({"receive_a_token": True} if plan.write_off else {}),
    }


class InNodeKeeper:
    """The keeper a node runs; see the module docstring. Built by :func:`attach`."""

    #: What sends the engine's liquidations (a dry run substitutes one that sends nothing).
    submitter_class: type[NodeSubmitter] = NodeSubmitter

    def __init__(self, node: Node, key: Key, config: KeeperConfig) -> None:
        self.node = node
        self.config = config
        self.address = key.address
        self.participant = Participant(key, node)
        self.protocol = node.chain.ledger.protocol
        self.monitor = Monitor(self.protocol)
        self.counters = KeeperCounters()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="astera-keeper")
        self._stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None
        #: The first look at the book, once the node holds its newest block (:meth:`start`).
        self._first_look: asyncio.Task[None] | None = None
        #: A detection became due while a run was in progress.
        self._due_again = False
        #: A role-gated transaction came in since the last run (True: there was no run yet).
        self._changed = True
        #: Protocol time of the last detection (None: none yet).
        self._detected_at: int | None = None
        #: Accounts the last run left unhealthy and could not help.
        self._stuck: set[tuple[PoolRef, str]] = set()
        #: Transactions the node refused, never sent again, and liquidations the keeper could
        #: not fund (:class:`NodeSubmitter`): kept across runs.
        self.refused: set[str] = set()
        self.unfunded: dict[tuple[PoolRef, str, str], int] = {}
        #: Told of every run's report: by default :meth:`log_report` (the node's log); the
        #: third-party keeper replaces it with its terminal report (one report, not two).
        self.on_report: list[Callable[[KeeperReport], None]] = [self.log_report]

    @property
    def busy(self) -> bool:
        """A run (detection and liquidations) is in progress."""
        return self._task is not None and not self._task.done()

    def status(self) -> dict[str, Any]:
        """For ``/status``: ``running`` while the keeper watches the node's blocks (from
        :func:`attach` until the node stops it), ``busy`` while a run is in progress."""
        running = not self._stopping.is_set()
        return {"address": self.address, "running": running, "busy": self.busy, **self.counters.as_dict()}

    # ---- the block hook (event loop; the protocol is exactly at the block) -----------------------

    def on_block(self, block: CommittedBlock) -> None:
        if self._stopping.is_set():
            return
        self._reindex(block)
        changed = any(ACTIONS[tx.action].role is not None for tx in block.txs)
        self._changed = self._changed or changed
        due = (
            changed
            or self._detected_at is None
            or block.header.timestamp - self._detected_at >= self.config.rescan_seconds
        )
        if due:
            self._detection_due()

    def _detection_due(self) -> None:
        """Start a run now, or another one after the run in progress."""
        if self.busy:
            self._due_again = True
        else:
            self._task = asyncio.get_running_loop().create_task(self._drive(), name="astera-keeper")

    def start(self) -> None:
        """With the node: look at the book once the node holds its newest block, block or no
        block. A (re)started keeper on a quiet network would otherwise leave an account already
        below 1 until some unrelated transaction made a block (and ``/status`` say 0 unhealthy)."""
        self._first_look = asyncio.get_running_loop().create_task(self._look_first(), name="astera-keeper")

    async def _look_first(self) -> None:
        await self.node.sequencer.caught_up()
        if self._detected_at is None and not self.busy and not self._stopping.is_set():  # no block did
            self._detection_due()

    def _reindex(self, block: CommittedBlock) -> None:
        """Re-read, in every pool, the positions of every account the block's transactions name."""
        named: set[str] = set()
        for tx in block.txs:
            named.add(tx.sender)
            named.update(ACTIONS[tx.action].accounts(tx.args))
        users = sorted(named)
        refs: list[PoolRef] = ["core", *(mp.id for mp in self.protocol.mini_pools)]
        for ref in refs:
            self.monitor.touch(ref, users)

    # ---- runs ------------------------------------------------------------------------------------

    async def _drive(self) -> None:
        """Detect and liquidate until nothing more is due."""
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping.is_set():
                self._due_again = False
                targets = self._detect()
                if not targets or (targets <= self._stuck and not self._changed):
                    return
                self._changed = False
                workspace = pickle.loads(pickle.dumps(self.protocol, pickle.HIGHEST_PROTOCOL))
                report = await loop.run_in_executor(self._worker, self._run, workspace, loop)
                self._record(report)
                if not (self._due_again or report.unfinished):
                    return
        except RunAborted as e:
            log.log(
                logging.INFO if self._stopping.is_set() else logging.WARNING, "keeper run abandoned: %s", e
            )
        except Exception:
            log.exception("keeper run failed")

    def _detect(self) -> set[tuple[PoolRef, str]]:
        """Every account with HF < 1 in the live protocol, exactly."""
        queue = self.monitor.queue()
        self._detected_at = self.protocol.now
        targets = {(q.ref, user) for q in queue for user in q.unhealthy}
        self.counters.unhealthy = len(targets)
        self.counters.unpriced = sum(len(q.unpriced) for q in queue)
        return targets

    def _run(self, workspace: Protocol, loop: asyncio.AbstractEventLoop) -> KeeperReport:
        """One engine run on ``workspace`` (worker thread)."""
        if self.address not in workspace.users:
            workspace.register_user(self.address)  # as the node does with its first transaction
        market = model_market(workspace, self.config.depth_usd, self.config.fee_bps)
        submitter = self.submitter_class(
            workspace,
            self.participant,
            loop,
            market,
            self.counters,
            timeout=self.config.submit_timeout,
            stopping=self._stopping,
            refused=self.refused,
            unfunded=self.unfunded,
        )
        config = PlannerConfig(margin_bps=self.config.margin_bps, max_rounds=self.config.max_rounds)
        return KeeperEngine(workspace, market, submitter, config).run()

    def _record(self, report: KeeperReport) -> None:
        counters = self.counters
        counters.runs += 1
        counters.unprofitable = len(report.unprofitable)
        counters.bad_debt = len({(b.pool, b.user) for b in report.bad_debt})
        self._stuck = (
            {(u.pool, u.user) for u in report.unprofitable}
            | {(b.pool, b.user) for b in report.bad_debt}
            | {(f.plan.pool, f.plan.user) for f in report.failures}
            | {(plan.pool, plan.user) for plan in report.held_back}
        )
        p = self.protocol
        for ex in report.liquidations:
            plan = ex.plan
            counters.repaid_usd += value(p, plan.pay_asset, plan.pay_amount)
            counters.seized_usd += value(p, plan.receive_asset, ex.received)
            counters.profit_usd += value(p, plan.pay_asset, ex.profit)
        for callback in self.on_report:
            callback(report)

    def log_report(self, report: KeeperReport) -> None:
        """A run's liquidations and refusals as log lines (the node's built-in keeper)."""
        p = self.protocol
        for ex in report.liquidations:
            plan = ex.plan
            if plan.write_off:
                log.info(
                    "wrote off the debt of %s in %s: no collateral left", plan.user, pool_name(plan.pool)
                )
                continue
            log.info(
                "liquidated %s in %s: repaid %s, took %s, health factor now %s",
                plan.user,
                pool_name(plan.pool),
                tokens(ex.debt_repaid, reserve_decimals(p, plan.pool, plan.debt), plan.debt, "exact"),
                tokens(
                    ex.collateral_taken,
                    reserve_decimals(p, plan.pool, plan.collateral),
                    plan.collateral,
                    "exact",
                ),
                health_factor(ex.health_factor_after),
            )
        for f in report.failures:
            where = pool_name(f.plan.pool)
            log.warning("liquidation of %s in %s refused: %s (%s)", f.plan.user, where, f.text, f.reason)

    # ---- lifecycle -------------------------------------------------------------------------------

    async def idle(self) -> None:
        """Wait until the first look (if started) is done and no run is in progress."""
        if self._first_look is not None and not self._first_look.done():
            await asyncio.wait([self._first_look])
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def stop(self) -> None:
        """Let the current run end (it sends nothing more), then stop the worker thread."""
        self._stopping.set()
        if self._first_look is not None:
            self._first_look.cancel()  # it may wait for a leader that does not answer
        await self.idle()
        self._worker.shutdown(wait=True)


def attach(
    node: Node,
    key: Key | None = None,
    config: KeeperConfig | None = None,
    kind: type[InNodeKeeper] = InNodeKeeper,
) -> InNodeKeeper:
    """Run a keeper (of class ``kind``) inside ``node``, signing with ``key`` (default: the
    node's ``keeper_key``)."""
    key = key or node.keeper_key
    if key is None:
        raise ValueError("no keeper key: pass one, or build the node with keeper_key")
    if node.keeper is not None:
        raise ValueError("this node already runs a keeper")
    keeper = kind(node, key, config or KeeperConfig())
    node.keeper = keeper
    node.metrics.keeper = keeper.counters
    node.add_block_hook(keeper.on_block)
    return keeper
