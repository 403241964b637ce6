"""Rich tables for the node's views, narrow enough for an 80-column terminal or pipe.

Whole tokens and USD (rounded down for what you have, exact with ``--raw`` in base units);
rates as yearly percentages: supply APY equals the liquidity rate (aTokens accrue linearly),
borrow APY compounds the variable rate every second.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from astera.client import Key
from astera.core import UINT256_MAX, WAD
from astera.human import (
    Rounding,
    borrow_apy,
    bps,
    event_pool,
    health_factor,
    percent_ray,
    pool_name,
    price,
    tokens,
    usd,
)

from .errors import CliError

if TYPE_CHECKING:
    from astera.client import Simulation

    from .node_client import Session


def _table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right", no_wrap=True)
    return t


def _amount(units: int | str, decimals: int, raw: bool, rounding: Rounding = "down") -> str:
    return str(units) if raw else tokens(int(units), decimals, rounding=rounding)


def _usd(value: int | str, raw: bool, rounding: Rounding = "down") -> str:
    return str(value) if raw else usd(int(value), rounding)


def _hf(wad: str) -> Text:
    v = int(wad)
    style = "red" if v < WAD else "yellow" if v < 15 * WAD // 10 else "green"
    return Text(health_factor(v), style=style)


def _rules(title: str, rules: list[str]) -> Iterator[RenderableType]:
    """A title and one bullet per rule, each wrapped under its own first word (not at column 0)."""
    yield Text(f"  {title}", style="dim")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(style="dim")
    for rule in rules:
        grid.add_row("  •", rule)
    yield grid


# ---- keys --------------------------------------------------------------------------------------------------


def key_table(keys: list[tuple[Path, Key | str]]) -> Iterator[RenderableType]:
    """Local keys by name with their addresses, each whole (a long name folds instead); a file
    that is not a usable key says why. The caller prints the directory above it, soft-wrapped, so
    that a long path stays one piece to copy."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(overflow="fold")
    grid.add_column(no_wrap=True)
    grid.add_row(Text("name", style="bold"), Text("address", style="bold"))
    for path, key in keys:
        grid.add_row(path.stem, key.address if isinstance(key, Key) else Text(key, style="red"))
    yield grid
    yield Text("sign with one as --key NAME; an address is the key's Ed25519 public key", style="dim")


# ---- account -----------------------------------------------------------------------------------------------


def account_tables(s: Session, view: dict[str, Any], raw: bool) -> Iterator[RenderableType]:
    yield Text(f"account {view['address']}\nnext nonce {view['next_nonce']}")
    wallet = _table("wallet", "asset", "balance")
    for asset, units in view["wallet"].items():
        if int(units):
            wallet.add_row(asset, _amount(units, s.decimals(asset), raw))
    yield wallet if wallet.row_count else Text("wallet: empty (get test funds with `astera faucet`)")
    for ref, pv in view["pools"].items():
        if not pv["positions"]:
            continue
        t = _table(
            "Core-Pool" if ref == "core" else f"Mini-Pool {ref}",
            "asset",
            "supplied",
            "debt",
            "coll.",
            "liq. price",
        )
        for pos in pv["positions"]:
            dec = int(pos["decimals"])
            lp = pos.get("liquidation_price")
            t.add_row(
                pos["asset"],
                _amount(pos["supplied"], dec, raw),
                _amount(pos["debt"], dec, raw, "up"),  # what you owe is never shown as less
                "yes" if pos["collateral"] else "no",
                ("" if lp is None else lp if raw else price(int(lp))),
            )
        yield t
        if "health_factor" not in pv:
            yield Text(f"  cannot be valued now: {pv.get('error', {}).get('name', 'no price')}", style="red")
        else:
            line = Text("  health factor ")
            line.append_text(
                _hf(pv["health_factor"]) if int(pv["health_factor"]) < UINT256_MAX else Text("∞ (no debt)")
            )
            collateral, debt = _usd(pv["total_collateral_usd"], raw), _usd(pv["total_debt_usd"], raw, "up")
            line.append(
                f"  collateral {collateral}  debt {debt}  can borrow {_usd(pv['borrowing_power_usd'], raw)}"
            )
            yield line
        if pv.get("liquidation_rules"):
            yield from _rules(
                f"liquidations in {pool_name(ref if ref == 'core' else int(ref))}:", pv["liquidation_rules"]
            )
    if any(pos.get("liquidation_price") for pv in view["pools"].values() for pos in pv["positions"]):
        yield Text(
            "liq. price: the oracle price of that collateral at which the account could be liquidated "
            "(other prices unchanged)",
            style="dim",
        )


# ---- markets -----------------------------------------------------------------------------------------------


def _pool_tables(title: str, pool: dict[str, Any], raw: bool) -> Iterator[RenderableType]:
    rates = _table(f"{title}: rates", "asset", "price", "supply APY", "borrow APY", "utilization")
    size = _table(
        f"{title}: size and risk", "asset", "supplied", "borrowed", "available", "cap", "LTV", "LT", "bonus"
    )
    for r in pool["reserves"]:
        cfg = r["config"]
        dec = int(cfg["decimals"])
        p = r["price"]
        rates.add_row(
            r["asset"],
            "no price" if p is None else p if raw else price(int(p)),
            r["liquidity_rate"] if raw else percent_ray(int(r["liquidity_rate"])),
            str(borrow_apy(int(r["variable_borrow_rate"])))
            if raw
            else percent_ray(borrow_apy(int(r["variable_borrow_rate"]))),
            r["utilization"] if raw else percent_ray(int(r["utilization"])),
        )
        cap = int(cfg["deposit_cap"])
        size.add_row(
            r["asset"],
            _amount(r["total_supplied"], dec, raw),
            _amount(r["total_debt"], dec, raw),
            _amount(r["available_liquidity"], dec, raw),
            "none" if cap == 0 else str(cap) if raw else tokens(cap * 10**dec, dec),
            bps(int(cfg["ltv"])),
            bps(int(cfg["liquidation_threshold"])),
            bps(int(cfg["liquidation_bonus"]) - 10_000) if int(cfg["liquidation_bonus"]) else "-",
        )
    yield rates
    yield size


def market_tables(s: Session, doc: dict[str, Any], raw: bool) -> Iterator[RenderableType]:
    core = doc["core"]
    yield from _pool_tables("Core-Pool" + (" (PAUSED)" if core["paused"] else ""), core, raw)
    for mp in doc["mini_pools"]:
        title = f"Mini-Pool {mp['pool']}" + (" (PAUSED)" if mp["paused"] else "")
        yield from _pool_tables(title, mp, raw)
        if mp["credit_lines"]:
            lines = _table(
                f"{title}: credit lines from the Core-Pool", "asset", "limit", "drawn", "headroom", "drawing"
            )
            for line in mp["credit_lines"]:
                dec = s.decimals(line["asset"])
                lines.add_row(
                    line["asset"],
                    _amount(line["flow_limit"], dec, raw),
                    _amount(line["current_flow"], dec, raw),
                    _amount(line["available"], dec, raw),
                    "yes" if line["is_flow_borrowing"] else "no",
                )
            yield lines
    yield Text(
        "supply APY = the liquidity rate (accrues linearly); borrow APY = the variable rate "
        "compounded every second; bonus: extra collateral a liquidator receives",
        style="dim",
    )


# ---- history -----------------------------------------------------------------------------------------------

_AMOUNT_FIELDS = ("amount", "debt_to_cover", "cap", "limit", "price", "shares")


def _describe(s: Session, action: str, params: dict[str, Any], raw: bool) -> str:
    """One transaction's parameters in words: ``10 WETH``, ``WETH off``, ``USDC to 3f2a…``."""
    asset = params.get("asset") or params.get("debt_asset")
    parts: list[str] = []
    for field in _AMOUNT_FIELDS:
        if field in params:
            value = params[field]
            if value == "max" or int(value) == UINT256_MAX:
                parts.append(f"max {asset or ''}".strip())
            elif field == "price":
                parts.append(f"{asset} at {value if raw else price(int(value))}")
            elif raw or field in ("shares", "cap") or asset is None:
                parts.append(f"{value} {asset or ''}".strip())
            else:
                try:
                    parts.append(tokens(int(value), s.decimals(str(asset)), str(asset), "exact"))
                except CliError:  # an asset no pool lists (now): base units
                    parts.append(f"{value} {asset}")
            break
    else:
        if asset:
            parts.append(str(asset))
    if "enabled" in params:
        parts.append("on" if params["enabled"] else "off")
    for who in ("to", "target", "on_behalf_of"):
        if who in params:
            parts.append(f"{'for' if who == 'on_behalf_of' else who} {str(params[who])[:8]}…")
    if params.get("pool") not in (None, "core"):
        parts.append(f"(Mini-Pool {params['pool']})")
    return " ".join(parts)


def history_table(
    s: Session, address: str, txs: list[dict[str, Any]], liquidations: list[dict[str, Any]], raw: bool
) -> Iterator[RenderableType]:
    yield Text(f"history of {address}")
    t = _table("your transactions (newest first)", "block", "action", "what", "tx")
    for tx in txs:
        t.add_row(
            str(tx["height"]),
            tx["action"],
            _describe(s, tx["action"], tx["params"], raw),
            tx["hash"][:10] + "…",
        )
    yield t if t.row_count else Text("no transactions yet")
    if not liquidations:
        yield Text("no liquidations suffered")
        return
    lq = _table("liquidations you suffered", "block", "pool", "repaid", "seized", "by")
    for e in liquidations:
        d = e["data"]
        lq.add_row(
            str(e["height"]),
            "core" if e["pool"] == "core" else pool_name(event_pool(e["pool"])),
            _amount(d["debt_to_cover"], s.decimals(d["debt"]), raw) + f" {d['debt']}",
            _amount(d["liquidated_collateral"], s.decimals(d["collateral"]), raw) + f" {d['collateral']}",
            str(d["liquidator"])[:8] + "…",
        )
    yield lq


# ---- what-if (a dry run) -----------------------------------------------------------------------------------


def _before_after(title: str) -> Table:
    t = _table(title, "", "now", "", "after")
    t.columns[2].style = "dim"
    return t


def _change(t: Table, label: str, now: str | Text, after: str | Text) -> None:
    t.add_row(label, now, "→", after)


def _hf_or_why(pv: dict[str, Any] | None) -> Text:
    if pv is None or not pv["positions"]:
        return Text("∞ (no debt)")
    if "health_factor" not in pv:
        return Text(f"cannot be valued ({pv.get('error', {}).get('name', 'no price')})", style="red")
    hf = pv["health_factor"]
    return _hf(hf) if int(hf) < UINT256_MAX else Text("∞ (no debt)")


def _position_rows(t: Table, now: dict[str, Any] | None, after: dict[str, Any] | None, raw: bool) -> None:
    """Health factor, USD totals and each position of one pool, now and after."""
    _change(t, "health factor", _hf_or_why(now), _hf_or_why(after))
    totals: tuple[tuple[str, str, Rounding], ...] = (
        ("collateral", "total_collateral_usd", "down"),
        ("debt", "total_debt_usd", "up"),  # what you owe is never shown as less
        ("can borrow", "borrowing_power_usd", "down"),
    )
    for label, field, rounding in totals:
        values = [_usd(pv.get(field, 0), raw, rounding) if pv else _usd(0, raw) for pv in (now, after)]
        _change(t, label, *values)
    positions = [{p["asset"]: p for p in pv["positions"]} if pv else {} for pv in (now, after)]
    for asset in dict.fromkeys([*positions[1], *positions[0]]):
        dec = int((positions[1].get(asset) or positions[0][asset])["decimals"])
        none = {"supplied": "0", "debt": "0", "collateral": False, "liquidation_price": None}
        pair = [side.get(asset, none) for side in positions]
        amounts: tuple[tuple[str, Rounding], ...] = (("supplied", "down"), ("debt", "up"))
        for field, rounding in amounts:
            if any(int(p[field]) for p in pair):
                _change(t, f"{asset} {field}", *(_amount(p[field], dec, raw, rounding) for p in pair))
        if pair[0]["collateral"] != pair[1]["collateral"]:
            _change(t, f"{asset} as collateral", *("yes" if p["collateral"] else "no" for p in pair))
        if any(p["liquidation_price"] for p in pair):
            lps = [p["liquidation_price"] for p in pair]
            _change(
                t, f"{asset} liq. price", *("none" if v is None else v if raw else price(int(v)) for v in lps)
            )


def what_if_tables(
    s: Session,
    what: str,
    me: str,
    pool: str | int,
    before: dict[str, dict[str, Any]],
    answer: Simulation,
    raw: bool,
) -> Iterator[RenderableType]:
    """A dry run's answer (``POST /simulate``) beside the accounts as they are now: for each
    account it touched, its health factor, collateral, debt, borrowing power and positions in
    the action's pool and in every other pool it has positions in (a Mini-Pool tranche borrow
    also moves Core-Pool shares), and its wallet; then the new rates of each reserve it names."""
    yield Text(f"what if: {what} (a dry run on the node's state; nothing was sent)")
    for address, after in answer["accounts"].items():
        now = before[address]
        who = "you" if address == me else f"account {address[:16]}…"
        held = [
            ref
            for ref in after["pools"]
            if now["pools"][ref]["positions"] or after["pools"][ref]["positions"]
        ]
        for ref in dict.fromkeys([str(pool), *held]):
            t = _before_after(f"{who} in {pool_name(ref if ref == 'core' else int(ref))}")
            _position_rows(t, now["pools"].get(ref), after["pools"].get(ref), raw)
            yield t
        wallet = _before_after(f"{who}: wallet")
        for asset, units in after["wallet"].items():
            was = now["wallet"].get(asset, "0")
            if int(units) != int(was):
                _change(wallet, asset, *(_amount(v, s.decimals(asset), raw) for v in (was, units)))
        if wallet.row_count:
            yield wallet
    markets = s.markets()
    pools = {"core": markets["core"], **{str(mp["pool"]): mp for mp in markets["mini_pools"]}}
    for r in answer["reserves"]:
        now_r = next(x for x in pools[str(r["pool"])]["reserves"] if x["asset"] == r["asset"])
        t = _before_after(f"{r['asset']} in {pool_name(r['pool'])}")
        for label, field in (("supply APY", "liquidity_rate"), ("utilization", "utilization")):
            _change(t, label, *(x[field] if raw else percent_ray(int(x[field])) for x in (now_r, r)))
        apys = [borrow_apy(int(x["variable_borrow_rate"])) for x in (now_r, r)]
        _change(t, "borrow APY", *(str(v) if raw else percent_ray(v) for v in apys))
        dec = int(r["config"]["decimals"])
        _change(t, "available", *(_amount(x["available_liquidity"], dec, raw) for x in (now_r, r)))
        yield t
    yield Text(
        "now: as of the last block; after: the action run as the next block would run it "
        "(interest accrued to then)",
        style="dim",
    )
