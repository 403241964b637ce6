"""The scenario format (``astera-scenario/1`` in, ``astera-trace/1`` out; vectors/FORMAT.md):
its document shapes (:mod:`.document`), a streaming reader (:mod:`.reader`), the deployment a
header describes (:mod:`.deploy`), its actions on the core (:mod:`.actions`), the state a
trace records (:mod:`.state`) and the replayer (:mod:`.replay`, ``astera replay``).
"""

from .actions import run_action
from .deploy import build, deploy, ordered_users
from .document import SCENARIO_FORMAT, TRACE_FORMAT, USER_KEYS, ScenarioError, load_json
from .replay import main_replay, replay, steps
from .state import export_state

__all__ = [
    "SCENARIO_FORMAT",
    "TRACE_FORMAT",
    "USER_KEYS",
    "ScenarioError",
    "build",
    "deploy",
    "export_state",
    "load_json",
    "main_replay",
    "ordered_users",
    "replay",
    "run_action",
    "steps",
]
