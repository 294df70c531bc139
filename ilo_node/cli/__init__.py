"""The ``ilo-node`` command line."""

from ilo_node.cli.app import main

__all__ = ["main"]
