"""The risk lab's books from a node (astera.lab.sources): a running node's state at its head, a
node's data directory, and a node's genesis document."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from astera.lab.book import KEEPER
from astera.lab.path import prepared, run_path
from astera.lab.sources import data_dir_protocol, node_protocol
from astera.lab.study import StudyError, parse_study
from astera.scenario import replay

from .follow_harness import leader
from .node_harness import key, make_genesis
from .test_follower import some_blocks

CRASH = {"assets": {"WETH": {"volatility": 0.3}}, "shocks": [{"asset": "WETH", "change": -0.95, "start": 1}]}


def test_a_running_nodes_state_and_its_data_directory_are_books(tmp_path: Path) -> None:
    """The node's state at its head (its snapshot at block 3, proved, then block 4 replayed and
    checked) is the book; the same state read from its data directory; the crash liquidates the
    node's one borrower; a live book's path cannot be exported."""
    with leader(tmp_path, make_genesis(), snapshot_every=3) as lead:
        some_blocks(lead.url)  # alice: 3 WETH deposited, 1,000 USDC borrowed
        live = node_protocol(lead.url)
        on_disk = data_dir_protocol(tmp_path / "leader")
        assert live.state_hash() == on_disk.state_hash()
        alice = key("alice").address
        assert live.account(alice).total_debt_base == 1_000 * 10**8
        study = parse_study({"name": "live", "steps": 3, "paths": 1, "book": {"node": lead.url},
                             "prices": CRASH, "liquidity": {"depth_usd": 1_000_000}})  # fmt: skip
        path = run_path(study, 0)
        from astera.cli import app

        (tmp_path / "s.json").write_text(json.dumps({"name": "cli", "steps": 2, "paths": 2, "prices": CRASH}))
        args = ["lab", "run", str(tmp_path / "s.json"), "--from-node", lead.url, "--out", str(tmp_path / "o")]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        summary = json.loads((tmp_path / "o" / "summary.json").read_text())
        assert summary["paths"]["finished"] == 2 and summary["total"]["liquidations"]["max"] >= 1
    assert any(a["op"] == "liquidate" and a["target"] == alice for a in path.actions)
    with pytest.raises(StudyError, match="live book"):
        path.scenario()
    local = parse_study({"name": "disk", "book": {"data_dir": "leader"}, "steps": 2}, base_dir=tmp_path)
    on_disk.register_user(KEEPER)  # every book has the lab's keeper
    assert pickle.loads(prepared(local).blob).state_hash() == on_disk.state_hash()
    with pytest.raises(StudyError) as e:
        parse_study({"name": "x", "book": {"node": "http://127.0.0.1:1", "population": [
            {"borrowers": 1, "collateral": {"WETH": 1}, "debt": "USDC"}]}})  # fmt: skip
    assert e.value.field == "book"
    with pytest.raises(StudyError) as e:
        prepared(parse_study({"name": "gone", "book": {"data_dir": "nowhere"}}, base_dir=tmp_path))
    assert e.value.field == "book.data_dir"


def test_a_genesis_document_is_a_book_whose_paths_replay(tmp_path: Path) -> None:
    (tmp_path / "genesis.json").write_text(json.dumps(make_genesis()))
    study = parse_study(
        {"name": "from-genesis", "steps": 4, "paths": 1, "book": {"genesis": "genesis.json", "population": [
            {"borrowers": 6, "collateral": {"WETH": 1}, "debt": "USDC", "health_factor": [1.05, 1.2]}]},
         "prices": {**CRASH, "shocks": [{"asset": "WETH", "change": -0.3, "start": 1}]}},
        base_dir=tmp_path,
    )  # fmt: skip
    path = run_path(study, 0)
    assert any(a["op"] == "liquidate" for a in path.actions)
    doc = json.loads(json.dumps(path.scenario()))
    assert replay(doc, with_states=False)["state_hash"] == path.protocol.state_hash()
    (tmp_path / "bad.json").write_text(json.dumps({"format": "astera-genesis/1"}))
    from astera.cli import app

    (tmp_path / "s.json").write_text(json.dumps({"name": "bad", "book": {"genesis": "bad.json"}}))
    result = CliRunner().invoke(app, ["lab", "run", str(tmp_path / "s.json"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "book.genesis" in result.output
