"""``ilo-node publish`` and ``ilo-node read``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import home_of, node_client
from ilo_node.cli.desk import PUBLIC_KINDS, assemble_content, officer_publish
from ilo_node.client import Publication
from ilo_node.client.officer import PublishRequest
from protocol.envelope import DISTRIBUTIONS, HANDLING_CODES
from protocol.errors import UsageError
from protocol.kinds import KINDS

__all__ = ["publish", "read"]


@click.command()
@click.argument("kind", type=click.Choice(PUBLIC_KINDS), metavar="KIND")
@click.option(
    "--file",
    "content_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Content as JSON; 'ilo-node template KIND --json' writes one to start from.",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="FIELD=VALUE",
    help="One field (repeatable; over --file), e.g. --set issuing_country=IT.",
)
@click.option(
    "--example", "use_example", is_flag=True, help="Start from the kind's sample content."
)
@click.option(
    "--optional", "ask_optional", is_flag=True, help="At a terminal, ask for optional fields too."
)
@click.option(
    "--level",
    "--distribution",
    "level",
    type=click.Choice(DISTRIBUTIONS),
    default="local",
    show_default=True,
    help="Who it is encrypted to: this host country's network, named Member States, the "
    "Presidency, or the whole network.",
)
@click.option(
    "--to",
    "--state",
    "states",
    multiple=True,
    metavar="MS",
    help="A Member State, for --level states (repeatable).",
)
@click.option("--handling", type=click.Choice(HANDLING_CODES), default="H1", show_default=True)
@click.option(
    "--require-all",
    is_flag=True,
    help="Refuse if any recipient cannot read it yet (no prekey), instead of sending to "
    "the others first.",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent and who could read it.")
@click.option("-y", "--yes", is_flag=True, help="At a terminal, send without asking to confirm.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def publish(
    ctx: click.Context,
    kind: str,
    content_file: Path | None,
    settings: tuple[str, ...],
    use_example: bool,
    ask_optional: bool,
    level: str,
    states: tuple[str, ...],
    handling: str,
    require_all: bool,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Sign, encrypt and send a message of KIND.

    In an officer's home it is signed with the officer's key and handed to the node
    (kept in the outbox while the node is down); in a node's home it is signed by the
    node. Fields come from --file, then --set, and at a terminal whatever is still
    missing is asked for.

    \b
    Examples:
      ilo-node publish forged_document_alert   # asks for each field
      ilo-node --home officer-hans publish incident_alert --file alert.json \\
          --level states --to FR --to IT
      ilo-node --home officer-hans publish route_report --file r.json \\
          --set route_name="Van - Edirne" --dry-run
    """
    home = home_of(ctx)
    role = home.config().role
    if role not in ("officer", "node"):
        home.require_role("officer", "node")

    def gather() -> dict[str, Any]:
        return assemble_content(
            kind, content_file, settings, use_example=use_example, ask_optional=ask_optional
        )

    if role == "officer":
        request = PublishRequest(
            kind, {}, level, tuple(s.upper() for s in states), handling, require_all, dry_run
        )
        officer_publish(ctx, kind, gather, request, confirm=not yes, as_json=as_json)
        return
    content = gather()
    if dry_run or require_all:
        raise UsageError("--dry-run and --require-all are for officers' homes")
    client = node_client(ctx)
    try:
        out = client.publish(Publication(kind, content, level, handling, states))
    finally:
        client.close()
    text = f"published {kind} {out['id']} (seq {out['seq']}) to {', '.join(out['recipients'])}"
    click.echo(json.dumps(out) if as_json else text)


@click.command()
@click.argument("envelope", required=False)
@click.option("--kind", type=click.Choice(sorted(KINDS)))
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--include-personal",
    is_flag=True,
    help="Show the fields marked personal too (left out otherwise).",
)
@click.pass_context
def read(
    ctx: click.Context,
    envelope: str | None,
    kind: str | None,
    limit: int,
    as_json: bool,
    include_personal: bool,
) -> None:
    """List readable messages, or show one by id (the node operator's view; officers
    read with 'inbox' and 'show' in their own home).

    ENVELOPE is the id, or its first 8 or more hex digits (the list shows 16).

    \b
    Examples:
      ilo-node --home node-DE read --kind incident_alert --limit 20
      ilo-node --home node-DE read --include-personal 5e1f0a9d
    """
    client = node_client(ctx)
    try:
        if envelope is not None:
            record = client.message(client.resolve(envelope), include_personal=include_personal)
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
