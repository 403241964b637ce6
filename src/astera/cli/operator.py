"""Commands for the holders of the network's role keys, each signed with ``--key``: the oracle's
``set-price``, the emergency admin's ``pause``/``unpause``, and ``admin`` for every listing and
parameter action of the node's action table (names and parameters come from that one table).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from astera.actions import ACTIONS, Action

from .app import DEFAULT_NODE, KeyName, NodeUrl, RawOpt, app
from .errors import CliError, guarded
from .node_client import Session, console, pool_ref, print_receipt

PANEL = "Operators (role keys)"


@app.command("set-price", rich_help_panel=PANEL)
@guarded
def set_price(
    asset: str,
    usd: Annotated[str, typer.Argument(help="New price in USD, e.g. 2450.5 (8 decimals at most).")],
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    raw: RawOpt = False,
) -> None:
    """Oracle key: set an asset's USD price."""
    from astera.human import parse_amount, price

    units = parse_amount(usd, 0 if raw else 8, "USD")
    with Session(node) as s:
        s.decimals(asset)  # an unknown asset is named before signing
        receipt = s.send(key, "set_price", asset=asset, price=str(units))
        print_receipt(f"{asset} price set to {price(units)}", receipt)


def _pause(pool: str, paused: bool, node: str, key: str) -> None:
    with Session(node) as s:
        receipt = s.send(key, "set_pause", pool=pool_ref(pool), paused=paused)
        print_receipt(f"{'paused' if paused else 'unpaused'} {pool}", receipt)


@app.command(rich_help_panel=PANEL)
@guarded
def pause(
    pool: Annotated[str, typer.Argument(help='"core" or a Mini-Pool id.')] = "core",
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
) -> None:
    """Emergency admin key: pause a pool (nothing moves in it until unpaused)."""
    _pause(pool, True, node, key)


@app.command(rich_help_panel=PANEL)
@guarded
def unpause(
    pool: Annotated[str, typer.Argument(help='"core" or a Mini-Pool id.')] = "core",
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
) -> None:
    """Emergency admin key: unpause a pool."""
    _pause(pool, False, node, key)


OPERATOR_ACTIONS = {
    name: a for name, a in ACTIONS.items() if a.role is not None and name not in ("set_price", "set_pause")
}


def _usage(name: str, a: Action) -> str:
    req = " ".join(f"{k}=…" for k in a.required)
    opt = " ".join(f"[{k}=…]" for k in a.optional)
    return f"{name} {req} {opt}".strip() + f"   ({a.role.value if a.role else 'anyone'})"


def _value(text: str) -> Any:
    """A parameter value: JSON where it parses (numbers, true/false, objects), else the text.
    Amounts and prices are base units, as in the signed transaction."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(value, float):
        raise CliError(f"{text!r}: numbers are integers here (amounts in base units)")
    return value


@app.command(rich_help_panel=PANEL)
@guarded
def admin(
    action: Annotated[str | None, typer.Argument(help="Action name; omit to list them.")] = None,
    params: Annotated[list[str] | None, typer.Argument(help="name=value ...", show_default=False)] = None,
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
) -> None:
    """Admin and pool-admin actions (listing assets and reserves, parameters), signed with --key.

    Values are as in the transaction: amounts as base-unit integers, bps as
    integers, pools as "core" or an id, strategies as JSON. For example, a cap of
    10,000,000 USDC on the Core-Pool's deposits:

    astera admin set_deposit_cap pool=core asset=USDC cap=10000000 \\
      --key astera-data/keys/admin.key
    """
    if action is None:
        for name, a in sorted(OPERATOR_ACTIONS.items()):
            console.print(_usage(name, a), soft_wrap=True)
        return
    if action not in OPERATOR_ACTIONS:
        raise CliError(f"no operator action {action!r}; `astera admin` lists them")
    a = OPERATOR_ACTIONS[action]
    args: dict[str, Any] = {}
    for item in params or []:
        name, sep, text = item.partition("=")
        if not sep:
            raise CliError(f"write parameters as name=value, not {item!r}")
        if name not in a.required and name not in a.optional:
            raise CliError(f"{action} takes {', '.join([*a.required, *a.optional])}; not {name!r}")
        value = _value(text)
        # amounts travel as decimal strings: accept them typed as plain integers too
        args[name] = str(value) if isinstance(value, int) and _takes_string(a, name) else value
    missing = [k for k in a.required if k not in args]
    if missing:
        raise CliError(f"{action} needs {', '.join(missing)}: {_usage(action, a)}")
    with Session(node) as s:
        receipt = s.send(key, action, **args)
        print_receipt(action, receipt)


def _takes_string(a: Action, name: str) -> bool:
    """Whether the table's parser for ``name`` wants a decimal string (amounts, prices)."""
    parser = a.required.get(name) or a.optional[name]
    try:
        parser("1")
    except ValueError:
        return False
    return True
