"""Test harness for the node: deterministic keys, a test genesis, fresh PostgreSQL
databases, and a node running as a real subprocess (``astera serve``) that can be
killed with SIGKILL and restarted on the same store."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from astera.node.genesis import default_genesis
from astera.wire.keys import Key

PG_SERVER_URL = os.environ.get("ASTERA_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START = 1_750_000_000
USERS = ("alice", "bob", "carol", "dave")


def key(name: str) -> Key:
    """The same key for the same name in every run."""
    return Key.from_seed(hashlib.sha256(f"astera-test:{name}".encode()).digest())


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels`` in a ``/metrics`` answer
    (parsed as Prometheus parses it: malformed text raises), or None if it has none."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return sample.value
    return None


def make_genesis(**balances: dict[str, int]) -> dict[str, Any]:
    """The built-in network with deterministic role keys; each of USERS holds test funds."""
    roles = {r: key(r).address for r in ("admin", "emergency_admin", "oracle", "faucet")}
    doc = default_genesis(roles, key("pool_admin").address, START)
    for name in USERS:
        doc["balances"][key(name).address] = {
            "WETH": str(100 * 10**18),
            "USDC": str(1_000_000 * 10**6),
            "wstETH": str(100 * 10**18),
        }
    for name, bal in balances.items():
        doc["balances"][key(name).address] = {a: str(v) for a, v in bal.items()}
    return doc


def schema_errors(spec: dict[str, Any], method: str, route: str, status: int, body: Any) -> list[str]:
    """How a JSON ``body`` breaks the schema the OpenAPI document ``spec`` declares for ``method``
    ``route`` (its path template) answering ``status`` (none: it conforms)."""
    responses = spec["paths"][route][method.lower()]["responses"]
    if str(status) not in responses:
        return [f"{method} {route} does not declare {status}"]
    declared = responses[str(status)]["content"]["application/json"]["schema"]
    schema = {**declared, "components": spec["components"]}
    return [f"{e.instance_path}: {e.message}" for e in jsonschema_rs.iter_errors(schema, body)]


def pg_url_for(db_name: str) -> str:
    return PG_SERVER_URL.rsplit("/", 1)[0] + "/" + db_name


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty database on the test server (dropped afterwards); fails if unreachable."""
    name = f"astera_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        raise RuntimeError(f"PostgreSQL unreachable at {PG_SERVER_URL} (set ASTERA_TEST_PG_URL): {e}") from e
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield pg_url_for(name)
    finally:
        with psycopg.connect(PG_SERVER_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProcess:
    """``astera serve`` in a subprocess on a free loopback port."""

    def __init__(
        self,
        data: Path,
        genesis: dict[str, Any],
        db: str | None = None,
        snapshot_every: int = 1000,
        faucet: bool = False,
    ) -> None:
        self.data = data
        self.db = db
        self.snapshot_every = snapshot_every
        self.genesis_path = data.parent / f"{data.name}-genesis.json"
        self.genesis_path.write_text(json.dumps(genesis))
        if faucet:
            key("faucet").save(data / "keys" / "faucet.key")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> NodeProcess:
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "astera",
            "serve",
            "--data",
            str(self.data),
            "--genesis",
            str(self.genesis_path),
            "--port",
            str(self.port),
            "--no-keeper",
            "--log-level",
            "warning",
            "--snapshot-every",
            str(self.snapshot_every),
        ]
        if self.db:
            cmd += ["--db", self.db]
        self.log = open(self.data.parent / f"{self.data.name}-node.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/status", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("node did not become ready")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
            self.log.close()


class LiveApi:
    """An in-process node's API served by uvicorn on a loopback port, in a thread (for what the
    test client cannot do: streams, disconnects, several connections at once)."""

    def __init__(self, app: Any, node: Any, port: int | None = None) -> None:
        import uvicorn

        self.node = node
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveApi:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.node.end_streams()
        self.server.should_exit = True
        self.thread.join(30)
