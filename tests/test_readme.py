"""The README's library examples run as written, and print what their comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path


def test_the_library_examples_run_as_written(repo_root: Path) -> None:
    """The liquidation-policy example ended in a ProtocolError traceback (no deficit to cover)."""
    blocks = re.findall(r"```python\n(.*?)```", (repo_root / "README.md").read_text(), re.S)
    core = "".join(b for b in blocks if "astera.client" not in b)  # the client's needs a node
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(core, "README.md", "exec"), {})
    assert out.getvalue().split() == [
        "1.1", "9", "VL_COLLATERAL_CANNOT_COVER_NEW_BORROW", "80320640000", "policy:no_deficit"
    ]  # fmt: skip
