"""Token balance checks refuse with the token's own revert (issue 9, vectors FORMAT §4.6).

The Core's aToken and debt token are IncentivizedERC20: moving more than the sender holds
reverts with the reason string ``ERC20: transfer amount exceeds balance`` (before any
health-factor check), and burning more than the holder holds with ``ERC20: burn amount
exceeds balance`` (after a checked total-supply decrement, which panics first when the burn
exceeds the whole supply). A Mini-Pool's ERC-6909 token (Solady) refuses with its custom
error ``InsufficientBalance``. Each refusal is a typed :class:`BalanceExceeded` whose
message reads in whole tokens, changes nothing, and reaches node clients as ``reason``.
"""

from __future__ import annotations

import pytest

from astera.core import BalanceExceeded, Protocol, ProtocolError
from astera.core.errors import whole_tokens
from astera.node.actions import refusal
from strategies import EMERGENCY, mini_protocol, refused, supply

USDC = 10**6
WETH = 10**18
TRANSFER_REASON = "reason:ERC20: transfer amount exceeds balance"


@pytest.fixture
def p() -> Protocol:
    p = mini_protocol()
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WETH", 4 * WETH // 10)
    return p


def test_core_a_token_transfer_beyond_balance_reverts_with_the_reason_string(p: Protocol) -> None:
    err = refused(p, p.transfer, "bob", "carol", "WETH", WETH)
    assert isinstance(err, BalanceExceeded)
    assert (err.code, err.name) == (TRANSFER_REASON, "REVERT_REASON")
    assert err.as_dict() == {"code": TRANSFER_REASON, "name": "REVERT_REASON"}
    assert (err.holder, err.token, err.held, err.amount) == ("bob", "aWETH", 4 * WETH // 10, WETH)
    assert "you hold 0.4 aWETH and tried to send 1" in str(err)


def test_balance_check_comes_before_the_health_factor_check(p: Protocol) -> None:
    p.borrow("bob", "USDC", 300 * USDC)  # bob now has debt: a transfer of his collateral would fail `5`
    assert refused(p, p.transfer, "bob", "carol", "WETH", WETH).code == TRANSFER_REASON
    assert refused(p, p.transfer, "bob", "carol", "WETH", 4 * WETH // 10).code == "5"


def test_tranche_payment_with_too_few_core_shares_is_the_core_token_refusal(p: Protocol) -> None:
    """A Mini-Pool aUSDC deposit moves the payer's Core USDC aToken shares: short of them,
    the Core aToken refuses (not the ERC-6909 token)."""
    supply(p, "dave", "USDC", 10 * USDC)
    shares = p.wrapper_balance("dave", "USDC")
    err = refused(p, p.deposit, "dave", "aUSDC", shares + 1, pool=0)
    assert err.code == TRANSFER_REASON and err.holder == "dave"


def test_mini_pool_transfer_beyond_balance_is_the_erc6909_custom_error(p: Protocol) -> None:
    supply(p, "carol", "EXO", 3 * WETH, pool=0)
    err = refused(p, p.transfer, "carol", "dave", "EXO", 3 * WETH + 1, pool=0)
    assert isinstance(err, BalanceExceeded)
    assert (err.code, err.name) == ("error:InsufficientBalance", "InsufficientBalance")


def test_core_burn_beyond_balance_reverts_with_the_burn_reason_or_panics_beyond_supply(p: Protocol) -> None:
    """Unreachable through validated actions (withdraw refuses `4` first), so the token's
    primitive is driven directly: its order of checks is the contracts'."""
    r = p.core.reserve(("WETH", True))
    supply(p, "carol", "WETH", WETH)
    index, held = r.liquidity_index, r.a_balance("bob", p.now)
    before = p.state_hash()
    with pytest.raises(BalanceExceeded) as exc, p.transaction():
        p.core.burn_a(r, "bob", held + WETH // 2, index)  # beyond bob's balance, within the supply
    assert (exc.value.code, exc.value.name) == ("reason:ERC20: burn amount exceeds balance", "REVERT_REASON")
    assert "bob holds 0.4 aWETH; burning 0.9 was refused" in str(exc.value)
    with pytest.raises(ProtocolError) as exc2, p.transaction():
        p.core.burn_a(r, "bob", held + 2 * WETH, index)  # beyond the whole supply
    assert exc2.value.code == "panic:0x11"
    assert p.state_hash() == before


def test_node_refusal_carries_the_code_and_the_plain_message(p: Protocol) -> None:
    err = refused(p, p.transfer, "bob", "carol", "WETH", WETH)
    body = refusal(err).body()["error"]
    assert (body["code"], body["reason"], body["name"]) == ("refused", TRANSFER_REASON, "REVERT_REASON")
    assert "you hold 0.4 aWETH and tried to send 1" in body["message"]


@pytest.mark.parametrize(
    ("amount", "decimals", "text"),
    [(0, 6, "0"), (400_000, 6, "0.4"), (10**18, 18, "1"), (123_456_789, 8, "1.23456789"), (-5, 2, "-0.05")],
)
def test_whole_tokens_is_exact(amount: int, decimals: int, text: str) -> None:
    assert whole_tokens(amount, decimals) == text


def test_a_paused_pool_refuses_a_transfer_after_the_tokens_balance_check(p: Protocol) -> None:
    """The token moves the balance, then the pool's finalizeTransfer refuses while paused."""
    p.set_pause(EMERGENCY, "core", True)
    assert refused(p, p.transfer, "bob", "carol", "WETH", WETH).code == TRANSFER_REASON
    assert refused(p, p.transfer, "bob", "carol", "WETH", WETH // 10).code == "59"


def test_a_tranche_payment_needs_the_core_unpaused(p: Protocol) -> None:
    """Paying aUSDC moves Core aToken shares, whose transfer the (paused) Core finalizes."""
    supply(p, "dave", "USDC", 10 * USDC)
    p.set_pause(EMERGENCY, "core", True)
    assert refused(p, p.deposit, "dave", "aUSDC", p.wrapper_balance("dave", "USDC"), pool=0).code == "59"
