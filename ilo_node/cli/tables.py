"""Tables for people at a terminal, plain columns for everything else.

At a terminal a table is drawn by rich, with colour for the states that need
attention (new, retracted); written to a pipe or a file it is plain text, one row
a line, columns separated by two spaces, so that ``grep`` and ``cut`` work and no
escape code reaches a log. ``NO_COLOR`` is honoured by rich itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["at_terminal", "plain_table", "print_table", "rich_table", "styled"]

_STYLES = {"new": "bold green", "RETRACTED": "bold red", "WITHDRAWN": "bold red"}


def at_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def rich_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """The table as rich draws it at a terminal."""
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        # Text, not markup: a title an author wrote may hold "[...]".
        table.add_row(*(Text(c, style=_STYLES.get(c, "")) for c in row))
    return table


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: int = 0) -> str:
    """The table as lines of text, columns two spaces apart."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    return "\n".join(
        " " * indent + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    )


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str, indent: int = 0
) -> None:
    if not rows:
        click.echo(" " * indent + empty)
        return
    if at_terminal():
        from rich.console import Console
        from rich.padding import Padding

        table = rich_table(headers, rows)
        Console(highlight=False).print(Padding(table, (0, 0, 0, indent)) if indent else table)
        return
    click.echo(plain_table(headers, rows, indent))


def styled(text: str, style: str) -> str:
    """``text`` in ``style`` (a click colour name) at a terminal, as it is elsewhere."""
    return click.style(text, fg=style, bold=True) if at_terminal() else text
