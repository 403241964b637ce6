"""Fixtures for the web app's tests: a real node served over HTTP in this process (so a test can
read the exact core next to what the browser shows), and Debian's Chromium driven by Playwright.

The node runs the built-in test network (role keys in its data directory, keeper on) under
uvicorn in a background thread. Screenshots go to ``artifacts/web/`` (or ``$ASTERA_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from astera.compose import create_app, open_node
from astera.core import Protocol
from astera.node.serve import ServeConfig

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("ASTERA_ARTIFACTS", "artifacts")) / "web"


class ServedNode:
    """A node on a free local port, in a thread; ``protocol_copy()`` reads its exact state."""

    def __init__(self, data: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.data = data
        self.node = open_node(ServeConfig(data=data, port=self.port))
        config = uvicorn.Config(create_app(self.node), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedNode:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the node did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.node.end_streams()
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def call(self, fn: Any) -> Any:
        """Run ``fn(protocol)`` on the node's event loop, between blocks (nothing else writes)."""
        loop: asyncio.AbstractEventLoop = self.node._loop  # noqa: SLF001 - the test reads the live node

        async def run() -> Any:
            await self.node.ready()
            return fn(self.node.chain.ledger.protocol)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)

    def protocol_copy(self) -> Protocol:
        return self.call(lambda p: pickle.loads(pickle.dumps(p)))

    def get(self, path: str) -> Any:
        r = httpx.get(self.url + path, timeout=30)
        r.raise_for_status()
        return r.json()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedNode]:
    node = ServedNode(tmp_path / "data").start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


class Console:
    """Every console error and uncaught exception of the pages it watches."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on(
            "console", lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        return page


@pytest.fixture
def console() -> Iterator[Console]:
    c = Console()
    yield c
    assert c.errors == [], "console errors:\n" + "\n".join(c.errors)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def ready(page: Any, url: str) -> None:
    """Open ``url`` and wait until the page has rendered and subscribed to blocks."""
    page.goto(url)
    page.wait_for_function("window.asteraReady === true", timeout=15_000)


def copy_key(served: ServedNode, role: str, dest: Path) -> Path:
    """A role key file of the served network (e.g. the oracle's), as an operator would hold it."""
    path = dest / f"{role}.key"
    shutil.copy(served.data / "keys" / f"{role}.key", path)
    return path
