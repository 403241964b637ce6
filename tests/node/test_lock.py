"""One node per data directory and per log: a second node is refused with a clear message,
and the lock goes with the node that held it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from astera.compose import open_node
from astera.node.lock import Locked
from astera.node.serve import ServeConfig

from .node_harness import make_genesis


def config(tmp_path: Path, data: str, db: str | None) -> ServeConfig:
    genesis = tmp_path / "genesis.json"
    if not genesis.exists():
        genesis.write_text(json.dumps(make_genesis()))
    return ServeConfig(data=tmp_path / data, db=db, genesis=genesis, keeper=False)


def test_a_second_node_on_the_same_data_directory_is_refused(tmp_path: Path, db_url: str | None) -> None:
    first = open_node(config(tmp_path, "data", db_url))
    try:
        with pytest.raises(Locked, match="another node is running on .*data"):
            open_node(config(tmp_path, "data", db_url))
    finally:
        first.chain.store.close()
    open_node(config(tmp_path, "data", db_url)).chain.store.close()  # free again once it stopped


def test_a_second_node_on_the_same_log_is_refused(tmp_path: Path, db_url: str | None) -> None:
    """Another data directory, the same log (a PostgreSQL database, or a SQLite file by URL)."""
    db = db_url or f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first = open_node(config(tmp_path, "a", db))
    try:
        with pytest.raises(Locked, match="another node is running on"):
            open_node(config(tmp_path, "b", db))
    finally:
        first.chain.store.close()


def test_astera_serve_says_why_it_will_not_start(tmp_path: Path) -> None:
    first = open_node(config(tmp_path, "data", None))
    try:
        cmd = [sys.executable, "-m", "astera", "serve", "--data", str(tmp_path / "data"), "--no-keeper"]
        out: Any = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        first.chain.store.close()
    assert out.returncode == 1
    assert "another node is running on" in out.stderr and "Traceback" not in out.stderr, out.stderr
