"""Tables for people at a terminal, plain columns for everything else.

At a terminal a table is drawn by rich, with colour for the states that need
attention (new, retracted); written to a pipe or a file it is plain text, one row
a line, columns separated by two spaces, so that ``grep`` and ``cut`` work and no
escape code reaches a log. ``NO_COLOR`` is honoured by rich itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

__all__ = ["print_table", "styled"]

_STYLES = {"new": "bold green", "RETRACTED": "bold red", "WITHDRAWN": "bold red"}


def _at_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str) -> None:
    if not rows:
        click.echo(empty)
        return
    if _at_terminal():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(*headers, box=None, header_style="bold", pad_edge=False)
        for row in rows:
            # Text, not markup: a title an author wrote may hold "[...]".
            table.add_row(*(Text(c, style=_STYLES.get(c, "")) for c in row))
        Console(highlight=False).print(table)
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def styled(text: str, style: str) -> str:
    """``text`` in ``style`` (a click colour name) at a terminal, as it is elsewhere."""
    return click.style(text, fg=style, bold=True) if _at_terminal() else text
