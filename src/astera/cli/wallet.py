"""Commands for a user of a node: keys, test funds, the pool actions, account, markets, history.

Each command signs with ``--key`` and talks to ``--node``; amounts are whole tokens unless
``--raw``; reads print tables that fit 80 columns, or the node's exact JSON with ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from astera.client import ApiError, Key
from astera.human import KEEP_HEALTH_FACTOR, event_pool, pool_name

from .app import DEFAULT_NODE, JsonOpt, KeyName, NodeUrl, PoolOpt, RawOpt, WhatIfOpt, app
from .errors import CliError, api_error_text, error_text, guarded
from .node_client import (
    Session,
    address_of,
    console,
    key_dir,
    key_path,
    load_key,
    local_keys,
    new_key,
    pool_ref,
    print_receipt,
)
from .tables import account_tables, history_table, key_table, market_tables, what_if_tables

PANEL = "Your account"
#: Lets "-1" reach the amount parser (refused there with its reason) instead of reading as an option.
AMOUNTS = {"ignore_unknown_options": True}

key_app = typer.Typer(help="Account keys (Ed25519).", no_args_is_help=True)
app.add_typer(key_app, name="key", rich_help_panel=PANEL)


@key_app.command("new")
@guarded
def key_new(
    name: Annotated[str, typer.Argument(help="Key name (or path to a .key file).")] = "default",
) -> None:
    """Create a key; prints its address."""
    console.print(f"{new_key(name).address}  ({key_path(name)})", soft_wrap=True)


@key_app.command("list")
@guarded
def key_list(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Another directory of key files, e.g. astera-data/keys (a node's role keys)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Each key's name, address and file.")] = False,
) -> None:
    """List the local keys: name, address (the Ed25519 public key) and where they are stored."""
    where = key_dir() if directory is None else directory
    if directory is not None and not directory.is_dir():
        raise CliError(f"{directory} is not a directory")
    keys = local_keys(where)
    if as_json:
        _print_json(
            [
                {"name": path.stem, "path": str(path)}
                | ({"address": key.address} if isinstance(key, Key) else {"error": key})
                for path, key in keys
            ]
        )
    elif keys:
        console.print(f"keys in {where}", soft_wrap=True)
        for renderable in key_table(keys):
            console.print(renderable)
    else:
        console.print(f"no keys in {where}; create one with `astera key new [NAME]`", soft_wrap=True)


@key_app.command("show")
@guarded
def key_show(name: Annotated[str, typer.Argument()] = "default") -> None:
    """Print a key's address."""
    console.print(load_key(name).address, soft_wrap=True)


@app.command(rich_help_panel=PANEL, context_settings=AMOUNTS)
@guarded
def faucet(
    asset: str,
    amount: str,
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    raw: RawOpt = False,
) -> None:
    """Get test funds from the node's faucet (test networks)."""
    with Session(node) as s:
        address = load_key(key).address
        units = s.units(asset, amount, raw)
        if units == 0:
            raise CliError("the faucet gives more than 0: ask for an amount above 0")
        try:
            receipt = s.client.faucet(address, asset, int(units))
        except ApiError as e:
            raise CliError(api_error_text(e)) from None
        print_receipt(f"faucet {s.fmt(asset, units, 'exact')} to {address[:16]}…", receipt)


def _act(
    s: Session, key: str, what: str, what_if: bool, raw: bool, action: str, **params: Any
) -> dict[str, Any] | None:
    """Sign the action with the key and send it, printing what was done (the receipt is
    returned); or, with ``--what-if``, dry-run it on the node (``POST /simulate``) and print its
    accounts now and after, or refuse with the node's reason (nothing is sent either way)."""
    if not what_if:
        receipt = s.send(key, action, **params)
        print_receipt(_with_moved(s, what, receipt, action, params), receipt)
        return receipt
    account = s.account(key)
    answer = account.simulate(action, **params)
    result = answer["results"][0]
    if not result["ok"]:
        err = result.get("error", {})
        code = str(err.get("code"))
        reason = err["message"] if code == "refused" else error_text(code, err)
        raise CliError(f"{what} would be refused: {reason}; nothing was sent (--what-if)")
    before = {address: s.client.account(address) for address in answer["accounts"]}
    for renderable in what_if_tables(s, what, account.address, params["pool"], before, answer, raw):
        console.print(renderable)
    return None


#: The event that says how much a "max" withdrawal or repayment moved.
_MOVED_BY: Final = {"withdraw": "Withdraw", "repay": "Repay"}


def moved(receipt: dict[str, Any], action: str, params: dict[str, Any]) -> int | None:
    """What a withdrawal or repayment sent as ``max`` moved (its event's amount, interest to the
    block included); ``None`` for any other transaction."""
    event = _MOVED_BY.get(action)
    if params.get("amount") != "max" or event is None:
        return None
    amounts = [
        int(e["data"]["amount"])
        for e in receipt.get("events", ())
        if e["event"] == event
        and e["data"].get("reserve") == params["asset"]
        and event_pool(e["pool"]) == params["pool"]
    ]
    return amounts[0] if len(amounts) == 1 else None


def _with_moved(s: Session, what: str, receipt: dict[str, Any], action: str, params: dict[str, Any]) -> str:
    """``what`` with the amount a ``max`` moved: ``repay everything (max): 25,000.000073 USDC``."""
    amount = moved(receipt, action, params)
    return what if amount is None else f"{what}: {s.fmt(str(params['asset']), amount, 'exact')}"


def _safe_borrow(s: Session, key: str, asset: str, pool: str | int) -> int:
    """The most ``key`` can borrow of ``asset`` in ``pool`` keeping its health factor at 1.01 (the
    node's exact sizing); a clear error when it can borrow nothing."""
    try:
        most = s.client.max_amount(load_key(key).address, "borrow", asset, pool, KEEP_HEALTH_FACTOR)
    except ApiError as e:
        raise CliError(api_error_text(e)) from None
    if most["amount"] is None:
        limits = ", ".join(f"{k.replace('_', ' ')} {s.fmt(asset, v)}" for k, v in most["limits"].items())
        raise CliError(f"you cannot borrow any {asset} in {pool_name(pool)} now ({limits})")
    return int(most["amount"])


# ---- pool actions: one registration for the four that take an asset and an amount --------------------

POOL_ACTIONS: dict[str, tuple[str, bool]] = {
    # action: (help, takes "max")
    "deposit": ("Supply tokens to a pool (amount in whole tokens, e.g. 1.5).", False),
    "withdraw": ('Withdraw supplied tokens ("max" for everything).', True),
    "borrow": (
        'Borrow against your collateral (variable rate; "max": the most that keeps your health factor '
        "at 1.01 or more).",
        True,
    ),
    "repay": ('Repay debt ("max" repays all of your own debt).', True),
}


def _register_pool_action(action: str, help_text: str, takes_max: bool) -> None:
    @guarded
    def command(
        asset: str,
        amount: str,
        pool: PoolOpt = "core",
        node: NodeUrl = DEFAULT_NODE,
        key: KeyName = "default",
        raw: RawOpt = False,
        what_if: WhatIfOpt = False,
    ) -> None:
        with Session(node) as s:
            units = s.units(asset, amount, raw, allow_max=takes_max)
            what = f"{action} {s.fmt_amount(asset, units)}"
            if action == "borrow" and units == "max":  # the protocol takes no "max" borrow: size it
                units = _safe_borrow(s, key, asset, pool_ref(pool))
                what = f"borrow {s.fmt(asset, units, 'exact')} (the most keeping your health factor at 1.01)"
            _act(s, key, what, what_if, raw, action, pool=pool_ref(pool), asset=asset, amount=str(units))

    command.__doc__ = help_text
    app.command(name=action, rich_help_panel=PANEL, context_settings=AMOUNTS)(command)


for _action, (_help, _max) in POOL_ACTIONS.items():
    _register_pool_action(_action, _help, _max)


@app.command("set-collateral", rich_help_panel=PANEL)
@guarded
def set_collateral(
    asset: str,
    enabled: Annotated[str, typer.Argument(help="on or off", metavar="on|off")],
    pool: PoolOpt = "core",
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    what_if: WhatIfOpt = False,
) -> None:
    """Use a supplied asset as collateral, or stop using it."""
    if enabled not in ("on", "off"):
        raise CliError(f"say on or off, not {enabled!r}")
    with Session(node) as s:
        _act(
            s,
            key,
            f"{asset} collateral {enabled}",
            what_if,
            False,
            "set_collateral",
            pool=pool_ref(pool),
            asset=asset,
            enabled=enabled == "on",
        )


@app.command(rich_help_panel=PANEL, context_settings=AMOUNTS)
@guarded
def transfer(
    asset: str,
    amount: str,
    to: Annotated[str, typer.Argument(help="Recipient: an address or a key name.")],
    pool: PoolOpt = "core",
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    raw: RawOpt = False,
    what_if: WhatIfOpt = False,
) -> None:
    """Transfer supplied tokens (aTokens) to another account."""
    with Session(node) as s:
        units = s.units(asset, amount, raw)
        what = f"transfer {s.fmt(asset, units, 'exact')} to {address_of(to)[:16]}…"
        _act(
            s,
            key,
            what,
            what_if,
            raw,
            "transfer",
            pool=pool_ref(pool),
            asset=asset,
            to=address_of(to),
            amount=str(units),
        )


@app.command(rich_help_panel=PANEL, context_settings=AMOUNTS)
@guarded
def delegate(
    asset: str,
    amount: Annotated[str, typer.Argument(help='Borrowing allowance, or "max".')],
    delegatee: Annotated[
        str, typer.Argument(help="Who may borrow against your collateral (address or key name).")
    ],
    pool: PoolOpt = "core",
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    raw: RawOpt = False,
    what_if: WhatIfOpt = False,
) -> None:
    """Let another account borrow ASSET up to AMOUNT on your collateral (credit delegation)."""
    with Session(node) as s:
        units = s.units(asset, amount, raw, allow_max=True)
        shown = "any amount of " + asset if units == "max" else s.fmt(asset, units, "exact")
        _act(
            s,
            key,
            f"delegate {shown} to {address_of(delegatee)[:16]}…",
            what_if,
            raw,
            "approve_delegation",
            pool=pool_ref(pool),
            asset=asset,
            delegatee=address_of(delegatee),
            amount=str(units),
        )


@app.command(rich_help_panel=PANEL, context_settings=AMOUNTS)
@guarded
def liquidate(
    target: Annotated[str, typer.Argument(help="The account to liquidate (address or key name).")],
    collateral: Annotated[str, typer.Argument(help="Collateral asset to seize.")],
    debt: Annotated[str, typer.Argument(help="Debt asset to repay.")],
    amount: Annotated[str, typer.Argument(help='Debt to cover, or "max" (up to the close factor).')],
    receive_atoken: Annotated[
        bool, typer.Option("--receive-atoken", help="Take the collateral as aTokens.")
    ] = False,
    pool: PoolOpt = "core",
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    raw: RawOpt = False,
    what_if: WhatIfOpt = False,
) -> None:
    """Repay part of an unhealthy account's debt and seize its collateral plus the bonus."""
    with Session(node) as s:
        units = s.units(debt, amount, raw, allow_max=True)
        params: dict[str, Any] = {
            "pool": pool_ref(pool),
            "target": address_of(target),
            "collateral_asset": collateral,
            "debt_asset": debt,
            "debt_to_cover": str(units),
        }
        if receive_atoken:
            params["receive_a_token"] = True
        repay = "the most allowed" if units == "max" else s.fmt(debt, units, "exact")
        what = f"liquidate {params['target'][:16]}…: repay {repay} of its {debt} debt for its {collateral}"
        receipt = _act(s, key, what, what_if, raw, "liquidate", **params)
        for ev in receipt["events"] if receipt else []:
            if ev["event"] == "LiquidationCall":
                d = ev["data"]
                console.print(
                    f"repaid {s.fmt(debt, d['debt_to_cover'], 'exact')}, seized "
                    f"{s.fmt(collateral, d['liquidated_collateral'], 'exact')}"
                )


# ---- reads -----------------------------------------------------------------------------------------------


def _print_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2))


#: Whose account a read shows: an address or a key name; without it, the --key (as the actions sign).
Who = Annotated[str | None, typer.Argument(help="Address, or key name (default: --key).", show_default=False)]


@app.command(rich_help_panel=PANEL)
@guarded
def account(
    who: Who = None,
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    as_json: JsonOpt = False,
    raw: RawOpt = False,
) -> None:
    """Wallet, positions with liquidation prices, health factor and borrowing power."""
    with Session(node) as s:
        view = s.client.account(address_of(who or key))
        if as_json:
            _print_json(view)
            return
        for renderable in account_tables(s, view, raw):
            console.print(renderable)


@app.command(rich_help_panel=PANEL)
@guarded
def markets(node: NodeUrl = DEFAULT_NODE, as_json: JsonOpt = False, raw: RawOpt = False) -> None:
    """Reserves of every pool (price, APYs, utilization, caps, risk) and Mini-Pool credit lines."""
    with Session(node) as s:
        doc = s.markets()
        if as_json:
            _print_json(doc)
            return
        for renderable in market_tables(s, doc, raw):
            console.print(renderable)


@app.command(rich_help_panel=PANEL)
@guarded
def history(
    who: Who = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="Most recent N.")] = 20,
    node: NodeUrl = DEFAULT_NODE,
    key: KeyName = "default",
    as_json: JsonOpt = False,
    raw: RawOpt = False,
) -> None:
    """Your transactions, and the liquidations you suffered, newest first."""
    with Session(node) as s:
        address = address_of(who or key)
        txs = s.client.get("/txs", sender=address, limit=limit)["items"]
        events = s.client.get("/events", name="LiquidationCall", account=address, limit=limit)["items"]
        suffered = [e for e in events if e["data"].get("user") == address]
        if as_json:
            _print_json({"address": address, "txs": txs, "liquidations": suffered})
            return
        for renderable in history_table(s, address, txs, suffered, raw):
            console.print(renderable)
