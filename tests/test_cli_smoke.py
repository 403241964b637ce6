"""Smoke test: the CLI is installed and importable."""

from __future__ import annotations

import subprocess
import sys


def test_python_m_astera_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "astera", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "replay" in result.stdout
    assert "demo" in result.stdout
