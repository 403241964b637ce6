"""The signed transaction: its body, its signature, its hash.

On the wire a transaction is ``{"tx": BODY, "signature": HEX}`` where BODY is::

    {"chain_id": "...", "sender": "<64 hex>", "nonce": 7, "action": "deposit",
     "params": {"pool": "core", "asset": "USDC", "amount": "1000000"},
     "expires_at": 1767225600}

``expires_at`` is optional: a block time (Unix seconds) after which the transaction is
refused (``expired``), so a signed body someone keeps cannot be sent long after its
author gave up on it. The signed message is ``b"astera-tx/1\\n"`` followed by the
canonical JSON of BODY; the transaction hash is the SHA-256 of that message, so it names
the body and is independent of the signature bytes. This module checks the envelope,
the body's fixed fields and the signature; what an action's ``params`` may hold is the
node's action table's business.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from .canonical import canonical_json
from .errors import WireError
from .keys import Key, is_address, verify

SIGNING_DOMAIN: Final = b"astera-tx/1\n"
MAX_NONCE: Final = (1 << 63) - 1
MAX_EXPIRES_AT: Final = (1 << 63) - 1
BODY_FIELDS: Final = frozenset({"chain_id", "sender", "nonce", "action", "params"})
OPTIONAL_BODY_FIELDS: Final = frozenset({"expires_at"})


def signing_message(body: dict[str, Any]) -> bytes:
    return SIGNING_DOMAIN + canonical_json(body).encode()


def check_body(envelope: object, chain_id: str) -> dict[str, Any]:
    """The body of a well-formed envelope for ``chain_id`` (signature not checked yet), or refuse."""
    if not isinstance(envelope, dict) or set(envelope) != {"tx", "signature"}:
        raise WireError("invalid_tx", 'expected {"tx": {...}, "signature": "<128 hex>"}')
    body = envelope["tx"]
    if not isinstance(body, dict):
        raise WireError("invalid_tx", "tx must be an object")
    fields = set(body)
    if not BODY_FIELDS <= fields <= BODY_FIELDS | OPTIONAL_BODY_FIELDS:
        missing, extra = BODY_FIELDS - fields, fields - BODY_FIELDS - OPTIONAL_BODY_FIELDS
        raise WireError("invalid_tx", f"tx fields: missing {sorted(missing)}, unexpected {sorted(extra)}")
    if body["chain_id"] != chain_id:
        raise WireError("wrong_chain", f"signed for chain {body['chain_id']!r}, this is {chain_id!r}")
    if not is_address(body["sender"]):
        raise WireError("invalid_tx", "sender must be 64 lowercase hex digits (an Ed25519 public key)")
    nonce = body["nonce"]
    if type(nonce) is not int or not 0 <= nonce <= MAX_NONCE:
        raise WireError("invalid_tx", f"nonce must be an integer in [0, {MAX_NONCE}]")
    expires_at = body.get("expires_at")
    if expires_at is not None and (type(expires_at) is not int or not 0 <= expires_at <= MAX_EXPIRES_AT):
        raise WireError(
            "invalid_tx", f"expires_at must be a block time (integer seconds) in [0, {MAX_EXPIRES_AT}]"
        )
    if not isinstance(body["action"], str):
        raise WireError("invalid_tx", "action must be a string")
    return body


def signed(envelope: dict[str, Any], check_signature: bool = True) -> tuple[str, str]:
    """The hash and the canonical body text of a checked envelope (see :func:`check_body`),
    after verifying its signature (strictly) unless ``check_signature`` is off."""
    body = envelope["tx"]
    message = signing_message(body)
    if check_signature and not verify(body["sender"], envelope["signature"], message):
        raise WireError("bad_signature", "signature does not verify against the sender's public key")
    return hashlib.sha256(message).hexdigest(), message[len(SIGNING_DOMAIN) :].decode()


def sign_tx(
    key: Key,
    chain_id: str,
    nonce: int,
    action: str,
    params: dict[str, Any],
    expires_at: int | None = None,
) -> dict[str, Any]:
    """Build and sign an envelope; ``expires_at`` (block time, Unix seconds) is optional."""
    body: dict[str, Any] = {
        "chain_id": chain_id,
        "sender": key.address,
        "nonce": nonce,
        "action": action,
        "params": params,
    }
    if expires_at is not None:
        body["expires_at"] = expires_at
    return {"tx": body, "signature": key.sign(signing_message(body))}
