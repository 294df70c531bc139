"""Running a node in this process (``ilo-node run``): the daemon, reached through the client
package so that the CLI depends on nothing below it."""

from __future__ import annotations

from pathlib import Path

from ilo_node.home.home import Home
from ilo_node.net.daemon import run_daemon

__all__ = ["run_node"]


def run_node(home: Home, passphrase: bytes, ready_file: Path | None = None) -> None:
    """Serve until stopped (SIGTERM, SIGINT or ``POST /local/stop``)."""
    run_daemon(home, passphrase, ready_file)
