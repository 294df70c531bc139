"""``ilo-node run`` and ``ilo-node stop``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ilo_node.cli.common import emit, home_of, passphrase_for
from ilo_node.client.daemon import run_node
from ilo_node.client.stop import STOP_TIMEOUT_S, stop_node

__all__ = ["run", "stop"]


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
    --passphrase-file, $ILO_NODE_PASSPHRASE or a prompt. It stops cleanly, with a
    last signed checkpoint, on 'ilo-node stop', SIGTERM or Ctrl-C.

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


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=STOP_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for the node to exit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stop(ctx: click.Context, timeout: float, as_json: bool) -> None:
    """Stop the running node cleanly and wait until it has exited.

    The node stops gossip and its servers, signs a last checkpoint of its log and
    closes its database; this waits until the process has ended and its socket is
    gone. Exit status 5 if no node runs in the home (nothing was stopped), 1 if it
    did not exit in time. Needs no passphrase.

    \b
    Examples:
      ilo-node --home node-DE stop
      ilo-node --home /srv/ilo/node-DE stop --timeout 120 --json
    """
    stopped = stop_node(home_of(ctx), timeout)
    checkpoint = (
        "it signed no checkpoint"
        if stopped.checkpoint_size is None
        else f"last checkpoint at size {stopped.checkpoint_size} "
        + (
            f"covers all {stopped.log_size} envelope(s)"
            if stopped.checkpoint_size == stopped.log_size
            else f"of {stopped.log_size} envelope(s)"
        )
    )
    pid = f" (pid {stopped.pid})" if stopped.pid else ""
    emit(
        stopped.as_dict(),
        as_json,
        f"stopped {stopped.node}{pid} in {stopped.seconds:.1f} s; {checkpoint}",
    )
