"""The CLI as a person uses it, against a real node (``astera serve`` in a subprocess, SQLite):
whole tokens in and out, refusals in plain words, operator commands signed with role keys,
one line and exit code 1 (never a traceback) for every user error, tables in 80 columns."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from astera.cli import app, tables
from astera.cli.errors import CliError, guarded
from astera.cli.wallet import moved
from astera.client import Client
from astera.human import event_pool

from .node_harness import NodeProcess, free_port, key, make_genesis

runner = CliRunner()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    tmp = tmp_path_factory.mktemp("cli-node")
    proc = NodeProcess(tmp / "data", make_genesis(), faucet=True).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """$ASTERA_HOME with the network's role keys saved under their role names."""
    home = tmp_path_factory.mktemp("cli-home")
    for role in ("oracle", "admin", "emergency_admin"):
        key(role).save(home / "keys" / f"{role}.key")
    return home


def astera(home: Path, node: NodeProcess | str, *args: str) -> tuple[int, str, str]:
    url = node if isinstance(node, str) else node.url
    result = runner.invoke(app, list(args), env={"ASTERA_HOME": str(home), "ASTERA_NODE": url})
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    ), result.output
    return result.exit_code, result.stdout, result.stderr


def ok(home: Path, node: NodeProcess | str, *args: str) -> str:
    code, out, err = astera(home, node, *args)
    assert code == 0, err
    return out


def refused(home: Path, node: NodeProcess | str, *args: str) -> str:
    code, out, err = astera(home, node, *args)
    assert code == 1, out
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_a_borrower_in_whole_tokens_and_plain_words(node: NodeProcess, home: Path) -> None:
    address = ok(home, node, "key", "new", "ann").split()[0]
    assert "faucet 10 WETH" in ok(home, node, "faucet", "WETH", "10", "-k", "ann")
    assert refused(home, node, "faucet", "WETH", "0", "-k", "ann") == (
        "error: the faucet gives more than 0: ask for an amount above 0\n"
    )
    assert refused(home, node, "faucet", "WETH", "101", "-k", "ann") == (
        "error: the faucet gives at most 100 WETH per request\n"
    )
    assert "deposit 10 WETH" in ok(home, node, "deposit", "WETH", "10", "-k", "ann")
    err = refused(home, node, "borrow", "USDC", "100,000", "-k", "ann")
    assert err.startswith(
        "error: refused: borrowing 100,000 USDC needs $133,334 of collateral at your LTV of 75%; you have "
        "$37,000, so the most you can borrow now is 27,749.99 USDC (protocol code 9 "
        "VL_COLLATERAL_CANNOT_COVER_NEW_BORROW)"
    )
    assert "borrow 25,000 USDC" in ok(home, node, "borrow", "USDC", "25000", "-k", "ann")
    err = refused(home, node, "withdraw", "WETH", "max", "-k", "ann")
    assert (
        "withdrawing 10 WETH would leave your health factor at 0.00; the most you can withdraw now is" in err
    )
    assert "(protocol code 5 VL_TRANSFER_NOT_ALLOWED)" in err
    assert "error: refused: you have no USDT supplied in the Core-Pool (protocol code 1" in refused(
        home, node, "withdraw", "USDT", "max", "-k", "ann"
    )
    assert "without it your health factor would fall to 0.00" in refused(
        home, node, "set-collateral", "WETH", "off", "-k", "ann"
    )
    # Blocks take the wall clock's second: wait for the next one so the debt has accrued
    # interest beyond the 25,000 USDC the wallet holds (in the borrow's own second it has not).
    time.sleep(1.1)
    err = refused(home, node, "repay", "USDC", "max", "-k", "ann")
    assert "repay max needs" in err and "USDC more than your wallet holds (25,000 USDC)" in err
    ok(home, node, "key", "new", "ben")
    assert "transfer 0.5 WETH to" in ok(home, node, "transfer", "WETH", "0.5", "ben", "-k", "ann")
    assert "delegate 100 USDC to" in ok(home, node, "delegate", "USDC", "100", "ann", "-k", "ben")
    assert "delegate any amount of USDC to" in ok(home, node, "delegate", "USDC", "max", "ann", "-k", "ben")

    out = ok(home, node, "account", "ann")
    assert ok(home, node, "account", "-k", "ann") == out  # as the actions name it, or ASTERA_KEY
    assert address in out and "health factor 1.12" in out
    # 25,000 / (9.5 × 0.8) = $3,289.47...: the highest price at which HF < 1
    assert "$3,289.47" in out and "25,000" in out and "9.5" in out
    # the debt has accrued (a second or so at ~3 %): what is owed is rounded up, never shown as less
    assert "25,000.01" in out and "debt $25,001" in out
    # the pool's policy, one bullet a rule
    assert "  liquidations in the Core-Pool:\n  • a liquidation can repay at most half" in out
    assert "liq. price: the oracle price" in out
    assert "liq. price:" not in ok(home, node, "account", "ben")  # no debt: no liquidation price to explain
    raw = ok(home, node, "account", "ann", "--raw")
    assert str(95 * 10**17) in raw and str(25_000 * 10**6) in raw
    assert '"next_nonce": 3' in ok(home, node, "account", "ann", "--json")
    out = ok(home, node, "markets")
    for text in (
        "Core-Pool: rates",
        "supply APY",
        "Mini-Pool 0: credit lines",
        "1,000,000",
        "$3,700.00",
        "75%",
    ):
        assert text in out
    out = ok(home, node, "history", "ann")
    assert "transfer" in out and "0.5 WETH to" in out and "25,000 USDC" in out and "10 WETH" in out
    ok(home, node, "faucet", "USDC", "1", "-k", "ann")
    out = ok(home, node, "repay", "USDC", "max", "-k", "ann")  # says what "max" repaid, interest included
    assert re.match(r"repay everything \(max\): 25,000\.0000\d+ USDC in block \d+", out), out


def test_liquidation_rules_wrap_under_their_own_text() -> None:
    """Not at column 0, where they read as the start of something else."""
    console = Console(width=40, record=True)
    rules = ["debt left without collateral stays yours"]
    for renderable in tables._rules("liquidations in Mini-Pool 0:", rules):
        console.print(renderable)
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert lines == ["  liquidations in Mini-Pool 0:", "  • debt left without collateral stays", "    yours"]


def test_operator_commands_and_a_liquidation_in_the_history(node: NodeProcess, home: Path) -> None:
    ok(home, node, "key", "new", "cat")
    ok(home, node, "key", "new", "liq")
    ok(home, node, "faucet", "WETH", "1", "-k", "cat")
    ok(home, node, "deposit", "WETH", "1", "-k", "cat")
    ok(home, node, "borrow", "USDC", "2500", "-k", "cat")
    err = refused(home, node, "set-price", "WETH", "2000", "-k", "cat")
    assert "set_price needs the oracle key" in err and "--key astera-data/keys/oracle.key" in err
    err = refused(home, node, "liquidate", "cat", "WETH", "USDC", "max", "-k", "liq")
    assert "that account's health factor is 1.18: only accounts below 1 can be liquidated" in err
    assert "WETH price set to $2,900.00" in ok(home, node, "set-price", "WETH", "2900", "-k", "oracle")
    ok(home, node, "faucet", "USDC", "10000", "-k", "liq")
    out = ok(home, node, "liquidate", "cat", "WETH", "USDC", "max", "-k", "liq", "--what-if")
    cat = ok(home, node, "key", "show", "cat").strip()
    assert " ".join(out.split()).startswith(
        f"what if: liquidate {cat[:16]}…: repay the most allowed of its USDC debt for its WETH"
    )
    theirs = out.split(f"account {cat[:16]}… in the Core-Pool")[1]
    hf_now, hf_after = _row(theirs, "health factor")  # half the debt repaid: better, not yet healthy
    assert float(hf_now) < float(hf_after) < 1
    # Debt reads rounded up to the cent: a second of interest (blocks take the wall clock) adds one.
    debt_now, debt_after = (float(x.replace(",", "")) for x in _row(theirs, "USDC debt"))
    assert 2_500 <= debt_now <= 2_500.01 and 1_250 <= debt_after <= 1_250.01
    out = ok(home, node, "liquidate", "cat", "WETH", "USDC", "max", "-k", "liq")
    assert "repaid 1,250" in out and " USDC, seized 0.46" in out
    out = ok(home, node, "history", "cat")
    assert "liquidations you suffered" in out and re.search(r"1,250(\.\d+)? USDC", out)
    ok(home, node, "set-price", "WETH", "3700", "-k", "oracle")

    assert "paused core" in ok(home, node, "pause", "-k", "emergency_admin")
    assert "the Core-Pool is paused by its emergency admin" in refused(
        home, node, "deposit", "WETH", "0.1", "-k", "cat"
    )
    ok(home, node, "unpause", "core", "-k", "emergency_admin")
    assert "set_deposit_cap" in ok(home, node, "admin")
    ok(home, node, "admin", "set_deposit_cap", "pool=core", "asset=WBTC", "cap=60", "-k", "admin")
    assert "60" in ok(home, node, "markets").split("WBTC")[2]
    assert "set_deposit_cap needs cap" in refused(
        home, node, "admin", "set_deposit_cap", "pool=core", "asset=WBTC"
    )


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("1e3", "'1e3' uses an exponent: write the number out (e.g. 1000, not 1e3)"),
        ("-1", "'-1' is negative: amounts are 0 or more"),
        ("0.0000001", "0.0000001 USDC has 7 decimals; the asset has 6 (smallest step 0.000001 USDC)"),
        ("1,5", "'1,5' is not an amount"),
    ],
)
def test_amounts_are_refused_with_their_reason(
    node: NodeProcess, home: Path, amount: str, reason: str
) -> None:
    assert reason in refused(home, node, "deposit", "USDC", amount)


def test_user_errors_are_one_line_without_a_traceback(node: NodeProcess, home: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"format": ')
    (tmp_path / "shape.json").write_text('{"format": "astera-scenario/1", "actions": []}')
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    (home / "keys" / "broken.key").write_text("not a key")
    down = f"http://127.0.0.1:{free_port()}"
    cases = [
        (("replay", str(tmp_path / "missing.json")), "no such file"),
        (("replay", str(tmp_path / "bad.json")), "is not valid JSON (line 1, column 12"),
        (("replay", str(tmp_path / "bin.json")), "is not a JSON text file"),
        (
            ("replay", str(tmp_path / "shape.json")),
            "not a valid astera-scenario/1 document (missing 'start_timestamp')",
        ),
        (("keeper", str(tmp_path / "bad.json")), "is not valid JSON"),
        (("replay", str(tmp_path)), "is a directory"),
        (("deposit", "USDC", "1", "-k", "broken"), "is not a usable astera key file"),
        (("deposit", "USDC", "1", "-k", "nobody"), "no key"),
        (("account", "--node", "127.0.0.1:8000"), "needs its scheme, e.g. http://127.0.0.1:8000"),
        (("verify", "--data", str(tmp_path / "nothing")), "FAILED: no log in"),
        (
            ("deposit", "FOO", "1", "-k", "ann"),
            "unknown asset 'FOO'; the node lists USDC, USDT, WBTC, WETH, was-USDC, wstETH",
        ),
    ]
    for args, text in cases:
        assert text in refused(home, node, *args), args
    err = refused(home, down, "account", key("ann").address)
    assert f"no node answers at {down}: start one with `make run` or `astera serve`" in err
    # Following: a URL without its scheme is refused before any data directory is made; a
    # leader that does not answer is named.
    no_scheme = "127.0.0.1:8000"
    for args in (("serve", "--follow", no_scheme), ("keeper", "--node", no_scheme, "-k", "oracle")):
        err = refused(home, node, *args, "--data", str(tmp_path / "follower"))
        assert "needs its scheme, e.g. http://127.0.0.1:8000" in err and not (tmp_path / "follower").exists()
    err = refused(home, down, "keeper", "--node", down, "-k", "oracle", "--data", str(tmp_path / "keeper"))
    assert f"cannot follow {down}: no node answers at {down}" in err


def test_tables_fit_80_columns_when_piped(node: NodeProcess, home: Path) -> None:
    ok(home, node, "key", "new", "dan")
    ok(home, node, "faucet", "WBTC", "2", "-k", "dan")
    ok(home, node, "deposit", "WBTC", "2", "-k", "dan")
    ok(home, node, "borrow", "USDT", "12345.678901", "-k", "dan")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(ASTERA_HOME=str(home), ASTERA_NODE=node.url)
    for args, whole in (
        (("markets",), "5,000,000"),
        (("account", "dan"), "12,345.6"),
        (("history", "dan"), "12,345.678901 USDT"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "astera", *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert max(len(line) for line in out.stdout.splitlines()) <= 80, out.stdout
        assert whole in out.stdout, out.stdout  # nothing cut to fit


def _row(out: str, label: str) -> list[str]:
    """One row of a what-if table: its cells, the arrow between now and after left out."""
    line = next(line for line in out.splitlines() if line.strip().startswith(label))
    return [cell for cell in line[len(label) + 1 :].split() if cell != "→"]


def test_what_if_shows_now_and_after_and_sends_nothing(node: NodeProcess, home: Path) -> None:
    address = ok(home, node, "key", "new", "eve").split()[0]
    ok(home, node, "faucet", "WETH", "10", "-k", "eve")
    ok(home, node, "deposit", "WETH", "10", "-k", "eve")
    fay = ok(home, node, "key", "new", "fay").split()[0]
    height = Client(node.url).status()["height"]

    out = ok(home, node, "borrow", "USDC", "5000", "-k", "eve", "--what-if")
    assert out.startswith("what if: borrow 5,000 USDC (a dry run on the node's state; nothing was sent)")
    assert "you in the Core-Pool" in out
    # $37,000 of WETH at a threshold of 80 % against $5,000: 5.92; 75 % of it, less the debt
    assert _row(out, "health factor") == ["∞", "(no", "debt)", "5.92"]
    assert _row(out, "can borrow") == ["$27,750", "$22,750"]
    assert _row(out, "USDC debt") == ["0", "5,000"]
    assert _row(out.split("you: wallet")[1], "USDC") == ["0", "5,000"]
    assert _row(out, "WETH liq. price") == ["none", "$624.99"]  # below 5,000 / (10 × 0.8), HF < 1
    assert "USDC in the Core-Pool" in out and _row(out, "available")[0] != _row(out, "available")[1]
    assert max(len(line) for line in out.splitlines()) <= 80, out

    err = refused(home, node, "borrow", "USDC", "100,000", "-k", "eve", "--what-if")
    assert err.startswith(
        "error: borrow 100,000 USDC would be refused: borrowing 100,000 USDC needs $133,334 of collateral"
    ) and err.endswith("; nothing was sent (--what-if)\n")

    out = ok(home, node, "transfer", "WETH", "1", "fay", "-k", "eve", "--what-if")
    yours, theirs = out.split(f"account {fay[:16]}… in the Core-Pool")
    assert _row(yours, "WETH supplied") == ["10", "9"] and _row(theirs, "WETH supplied") == ["0", "1"]
    out = ok(home, node, "set-collateral", "WETH", "off", "-k", "eve", "--what-if")
    assert _row(out, "WETH as collateral") == ["yes", "no"]

    assert Client(node.url).status()["height"] == height  # nothing was sent
    assert '"next_nonce": 1' in ok(home, node, "account", address, "--json")

    # A Mini-Pool tranche in whole tokens: borrowing it also moves Core-Pool shares, shown too.
    ok(home, node, "faucet", "wstETH", "10", "-k", "eve")
    ok(home, node, "deposit", "wstETH", "10", "-p", "0", "-k", "eve")
    out = ok(home, node, "borrow", "was-USDC", "100", "-p", "0", "-k", "eve", "--what-if")
    mini, core = out.split("you in the Core-Pool")
    assert "you in Mini-Pool 0" in mini and _row(mini, "was-USDC debt") == ["0", "100"]
    assert _row(core, "USDC supplied") == ["0", "100"]  # the tranche's Core shares
    assert "borrow 100 was-USDC in block" in ok(
        home, node, "borrow", "was-USDC", "100", "-p", "0", "-k", "eve"
    )
    assert "Mini-Pool 0 has no USDC reserve: its USDC is the tranche was-USDC, lent from the Core-Pool" in (
        refused(home, node, "borrow", "USDC", "100", "-p", "0", "-k", "eve")
    )
    # Mini-Pool refusals read as the Core-Pool's do (they fell back to the contract's names, and a
    # tranche's amounts read without its decimals).
    assert "the most you can borrow now is 30,699.99 was-USDC (protocol code 10" in refused(
        home, node, "borrow", "was-USDC", "1000000", "-p", "0", "-k", "eve"
    )
    assert "your wstETH backs your debt: without it your health factor would fall to 0.00" in refused(
        home, node, "set-collateral", "wstETH", "off", "-p", "0", "-k", "eve"
    )
    assert (
        "withdrawing 10 wstETH would leave your health factor at 0.00; the most you can withdraw"
        in refused(home, node, "withdraw", "wstETH", "10", "-p", "0", "-k", "eve")
    )
    assert "Mini-Pool 0 refuses a repayment above all of its was-USDC debt (100" in refused(
        home, node, "repay", "was-USDC", "200", "-p", "0", "-k", "eve"
    )
    assert (
        "depositing 200 was-USDC is paid from your USDC supply in the Core-Pool (100 was-USDC in its "
        "shares): 100 was-USDC short; deposit USDC in the Core-Pool first, or deposit at most 100 was-USDC"
    ) in refused(home, node, "deposit", "was-USDC", "200", "-p", "0", "-k", "eve")


def test_borrow_max_is_the_most_that_keeps_the_health_factor_at_1_01(node: NodeProcess, home: Path) -> None:
    address = ok(home, node, "key", "new", "gil").split()[0]
    err = refused(home, node, "borrow", "USDC", "max", "-k", "gil")
    assert err.startswith("error: you cannot borrow any USDC in the Core-Pool now (borrowing power 0 USDC")
    ok(home, node, "faucet", "WETH", "1", "-k", "gil")
    ok(home, node, "deposit", "WETH", "1", "-k", "gil")
    out = ok(home, node, "borrow", "USDC", "max", "-k", "gil")
    found = re.match(r"borrow ([\d,.]+) USDC \(the most keeping your health factor at 1.01\) in block", out)
    assert found, out
    core = Client(node.url).account(address)["pools"]["core"]
    assert int(core["health_factor"]) >= 101 * 10**16  # 80 % threshold over 75 % LTV: 1.06
    borrowed = int(next(p for p in core["positions"] if p["asset"] == "USDC")["debt"])
    assert borrowed // 10**6 == int(found.group(1).replace(",", "").split(".")[0]) > 2_700


def test_key_list_names_each_local_key_with_its_address(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert "no keys in" in ok(home, "http://unused", "key", "list")
    created = {name: ok(home, "http://unused", "key", "new", name).split()[0] for name in ("default", "ops")}
    (home / "keys" / "broken.key").write_text("not a key")
    (home / "keys" / "notes.txt").write_text("not listed")
    out = ok(home, "http://unused", "key", "list")
    assert out.startswith(f"keys in {home / 'keys'}\n")
    rows = [line.rstrip().split(maxsplit=1) for line in out.splitlines()[1:5]]
    assert rows == [
        ["name", "address"],
        ["broken", "not a usable astera key file (not JSON)"],
        ["default", created["default"]],
        ["ops", created["ops"]],
    ]
    # the table fits 80 columns; the heading's path is left whole for the terminal to wrap
    assert max(len(line) for line in out.splitlines()[1:]) <= 80, out
    listed = json.loads(ok(home, "http://unused", "key", "list", "--json"))
    assert [k.get("address") for k in listed] == [None, created["default"], created["ops"]]
    assert listed[1]["path"] == str(home / "keys" / "default.key")
    # a node's role keys, where `astera serve` generated them
    for role in ("oracle", "admin"):
        key(role).save(tmp_path / "data" / "keys" / f"{role}.key")
    out = ok(home, "http://unused", "key", "list", str(tmp_path / "data" / "keys"))
    assert f"oracle {key('oracle').address}" in out and f"admin  {key('admin').address}" in out
    assert "is not a directory" in refused(home, "http://unused", "key", "list", str(tmp_path / "none"))


def test_an_error_message_is_text_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """Brackets in a message are words ('[sweep]'), not Rich markup that swallowed them."""

    @guarded
    def command() -> None:
        raise CliError("the study has no [sweep] table; see [compare]")

    with pytest.raises(typer.Exit):
        command()
    assert capsys.readouterr().err == "error: the study has no [sweep] table; see [compare]\n"


def test_what_max_moved_is_read_from_its_event_in_any_pool() -> None:
    """Events name pools as the core does ("mini:0"); actions as references (0). A Mini-Pool
    repay max found no event when the two were compared as strings."""
    repaid = {"event": "Repay", "pool": "mini:0", "data": {"reserve": "was-USDC", "amount": "100000073"}}
    other = {"event": "Repay", "pool": "core", "data": {"reserve": "USDC", "amount": "5"}}
    receipt = {"events": [other, repaid]}
    assert moved(receipt, "repay", {"pool": 0, "asset": "was-USDC", "amount": "max"}) == 100_000_073
    assert moved(receipt, "repay", {"pool": "core", "asset": "USDC", "amount": "max"}) == 5
    assert moved(receipt, "repay", {"pool": 0, "asset": "was-USDC", "amount": "100000073"}) is None
    assert (event_pool("core"), event_pool("mini:12")) == ("core", 12)
