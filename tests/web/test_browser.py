"""The web app in a real browser (Debian's Chromium through Playwright) against a real node.

Lean on purpose: two tests. One is a newcomer's whole journey, through every page; the other
checks refusals in plain words and that the page's what-if numbers are the core's, exactly.
Every page must run without a console error; screenshots land in ``artifacts/web/``.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import httpx

from astera.core import WAD, Protocol, ProtocolError
from astera.wire import Key, sign_tx

from .conftest import Console, ServedNode, copy_key, ready, screenshot

E18, E6 = 10**18, 10**6


def wad_of(page: Any, testid: str) -> int:
    return int(page.get_by_test_id(testid).first.get_attribute("data-wad"))


def act(page: Any, action: str, pool: str, asset: str, amount: str) -> None:
    """Fill the action form and ask for the exact preview."""
    page.select_option("#action", action)
    page.select_option("#pool", pool)
    page.select_option("#asset", asset)
    page.fill("#amount", amount)
    page.click("#preview-btn")


def sign(page: Any) -> None:
    page.wait_for_selector("#sign:enabled")
    page.click("#sign")
    page.wait_for_selector("#preview:has-text('Done')")


def role_send(served: ServedNode, role: str, action: str, **params: Any) -> None:
    """Sign ``action`` with the served network's ``role`` key (as its operator would) and submit it."""
    k = Key.load(served.data / "keys" / f"{role}.key")
    nonce = served.get(f"/accounts/{k.address}")["next_nonce"]
    tx = sign_tx(k, served.get("/status")["chain_id"], nonce, action, params)
    httpx.post(served.url + "/txs", json=tx, timeout=30).raise_for_status()


def new_account(browser: Any, console: Console, served: ServedNode) -> tuple[Any, Any, str]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = console.watch(context.new_page())
    ready(page, served.url + "/app/account")
    page.click("#create-key")
    page.wait_for_selector("#address")
    page.wait_for_function("window.asteraReady === true")
    return context, page, page.inner_text("#address")


def test_newcomer_journey(browser: Any, console: Console, served: ServedNode, tmp_path: Path) -> None:
    context, page, me = new_account(browser, console, served)
    page.select_option("#faucet-asset", "WETH")
    page.fill("#faucet-amount", "10")
    page.click("#faucet-form button")
    page.wait_for_selector("#faucet-result:has-text('Received 10 WETH')")

    act(page, "deposit", "core", "WETH", "10")
    sign(page)
    act(page, "borrow", "core", "USDC", "25000")
    page.wait_for_selector("[data-testid=preview-hf]")
    previewed = wad_of(page, "preview-hf")
    sign(page)
    hf = served.call(lambda p: p.health_factor(me))
    assert previewed == hf  # the preview was the core's exact result
    page.wait_for_selector(f"[data-testid=hf][data-wad='{hf}']")
    assert page.get_by_test_id("hf").first.inner_text() == "1.18"
    rules = page.get_by_test_id("liquidation-rules-core")
    assert "at most half of your debt" in rules.text_content()  # the pool's policy, in plain words
    screenshot(page, "account-borrowing")

    # The oracle (an operator holding the oracle key, in another browser) drops the WETH price.
    op_context = browser.new_context()
    operator = console.watch(op_context.new_page())
    ready(operator, served.url + "/app/account")
    operator.set_input_files("#import-key", str(copy_key(served, "oracle", tmp_path)))
    operator.wait_for_selector("#oracle-form")
    operator.select_option("#oracle-asset", "WETH")
    operator.fill("#oracle-price", "2900")
    operator.click("#oracle-form button")
    operator.wait_for_selector("#oracle-result:has-text('WETH set to $2,900')")
    screenshot(operator, "operator")

    page.wait_for_selector("#alerts .banner:has-text('liquidated')", timeout=15_000)
    # The node's keeper liquidates; the feed and the account's history show it.
    page.wait_for_selector("#history caption:text('Liquidations you suffered')", timeout=30_000)
    screenshot(page, "account-liquidated")
    ready(page, served.url + "/app/liquidations")
    page.wait_for_selector(f"span.addr[title='{me}']")
    keeper = page.inner_text("main section")  # the keeper's status in words, not JSON
    assert "running\tyes" in keeper and "{}" not in keeper and "true" not in keeper

    # The admin turns on deficit accounting and a treasury fee; WETH crashes and the keeper's
    # next liquidation takes the rest of the collateral: the rest of the debt is written off.
    role_send(served, "admin", "set_liquidation_policy", pool="core", deficit_accounting=True)
    role_send(served, "admin", "set_liquidation_protocol_fee", pool="core", asset="WETH", fee=1000)
    role_send(served, "oracle", "set_price", asset="WETH", price=str(1_000 * 10**8))
    ready(page, served.url + "/")
    deficit = page.get_by_test_id("deficit-core-USDC")
    deficit.wait_for(timeout=30_000)
    usdc = served.call(lambda p: p.core.reserve(("USDC", True)).deficit)
    whole_tokens = f"{usdc // E6:,}.{usdc % E6:06d}".rstrip("0").rstrip(".")
    assert usdc > 0 and deficit.inner_text() == f"{whole_tokens} USDC"
    words = page.get_by_test_id("liquidation-policy-core").inner_text()
    assert "the debt left over is written off" in words and "10% of the liquidation bonus on WETH" in words
    mini = page.get_by_test_id("liquidation-policy-0").inner_text()
    assert "debt left without collateral stays yours" in mini  # Mini-Pool 0 kept the contracts' rules
    box = page.locator("th", has_text="Liq. threshold").first.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280  # seen without scrolling on a laptop
    # ... and so is every column: no pool's section scrolls sideways at 1280 px.
    sections = "[...document.querySelectorAll('main section')]"
    assert page.evaluate(f"{sections}.filter((s) => s.scrollWidth > s.clientWidth).length") == 0
    # its tranche's cash is 0, but a borrow draws on the Core-Pool's credit line
    assert "+ 1,000,000 USDC credit line" in page.get_by_test_id("available-0-was-USDC").inner_text()
    for name, path in (
        ("markets", "/"),
        ("reserve", "/app/reserve/core/USDC"),
        ("mini-pool", "/app/mini-pool/0"),
        ("liquidations", "/app/liquidations"),
        ("risk", "/app/risk"),
    ):
        ready(page, served.url + path)
        screenshot(page, name)
    ready(
        page, served.url + "/app/reserve/core/USDC"
    )  # the PI controller's last update: a time, not a number
    assert re.search(r"last update at 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC\.", page.inner_text("main"))
    op_context.close()
    context.close()


def test_refusals_and_what_ifs(browser: Any, console: Console, served: ServedNode) -> None:
    context, page, me = new_account(browser, console, served)
    for asset in ("WETH", "USDC"):
        page.select_option("#faucet-asset", asset)
        page.fill("#faucet-amount", "2" if asset == "WETH" else "500")
        page.click("#faucet-form button")
        page.wait_for_selector(f"#faucet-result:has-text('{asset}')")
    act(page, "deposit", "core", "WETH", "2")
    sign(page)
    act(page, "borrow", "core", "USDC", "3000")
    sign(page)

    def refused(action: str, asset: str, amount: str, words: str) -> None:
        act(page, action, "core", asset, amount)
        page.wait_for_selector(f"#preview .refused:has-text('{words}')")
        assert page.is_disabled("#sign")

    refused("borrow", "USDC", "1.1234567", "USDC has 6 decimals")
    refused("deposit", "WETH", "1e3", "is not an amount")
    refused("deposit", "WETH", "-1", "is not an amount")
    refused("deposit", "WETH", "0", "more than 0")
    refused("borrow", "USDC", "100000", "borrow")
    refused("withdraw", "WETH", "2", "withdraw")
    refused("deposit", "WETH", "50", "wallet")
    assert page.inner_text("#preview .refused .muted").strip() == "(protocol error ERC20InsufficientBalance)"
    act(page, "deposit", "core", "USDC", "100")
    sign(page)
    act(page, "deposit", "0", "was-USDC", "50")  # a tranche: the preview says where it comes from
    tranche = page.get_by_test_id("preview-tranche")
    tranche.wait_for()
    assert "it is taken from your USDC supplied in the Core-Pool" in tranche.inner_text()
    with page.expect_download() as download:  # the exported key file is the CLI's key file
        page.click("#export-key")
    assert Key.load(Path(download.value.path())).address == me
    page.click("button[aria-label^='Use WETH as collateral in Core-Pool']")
    page.wait_for_selector("#positions-error:has-text('backs your debt')")
    screenshot(page, "account-refusal")

    page.fill("#whatif-usd", "1000")
    page.click("#value-form button")
    page.wait_for_selector("[data-testid=whatif-repay-core-USDC]")
    page.select_option("#whatif-asset", "WETH")
    page.fill("#whatif-pct", "-30")
    page.click("#price-form button")
    page.wait_for_selector("[data-testid=whatif-price-core]")
    p: Protocol = served.protocol_copy()

    def after(fn: Any) -> int:
        q = pickle.loads(pickle.dumps(p))
        fn(q)
        return q.health_factor(me)

    usd = 1_000 * 10**8
    weth = usd * E18 // p.price("WETH")
    usdc = usd * E6 // p.price("USDC")
    assert wad_of(page, "whatif-repay-core-USDC") == after(
        lambda q: (q.mint(me, "USDC", usdc), q.repay(me, "USDC", usdc))
    )
    assert wad_of(page, "whatif-deposit-core-WETH") == after(
        lambda q: (q.mint(me, "WETH", weth), q.deposit(me, "WETH", weth))
    )
    shocked = p.price("WETH") * 7_000 // 10_000
    assert wad_of(page, "whatif-price-core") == after(lambda q: q.set_price("WETH", shocked))
    assert wad_of(page, "whatif-price-core") < wad_of(page, "hf") and wad_of(page, "hf") > WAD

    # WETH crashes; the keeper takes all the collateral: the banner says what is left to do.
    role_send(served, "oracle", "set_price", asset="WETH", price=str(400 * 10**8))
    page.wait_for_selector("#alerts .banner:has-text('no collateral left')", timeout=30_000)
    assert "nothing more can be liquidated; repay the $" in page.inner_text("#alerts")
    context.close()


def test_max_amounts_apys_and_rate_model(browser: Any, console: Console, served: ServedNode) -> None:
    """Max fills the exact most each action takes (the node's dry runs), a whole withdrawal or
    repayment goes as "max"; positions show their APYs; the reserve page names its rate model."""
    context, page, me = new_account(browser, console, served)
    for asset, amount in (("WETH", "10"), ("USDC", "1000")):
        page.select_option("#faucet-asset", asset)
        page.fill("#faucet-amount", amount)
        page.click("#faucet-form button")
        page.wait_for_selector(f"#faucet-result:has-text('{asset}')")

    def fill_max(action: str, pool: str, asset: str) -> str:
        page.select_option("#action", action)
        page.select_option("#pool", pool)
        page.select_option("#asset", asset)
        page.fill("#amount", "")
        page.click("#max-btn")
        page.wait_for_function("document.querySelector('#amount').value !== ''")
        page.click("#preview-btn")
        page.wait_for_selector("#sign:enabled")
        return str(page.input_value("#amount"))

    assert fill_max("deposit", "core", "WETH") == "10"  # the wallet
    words = page.get_by_test_id("max-info").inner_text()
    assert "The most you can deposit now: 10 WETH. Limits: your wallet 10 WETH." in words
    sign(page)
    typed = fill_max("borrow", "core", "USDC")
    words = page.get_by_test_id("max-info").inner_text()
    whole, _, frac = typed.partition(".")
    assert f"The most you can borrow now: {int(whole):,}" in words and "your borrowing power" in words
    assert wad_of(page, "preview-hf") >= WAD  # at the LTV: HF = threshold / LTV, and a warning
    assert "close to 1" in page.get_by_test_id("preview-warning").inner_text()
    screenshot(page, "account-max-borrow")
    units = int(whole) * E6 + int(frac.ljust(6, "0"))
    # The positions list what each reserve lends you: the same exact figure.
    assert page.get_by_test_id("borrowable-core-USDC").get_attribute("data-units") == str(units)
    assert "net worth $37,000 · net APY 0.00 %" in page.inner_text("#positions")
    risk = page.get_by_test_id("risk-core").inner_text()
    assert risk == "Max LTV 75 % · liquidation threshold 80 % · borrowing limit used 0 %"
    sign(page)
    # The health factor alert says the current figure, one per pool.
    page.wait_for_selector("#alerts [data-key=hf-core]:has-text('health factor in the Core-Pool is 1.06')")
    p = served.protocol_copy()
    assert p.debt(me, "USDC") >= units  # borrowed exactly what Max typed ...
    try:  # ... and not one base unit more could have been
        p.borrow(me, "USDC", 1)
        raise AssertionError("the borrow max left room to borrow")
    except ProtocolError as e:
        assert e.code == "9"

    # The positions show each reserve's APY, the markets page's figures.
    page.wait_for_selector("#positions td:has-text('27,')")
    positions = page.locator("#positions table", has_text="Positions in Core-Pool")
    row = positions.locator("tbody tr", has_text="USDC").inner_text().split("\t")
    ready(page, served.url + "/")
    core = page.locator("section", has=page.locator("h2#pool-core"))
    market = core.locator("tbody tr", has_text="USDC").first.inner_text().split("\t")
    headers = core.locator("thead th").all_inner_texts()
    assert row[4] == market[headers.index("Borrow APY")] and row[4].endswith("%")
    ready(page, served.url + "/app/account")

    # Withdrawing with debt: the most that keeps the health factor at 1.01 (the protocol's own
    # most leaves 1.00, liquidatable after a minute of interest), the protocol's figure told beside.
    typed = fill_max("withdraw", "core", "WETH")
    assert 0 < float(typed) < 10 and 101 * WAD // 100 <= wad_of(page, "preview-hf") < 102 * WAD // 100
    words = page.get_by_test_id("max-info").inner_text()
    assert "keeping your health factor at 1.01 or more" in words and "The protocol would take up to" in words
    screenshot(page, "account-max-withdraw")
    # Repaying all: Max reads the whole debt and sends "max" (interest to the block included).
    # A position's Repay button opens the form on it, with the most it takes said.
    page.click("button[aria-label='repay USDC in Core-Pool']")
    page.wait_for_selector("#max-info:has-text('The most you can repay now: all of it')")
    assert [page.input_value(s) for s in ("#action", "#pool", "#asset")] == ["repay", "core", "USDC"]
    fill_max("repay", "core", "USDC")
    assert "all of it" in page.inner_text("#max-info") and "moves all of it" in page.inner_text("#preview")
    sign(page)
    assert served.call(lambda q: q.debt(me, "USDC")) == 0
    page.wait_for_selector("#alerts [data-key=hf-core]", state="detached")  # healthy again: gone
    fill_max("withdraw", "core", "WETH")  # no debt left: all of it, as "max"
    sign(page)
    assert served.call(lambda q: q.core.reserve(("WETH", True)).a_balance(me, q.now)) == 0
    txs = served.get(f"/txs?sender={me}&limit=10")["items"]
    assert [t["params"]["amount"] for t in txs[:2]] == ["max", "max"]
    page.wait_for_selector("#history tbody tr:first-child:has-text('withdraw') td:text-is('all')")
    # Nothing left to withdraw: Max says so and types nothing.
    page.select_option("#action", "withdraw")
    page.click("#max-btn")
    page.wait_for_selector("#max-info:has-text('You cannot withdraw any WETH in the Core-Pool now.')")

    # A Mini-Pool tranche borrowed straight into the wallet as USDC (unwrapped, as offered).
    page.select_option("#faucet-asset", "wstETH")
    page.fill("#faucet-amount", "5")
    page.click("#faucet-form button")
    page.wait_for_selector("#faucet-result:has-text('wstETH')")
    act(page, "deposit", "0", "wstETH", "5")
    assert page.is_hidden("#unwrap-label")  # nothing to unwrap in a deposit
    sign(page)
    usdc_before = served.call(lambda q: q.wallet("USDC", me))
    act(page, "borrow", "0", "was-USDC", "100")
    assert page.inner_text("#unwrap-label") == "Receive USDC in your wallet" and page.is_checked("#unwrap")
    words = page.get_by_test_id("preview-tranche").inner_text()
    got = re.search(r"you receive ([\d,.]+) USDC in your wallet\.", words)
    assert got is not None, words
    sign(page)
    page.wait_for_selector("#history td:text-is('borrow, received as USDC')")
    usdc = served.call(lambda q: q.wallet("USDC", me)) - usdc_before
    assert f"{usdc // E6:,}.{usdc % E6:06d}".rstrip("0").rstrip(".") == got.group(1)

    # Turning a collateral off with debt asks first, with the health factor before and after.
    for action, asset, amount in (
        ("deposit", "WETH", "10"),
        ("deposit", "USDC", "1000"),
        ("borrow", "USDT", "500"),
    ):
        act(page, action, "core", asset, amount)
        sign(page)
    switch = "button[aria-label^='Use USDC as collateral in Core-Pool']"
    page.wait_for_selector(f"{switch}[aria-pressed=true]")
    asked: list[str] = []

    def answer(accept: bool) -> None:
        """Click the switch; answer the question it asks (the page waits on it) and keep it."""
        before = len(asked)
        page.once("dialog", lambda d: (asked.append(d.message), d.accept() if accept else d.dismiss()))
        page.click(switch)
        for _ in range(100):  # the question comes after the node's exact preview
            if len(asked) > before:
                return
            page.wait_for_timeout(100)
        raise AssertionError("no question asked")

    answer(accept=False)  # nothing is sent
    assert re.match(
        r"Stop using USDC as collateral in the Core-Pool\? Your health factor goes from [\d.]+ to [\d.]+ "
        r"and your borrowing power from \$[\d,.]+ to \$[\d,.]+\.$",
        asked[0],
    ), asked
    assert served.call(lambda q: q.core.is_collateral(me, q.core.reserve(("USDC", True))))
    answer(accept=True)  # sent
    page.wait_for_selector(f"{switch}[aria-pressed=false]")
    assert not served.call(lambda q: q.core.is_collateral(me, q.core.reserve(("USDC", True))))
    # Repaying with your supply (aTokens), all of it: sent as "max", no debt left.
    act(page, "borrow", "core", "USDC", "100")
    sign(page)
    fill_max("repay_with_a_tokens", "core", "USDC")
    assert "The most you can repay from your supply now: all of it" in page.inner_text("#max-info")
    sign(page)
    assert served.call(lambda q: q.debt(me, "USDC")) == 0
    page.wait_for_selector("#alerts [data-key=hf-core]", state="detached")  # healthy again: gone
    assert served.get(f"/txs?sender={me}&limit=1")["items"][0]["params"] == {"asset": "USDC", "amount": "max"}

    ready(page, served.url + "/app/reserve/core/USDC")
    model = page.get_by_test_id("rate-model").inner_text()
    assert model.startswith("Rate model: a PI (proportional-integral) controller")
    assert "toward a target of 80 %" in model
    assert "Model: pi" not in page.inner_text("main")
    screenshot(page, "reserve-rate-model")
    ready(page, served.url + "/app/reserve/0/was-USDC")  # a tranche lends through the credit line
    available = page.get_by_test_id("available-0-was-USDC").inner_text()
    assert available == "0 was-USDC\n+ 999,900 USDC credit line"  # 100 of 1,000,000 drawn above
    ready(page, served.url + "/app/mini-pool/0")
    tranches = page.locator("table", has_text="Tranche reserves").inner_text()
    assert "Supply APY" in tranches and "Borrow APY" in tranches
    context.close()
