"""Python SDK for an Astera node: read its API, sign and submit transactions.

Example::

    from astera.client import Client, Key
    node = Client("http://127.0.0.1:8000")
    me = node.account_for(Key.generate())
    node.faucet(me.address, "WETH", 10 * 10**18)
    me.deposit("WETH", 10 * 10**18)
    me.borrow("USDC", 5_000 * 10**6)
    print(node.account(me.address)["pools"]["core"]["health_factor"])
    what_if = me.simulate("borrow", pool="core", asset="USDC", amount=str(20_000 * 10**6))
    print(what_if["results"][0]["ok"], what_if["accounts"][me.address]["pools"]["core"]["health_factor"])

Amounts are ints in the asset's base units (they travel as decimal strings). A refusal
raises :class:`ApiError` with the node's stable ``code`` (and ``reason``, the
protocol's code, when the protocol refused).

Every transaction an :class:`Account` signs expires :data:`DEFAULT_TTL` seconds after it
was signed (``expires_at`` in the signed body; the node refuses it as ``expired`` after
that block time), so a refused transaction cannot go through long after, when someone
resubmits the signed body. ``Account(client, key, ttl=None)`` signs without an expiry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, NotRequired, TypedDict

import httpx

from astera.actions import parse_params
from astera.wire import Key, sign_tx

__all__ = ["Account", "ApiError", "Client", "Key", "SimulatedTx", "Simulation", "UnsignedTx"]

Pool = str | int
#: Seconds a signed transaction stays valid (see the module docstring).
DEFAULT_TTL: Final = 600


class ApiError(Exception):
    """The node refused a request: HTTP ``status``, stable ``code``, the whole ``body``."""

    def __init__(self, status: int, body: Any) -> None:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code: str = err.get("code", f"http_{status}")
        self.reason: str | None = err.get("reason")
        self.body = body
        super().__init__(f"{status} {self.code}: {err.get('message', body)}")


class UnsignedTx(TypedDict):
    """A transaction body without its signature, as ``POST /simulate`` takes it."""

    sender: str
    action: str
    #: As ``POST /txs`` takes them: amounts as decimal strings of base units.
    params: dict[str, Any]
    #: Checked when given (the sender's next nonce).
    nonce: NotRequired[int]
    #: Checked when given.
    chain_id: NotRequired[str]


class SimulatedTx(TypedDict):
    """One transaction of a dry run: its events if it would pass (``ok``), else its refusal
    exactly as ``POST /txs`` would answer it (``error``: ``code``, ``message``, and for a
    protocol refusal ``reason``, ``name``, ``explanation``, ``max_amount`` where one applies)."""

    sender: str
    action: str
    ok: bool
    events: NotRequired[list[dict[str, Any]]]
    error: NotRequired[dict[str, Any]]


class Simulation(TypedDict):
    """The node's answer to a dry run (``POST /simulate``); nothing changed on the node."""

    #: The block time the transactions ran at.
    timestamp: int
    #: One per transaction, in order.
    results: list[SimulatedTx]
    #: Every account the transactions wrote to, and every sender, as ``GET /accounts/{address}``
    #: would show it after them.
    accounts: dict[str, dict[str, Any]]
    #: Every reserve the transactions name, as ``GET /pools/{pool}`` shows it after them.
    reserves: list[dict[str, Any]]


class Client:
    """A node's HTTP API."""

    def __init__(self, url: str = "http://127.0.0.1:8000", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self._chain_id: str | None = None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self._json(self.http.get(path, params={k: v for k, v in params.items() if v is not None}))

    # ---- reads ---------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.get("/status")  # type: ignore[no-any-return]

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = self.status()["chain_id"]
        return self._chain_id

    def markets(self) -> dict[str, Any]:
        return self.get("/markets")  # type: ignore[no-any-return]

    def account(self, address: str) -> dict[str, Any]:
        return self.get(f"/accounts/{address}")  # type: ignore[no-any-return]

    def block(self, height: int) -> dict[str, Any]:
        return self.get(f"/blocks/{height}")  # type: ignore[no-any-return]

    def tx(self, tx_hash: str) -> dict[str, Any]:
        return self.get(f"/txs/{tx_hash}")  # type: ignore[no-any-return]

    # ---- writes --------------------------------------------------------------------------------

    def submit(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Post a signed envelope; the receipt once it is durable."""
        return self._json(self.http.post("/txs", json=envelope))  # type: ignore[no-any-return]

    def faucet(self, address: str, asset: str, amount: int) -> dict[str, Any]:
        """Test funds from the node's faucet key."""
        body = {"address": address, "asset": asset, "amount": str(amount)}
        return self._json(self.http.post("/faucet", json=body))  # type: ignore[no-any-return]

    def simulate(self, txs: Sequence[UnsignedTx], timestamp: int | None = None) -> Simulation:
        """Dry-run unsigned transactions in order on the node's current state, as its next block
        (at ``timestamp`` if given, not before the head); nothing is logged or changed. A
        refused transaction is a result with ``ok`` false, not an :class:`ApiError` (that is
        for a malformed request: ``invalid_tx``, ``wrong_chain``)."""
        doc: dict[str, Any] = {"txs": [dict(tx) for tx in txs]}
        if timestamp is not None:
            doc["timestamp"] = timestamp
        return self._json(self.http.post("/simulate", json=doc))  # type: ignore[no-any-return]

    def max_amount(
        self, sender: str, action: str, asset: str, pool: Pool = "core", keep_health_factor: int | None = None
    ) -> dict[str, Any]:
        """The most ``action`` (deposit, withdraw, borrow, repay, repay_with_a_tokens) of
        ``sender`` takes on ``asset`` in ``pool``, exact in base units and good for any block of
        the next minute (``POST /max-amount``: ``amount`` is null when it takes nothing). With
        ``keep_health_factor`` (wad) a borrow or withdrawal stops where the health factor after
        it is still at least that; the protocol's own most is then ``protocol_amount``."""
        body: dict[str, Any] = {"sender": sender, "action": action, "pool": pool, "asset": asset}
        if keep_health_factor is not None:
            body["keep_health_factor"] = str(keep_health_factor)
        return self._json(self.http.post("/max-amount", json=body))  # type: ignore[no-any-return]

    def account_for(self, key: Key) -> Account:
        return Account(self, key)


def _amount(value: int | str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError("amounts are ints (base units) or 'max'")
    return str(value)


def _unsigned(sender: str, action: str, params: Mapping[str, Any]) -> UnsignedTx:
    """A transaction body (``None`` parameters omitted), checked against the action table first:
    a mistake is an :class:`astera.actions.InvalidParams` before anything is signed or sent."""
    body = {k: v for k, v in params.items() if v is not None}
    parse_params(action, body)
    return {"sender": sender, "action": action, "params": body}


class Account:
    """A key bound to a node: signs each action with the next nonce and submits it."""

    def __init__(self, client: Client, key: Key, ttl: int | None = DEFAULT_TTL) -> None:
        self.client = client
        self.key = key
        self.address = key.address
        #: Seconds each transaction stays valid after signing (None: no expiry).
        self.ttl = ttl
        self._nonce: int | None = None

    def send(self, action: str, **params: Any) -> dict[str, Any]:
        """Sign and submit one action (``params`` as the API takes them; ``None`` values omitted).

        The action and its parameters are checked against the action table first: a mistake is
        an :class:`astera.actions.InvalidParams` before anything is signed or sent."""
        body = _unsigned(self.address, action, params)["params"]
        if self._nonce is None:
            self._nonce = int(self.client.account(self.address)["next_nonce"])
        expires_at = None if self.ttl is None else int(time.time()) + self.ttl
        envelope = sign_tx(self.key, self.client.chain_id, self._nonce, action, body, expires_at)
        try:
            receipt = self.client.submit(envelope)
        except ApiError as e:
            if e.code == "bad_nonce":
                self._nonce = None  # re-read it next time
            raise
        except httpx.TransportError:
            self._nonce = None  # unknown whether it landed: re-read before the next one
            raise
        self._nonce += 1
        return receipt

    def simulate(self, action: str, **params: Any) -> Simulation:
        """What :meth:`send` with these arguments would do now, as the node's dry run answers it
        (:meth:`Client.simulate`); nothing is signed or sent, the nonce is not used."""
        return self.client.simulate([_unsigned(self.address, action, params)])

    def deposit(self, asset: str, amount: int, pool: Pool = "core", on_behalf_of: str | None = None) -> Any:
        return self.send("deposit", pool=pool, asset=asset, amount=_amount(amount), on_behalf_of=on_behalf_of)

    def withdraw(self, asset: str, amount: int | str, pool: Pool = "core", to: str | None = None) -> Any:
        return self.send("withdraw", pool=pool, asset=asset, amount=_amount(amount), to=to)

    def borrow(self, asset: str, amount: int, pool: Pool = "core", on_behalf_of: str | None = None) -> Any:
        return self.send("borrow", pool=pool, asset=asset, amount=_amount(amount), on_behalf_of=on_behalf_of)

    def repay(
        self, asset: str, amount: int | str, pool: Pool = "core", on_behalf_of: str | None = None
    ) -> Any:
        return self.send("repay", pool=pool, asset=asset, amount=_amount(amount), on_behalf_of=on_behalf_of)

    def set_collateral(self, asset: str, enabled: bool, pool: Pool = "core") -> Any:
        return self.send("set_collateral", pool=pool, asset=asset, enabled=enabled)

    def liquidate(
        self,
        target: str,
        collateral_asset: str,
        debt_asset: str,
        debt_to_cover: int | str,
        pool: Pool = "core",
        receive_a_token: bool = False,
    ) -> Any:
        return self.send(
            "liquidate",
            pool=pool,
            target=target,
            collateral_asset=collateral_asset,
            debt_asset=debt_asset,
            debt_to_cover=_amount(debt_to_cover),
            receive_a_token=receive_a_token or None,
        )

    def set_price(self, asset: str, price: int) -> Any:
        """Oracle key only: a new USD price (8 decimals)."""
        return self.send("set_price", asset=asset, price=_amount(price))
