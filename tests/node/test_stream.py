"""/stream under load: the backlog is read a page at a time as the client takes it, stops when
the client leaves, is bounded per request (the client resumes with Last-Event-ID), and one
client holds a bounded number of streams. Served by uvicorn in process, on SQLite."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from astera.compose import create_app
from astera.node import sse
from astera.node.chain import open_chain
from astera.node.limits import Limits
from astera.node.node import Node
from astera.node.store import open_store
from astera.wire.tx import sign_tx

from .follow_harness import until
from .node_harness import LiveApi, key, make_genesis

BLOCKS = 12


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(limits)``: a live node with :data:`BLOCKS` blocks of one deposit each."""
    opened: list[LiveApi] = []

    def _serve(limits: Limits) -> LiveApi:
        chain = open_chain(open_store(None, str(tmp_path / "data")), make_genesis())
        node = Node(chain, snapshot_every=0, limits=limits)
        live = LiveApi(create_app(node), node).__enter__()
        opened.append(live)
        with httpx.Client(base_url=live.url, timeout=30) as http:
            for nonce in range(BLOCKS):
                tx = sign_tx(
                    key("alice"),
                    node.chain_id,
                    nonce,
                    "deposit",
                    {"pool": "core", "asset": "USDC", "amount": "1"},
                )
                assert http.post("/txs", json=tx).status_code == 200
        return live

    yield _serve
    for live in opened:
        live.__exit__()


def frames(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of each SSE frame."""
    event = ident = data = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and event:
            yield event, ident, data
            event = ident = data = ""


def read(url: str, count: int, **kwargs: Any) -> list[tuple[str, str, str]]:
    """The first ``count`` frames (or fewer, if the stream ends)."""
    got: list[tuple[str, str, str]] = []
    with httpx.stream("GET", url + "/stream", timeout=10, **kwargs) as r:
        assert r.status_code == 200, r.read()
        for f in frames(r.iter_lines()):
            got.append(f)
            if len(got) == count:
                break
    return got


def test_backlog_is_bounded_per_request_and_resumes_with_last_event_id(serve: Any) -> None:
    live = serve(Limits(stream_backlog_blocks=5, stream_page_blocks=2))
    first = read(live.url, 10, params={"since": 0})
    assert [f[1] for f in first[:5]] == ["1", "2", "3", "4", "5"]
    assert first[5][0] == "end" and json.loads(first[5][2]) == {"reason": "backlog", "resume_after": 5}
    assert len(first) == 6  # the stream ended there
    second = read(live.url, 10, headers={"Last-Event-ID": "5"})
    assert [f[1] for f in second[:5]] == ["6", "7", "8", "9", "10"] and second[5][0] == "end"
    last = read(live.url, 2, headers={"Last-Event-ID": "10"})
    assert [(f[0], f[1]) for f in last] == [("block", "11"), ("block", "12")]
    block = json.loads(last[1][2])
    assert block["txs"][0]["action"] == "deposit" and block["txs"][0]["events"][0]["event"] == "Deposit"
    assert block == httpx.get(live.url + "/blocks/12").json()


def test_a_live_block_reads_as_the_backlog_and_blocks_height_show_it(serve: Any) -> None:
    """A block that arrives live has the shape of ``/blocks/{height}`` (params, signature, seq,
    each event's tx_seq), as a block read from the backlog does: one shape for a client."""
    live = serve(Limits())
    got: list[tuple[str, str, str]] = []
    reader = threading.Thread(target=lambda: got.extend(read(live.url, 1, params={"since": BLOCKS})))
    reader.start()
    deadline = time.monotonic() + 10
    while len(live.node.broadcaster) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    tx = sign_tx(
        key("alice"), live.node.chain_id, BLOCKS, "deposit", {"pool": "core", "asset": "USDC", "amount": "2"}
    )
    assert httpx.post(live.url + "/txs", json=tx).status_code == 200
    reader.join(10)
    assert [(f[0], f[1]) for f in got] == [("block", str(BLOCKS + 1))]
    block = json.loads(got[0][2])
    assert block == httpx.get(live.url + f"/blocks/{BLOCKS + 1}").json()
    assert block["txs"][0]["params"]["amount"] == "2" and "tx_seq" in block["txs"][0]["events"][0]


def test_a_client_that_leaves_stops_the_backlog(serve: Any) -> None:
    """Before, the whole backlog was built before the first byte and kept being built after the
    client left. Now: one page per step, and nothing more once the client is gone."""
    live = serve(Limits(stream_page_blocks=1))
    store = live.node.store
    calls: list[int] = []
    gate = threading.Event()
    original = store.blocks_after

    def gated(after: int, limit: int) -> Any:
        calls.append(after)
        if len(calls) > 1:
            gate.wait(10)
        return original(after, limit)

    store.blocks_after = gated
    assert [f[1] for f in read(live.url, 1, params={"since": 0})] == ["1"]  # then the client leaves
    deadline = time.monotonic() + 10
    while live.node.streams.held("127.0.0.1") and time.monotonic() < deadline:
        time.sleep(0.02)
    gate.set()
    time.sleep(0.3)
    assert calls in ([0], [0, 1])  # at most the page in flight when it left, and no other
    assert live.node.streams.held("127.0.0.1") == 0 and len(live.node.broadcaster) == 0


def test_one_client_holds_a_bounded_number_of_streams(serve: Any) -> None:
    live = serve(Limits(streams_per_client=2))
    with httpx.Client(base_url=live.url, timeout=10) as http, ExitStack() as first, ExitStack() as second:
        held = [stack.enter_context(http.stream("GET", "/stream")) for stack in (first, second)]
        assert [r.status_code for r in held] == [200, 200]
        refused = http.get("/stream")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        second.close()
        deadline = time.monotonic() + 10
        while live.node.streams.held("127.0.0.1") > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        with http.stream("GET", "/stream") as again:
            assert again.status_code == 200


def test_a_long_poll_of_the_log_counts_as_one_of_the_clients_streams(serve: Any) -> None:
    """GET /log?wait= holds a connection like /stream does: a client holding all its slots is
    refused at once instead of parking more waits (a follower's poll answers the same)."""
    live = serve(Limits(streams_per_client=1))
    head = httpx.get(live.url + "/status").json()["height"]
    with httpx.Client(base_url=live.url, timeout=10) as http, http.stream("GET", "/stream") as held:
        assert held.status_code == 200
        refused = http.get("/log", params={"after": head, "wait": 5})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert http.get("/log", params={"after": head}).status_code == 200  # no wait: no slot needed
    deadline = time.monotonic() + 10
    while live.node.streams.held("127.0.0.1") and time.monotonic() < deadline:
        time.sleep(0.02)
    r = httpx.get(live.url + "/log", params={"after": head, "wait": 0.2}, timeout=10)
    assert r.status_code == 200 and r.json()["blocks"] == []
    assert live.node.streams.held("127.0.0.1") == 0  # the slot is given back after the wait


def test_a_long_poll_whose_client_is_gone_gives_its_slot_back(serve: Any) -> None:
    """Before, a client killed mid long poll kept its stream slot until the wait ended (up to 30 s):
    a follower or keeper restarted on the same host met 429 meanwhile. Now the slot is given back
    when the connection closes."""
    live = serve(Limits(streams_per_client=1))
    head = httpx.get(live.url + "/status").json()["height"]
    with socket.create_connection(("127.0.0.1", live.port)) as client:
        client.sendall(f"GET /log?after={head}&wait=30 HTTP/1.1\r\nHost: node\r\n\r\n".encode())
        until(lambda: live.node.streams.held("127.0.0.1") == 1)
    until(lambda: live.node.streams.held("127.0.0.1") == 0, timeout=5)  # not after 30 s
    r = httpx.get(live.url + "/log", params={"after": head, "wait": 0.1}, timeout=10)
    assert r.status_code == 200 and len(live.node.broadcaster) == 0


def test_a_long_poll_after_a_shutdown_began_answers_at_once(serve: Any) -> None:
    """A follower polls again as soon as its wait ends: once the node is stopping, that poll must
    not wait (it would hold the shutdown until uvicorn cancels it, with a traceback)."""
    live = serve(Limits())
    head = httpx.get(live.url + "/status").json()["height"]
    live.node.end_streams()
    started = time.monotonic()
    r = httpx.get(live.url + "/log", params={"after": head, "wait": 20}, timeout=30)
    assert r.status_code == 200 and r.json()["blocks"] == []
    assert time.monotonic() - started < 10


def test_a_quiet_stream_is_pinged(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No block for a while: the stream still carries a comment every PING_SECONDS, so no proxy
    closes it as idle; the client sees no event."""
    monkeypatch.setattr(sse, "PING_SECONDS", 0.2)
    live = serve(Limits())
    with httpx.stream("GET", live.url + "/stream", timeout=10) as r:
        lines = r.iter_lines()
        assert next(line for line in lines if line).startswith(": ping")
        assert next(line for line in lines if line).startswith(": ping")


def test_a_bad_last_event_id_is_a_4xx(serve: Any) -> None:
    live = serve(Limits())
    for bad in ("²", "-1", "1e3", "9" * 40):
        r = httpx.get(live.url + "/stream", headers={"Last-Event-ID": bad.encode()})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", bad
