"""Every ``astera`` help screen as a person reads it at 80 columns: no type after a flag, no
paragraph re-wrapped into a stub of a line, no help text eaten as Rich markup."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import click
import pytest
import typer
from rich.text import Text
from typer.testing import CliRunner

from astera.cli import app


def commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


ALL = list(commands(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) or "astera" for p, _ in ALL])
def test_help_reads_well_at_80_columns(path: tuple[str, ...], command: click.Command) -> None:
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert "<bool>" not in shown.output  # a flag takes no value
    assert max(map(len, shown.output.splitlines())) <= 80
    # Typer keeps the line breaks of the paragraphs after the first: a line that does not fit
    # in 80 columns (with the indent) would leave a stub of a line behind it.
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n")[1:]:
        for line in paragraph.splitlines():
            assert len(line) <= 78, line
    # Help is Rich markup: a literal [ must be escaped, or it is eaten as a tag.
    for text in [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]:
        assert Text.from_markup(text).plain == text.replace("\\[", "["), text
