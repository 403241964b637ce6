"""The streaming scenario reader: the same values as ``json.load``, one action at a time,
over a buffer that does not grow with the document, and exact error positions."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from astera.scenario import USER_KEYS, replay
from astera.scenario import reader as scenario_reader
from vector_diff import load_vector

DOC: dict[str, Any] = {
    "name": "x",
    "actions": [
        {"op": "deposit", "user": "bob", "amount": "123456789012345678901234567890", "note": 'a "q" ]}'},
        {"op": "borrow", "user": "carol", "onBehalfOf": "bob", "n": [1, 2.5, None, True]},
        {"op": "liquidate", "user": "dave", "target": "carol"},
    ],
    "users": ["alice"],  # a header key after the actions
    "format": "astera-scenario/1",
}


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_same_values_as_json_load_whatever_the_chunk(tmp_path: Path, chunk: int, monkeypatch: Any) -> None:
    monkeypatch.setattr(scenario_reader, "CHUNK", chunk)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(DOC, indent=1))
    kept: list[Any] = []
    header, named, count = scenario_reader.header_and_users(path, USER_KEYS, kept)
    assert header == {k: v for k, v in DOC.items() if k != "actions"}
    assert named == ["bob", "carol", "dave"] and count == 3
    assert list(scenario_reader.actions(path)) == DOC["actions"] == kept


def test_gzip_and_an_empty_action_list(tmp_path: Path) -> None:
    path = tmp_path / "s.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"format": "astera-scenario/1", "actions": []}, f)
    assert scenario_reader.header_and_users(path, USER_KEYS) == ({"format": "astera-scenario/1"}, [], 0)
    assert list(scenario_reader.actions(path)) == []


def test_the_buffer_stays_bounded(tmp_path: Path, monkeypatch: Any) -> None:
    """Reading 20,000 actions with 4 KB chunks never holds more than a chunk and an action."""
    monkeypatch.setattr(scenario_reader, "CHUNK", 4096)
    path = tmp_path / "big.json"
    action = {"op": "deposit", "pool": "core", "user": "u", "asset": "USDC", "amount": "1000000"}
    path.write_text(json.dumps({"format": "astera-scenario/1", "actions": [action] * 20_000}))
    widest = 0
    real_fill = scenario_reader._Cursor._fill

    def fill(self: Any, size: int = 4096) -> bool:
        nonlocal widest
        more = real_fill(self, size)
        widest = max(widest, len(self.buf))
        return more

    monkeypatch.setattr(scenario_reader._Cursor, "_fill", fill)
    assert sum(1 for _ in scenario_reader.actions(path)) == 20_000
    assert path.stat().st_size > 1_000_000 and widest < 4096 + 200


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "actions": [ {"op": x} ]}',
        '{\n "a": 1,\n "actions": [\n  {"op": 1},\n  oops]}',
        '{"a": 1 "b": 2}',
    ],
)
def test_errors_name_the_line_and_column_json_would(tmp_path: Path, text: str, monkeypatch: Any) -> None:
    with pytest.raises(json.JSONDecodeError) as ref:
        json.loads(text)
    path = tmp_path / "bad.json"
    path.write_text(text)
    for chunk in (3, 1 << 20):
        monkeypatch.setattr(scenario_reader, "CHUNK", chunk)
        with pytest.raises(scenario_reader.ScenarioFormatError) as err:
            scenario_reader.header_and_users(path, USER_KEYS)
        assert (err.value.lineno, err.value.colno) == (ref.value.lineno, ref.value.colno)


@pytest.mark.parametrize("keep_bytes", [0, scenario_reader.KEEP_BYTES])
def test_cli_trace_of_a_streamed_scenario_equals_the_in_memory_replay(
    tmp_path: Path, vectors_dir: Path, keep_bytes: int, monkeypatch: Any
) -> None:
    """Streamed twice (a large file) or decoded once and kept (a small one): the same trace."""
    from astera.scenario import main_replay

    monkeypatch.setattr(scenario_reader, "KEEP_BYTES", keep_bytes)

    scenario, _ = load_vector(vectors_dir, "v1.1/ext-5007")
    path = tmp_path / "s.json"
    # The header after the actions: the first pass still finds it.
    path.write_text(
        json.dumps({"actions": scenario["actions"], **{k: v for k, v in scenario.items() if k != "actions"}})
    )
    out = tmp_path / "t.json"
    main_replay(path, out)
    expected = replay(scenario)
    expected.pop("state_hash")
    assert json.loads(out.read_text()) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "astera-scenario/1", "actions": [{"op": "a"}], "x": 1, "actions": [{"op": "b"}]}',
        '{"format": "astera-scenario/1", "actions": {"op": "a"}}',
    ],
)
def test_a_kept_small_file_reads_as_the_stream_does(tmp_path: Path, text: str) -> None:
    """A small file is decoded whole, but anything json.loads would read differently from the
    streamed reader (a repeated "actions", an "actions" that is not an array) is streamed."""
    path = tmp_path / "s.json"
    path.write_text(text)

    def first_pass(keep: list[Any] | None) -> Any:
        try:
            return scenario_reader.header_and_users(path, USER_KEYS, keep)
        except scenario_reader.ScenarioFormatError as e:
            return (e.msg, e.lineno, e.colno)

    kept: list[Any] = []
    streamed = first_pass(None)
    assert first_pass(kept) == streamed
    if not isinstance(streamed, tuple):  # read, not refused: the same actions, every copy
        assert kept == list(scenario_reader.actions(path)) == [{"op": "a"}, {"op": "b"}]
