"""``ilo-node run``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ilo_node.cli.common import home_of, passphrase_for
from ilo_node.client.daemon import run_node

__all__ = ["run"]


@click.command()
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    hidden=True,
    help="Write a JSON line here once listening (for supervisors and tests).",
)
@click.pass_context
def run(ctx: click.Context, ready_file: Path | None) -> None:
    """Run the node: peer API, gossip with the local network, local API for the CLI.

    Run in a node's home. The passphrase is read once, at the start: from
    --passphrase-file, $ILO_NODE_PASSPHRASE or a prompt.

    \b
    Examples:
      ilo-node --home node-DE run
      ilo-node --home /srv/ilo/node-DE --passphrase-file /etc/ilo/node-DE.pass run
    """
    home = home_of(ctx)
    config = home.require_role("node")
    passphrase = passphrase_for(ctx, f"the {config.label} keys")
    # Whatever the node writes from now on is its owner's alone, and so is what it has.
    os.umask(0o077)
    home.secure()
    run_node(home, passphrase, ready_file)
