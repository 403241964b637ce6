"""JSON as transactions travel: one canonical text to sign, and a strict parser for what arrives.

The canonical JSON of a value has its keys sorted, no whitespace and ASCII only, so signer
and verifier hash the same bytes. The parser refuses what could be read two ways: floats
(amounts are decimal strings), NaN and infinities, duplicate keys, numbers too long to be
an amount, bodies over :data:`MAX_BODY_BYTES`, and anything that is not UTF-8 JSON.
"""

from __future__ import annotations

import json
from typing import Any, Final

from .errors import WireError

MAX_BODY_BYTES: Final = 64 * 1024
#: Longest integer literal the parser accepts (a uint256 has 78 digits).
MAX_INT_DIGITS: Final = 80


def canonical_json(value: Any) -> str:
    """The one byte-exact JSON text of a value (sorted keys, compact, ASCII)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _reject_float(text: str) -> Any:
    raise WireError("invalid_tx", f"floats are not allowed ({text}); send amounts as decimal strings")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_INT_DIGITS:
        raise WireError("invalid_tx", f"number too large ({len(text)} digits)")
    return int(text)


def _reject_constant(text: str) -> Any:
    raise WireError("invalid_tx", f"{text} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise WireError("invalid_tx", "duplicate key in object")
    return obj


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no floats, no NaN, no duplicate keys, no huge numbers."""
    if len(raw) > MAX_BODY_BYTES:
        raise WireError("payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
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
        raise WireError("malformed_json", f"body is not valid JSON: {e}") from None
