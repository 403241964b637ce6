"""The web app's routes: HTML pages, their static assets, and the JSON endpoints behind them.

Pages are static shells (``templates/page.html``) that load ``static/app.js`` and the
page's module; assets are read from the package once and served from memory with a
content hash as ETag. JSON endpoints answer in the API's conventions (decimal strings,
ray rates, wad health factors, USD with 8 decimals) and the node's error envelope.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from string import Template
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from astera.core import RAY, WAD, Protocol
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.human import time_unit
from astera.lab.ladder import shock_ladder
from astera.node.blocks import jsonable
from astera.node.errors import NodeError
from astera.node.node import Node
from astera.node.schemas import answers

from . import curves, health, risk, schemas, svg
from .background import Recomputed
from .feed import liquidation_json
from .history import HISTORY_SAMPLES, ReserveHistory
from .preview import MAX_WINDOW, most, preview

ADDRESS: Final = r"^[0-9a-f]{64}$"
POOL: Final = r"^(core|[0-9]{1,5})$"
SYMBOL: Final = r"^[A-Za-z0-9._-]{1,32}$"
AMOUNT: Final = r"^(0|[1-9][0-9]{0,77})$"

PoolParam = Annotated[str, Path(pattern=POOL, description='"core" or a Mini-Pool id')]
AssetParam = Annotated[str, Path(pattern=SYMBOL)]

#: page name -> (title, script module); the shell is the same for all.
PAGES: Final = {
    "markets": "Markets",
    "reserve": "Reserve",
    "mini-pool": "Mini-Pool",
    "account": "Your account",
    "liquidations": "Liquidations",
    "risk": "Risk",
}
#: Static assets by file name, with their media types.
MEDIA: Final = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}
#: Seconds between two recomputations of the shock ladder (seconds of CPU at 10,000 accounts).
LADDER_INTERVAL: Final = 30.0
#: The highest health factor a Max may be asked to keep (wad): beyond it the search is pointless.
MAX_KEPT_HF: Final = 100 * WAD
#: How many LiquidationCall events the feed reads back at most per request.
FEED_SCAN: Final = 500


def _load_assets() -> dict[str, tuple[bytes, str, str]]:
    """Every file of ``static/``: name -> (bytes, media type, ETag)."""
    out = {}
    for f in resources.files(__package__).joinpath("static").iterdir():
        suffix = "." + f.name.rsplit(".", 1)[-1]
        if f.is_file() and suffix in MEDIA:
            data = f.read_bytes()
            out[f.name] = (data, MEDIA[suffix], '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
    return out


SHELL: Final = Template(resources.files(__package__).joinpath("templates/page.html").read_text())


class WhatIf(BaseModel):
    """A what-if on one account: oracle prices to assume, and/or a USD value to compare as a
    repayment of each debt or a deposit of each collateral asset."""

    model_config = {"extra": "forbid"}
    address: str = Field(pattern=ADDRESS)
    prices: dict[Annotated[str, Field(pattern=SYMBOL)], Annotated[str, Field(pattern=AMOUNT)]] = Field(
        default_factory=dict, max_length=64, description="asset -> price (USD, 8 decimals)"
    )
    value_usd: str | None = Field(default=None, pattern=AMOUNT, description="USD, 8 decimals")


class Preview(BaseModel):
    """An unsigned transaction to preview: who would send it, the action and its parameters."""

    model_config = {"extra": "forbid"}
    sender: str = Field(pattern=ADDRESS)
    action: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(max_length=16)


class MaxAmount(BaseModel):
    """Who would act, and which action on which reserve, to size at its most."""

    model_config = {"extra": "forbid"}
    sender: str = Field(pattern=ADDRESS)
    action: Literal["deposit", "withdraw", "borrow", "repay", "repay_with_a_tokens"]
    pool: Literal["core"] | Annotated[int, Field(ge=0, le=65535)] = Field(
        description='"core" or a Mini-Pool id'
    )
    asset: str = Field(pattern=SYMBOL)
    unwrap: bool = Field(
        default=False,
        description="a Mini-Pool tranche's borrow or withdrawal paid out in the Core-Pool asset "
        "(the action's unwrap parameter)",
    )
    keep_health_factor: str | None = Field(
        default=None,
        pattern=AMOUNT,
        description="wad: a borrow or withdrawal stops where the health factor after it is still at "
        "least this (the web app asks for 1.01, as Aave's does); the protocol's own most is then "
        "protocol_amount",
    )


def _pool(p: Protocol, ref: str) -> Pool:
    if ref == "core":
        return p.core
    if int(ref) >= len(p.mini_pools):
        raise NodeError("not_found", f"no Mini-Pool {ref}")
    return p.mini_pools[int(ref)]


def _reserve(pool: Pool, asset: str) -> Reserve:
    r = next((r for r in pool.reserves if r.asset == asset), None)
    if r is None:
        raise NodeError("not_found", f"no reserve {asset} in pool {pool.name}")
    return r


def create_router(node: Node) -> APIRouter:
    """The web app's routes for ``node``; also hooks the reserve-history sampler to its blocks."""
    router = APIRouter()
    assets = _load_assets()
    history = ReserveHistory(lambda: node.chain.ledger.protocol, node.chain)
    node.add_block_hook(history.record)
    #: Whole-book views, recomputed off the event loop (the ladder at most every 30 s).
    risk_view = Recomputed(risk.risk_view, 0.0, fresh=True)
    ladder = Recomputed(lambda p: jsonable(shock_ladder(p)), LADDER_INTERVAL, fresh=False)

    async def protocol() -> Protocol:
        await node.ready()
        return node.chain.ledger.protocol

    def page(name: str) -> HTMLResponse:
        html = SHELL.substitute(title=PAGES[name], page=name, version=assets["app.js"][2].strip('"'))
        return HTMLResponse(html)

    # ---- pages ---------------------------------------------------------------------------------

    @router.get("/", include_in_schema=False)
    async def markets_page() -> HTMLResponse:
        return page("markets")

    @router.get("/app/reserve/{pool}/{asset}", include_in_schema=False)
    async def reserve_page(pool: PoolParam, asset: AssetParam) -> HTMLResponse:
        return page("reserve")

    @router.get("/app/mini-pool/{pool}", include_in_schema=False)
    async def mini_pool_page(pool: Annotated[int, Path(ge=0, le=65535)]) -> HTMLResponse:
        return page("mini-pool")

    @router.get("/app/{name}", include_in_schema=False)
    async def other_page(
        name: Annotated[str, Path(pattern=r"^(account|liquidations|risk)$")],
    ) -> HTMLResponse:
        return page(name)

    @router.get("/app/static/{name}", include_in_schema=False)
    async def static(name: str, request: Request) -> Response:
        found = assets.get(name)
        if found is None:
            raise NodeError("not_found", f"no asset {name}")
        data, media, etag = found
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=media, headers=headers)

    # ---- reserves ------------------------------------------------------------------------------

    @router.get(
        "/reserves/{pool}/{asset}/curve",
        tags=["web"],
        summary="A reserve's rate curve now",
        responses=answers(schemas.RateCurve, "not_found"),
    )
    async def curve(pool: PoolParam, asset: AssetParam) -> JSONResponse:
        p = await protocol()
        pl = _pool(p, pool)
        return JSONResponse(curves.rate_curve(pl, _reserve(pl, asset)))

    @router.get(
        "/reserves/{pool}/{asset}/curve.svg",
        tags=["web"],
        summary="The rate curve as SVG",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}, 404: {"description": "not_found"}},
    )
    async def curve_svg(pool: PoolParam, asset: AssetParam) -> Response:
        p = await protocol()
        pl = _pool(p, pool)
        c = curves.rate_curve(pl, _reserve(pl, asset))
        pts = c["points"]
        xs = [int(q["utilization"]) for q in pts]
        chart = svg.line_chart(
            f"{asset} interest-rate curve",
            xs,
            [
                ("borrow APR %", [int(q["borrow_rate"]) for q in pts]),
                ("supply APR %", [int(q["supply_rate"]) for q in pts]),
            ],
            "utilization (%)",
            "rate per year (%)",
            RAY // 100,
            RAY // 100,
            marker=(int(c["current"]["utilization"]), int(c["current"]["borrow_rate"])),
        )
        return Response(chart, media_type="image/svg+xml")

    @router.get(
        "/reserves/{pool}/{asset}/history",
        tags=["web"],
        summary=f"A reserve's utilization, rates and price at genesis and after each block "
        f"(the last {HISTORY_SAMPLES:,}), rebuilt from the stored blocks when the node starts",
        responses=answers(schemas.ReserveHistory, "not_found"),
    )
    async def reserve_history(pool: PoolParam, asset: AssetParam) -> JSONResponse:
        p = await protocol()
        _reserve(_pool(p, pool), asset)
        return JSONResponse(
            {
                "pool": pool,
                "asset": asset,
                "complete": history.complete.is_set(),
                "samples": history.series(pool, asset),
            }
        )

    @router.get(
        "/reserves/{pool}/{asset}/history.svg",
        tags=["web"],
        summary="The history as SVG",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {}}}, 404: {"description": "not_found"}},
    )
    async def history_svg(
        pool: PoolParam,
        asset: AssetParam,
        series: Annotated[str, Query(pattern=r"^(rates|price)$")] = "rates",
    ) -> Response:
        p = await protocol()
        _reserve(_pool(p, pool), asset)
        samples = history.series(pool, asset)
        t0 = samples[0]["timestamp"] if samples else 0
        xs = [s["timestamp"] - t0 for s in samples]
        unit, size = time_unit(xs[-1] if xs else 0)
        x_label = f"{unit} since the first block shown"
        if series == "price":
            lines = [("price $", [int(s["price"] or 0) for s in samples])]
            chart = svg.line_chart(f"{asset} oracle price", xs, lines, x_label, "USD", 10**8, size)
        else:
            lines = [
                ("utilization %", [int(s["utilization"]) for s in samples]),
                ("borrow APR %", [int(s["borrow_rate"]) for s in samples]),
                ("supply APR %", [int(s["supply_rate"]) for s in samples]),
            ]
            chart = svg.line_chart(
                f"{asset} utilization and rates", xs, lines, x_label, "%", RAY // 100, size
            )
        return Response(chart, media_type="image/svg+xml")

    @router.get(
        "/oracle",
        tags=["web"],
        summary="Every asset's oracle price, when it was set, its timeout",
        responses=answers(schemas.Oracle),
    )
    async def oracle() -> JSONResponse:
        p = await protocol()
        o = p.oracle
        return JSONResponse(
            {
                a: {
                    "answer": None if a not in o.answers else str(o.answers[a]),
                    "updated_at": o.updated_at.get(a),
                    "timeout": o.timeouts.get(a, 0),
                    "fallback": None if a not in o.fallback else str(o.fallback[a]),
                }
                for a in sorted(p.wallets)
            }
        )

    # ---- accounts ------------------------------------------------------------------------------

    @router.post(
        "/what-if",
        tags=["web"],
        summary="An account's health under other prices, or after "
        "repaying or depositing the same USD value (exact, nothing changes)",
        responses=answers(schemas.WhatIfAnswer),
    )
    async def what_if(req: WhatIf) -> JSONResponse:
        p = await protocol()
        prices = {a: int(v) for a, v in req.prices.items()}
        for a, v in prices.items():
            if a not in p.wallets:
                raise NodeError("invalid_request", f"unknown asset {a}")
            if not 1 <= v < 1 << 255:
                raise NodeError("invalid_request", f"price of {a} must be in [1, 2**255-1]")
        out: dict[str, Any] = {"address": req.address, "timestamp": p.now}
        out["prices"] = health.price_what_if(p, req.address, prices)
        if req.value_usd is not None:
            out["value"] = health.value_what_if(p, req.address, int(req.value_usd))
        return JSONResponse(out)

    @router.post(
        "/preview",
        tags=["web"],
        summary="Exact preview of an unsigned transaction: the account "
        "and the reserve after it, or the refusal (nothing changes)",
        responses=answers(schemas.PreviewAnswer, "invalid_tx"),
    )
    async def preview_route(req: Preview) -> JSONResponse:
        await node.ready()
        return JSONResponse(preview(node, req.sender, req.action, req.params))

    @router.post(
        "/max-amount",
        tags=["web"],
        summary="The most a deposit, withdrawal, borrow or repayment (from the wallet or, in the Core-Pool, "
        "with aTokens) takes, exact, at any block of the "
        "next minute: every candidate is a dry run of the real action (nothing changes)",
        responses=answers(schemas.MaxAmountAnswer, "not_found", "refused"),
    )
    async def max_amount_route(req: MaxAmount) -> schemas.MaxAmountAnswer:
        await node.ready()
        params: dict[str, Any] = {"pool": req.pool, "asset": req.asset}
        if req.action == "repay_with_a_tokens" and req.pool != "core":
            raise NodeError("invalid_request", "repaying with aTokens is for the Core-Pool only")
        if req.unwrap:
            if req.action not in ("borrow", "withdraw"):
                raise NodeError("invalid_request", "unwrap applies to a borrow or a withdrawal only")
            params["unwrap"] = True
        keep = int(req.keep_health_factor or 0)
        if keep and req.action not in ("borrow", "withdraw"):
            raise NodeError("invalid_request", "keep_health_factor applies to a borrow or a withdrawal only")
        if keep and not WAD <= keep <= MAX_KEPT_HF:
            raise NodeError(
                "invalid_request", "keep_health_factor is a wad from 10**18 (1.0) to 10**20 (100)"
            )
        at, found = most(node, req.sender, req.action, params, keep)
        return schemas.MaxAmountAnswer(
            action=req.action,
            pool=req.pool,
            asset=req.asset,
            timestamp=at,
            until=at + MAX_WINDOW,
            amount=None if found.amount is None else str(found.amount),
            whole=found.whole,
            limits={k: str(v) for k, v in found.limits.items()},
            protocol_amount=None if found.protocol_amount is None else str(found.protocol_amount),
        )

    # ---- liquidations and risk -----------------------------------------------------------------

    @router.get(
        "/liquidations",
        tags=["web"],
        summary="Recent liquidations across all pools, newest first",
        responses=answers(schemas.LiquidationFeed),
    )
    async def liquidations(
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        user: Annotated[str | None, Query(pattern=ADDRESS, description="only this borrower's")] = None,
    ) -> JSONResponse:
        p = await protocol()
        rows = await node.read(node.store.events, None, None, FEED_SCAN, "LiquidationCall")
        items = [liquidation_json(p, r) for r in rows]
        if user is not None:
            items = [i for i in items if i["user"] == user]
        keeper = None if node.keeper is None else node.keeper.status()
        return JSONResponse({"items": items[:limit], "keeper": keeper})

    @router.get(
        "/risk",
        tags=["web"],
        summary="Per pool: closest to liquidation, HF histogram, bad debt; "
        "the Core-Pool's exposure to each Mini-Pool",
        responses=answers(schemas.Risk),
    )
    async def risk_route() -> JSONResponse:
        return JSONResponse(await risk_view.get(node))

    @router.get(
        "/risk/shock-ladder",
        tags=["web"],
        summary="Each collateral asset's price down 0-90 %: liquidatable debt, liquidations, bad debt "
        "(astera.lab.ladder, format astera-shock-ladder/1; integers as decimal strings)",
        responses=answers(schemas.ShockLadder),
    )
    async def ladder_route() -> JSONResponse:
        return JSONResponse(await ladder.get(node))

    return router
