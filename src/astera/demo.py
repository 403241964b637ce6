"""Demo entry point (placeholder; to be filled with a real walkthrough)."""

from __future__ import annotations


def run_demo() -> None:
    from rich.console import Console
    from rich.panel import Panel

    Console().print(Panel("Placeholder: the guided demo is not written yet.", title="Astera Lend demo"))
