"""How the help screens of every ``astera`` Typer app show options (``astera ...`` and
``python -m astera.lab ...``; each imports this module).

Typer prints each option's type after its name, flags included, so ``--raw <bool>`` reads as
an option that takes a value, which a flag does not. Here a flag (``--help``, ``--version``,
``--flash-loan/--own-funds``) shows no type; an option that takes a value keeps its type.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_value_type = TyperOption.display_type_rich


def _type_unless_flag(option: TyperOption, ctx: Any) -> str | None:
    return None if option.is_flag else _value_type(option, ctx)


TyperOption.display_type_rich = _type_unless_flag  # type: ignore[method-assign,assignment]
