"""The replicated state: the protocol core plus each sender's next nonce.

A block's state hash commits to both (:meth:`Ledger.state_hash`): the core's state hash and a
running multiset hash of the nonces (:mod:`astera.core.state_digest`'s AdHash, updated as
each nonce moves). So a snapshot proved against a block's state hash proves its nonces too,
and a follower starting from one cannot be handed nonces that let old transactions replay.

The ledger applies signed transactions one at a time, in log order, at the block's
timestamp. Each transaction is checked (nonce, role) and then run atomically inside
the core; a refusal leaves everything as it was, including the nonce, and the
transaction is not logged. So every logged transaction succeeded, and replaying the
log from genesis reproduces the state exactly (checked against each block's hash).

A refused but well-signed transaction does **not** consume its nonce: the sender
fixes it and sends the same nonce again. (A chain would include it as failed; we chose
"refusals change nothing" so that the log holds only effective transactions.) So that
such a body cannot go through long after its author gave up on it, a transaction may
carry ``expires_at``: past that block time it is refused (``expired``); the client sets
one by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from astera.actions import ACTIONS, Action
from astera.core import Event, Protocol, ProtocolError
from astera.core.state_digest import DIGEST_BYTES, entry_hash, map_sum
from astera.human import explain

from .actions import refusal, role_holder
from .errors import NodeError
from .transactions import SignedTx


@dataclass(frozen=True)
class NodeRoles:
    """Roles the core does not know about: price updates and the test-network faucet."""

    oracle: str
    faucet: str


#: The nonces' label in their multiset hash.
NONCES = "nonces"
_MODULUS_MASK = (1 << (8 * DIGEST_BYTES)) - 1


class Ledger:
    """Protocol state + nonces; the only thing the sequencer and the replayer mutate."""

    __slots__ = ("protocol", "roles", "nonces", "_nonce_sum", "_block_start")

    def __init__(self, protocol: Protocol, roles: NodeRoles, nonces: dict[str, int] | None = None) -> None:
        self.protocol = protocol
        self.roles = roles
        #: sender -> the nonce its next transaction must carry (absent = 0). Written only by
        #: :meth:`apply`, which keeps :attr:`_nonce_sum` current.
        self.nonces: dict[str, int] = dict(nonces or {})
        self._nonce_sum = map_sum(NONCES, self.nonces.items())
        self._block_start: int | None = None

    def next_nonce(self, address: str) -> int:
        return self.nonces.get(address, 0)

    def state_hash(self, incremental: bool = True) -> str:
        """What a block's header commits to: SHA-256 of the core's state hash and the nonces'
        multiset hash (O(reserves) plus what changed since the last hash). ``incremental=False``
        recomputes both from scratch (to check the running ones)."""
        total = self._nonce_sum if incremental else map_sum(NONCES, self.nonces.items())
        core = self.protocol.state_hash(incremental)
        return hashlib.sha256(f"{core}/{total.to_bytes(DIGEST_BYTES, 'little').hex()}".encode()).hexdigest()

    # ---- blocks ----------------------------------------------------------------------------------

    def open_block(self, timestamp: int) -> None:
        """Move the protocol clock to the block's timestamp (never backwards)."""
        self._block_start = self.protocol.now
        self.protocol.set_time(timestamp)

    def close_block(self, accepted: int, state_hash: bool = True) -> str | None:
        """The block's state hash, or None when it accepted nothing (then the clock is restored).

        ``state_hash=False`` skips hashing (a restart replaying blocks whose hashes it trusts
        up to the last one) and returns an empty string.
        """
        start, self._block_start = self._block_start, None
        if accepted == 0:
            assert start is not None
            # No transaction: the block is not written, so the clock must not have moved either.
            self.protocol.world.rewind(start)
            return None
        return self.state_hash() if state_hash else ""

    # ---- transactions ----------------------------------------------------------------------------

    def apply(self, tx: SignedTx) -> list[Event]:
        """Check and run one transaction; its events, or a :class:`NodeError` (nothing changed)."""
        expected = self.nonces.get(tx.sender, 0)
        if tx.nonce != expected:
            raise NodeError("bad_nonce", f"nonce {tx.nonce}, expected {expected}", expected=expected)
        now = self.protocol.now
        if tx.expires_at is not None and now > tx.expires_at:
            raise NodeError(
                "expired",
                f"expired at {tx.expires_at}; the block time is {now}: sign it again with a new expiry",
                expires_at=tx.expires_at,
                block_time=now,
            )
        events = self.execute(tx.sender, tx.action, tx.args)
        self.nonces[tx.sender] = expected + 1
        added = entry_hash(NONCES, tx.sender, expected + 1) - entry_hash(NONCES, tx.sender, expected)
        self._nonce_sum = (self._nonce_sum + added) & _MODULUS_MASK
        return events

    def execute(self, sender: str, name: str, args: dict[str, Any]) -> list[Event]:
        """Run one parsed action for ``sender`` after its role check, atomically: the part of
        :meth:`apply` after the nonce, and what ``POST /simulate`` runs. A refusal is a
        :class:`NodeError` (explained in plain words) and changes nothing."""
        action = ACTIONS[name]
        p = self.protocol
        if action.role is not None:
            holder = role_holder(p, action.role, args, self.roles.oracle, self.roles.faucet)
            if sender != holder:
                raise NodeError(
                    "unauthorized", f"{name} needs the {action.role.value} key", role=action.role.value
                )
        try:
            with p.transaction():
                return self._execute(action, sender, args)
        except ProtocolError as e:
            raise refusal(e, explain(p, sender, name, args, e, self.runner(sender, name))) from None

    def runner(self, sender: str, name: str) -> Callable[[dict[str, Any]], list[Event]]:
        """Runs action ``name`` for ``sender`` with given parameters on the protocol, as
        :meth:`execute` does but without its role check, transaction or explanation: what a
        search for the most an action takes dry-runs (:mod:`astera.human.refusals`)."""
        return partial(self._execute, ACTIONS[name], sender)

    def _execute(self, action: Action, sender: str, args: dict[str, Any]) -> list[Event]:
        """Run an action on the protocol (inside the caller's transaction), registering the
        accounts it names first (journaled: a refusal un-registers them too)."""
        p = self.protocol
        for address in (sender, *action.accounts(args)):
            if address not in p.users:
                p.register_user(address)
        return action.run(p, sender, args) or []
