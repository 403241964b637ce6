"""The node's side of the action table (:mod:`astera.actions`): parameters refused as
``invalid_tx``, the keys that hold each role, and protocol refusals as node errors."""

from __future__ import annotations

from typing import Any

from astera.actions import InvalidParams, Role
from astera.actions import parse_params as parse_action_params
from astera.core import Protocol, ProtocolError
from astera.human import Explanation

from .errors import NodeError


def parse_params(action: str, params: object) -> dict[str, Any]:
    """:func:`astera.actions.parse_params`, refusing as ``invalid_tx``."""
    try:
        return parse_action_params(action, params)
    except InvalidParams as e:
        raise NodeError("invalid_tx", e.message, **e.extra) from None


def role_holder(p: Protocol, role: Role, args: dict[str, Any], oracle: str, faucet: str) -> str:
    """The address that holds ``role`` for this call (refused if the named pool does not exist)."""
    if role is Role.ADMIN:
        return p.admin
    if role is Role.EMERGENCY_ADMIN:
        return p.emergency_admin
    if role is Role.ORACLE:
        return oracle
    if role is Role.FAUCET:
        return faucet
    ref = args["pool"]
    if ref == "core":
        return p.admin
    if ref >= len(p.mini_pools):
        raise NodeError("refused", f"no Mini-Pool {ref}", reason="input:unknown_pool", name="UNKNOWN_POOL")
    return str(p.mini_pools[ref].admin)


def refusal(e: ProtocolError, why: Explanation | None = None) -> NodeError:
    """The node's answer to a protocol refusal: code ``refused``, the core's code as ``reason``;
    with an explanation, the message is in plain words (``explanation`` without the code) and
    ``max_amount`` (base units) is the most the same action would take now, where one applies."""
    if why is None:
        return NodeError("refused", str(e), reason=e.code, name=e.name)
    extra = {} if why.max_amount is None else {"max_amount": str(why.max_amount)}
    return NodeError("refused", why.message, reason=e.code, name=e.name, explanation=why.text, **extra)
