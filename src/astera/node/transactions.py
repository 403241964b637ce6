"""Signed transactions and their canonical encoding.

On the wire a transaction is ``{"tx": BODY, "signature": HEX}`` where BODY is::

    {"chain_id": "...", "sender": "<64 hex>", "nonce": 7, "action": "deposit",
     "params": {"pool": "core", "asset": "USDC", "amount": "1000000"}}

The signed message is ``b"astera-tx/1\\n"`` followed by the canonical JSON of BODY:
keys sorted, no whitespace, ASCII only. Amounts are decimal-integer strings; JSON
floats, NaN, duplicate keys and oversized numbers are refused before anything else
looks at the transaction. The transaction hash is the SHA-256 of the signed message,
so it names the body and is independent of the signature bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from .accounts import Key, is_address, verify
from .actions import ACTIONS, parse_params
from .errors import NodeError

SIGNING_DOMAIN: Final = b"astera-tx/1\n"
MAX_BODY_BYTES: Final = 64 * 1024
MAX_NONCE: Final = (1 << 63) - 1
#: Longest integer literal the parser accepts (a uint256 has 78 digits).
MAX_INT_DIGITS: Final = 80
BODY_FIELDS: Final = frozenset({"chain_id", "sender", "nonce", "action", "params"})


def canonical_json(value: Any) -> str:
    """The one byte-exact JSON text of a value (sorted keys, compact, ASCII)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _reject_float(text: str) -> Any:
    raise NodeError("invalid_tx", f"floats are not allowed ({text}); send amounts as decimal strings")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise NodeError("invalid_tx", f"number too large ({len(text)} digits)")
    return int(text)


def _reject_constant(text: str) -> Any:
    raise NodeError("invalid_tx", f"{text} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise NodeError("invalid_tx", "duplicate key in object")
    return obj


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no floats, no NaN, no duplicate keys, no huge numbers."""
    if len(raw) > MAX_BODY_BYTES:
        raise NodeError("payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
        return json.loads(
            text,
            parse_float=_reject_float,
            parse_int=_bounded_int,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise NodeError("malformed_json", f"body is not valid JSON: {e}") from None


def signing_message(body: dict[str, Any]) -> bytes:
    return SIGNING_DOMAIN + canonical_json(body).encode()


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A structurally valid, signature-checked transaction.

    ``body`` is the canonical JSON text that was signed; ``args`` are the parameters
    parsed into Python values (amounts as ints) for the action to run.
    """

    hash: str
    sender: str
    nonce: int
    action: str
    args: dict[str, Any]
    body: str
    signature: str

    def envelope(self) -> dict[str, Any]:
        return {"tx": json.loads(self.body), "signature": self.signature}


def _check_body(body: object, chain_id: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise NodeError("invalid_tx", "tx must be an object")
    if set(body) != BODY_FIELDS:
        missing, extra = BODY_FIELDS - set(body), set(body) - BODY_FIELDS
        raise NodeError("invalid_tx", f"tx fields: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if body["chain_id"] != chain_id:
        raise NodeError("wrong_chain", f"signed for chain {body['chain_id']!r}, this is {chain_id!r}")
    if not is_address(body["sender"]):
        raise NodeError("invalid_tx", "sender must be 64 lowercase hex digits (an Ed25519 public key)")
    nonce = body["nonce"]
    if type(nonce) is not int or not 0 <= nonce <= MAX_NONCE:
        raise NodeError("invalid_tx", f"nonce must be an integer in [0, {MAX_NONCE}]")
    if not isinstance(body["action"], str) or body["action"] not in ACTIONS:
        raise NodeError("invalid_tx", f"unknown action {body['action']!r}", actions=sorted(ACTIONS))
    return body


def decode_tx(envelope: object, chain_id: str, check_signature: bool = True) -> SignedTx:
    """Validate an envelope (already parsed JSON) into a :class:`SignedTx`, or refuse."""
    if not isinstance(envelope, dict) or set(envelope) != {"tx", "signature"}:
        raise NodeError("invalid_tx", 'expected {"tx": {...}, "signature": "<128 hex>"}')
    body = _check_body(envelope["tx"], chain_id)
    args = parse_params(body["action"], body["params"])
    message = signing_message(body)
    signature = envelope["signature"]
    if check_signature and not verify(body["sender"], signature, message):
        raise NodeError("bad_signature", "signature does not verify against the sender's public key")
    return SignedTx(
        hash=hashlib.sha256(message).hexdigest(),
        sender=body["sender"],
        nonce=body["nonce"],
        action=body["action"],
        args=args,
        body=message[len(SIGNING_DOMAIN) :].decode(),
        signature=signature,
    )


def sign_tx(key: Key, chain_id: str, nonce: int, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """Build and sign an envelope (the SDK's and the node's own participants' path)."""
    body = {"chain_id": chain_id, "sender": key.address, "nonce": nonce, "action": action, "params": params}
    return {"tx": body, "signature": key.sign(signing_message(body))}
