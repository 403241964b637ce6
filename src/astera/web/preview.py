"""Exact previews: what one unsigned transaction would do, and the most an action takes, from
the node's dry run.

:func:`preview` is a thin shape over :func:`astera.node.simulate.simulate` (``POST /simulate``:
the same checks as a signed transaction, run by the core at the next block's time and rolled
back) for one transaction: the sender's account after it and the reserve it names, or the
refusal as ``POST /txs`` would answer it (in plain words, with the most the action allows).

:func:`most` sizes a deposit, withdrawal, borrow or repayment from that same block time on: the
largest amount whose dry run the core accepts (:func:`astera.human.refusals.most_accepted`) at
every block of the next minute, so a page's "max" is exact in base units, never estimated in
floats, and still accepted when the person signs it a little later.
"""

from __future__ import annotations

from typing import Any, Final

from astera.core import Protocol, ProtocolError
from astera.core.errors import InputError
from astera.human.refusals import Most, most_accepted, pool_name
from astera.node.errors import NodeError
from astera.node.node import Node
from astera.node.simulate import simulate

#: Seconds after the next block during which a "max" figure stays accepted (see :func:`most`).
MAX_WINDOW: Final = 60


def next_block_time(node: Node) -> int:
    """The timestamp the next block would carry if made now (what ``POST /simulate`` runs at)."""
    return max(node.sequencer.head.timestamp, int(node.sequencer.clock()))


def preview(node: Node, sender: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
    run = simulate(
        node, {"txs": [{"sender": sender, "action": action, "params": params}]}, int(node.sequencer.clock())
    )
    (result,) = run["results"]
    if not result["ok"]:
        return {"action": action, "refused": result["error"]}
    return {
        "action": action,
        "refused": None,
        "events": result["events"],
        "account": run["accounts"][sender],
        "reserve": run["reserves"][0] if run["reserves"] else None,
    }


def most(node: Node, sender: str, action: str, params: dict[str, Any], keep_hf: int = 0) -> tuple[int, Most]:
    """(block time, the most ``action`` of ``sender`` with ``params`` (``pool``, ``asset``, and
    ``unwrap`` for a tranche's borrow or withdrawal paid out in the Core-Pool asset) takes at
    that time and at every block time up to :data:`MAX_WINDOW` seconds later). Interest moves
    the most every second (a debt's growth shrinks what can still be borrowed or withdrawn), so
    the figure at the next block alone is refused by a block a few seconds later, when the person
    has read the preview and signed: this one is accepted by any block of the window (sizes only
    grow or shrink with time between two transactions, so its two ends bound it), and one base
    unit more is refused at one of them. Nothing changes; an unknown pool or reserve is
    ``not_found``. ``keep_hf``: see :func:`~astera.human.most_accepted`."""
    now = next_block_time(node)
    first, last = (_most_at(node, sender, action, params, at, keep_hf) for at in (now, now + MAX_WINDOW))
    amount = None if first.amount is None or last.amount is None else min(first.amount, last.amount)
    protocol = None  # the protocol's own most, where the health factor target cut either end
    if first.protocol_amount is not None or last.protocol_amount is not None:
        ends = [m.amount if m.protocol_amount is None else m.protocol_amount for m in (first, last)]
        protocol = min(e for e in ends if e is not None)
    return now, Most(amount, first.whole and last.whole, first.limits, protocol)


def _most_at(node: Node, sender: str, action: str, params: dict[str, Any], at: int, keep_hf: int) -> Most:
    """The most the action takes at block time ``at`` (a dry run; nothing changes)."""
    ledger = node.chain.ledger
    run = ledger.runner(sender, action)
    found: list[Most] = []

    def size(p: Protocol) -> list[Any]:
        if sender not in p.users:
            p.register_user(sender)  # as a transaction's first step would (rolled back)
        found.append(most_accepted(p, sender, action, params, run, keep_hf))
        return []

    dry = ledger.protocol.simulate([size], inspect=lambda p, who: None, at=at)
    (outcome,) = dry.outcomes
    e = outcome.refusal
    if isinstance(e, InputError):
        raise NodeError("not_found", f"{pool_name(params['pool'])} has no {params['asset']} reserve")
    if isinstance(e, ProtocolError):  # e.g. no current price: nothing can be valued
        raise NodeError("refused", f"the protocol cannot size a {action} now ({e.name})", reason=e.code)
    return found[0]
