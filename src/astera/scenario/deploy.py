"""A scenario's deployment (FORMAT §2): the header's assets, reserves and pools built on a
fresh :class:`~astera.core.Protocol` through the one deployment path
(:func:`astera.deployment.deploy_markets`), with the scenario's users registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from astera.core import Protocol
from astera.deployment import DeploymentError, deploy_markets

from .document import ADMIN, FLASH_RECEIVER, SCENARIO_FORMAT, USER_KEYS, ScenarioError


def deploy(scenario: dict[str, Any], users: Iterable[str]) -> Protocol:
    """The deployment a scenario's header describes (its ``actions`` are not read), with
    ``users`` and the flash-loan receiver registered."""
    if scenario.get("format") != SCENARIO_FORMAT:
        raise ScenarioError(f"not a {SCENARIO_FORMAT} document")
    p = Protocol(scenario["start_timestamp"], admin=ADMIN)
    try:
        deploy_markets(p, scenario, lambda i, _: f"pool_admin:{i}")
    except DeploymentError as e:
        raise ScenarioError(str(e)) from None
    for sym, a in scenario["assets"].items():
        p.set_price(sym, int(a["price"]), age=0)  # the mock feeds: never older than `age`
    with p.transaction():  # one commit for all the names, not one each
        for u in users:
            p.register_user(u)
        p.register_user(FLASH_RECEIVER)
    return p


def ordered_users(listed: Iterable[str], named: Iterable[str]) -> list[str]:
    """FORMAT §2: the scenario's ``users``, then the users only its actions name, in order."""
    return list(dict.fromkeys([*listed, *named]))


def build(scenario: dict[str, Any]) -> tuple[Protocol, list[str]]:
    """The deployment a scenario describes, and its ordered user list."""
    named = (a[k] for a in scenario["actions"] for k in USER_KEYS if a.get(k) is not None)
    users = ordered_users(scenario.get("users", []), named)
    return deploy(scenario, users), users
