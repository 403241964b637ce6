"""The checks of logged transactions that need no state, on worker processes.

A follower verifies every transaction it pulls from its leader: the body parses, is the
canonical JSON that was signed, hashes to the hash logged, names a known action with valid
parameters, and carries its sender's valid Ed25519 signature under the strict rules of
:mod:`astera.wire.public_keys`. None of that depends on the ledger, so it runs on a pool of
worker processes, one per core, on pages fetched ahead of the replay; the replay then only
applies. A worker answers, in log order, each transaction's decoded fields (a plain tuple,
a third of a :class:`SignedTx`'s pickle: the body and signature are not sent back), or the
reason it is not valid; :func:`signed_tx` puts a transaction back together.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final

from ..worker_lifetime import exit_with_parent
from .errors import NodeError
from .transactions import SignedTx, decode_tx

#: A logged transaction as ``/log`` serves it: hash, signed body (canonical JSON), signature.
Item = tuple[str, str, str]
#: What a worker sends back for a valid transaction: hash, sender, nonce, action, parsed
#: parameters, expiry.
Fields = tuple[str, str, int, str, dict[str, Any], int | None]
#: Transactions per task of the worker processes.
BATCH: Final = 256
#: Pages of at most this many transactions (a caught-up follower's usual page: the leader's
#: newest block) are checked in the calling process, sparing the round trip to a worker.
INLINE: Final = 16


def check(items: list[Item], chain_id: str) -> list[Fields | str]:
    """Each transaction decoded and verified, or why it is not valid (in a worker process)."""
    out: list[Fields | str] = []
    for tx_hash, body, signature in items:
        try:
            tx = decode_tx({"tx": json.loads(body), "signature": signature}, chain_id)
        except NodeError as e:
            out.append("bad signature" if e.code == "bad_signature" else f"not a valid transaction: {e}")
            continue
        except ValueError as e:
            out.append(f"not a valid transaction: {e}")
            continue
        if tx.body != body or tx.hash != tx_hash:
            out.append(f"its body is not canonical or hashes to {tx.hash}")
        else:
            out.append((tx.hash, tx.sender, tx.nonce, tx.action, tx.args, tx.expires_at))
    return out


def signed_tx(item: Item, fields: Fields) -> SignedTx:
    """The transaction ``item`` (as logged), from what a worker found it holds."""
    tx_hash, sender, nonce, action, args, expires_at = fields
    return SignedTx(tx_hash, sender, nonce, action, args, item[1], item[2], expires_at)


def _ready() -> None:
    """A worker's first task: it has started and imported this module."""


class Verifier:
    """The worker processes (one per core unless ``workers`` says otherwise)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or multiprocessing.cpu_count()
        context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self.pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)
        )

    def start(self) -> None:
        """Start the workers now, so the first page does not wait for them to import."""
        for _ in range(self.workers):
            self.pool.submit(_ready)

    def check(self, items: list[Item], chain_id: str) -> asyncio.Future[list[list[Fields | str]]]:
        """Every item checked, spread over the workers from now (or here and now, up to
        :data:`INLINE` items): the answers in order, in parts of :data:`BATCH`."""
        if len(items) <= INLINE:
            done: asyncio.Future[list[list[Fields | str]]] = asyncio.get_running_loop().create_future()
            done.set_result([check(items, chain_id)])
            return done
        return asyncio.gather(
            *(
                asyncio.wrap_future(self.pool.submit(check, items[i : i + BATCH], chain_id))
                for i in range(0, len(items), BATCH)
            )
        )

    def close(self) -> None:
        """End the workers (what is queued is dropped; a batch under way finishes, milliseconds).

        Waiting lets the pool release its queues' named semaphores now: a server stopped by
        SIGTERM ends by that signal after its shutdown (uvicorn re-raises it), with no exit
        handlers run, and the resource tracker then warned of 5 leaked semaphores."""
        self.pool.shutdown(wait=True, cancel_futures=True)
