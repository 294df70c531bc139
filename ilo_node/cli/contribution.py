"""``ilo-node contribution draft`` and ``contribution send``, in an officer's home: the
Member State's half-year contribution for the host country of the officer's posting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import FILE, home_of
from ilo_node.cli.desk import assemble_content, officer_client, officer_publish
from ilo_node.client.contributions import counted
from ilo_node.client.officer import MessageFilter, OfficerClient, PublishRequest
from ilo_node.errors import InputError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.home.home import now_ms, write_private_file
from ilo_node.report.contribution import (
    OFFICER_FIELDS,
    draft_contribution,
    unfinished,
)
from protocol.identifiers import split_node_id
from protocol.periods import half_year_bounds, half_year_of

__all__ = ["contribution"]

_KIND = "half_year_contribution"


def _posting(client: OfficerClient) -> tuple[str, str]:
    parts = split_node_id(client.node)
    assert parts is not None  # a home's node id was checked when it was made
    return parts[0], parts[1]


@click.group()
def contribution() -> None:
    """The half-year contribution of your Member State for your posting's host country
    (run in an officer's home). See 'ilo-node contribution COMMAND --help'."""


@contribution.command("draft")
@click.option(
    "--period",
    help="The half-year, e.g. 2026-H2 (H1: January-June, H2: July-December, UTC) "
    "[default: the current one].",
)
@click.option("-o", "--output", type=FILE, help="Write the draft here (JSON) to edit it.")
@click.option("--json", "as_json", is_flag=True, help="Print the draft as JSON.")
@click.pass_context
def draft(ctx: click.Context, period: str | None, output: Path | None, as_json: bool) -> None:
    """Draft the contribution from what your node can read of the local network.

    Retracted messages are left out and corrected ones counted once, as corrected;
    the statistics only officers know and the two narratives are left for you to
    write before 'contribution send'.

    \b
    Examples:
      ilo-node --home officer-hans contribution draft --period 2026-H2 -o h2.json
      ilo-node contribution draft --json
    """
    half_year = period or half_year_of(now_ms())
    _, end_ms = half_year_bounds(half_year)
    client = officer_client(ctx)
    try:
        state, host = _posting(client)
        messages = client.every_message(MessageFilter(hosts=(host,), until_ms=end_ms))
    finally:
        client.close()
    kept = [c for c in (counted(m) for m in messages) if c is not None]
    content = draft_contribution(state, host, half_year, kept)
    text = json.dumps(content_to_json(content), indent=1, ensure_ascii=False)
    if output is not None:
        write_private_file(output, (text + "\n").encode())
    if as_json:
        click.echo(text)
        return
    used = len(content["sources"])
    click.echo(
        f"drafted the {half_year} contribution of {state} for {host} from the {len(messages)} "
        f"messages your node can read of {host}: {used} used (listed in sources), "
        f"{len(messages) - used} not (another Member State's, retracted, replaced by a "
        "correction, or of a kind a contribution does not count)"
    )
    click.echo(
        f"  from the log: {content['deployments']} deployments, {content['meetings_held']} "
        f"meetings ({content['meetings_attended']} attended), {content['trainings']} trainings, "
        f"{sum(r['count'] for r in content['alerts_by_kind'])} alerts counted by kind, "
        f"{len(content['document_fraud'])} document-fraud rows, {len(content['routes'])} routes"
    )
    click.echo("  for you to enter: " + ", ".join(OFFICER_FIELDS))
    if output is not None:
        click.echo(f"wrote {output}; edit it, then 'ilo-node contribution send {output}'")
    else:
        click.echo("give -o FILE to write it out, or --json to see it")


@contribution.command("send")
@click.argument("draft_file", metavar="FILE", type=FILE)
@click.option("--dry-run", is_flag=True, help="Show who could read it; sign and send nothing.")
@click.option("-y", "--yes", is_flag=True, help="At a terminal, send without asking.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def send(ctx: click.Context, draft_file: Path, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Sign the edited contribution and send it to the Presidency and the Commission.

    \b
    Examples:
      ilo-node --home officer-hans contribution send h2.json --dry-run
      ilo-node contribution send h2.json
    """

    def gather() -> dict[str, Any]:
        content = assemble_content(_KIND, draft_file, ())
        left = unfinished(content)
        if left:
            raise InputError(
                f"{draft_file} is still a draft: {', '.join(left)} not written yet",
                "Write them (they are Part I and Part II of the report), then send again.",
            )
        return _for_this_posting(ctx, content)

    request = PublishRequest(_KIND, {}, "presidency", (), "H1", dry_run=dry_run)
    officer_publish(ctx, _KIND, gather, request, confirm=not yes, as_json=as_json)


def _for_this_posting(ctx: click.Context, content: dict[str, Any]) -> dict[str, Any]:
    node = home_of(ctx).config().node or ""
    if split_node_id(node) != (content["member_state"], content["host_country"]):
        raise InputError(
            f"the contribution is for {content['member_state']} in {content['host_country']}, "
            f"but this home is an officer's at {node}",
            "Draft it in a home of your posting ('ilo-node contribution draft').",
        )
    return content
