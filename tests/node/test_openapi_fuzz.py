"""Schemathesis over the published OpenAPI spec, every operation (``/stream`` included):
whatever it sends, no 5xx, and every status answered is one the document declares.

Bounded (a few dozen examples per operation) so it stays a quick regression net; the
node runs as a real subprocess, on SQLite and on PostgreSQL. Each operation's Hypothesis strategy comes
from schemathesis and is driven by a plain ``@given`` (schemathesis' own pytest plugin
does not load under this pytest version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from .node_harness import NodeProcess, make_genesis

EXAMPLES = 30


def fuzz(op: Any, url: str, seen: dict[str, set[int]]) -> None:
    """Send ``op`` what schemathesis generates: never a 5xx, never a status the document omits."""
    declared = {int(s) for s in op.definition.raw["responses"] if s.isdigit()}

    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        if case.path == "/stream":  # never ends by design: take its status line and leave
            with requests.request(**case.as_transport_kwargs(base_url=url), stream=True, timeout=10) as r:
                response = r
        else:
            response = case.call(base_url=url, timeout=10)
        seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        assert response.status_code in declared, (case.method, case.formatted_path, response.status_code)

    check()


def test_no_server_errors(tmp_path: Path, db_url: str | None) -> None:
    node = NodeProcess(tmp_path / "data", make_genesis(), db=db_url, faucet=True).start()
    try:
        spec = httpx.get(node.url + "/openapi.json").json()
        schema = schemathesis.openapi.from_dict(spec)
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 14
        seen: dict[str, set[int]] = {}
        for op in operations:
            fuzz(op, node.url, seen)
        assert "POST /txs" in seen and all(400 <= s < 500 for s in seen["POST /txs"])
        assert "GET /stream" in seen
    finally:
        node.stop()
