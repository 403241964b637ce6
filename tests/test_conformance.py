"""Conformance: every vector in the vectors directory replays to its reference trace exactly.

One test per vector found in the ``vectors_dir`` fixture's directory (``ASTERA_VECTORS``,
else the copy shipped in ``tests/vectors``), so a larger acceptance set dropped into that directory is
checked the same way. Nothing is approximate (vectors/FORMAT.md §5): a difference of one
wei in any field of any step fails, and the message lists the first differing paths.

The CLI is checked end to end too: ``astera replay X.scenario.json --trace out.json``
writes a trace equal to the reference, and without ``--trace`` it prints one summary line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from astera.scenario import replay
from conftest import _find_vectors_dir
from vector_diff import compare_trace, diff, load_vector, vector_names

#: Stands in for the parameter list when the directory is missing, so the fixture fails loudly.
_MISSING = "<no vectors found>"
#: Vectors replayed through the CLI: the hand-written walk-through, a PI-controller one, and one
#: with every format-1.1 action.
CLI_VECTORS = ("basic", "random-0002", "v1.1/ext-5007")
SUMMARY = re.compile(
    r"^(?P<name>\S+): (?P<actions>\d+) actions, (?P<failed>\d+) failed, "
    r"state (?P<hash>[0-9a-f]{64}), (?P<seconds>\d+\.\d+)s$"
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "vector" in metafunc.fixturenames:
        path = _find_vectors_dir()
        names = vector_names(path) if path.is_dir() else []
        metafunc.parametrize("vector", names or [_MISSING])


def test_vector_replays_exactly(vectors_dir: Path, vector: str) -> None:
    assert vector != _MISSING, f"no conformance vectors in {vectors_dir}"
    scenario, ref = load_vector(vectors_dir, vector)
    ours = replay(scenario)
    problems = compare_trace(ours, ref, limit=20)
    assert not problems, f"{vector}: first differences:\n" + "\n".join(p[:400] for p in problems)
    assert [s["action"] for s in ours["steps"]] == scenario["actions"]


def test_public_vectors_are_all_present(vectors_dir: Path) -> None:
    """The 17 public vectors of vectors/README.md and the 8 of v1.1/README.md, so a
    half-copied directory cannot pass silently."""
    public = {"basic", "misc", "multi-2001", "ops", "seed-example-1"}
    public |= {f"random-000{i}" for i in range(1, 9)}
    public |= {"diff-3001", "diff-3010", "diff-3022", "diffmulti-4003"}
    public |= {f"v1.1/ext-500{i}" for i in range(1, 9)}
    assert public <= set(vector_names(vectors_dir))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "astera", "replay", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("name", CLI_VECTORS)
def test_cli_writes_the_reference_trace(vectors_dir: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out.json"
    result = _cli(str(vectors_dir / f"{name}.scenario.json"), "--trace", str(out))
    assert result.returncode == 0, result.stderr
    written = json.loads(out.read_text())
    _, ref = load_vector(vectors_dir, name)
    assert not compare_trace(written, ref), compare_trace(written, ref)
    # The whole document, not only the compared fields: format, name, actions copied unchanged.
    assert diff(written, ref) == []


def test_cli_summary_line(vectors_dir: Path) -> None:
    scenario, ref = load_vector(vectors_dir, "misc")
    result = _cli(str(vectors_dir / "misc.scenario.json"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    m = SUMMARY.match(lines[0])
    assert m, lines[0]
    assert m["name"] == "misc"
    assert int(m["actions"]) == len(ref["steps"])
    assert int(m["failed"]) == sum(not s["ok"] for s in ref["steps"]) == 3
    # The final state hash is the same in another process: the state is canonical.
    assert m["hash"] == replay(scenario, with_states=False)["state_hash"]


def test_max_is_accepted_by_every_amount_field(vectors_dir: Path) -> None:
    """FORMAT §3: ``"max"`` passes 2^256 − 1 to the protocol in any amount field. The
    protocol's own arithmetic refuses what it cannot hold (a contract code, never a crash or an
    ``input:`` code); a flow limit of 2^256 − 1 is simply unlimited."""
    scenario, _ = load_vector(vectors_dir, "basic")
    scenario["actions"] = [
        {"op": "deposit", "pool": "core", "user": "alice", "asset": "USDC", "amount": "max"},
        {"op": "borrow", "pool": "core", "user": "alice", "asset": "USDC", "amount": "max"},
        {"op": "borrow", "pool": "mini", "user": "alice", "asset": "aUSDC", "amount": "max"},
        {"op": "set_flow_limit", "asset": "USDC", "limit": "max"},
        {"op": "mint", "user": "alice", "asset": "WETH", "amount": "max"},
    ]
    steps = replay(scenario)["steps"]
    assert [s["ok"] for s in steps[:4]] == [False, False, False, True]  # 34, 7, 34; then unlimited
    assert all(not s["error"]["code"].startswith("input:") for s in steps if not s["ok"])
