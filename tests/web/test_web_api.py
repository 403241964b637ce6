"""The web app's JSON endpoints against the exact core: liquidation prices, what-ifs, the risk
view and the liquidations feed equal what the core computes, and reading them changes nothing."""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.node.node_harness import START, key, make_genesis

from astera.compose import create_app
from astera.core import WAD, Protocol
from astera.human import KEEP_HEALTH_FACTOR
from astera.node.chain import open_chain
from astera.node.node import Node
from astera.node.store import open_store
from astera.web.svg import PAD, line_chart
from astera.wire import sign_tx

E18, E6 = 10**18, 10**6


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    store = open_store(None, str(tmp_path / "data"))
    # A stopped clock: every block at the same time, so a preview and the block after it agree.
    node = Node(open_chain(store, make_genesis()), faucet_key=key("faucet"), clock=lambda: START + 60)
    with TestClient(create_app(node)) as client:
        client.node = node  # type: ignore[attr-defined]
        yield client


def send(api: TestClient, who: str, action: str, **params: Any) -> Any:
    node = api.node  # type: ignore[attr-defined]
    nonce = node.chain.ledger.next_nonce(key(who).address)
    r = api.post("/txs", json=sign_tx(key(who), node.chain_id, nonce, action, params))
    assert r.status_code == 200, r.text
    return r.json()


def live(api: TestClient) -> Protocol:
    return api.node.chain.ledger.protocol  # type: ignore[attr-defined, no-any-return]


def copy(api: TestClient) -> Protocol:
    return pickle.loads(pickle.dumps(live(api)))


@pytest.fixture
def borrower(api: TestClient) -> str:
    """alice: 10 WETH in the Core-Pool, 25,000 USDC borrowed against it."""
    send(api, "alice", "deposit", pool="core", asset="WETH", amount=str(10 * E18))
    send(api, "alice", "borrow", pool="core", asset="USDC", amount=str(25_000 * E6))
    return key("alice").address


def test_pages_and_assets_are_served(api: TestClient) -> None:
    for path in (
        "/",
        "/app/reserve/core/USDC",
        "/app/mini-pool/0",
        "/app/account",
        "/app/liquidations",
        "/app/risk",
    ):
        r = api.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert '<script type="module"' in r.text
    js = api.get("/app/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert api.get("/app/static/app.js", headers={"if-none-match": js.headers["etag"]}).status_code == 304
    missing = api.get("/app/static/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_rate_curve_runs_the_reserves_own_strategy(api: TestClient, borrower: str) -> None:
    c = api.get("/reserves/core/USDC/curve").json()
    assert c["model"] == "pi" and len(c["points"]) == 101 and c["controller"] is not None
    borrow = [int(q["borrow_rate"]) for q in c["points"]]
    assert borrow == sorted(borrow) and borrow[-1] > borrow[1] > 0
    p = live(api)
    assert c["current"]["borrow_rate"] == str(p.core.reserves[2].current_variable_borrow_rate)
    assert api.get("/reserves/0/was-USDC/curve").status_code == 200
    assert api.get("/reserves/core/was-USDC/curve").json()["error"]["code"] == "not_found"
    svg = api.get("/reserves/core/USDC/curve.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<polyline" in svg.text
    hist = api.get("/reserves/core/USDC/history").json()["samples"]
    assert [s["height"] for s in hist][-2:] == [1, 2]  # one sample when the node started, one per block
    chart = api.get("/reserves/core/USDC/history.svg").text  # time in a unit its span reads in
    assert re.search(r">(seconds|minutes|hours|days) since the first block shown<", chart)


def test_liquidation_prices_shown_are_the_exact_boundary(api: TestClient, borrower: str) -> None:
    carol = key("carol").address  # a Mini-Pool borrower too: wstETH collateral, wstETH debt elsewhere
    send(api, "carol", "deposit", pool=0, asset="wstETH", amount=str(10 * E18))
    send(api, "carol", "borrow", pool=0, asset="wstETH", amount=str(E18))
    before = live(api).state_hash()
    view = api.get(f"/accounts/{borrower}").json()
    assert api.get(f"/accounts/{carol}").status_code == 200
    assert live(api).state_hash() == before
    weth = next(x for x in view["pools"]["core"]["positions"] if x["asset"] == "WETH")
    lp = int(weth["liquidation_price"])
    for price, liquidatable in ((lp, True), (lp + 1, False)):
        p = copy(api)
        p.set_price("WETH", price)
        assert (p.health_factor(borrower) < WAD) is liquidatable


def test_what_ifs_equal_the_core(api: TestClient, borrower: str) -> None:
    before = live(api).state_hash()
    body = {"address": borrower, "prices": {"WETH": str(2_900 * 10**8)}, "value_usd": str(1_000 * 10**8)}
    r = api.post("/what-if", json=body).json()
    assert live(api).state_hash() == before
    p = copy(api)
    p.set_price("WETH", 2_900 * 10**8)
    assert r["prices"]["core"]["health_factor"] == str(p.health_factor(borrower))
    core = r["value"]["core"]
    (repay,) = core["repay"]
    p = copy(api)
    p.mint(borrower, "USDC", 1_000 * E6)
    p.repay(borrower, "USDC", 1_000 * E6)
    assert repay["amount"] == str(1_000 * E6) and repay["health_factor"] == str(p.health_factor(borrower))
    weth = next(d for d in core["deposit"] if d["asset"] == "WETH")
    p = copy(api)
    amount = 1_000 * 10**8 * E18 // p.price("WETH")
    p.mint(borrower, "WETH", amount)
    p.deposit(borrower, "WETH", amount)
    assert weth["health_factor"] == str(p.health_factor(borrower))
    assert int(repay["health_factor"]) > int(weth["health_factor"])  # repaying raises it more
    bad = api.post("/what-if", json={"address": borrower, "prices": {"DOGE": "1"}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"


def test_risk_view_and_liquidations_feed(api: TestClient, borrower: str) -> None:
    send(api, "oracle", "set_price", asset="WETH", price=str(3_000 * 10**8))
    risk = api.get("/risk").json()
    core = risk["pools"][0]
    assert core["liquidatable"] == 1 and core["closest"][0]["address"] == borrower
    assert core["closest"][0]["health_factor"] == str(live(api).health_factor(borrower))
    assert sum(core["hf_histogram"]) == core["borrowers"] == 1
    assert risk["exposure"][0]["mini_pool"] == 0
    receipt = send(
        api,
        "bob",
        "liquidate",
        pool="core",
        target=borrower,
        collateral_asset="WETH",
        debt_asset="USDC",
        debt_to_cover=str(5_000 * E6),
    )
    (event,) = [e for e in receipt["events"] if e["event"] == "LiquidationCall"]
    feed = api.get(f"/liquidations?user={borrower}").json()
    (item,) = feed["items"]
    seized = int(event["data"]["liquidated_collateral"])
    assert item["collateral_seized"] == str(seized) and item["debt_repaid"] == str(5_000 * E6)
    assert item["bonus"] == str(seized - seized * 10_000 // 10_800)
    assert api.get(f"/liquidations?user={key('carol').address}").json()["items"] == []
    ladder = api.get("/risk/shock-ladder").json()
    assert ladder["format"] == "astera-shock-ladder/1" and "WETH" in ladder["assets"]


def test_preview_is_the_transaction_without_its_effect(api: TestClient, borrower: str) -> None:
    p = live(api)
    before, nonce = p.state_hash(), api.get(f"/accounts/{borrower}").json()["next_nonce"]
    body = {
        "sender": borrower,
        "action": "borrow",
        "params": {"pool": "core", "asset": "USDC", "amount": "1000000000"},
    }
    ok = api.post("/preview", json=body).json()
    refused = api.post("/preview", json={**body, "params": {**body["params"], "amount": str(10**12)}}).json()
    assert live(api).state_hash() == before
    assert api.get(f"/accounts/{borrower}").json()["next_nonce"] == nonce
    assert refused["refused"]["reason"] == "9" and "borrow" in refused["refused"]["explanation"]
    send(api, "alice", "borrow", pool="core", asset="USDC", amount="1000000000")
    after = api.get(f"/accounts/{borrower}").json()["pools"]["core"]
    assert ok["account"]["pools"]["core"]["health_factor"] == after["health_factor"]
    assert ok["reserve"]["variable_borrow_rate"] == str(
        live(api).core.reserves[2].current_variable_borrow_rate
    )
    newcomer = key("dave").address  # never sent anything: the preview must not leave a nonce behind
    api.post("/preview", json={**body, "sender": newcomer})
    assert newcomer not in api.node.chain.ledger.nonces  # type: ignore[attr-defined]
    bad = api.post("/preview", json={**body, "action": "fly"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_tx"


def most(api: TestClient, who: str, action: str, pool: str | int, asset: str) -> dict[str, Any]:
    r = api.post("/max-amount", json={"sender": who, "action": action, "pool": pool, "asset": asset})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def accepted(
    api: TestClient, who: str, action: str, pool: str | int, asset: str, amount: int, at: int | None = None
) -> bool:
    """Whether the node's dry run accepts the action (at block time ``at``, or the next block's)."""
    params = {"pool": pool, "asset": asset, "amount": str(amount)}
    if action == "repay_with_a_tokens":  # the Core-Pool's: it names no pool
        del params["pool"]
    tx = {"sender": who, "action": action, "params": params}
    body: dict[str, Any] = {"txs": [tx]} if at is None else {"txs": [tx], "timestamp": at}
    return bool(api.post("/simulate", json=body).json()["results"][0]["ok"])


def exact(api: TestClient, who: str, m: dict[str, Any]) -> bool:
    """``m`` (a /max-amount answer) is accepted at both ends of its window, one base unit more
    is refused at one of them."""
    args = (api, who, m["action"], m["pool"], m["asset"])
    amount = int(m["amount"])
    ends = (m["timestamp"], m["until"])
    more = all(accepted(*args, amount + 1, t) for t in ends)
    return all(accepted(*args, amount, t) for t in ends) and not more


def test_max_amounts_are_exact(api: TestClient, borrower: str) -> None:
    """Each "max" is accepted and one base unit more is refused, at the next block's time; the
    limits say what bounds it; reading them changes nothing."""
    before = live(api).state_hash()
    data = live(api).account(borrower)
    usdc_unit, usdc_price = 10**6, live(api).price("USDC")
    for action, asset, bound in (
        ("borrow", "USDC", "borrowing_power"),
        ("withdraw", "WETH", "supplied"),
        ("deposit", "WETH", "wallet"),
        ("repay", "USDC", "debt"),
    ):
        m = most(api, borrower, action, "core", asset)
        assert m["action"] == action and bound in m["limits"] and m["until"] == m["timestamp"] + 60
        if m["whole"]:  # all of it: more is accepted too (the protocol takes the whole balance or debt)
            assert accepted(api, borrower, action, "core", asset, int(m["amount"])), action
        else:
            assert exact(api, borrower, m), action
    assert live(api).state_hash() == before
    borrow = most(api, borrower, "borrow", "core", "USDC")
    assert int(borrow["limits"]["borrowing_power"]) == data.available_borrows_base * usdc_unit // usdc_price
    # A minute of interest on the debt lowers what can still be borrowed: the figure is the
    # minute's end, refused one unit more there (not now), so a borrow signed later goes through.
    args = (api, borrower, "borrow", "core", "USDC", int(borrow["amount"]) + 1)
    assert accepted(*args, borrow["timestamp"]) and not accepted(*args, borrow["until"])
    repay = most(api, borrower, "repay", "core", "USDC")
    # The clock stands still: the next block's debt is today's.
    assert repay["whole"] and int(repay["amount"]) == live(api).debt(borrower, "USDC")
    withdraw = most(api, borrower, "withdraw", "core", "WETH")
    assert not withdraw["whole"] and int(withdraw["amount"]) < 10 * E18  # the debt keeps the rest
    # Borrowing the max leaves nothing to borrow, and the health factor above 1.
    send(api, "alice", "borrow", pool="core", asset="USDC", amount=borrow["amount"])
    assert most(api, borrower, "borrow", "core", "USDC")["amount"] is None
    assert live(api).health_factor(borrower) >= WAD
    # Repaying with aTokens burns the supply of the same reserve: 1,000 USDC of a 25,000 debt.
    send(api, "alice", "deposit", pool="core", asset="USDC", amount=str(1_000 * E6))
    burn = most(api, borrower, "repay_with_a_tokens", "core", "USDC")
    assert burn["limits"]["supplied"] == str(1_000 * E6) and not burn["whole"] and exact(api, borrower, burn)
    only_core = {"sender": borrower, "action": "repay_with_a_tokens", "pool": 0, "asset": "was-USDC"}
    assert api.post("/max-amount", json=only_core).json()["error"]["code"] == "invalid_request"
    # A Mini-Pool tranche: its cash is 0; a borrow draws on the Core-Pool's credit line.
    carol = key("carol").address
    send(api, "carol", "deposit", pool=0, asset="wstETH", amount=str(10 * E18))
    settled = live(api).state_hash()
    tranche = most(api, carol, "borrow", 0, "was-USDC")
    assert tranche["limits"]["cash"] == "0" and int(tranche["limits"]["credit_line"]) > 0
    assert exact(api, carol, tranche)
    unwrapped = api.post(
        "/max-amount",
        json={"sender": carol, "action": "borrow", "pool": 0, "asset": "was-USDC", "unwrap": True},
    ).json()
    assert exact(api, carol, unwrapped)  # paid out as USDC: the Core-Pool's cash bounds it too
    # A tranche is deposited in Core-Pool shares, paid from the depositor's USDC supplied there.
    send(api, "carol", "deposit", pool="core", asset="USDC", amount=str(5_000 * E6))
    settled = live(api).state_hash()
    shares = live(api).core.reserve(("USDC", True)).a_scaled[carol]
    deposit = most(api, carol, "deposit", 0, "was-USDC")
    assert deposit["limits"] == {"core_shares": str(shares)} and exact(api, carol, deposit)
    repay = {"sender": carol, "action": "repay", "pool": 0, "asset": "was-USDC", "unwrap": True}
    assert api.post("/max-amount", json=repay).json()["error"]["code"] == "invalid_request"
    # A newcomer holds nothing: nothing to size, and no nonce or account left behind.
    stranger = "ab" * 32
    assert most(api, stranger, "withdraw", "core", "WETH")["amount"] is None
    assert most(api, stranger, "borrow", "core", "USDC")["amount"] is None
    assert stranger not in live(api).users and live(api).state_hash() == settled
    missing = api.post("/max-amount", json={"sender": carol, "action": "borrow", "pool": 0, "asset": "DOGE"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad = api.post("/max-amount", json={"sender": carol, "action": "liquidate", "pool": 0, "asset": "USDC"})
    assert bad.status_code == 422


def hf_after(api: TestClient, who: str, action: str, asset: str, amount: int, at: int) -> int:
    """The Core-Pool health factor of ``who`` after the action at block time ``at`` (a dry run)."""
    tx = {"sender": who, "action": action, "params": {"pool": "core", "asset": asset, "amount": str(amount)}}
    dry = api.post("/simulate", json={"txs": [tx], "timestamp": at}).json()
    assert dry["results"][0]["ok"], dry
    return int(dry["accounts"][who]["pools"]["core"]["health_factor"])


def test_max_keeps_a_health_factor_when_asked(api: TestClient, borrower: str) -> None:
    """With keep_health_factor (the web app asks for 1.01), a withdrawal's or a borrow's most is
    where the health factor after it stays at the target at both ends of the minute, one base
    unit more falls below it at one of them; the protocol's own most (HF 1.00) is told beside."""
    keep = KEEP_HEALTH_FACTOR
    for action, asset in (("withdraw", "WETH"), ("borrow", "USDC")):
        plain = most(api, borrower, action, "core", asset)
        r = api.post(
            "/max-amount",
            json={"sender": borrower, "action": action, "pool": "core", "asset": asset,
                  "keep_health_factor": str(keep)},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        m = r.json()
        ends = (m["timestamp"], m["until"])
        amount = int(m["amount"])
        if action == "withdraw":  # at the protocol's most the health factor is 1.00: the target cuts it
            assert (
                m["protocol_amount"] == plain["amount"] and amount < int(plain["amount"]) and not m["whole"]
            )
            assert all(hf_after(api, borrower, action, asset, amount, t) >= keep for t in ends)
            assert min(hf_after(api, borrower, action, asset, amount + 1, t) for t in ends) < keep
        else:  # a borrow at the LTV leaves 80 / 75 = 1.07: the target does not cut it
            assert m["protocol_amount"] is None and m["amount"] == plain["amount"]
    deposit = {
        "sender": borrower,
        "action": "deposit",
        "pool": "core",
        "asset": "WETH",
        "keep_health_factor": "1",
    }
    assert api.post("/max-amount", json=deposit).json()["error"]["code"] == "invalid_request"
    for keep in ("1", str(100 * WAD + 1)):  # below 1.0 or above 100: refused, nothing searched
        borrow = {**deposit, "action": "borrow", "asset": "USDC", "keep_health_factor": keep}
        refused = api.post("/max-amount", json=borrow)
        assert (
            refused.status_code == 422 and "keep_health_factor is a wad" in refused.json()["error"]["message"]
        )


def test_simulate_reports_the_reserves_named(api: TestClient, borrower: str) -> None:
    body = {
        "sender": borrower,
        "action": "repay",
        "params": {"pool": "core", "asset": "USDC", "amount": "max"},
    }
    run = api.post("/simulate", json={"txs": [body]}).json()
    (usdc,) = run["reserves"]
    assert usdc["pool"] == "core" and usdc["asset"] == "USDC" and usdc["total_debt"] == "0"
    assert int(api.get("/pools/core").json()["reserves"][2]["total_debt"]) > 0  # nothing changed


def test_history_is_rebuilt_from_the_log_after_a_restart(
    api: TestClient, borrower: str, tmp_path: Path
) -> None:
    def history(client: TestClient) -> list[dict[str, Any]]:
        for _ in range(600):
            h = client.get("/reserves/core/USDC/history").json()
            if h["complete"]:
                return h["samples"]
            time.sleep(0.01)
        raise AssertionError("the history was not rebuilt")

    send(api, "bob", "deposit", pool="core", asset="USDC", amount=str(1_000 * E6))
    before = history(api)
    assert [s["height"] for s in before] == [0, 1, 2, 3]  # genesis, then one sample per block
    api.__exit__(None, None, None)  # stop the node: its history goes with it
    store = open_store(None, str(tmp_path / "data"))
    node = Node(open_chain(store, None), faucet_key=key("faucet"), clock=lambda: START + 60)
    with TestClient(create_app(node)) as again:
        assert history(again) == before


def test_value_what_if_includes_a_tranche_paid_in_core_shares(api: TestClient) -> None:
    carol = key("carol").address
    send(api, "carol", "deposit", pool=0, asset="wstETH", amount=str(10 * E18))
    send(api, "carol", "borrow", pool=0, asset="was-USDC", amount=str(5_000 * E6))
    value = api.post("/what-if", json={"address": carol, "value_usd": str(1_000 * 10**8)}).json()["value"]
    mini = value["0"]
    (repay,) = mini["repay"]
    tranche = next(d for d in mini["deposit"] if d["asset"] == "was-USDC")
    assert repay["asset"] == "was-USDC" and repay["amount"] == tranche["amount"]
    shares = int(repay["amount"])
    for action, shown in (("repay", repay), ("deposit", tranche)):
        p = copy(api)  # a person gets the shares by depositing USDC into the Core-Pool
        usdc = p.core.shares_to_assets(p.core.reserve(("USDC", True)), shares) + 1
        p.mint(carol, "USDC", usdc)
        p.deposit(carol, "USDC", usdc)
        getattr(p, action)(carol, "was-USDC", shares, pool=0)
        assert shown["health_factor"] == str(p.health_factor(carol, pool=0))
    assert int(repay["health_factor"]) > int(tranche["health_factor"]) > int(mini["now"]["health_factor"])


def test_chart_legends_sit_above_the_plot() -> None:
    """Inside the plot, at its top right, a legend ran through any line near the maximum."""
    svg = line_chart("t", [0, 1], [("utilization %", [0, 1]), ("borrow APR %", [1, 1])], "s", "%", 1, 1)
    legend = re.findall(r'<text x="([\d.]+)" y="([\d.]+)" fill="#', svg)
    assert len(legend) == 2 and all(float(y) < PAD for _, y in legend)
    assert float(legend[0][0]) < float(legend[1][0])  # side by side
