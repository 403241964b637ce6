"""Signed transactions as the node takes them: the wire format (:mod:`astera.wire`) checked
against the node's action table, with refusals as :class:`NodeError`.

:func:`decode_tx` checks, in order: the envelope and the body's fixed fields (chain, sender,
nonce, expiry), the action and its parameters, then the signature. JSON floats, NaN,
duplicate keys and oversized numbers were refused before, by :func:`parse_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from astera.actions import ACTIONS
from astera.wire import WireError, tx
from astera.wire import parse_json as wire_parse_json

from .actions import parse_params
from .errors import NodeError


def parse_json(raw: bytes) -> Any:
    """Strict JSON (:func:`astera.wire.parse_json`), refusals as :class:`NodeError`."""
    try:
        return wire_parse_json(raw)
    except WireError as e:
        raise NodeError(e.code, e.message, **e.extra) from None


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A structurally valid, signature-checked transaction.

    ``body`` is the canonical JSON text that was signed; ``args`` are the parameters
    parsed into Python values (amounts as ints) for the action to run; ``expires_at`` is
    the block time after which it is refused (None: never).
    """

    hash: str
    sender: str
    nonce: int
    action: str
    args: dict[str, Any]
    body: str
    signature: str
    expires_at: int | None = None


def decode_tx(envelope: object, chain_id: str, check_signature: bool = True) -> SignedTx:
    """Validate an envelope (already parsed JSON) into a :class:`SignedTx`, or refuse."""
    try:
        body = tx.check_body(envelope, chain_id)
        if body["action"] not in ACTIONS:
            raise NodeError("invalid_tx", f"unknown action {body['action']!r}", actions=sorted(ACTIONS))
        args = parse_params(body["action"], body["params"])
        tx_hash, text = tx.signed(envelope, check_signature)  # type: ignore[arg-type]
    except WireError as e:
        raise NodeError(e.code, e.message, **e.extra) from None
    return SignedTx(
        hash=tx_hash,
        sender=body["sender"],
        nonce=body["nonce"],
        action=body["action"],
        args=args,
        body=text,
        signature=envelope["signature"],  # type: ignore[index]
        expires_at=body.get("expires_at"),
    )
