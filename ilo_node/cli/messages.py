"""``ilo-node publish`` and ``ilo-node read``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ilo_node.cli.common import envelope_id, node_client
from ilo_node.client import Publication
from ilo_node.formats.jsoncontent import content_from_file
from protocol.envelope import DISTRIBUTIONS, HANDLING_CODES
from protocol.errors import UsageError
from protocol.examples import example
from protocol.kinds import KINDS

__all__ = ["publish", "read"]


@click.command()
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.option(
    "--file",
    "content_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Content as JSON; 'ilo-node template KIND --json' writes one to start from.",
)
@click.option("--example", "use_example", is_flag=True, help="Publish the kind's sample content.")
@click.option(
    "--distribution", type=click.Choice(DISTRIBUTIONS), default="local", show_default=True
)
@click.option("--state", "states", multiple=True, help="Member State, for --distribution states.")
@click.option("--handling", type=click.Choice(HANDLING_CODES), default="H1", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def publish(
    ctx: click.Context,
    kind: str,
    content_file: Path | None,
    use_example: bool,
    distribution: str,
    states: tuple[str, ...],
    handling: str,
    as_json: bool,
) -> None:
    """Sign, encrypt and log a message of KIND from this node."""
    if use_example == (content_file is not None):
        raise UsageError("give exactly one of --file or --example")
    content = content_from_file(content_file) if content_file is not None else example(kind)
    client = node_client(ctx)
    try:
        out = client.publish(Publication(kind, content, distribution, handling, states))
    finally:
        client.close()
    text = f"published {kind} {out['id']} (seq {out['seq']}) to {', '.join(out['recipients'])}"
    click.echo(json.dumps(out) if as_json else text)


@click.command()
@click.argument("envelope", required=False)
@click.option("--kind", type=click.Choice(sorted(KINDS)))
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def read(
    ctx: click.Context, envelope: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """List readable messages, or show one by id."""
    client = node_client(ctx)
    try:
        if envelope is not None:
            record = client.message(envelope_id(envelope))
            click.echo(json.dumps(record, indent=1 if not as_json else None))
            return
        items = client.messages(kind, limit)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(items))
        return
    for item in items:
        click.echo(
            f"{item['id'][:16]}  {item['kind']:<28} {item['author']:<10} "
            f"seq {item['seq']:<5} {item['handling']}"
        )
    if not items:
        click.echo("no readable messages")
