"""The scenario format's document shapes and vocabulary (``astera-scenario/1`` in,
``astera-trace/1`` out; vectors/FORMAT.md): format names, the scenario's fixed role and
account names, the keys that name users, and the malformed-document error.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

SCENARIO_FORMAT = "astera-scenario/1"
TRACE_FORMAT = "astera-trace/1"
ADMIN = "admin"
#: The scenario's one flash-loan receiver contract (FORMAT §3.2): an account, never a user.
FLASH_RECEIVER = "flash_receiver"
USER_KEYS = ("user", "target", "onBehalfOf", "to", "delegatee")


class ScenarioError(ValueError):
    """The scenario document itself is malformed."""


def load_json(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)
