"""The lab's hand-written experiments as scenario files (``astera lab scenarios [DIR]``).

Each file is an ``astera-scenario/1`` document that ``astera replay FILE`` replays to the
state the experiment ended in. The tests check the committed files against these builders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .isolation import run_isolation
from .seed_picture import seed_picture


def scenario_documents() -> dict[str, dict[str, Any]]:
    """File name → scenario document, for every lab experiment."""
    docs = {
        f"isolation-{'crash' if crash else 'calm'}.json": run_isolation(crash).scenario
        for crash in (False, True)
    }
    docs.update({f"seed-picture-{name}.json": layout.scenario for name, layout in seed_picture().items()})
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1) + "\n"


def write_scenarios(directory: Path) -> list[str]:
    """Write every experiment's document into ``directory``; one line per file written."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, doc in scenario_documents().items():
        (directory / name).write_text(render(doc))
        lines.append(f"wrote {directory / name} ({len(doc['actions'])} actions)")
    return lines
