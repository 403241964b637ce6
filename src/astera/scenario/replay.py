"""Scenario replay: ``astera-scenario/1`` in, ``astera-trace/1`` out (vectors/FORMAT.md).

A scenario describes a fresh deployment and a list of actions; the replayer builds the
deployment (:mod:`.deploy`), runs each action atomically (:mod:`.actions`, implicit funding
included, FORMAT §3.1) and records the outcome and the complete state after it
(:mod:`.state`). The trace of a correct implementation equals the reference trace field for
field.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from astera.core import Protocol, ProtocolError

from . import reader
from .actions import run_action
from .deploy import build, deploy, ordered_users
from .document import TRACE_FORMAT, USER_KEYS
from .state import export_state

#: Actions between two progress reports of ``main_replay`` (a report per action costs ~5 %).
PROGRESS_EVERY = 256


def _run(p: Protocol, action: dict[str, Any]) -> ProtocolError | None:
    """Run one action atomically (FORMAT §3: a failed step changes nothing); its refusal."""
    try:
        p.atomic(run_action, p, action)
    except ProtocolError as e:
        return e
    return None


def steps(
    p: Protocol, users: list[str], actions: Iterable[dict[str, Any]], with_states: bool = True
) -> Iterator[dict[str, Any]]:
    """The trace's steps (FORMAT §4), one per action, each as soon as it has run."""
    for i, action in enumerate(actions):
        error = _run(p, action)
        step = {
            "step": i,
            "action": action,
            "ok": error is None,
            "error": None if error is None else error.as_dict(),
            "timestamp": p.now,
        }
        if with_states:
            step["state"] = export_state(p, users)
        yield step


def replay(scenario: dict[str, Any], with_states: bool = True) -> dict[str, Any]:
    """Replay a scenario; the trace document (states omitted when ``with_states`` is false)."""
    p, users = build(scenario)
    trace: dict[str, Any] = {
        "format": TRACE_FORMAT,
        "name": scenario.get("name", ""),
        "start_timestamp": scenario["start_timestamp"],
        "initial": export_state(p, users) if with_states else None,
        "steps": list(steps(p, users, scenario["actions"], with_states)),
    }
    trace["state_hash"] = p.state_hash()
    return trace


def main_replay(
    scenario: Path, trace: Path | None, progress: Callable[[int, int], object] | None = None
) -> None:
    """CLI body of ``astera replay``: the file is streamed (:mod:`astera.scenario.reader`),
    so memory does not grow with the number of actions (a small file's actions are decoded
    once and kept from the first pass). With ``trace``, the trace is
    written step by step; without, one summary line (the time covers reading, deployment,
    every action and the final state hash). ``progress(done, total)`` is called every
    :data:`PROGRESS_EVERY` actions and after the last (the total is known from the first pass).
    """
    t0 = time.perf_counter()
    kept: list[Any] | None = [] if reader.keeps_actions(scenario) else None
    header, named, total = reader.header_and_users(scenario, USER_KEYS, kept)
    users = ordered_users(header.get("users", []), named)
    p = deploy(header, users)
    actions = kept if kept is not None else reader.actions(scenario)
    if trace is not None:
        opener = gzip.open if trace.suffix == ".gz" else open
        with opener(trace, "wt") as f:
            head = {
                "format": TRACE_FORMAT,
                "name": header.get("name", ""),
                "start_timestamp": header["start_timestamp"],
            }
            f.write(
                json.dumps(head)[:-1] + ', "initial": ' + json.dumps(export_state(p, users)) + ', "steps": ['
            )
            count = 0
            for step in steps(p, users, actions):
                f.write((", " if count else "") + json.dumps(step))
                count += 1
                if progress is not None and (count % PROGRESS_EVERY == 0 or count == total):
                    progress(count, total)
            f.write("]}")
        print(f"wrote {trace} ({count} steps, final state {p.state_hash()[:16]})")
        return
    count = failed = 0
    for action in actions:
        count += 1
        if _run(p, action) is not None:
            failed += 1
        if progress is not None and (count % PROGRESS_EVERY == 0 or count == total):
            progress(count, total)
    state_hash = p.state_hash()
    seconds = time.perf_counter() - t0
    print(f"{header.get('name', '')}: {count} actions, {failed} failed, state {state_hash}, {seconds:.3f}s")
