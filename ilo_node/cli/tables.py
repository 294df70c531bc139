"""Tables for the CLI: :mod:`ilo_node.formats.tables`, where devnet reaches them too."""

from __future__ import annotations

from ilo_node.formats.tables import print_table, styled

__all__ = ["print_table", "styled"]
