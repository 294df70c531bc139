"""``ilo-node retention``."""

from __future__ import annotations

import click

from ilo_node.cli.common import home_of, node_client
from ilo_node.formats.timefmt import parse_time
from ilo_node.home.home import now_ms

__all__ = ["retention"]


@click.group()
def retention() -> None:
    """Erase decrypted content past its retention period (crypto-shredding)."""


@retention.command("run")
@click.option("--now", "now_text", default="now", help="Pretend it is this time (for drills).")
@click.pass_context
def retention_run(ctx: click.Context, now_text: str) -> None:
    """Erase expired content now (the envelope and its log entry stay)."""
    policy = home_of(ctx).retention_policy()
    client = node_client(ctx)
    try:
        erased = client.apply_retention(policy, parse_time(now_text, now_ms()))
    finally:
        client.close()
    click.echo(f"erased the content of {erased} envelope(s); the log still verifies")
