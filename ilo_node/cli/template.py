"""``ilo-node template``."""

from __future__ import annotations

import click

from ilo_node.formats.template import kind_template, skeleton_json, template_text
from protocol.kinds import KINDS

__all__ = ["template"]


@click.command()
@click.argument("kind", type=click.Choice(sorted(KINDS)), metavar="KIND")
@click.option(
    "--json", "as_json", is_flag=True, help="Print only the JSON skeleton, to save and fill in."
)
def template(kind: str, as_json: bool) -> None:
    """Show every field of a message KIND, and content to start from.

    Each field is listed with its dotted path, whether it is required, its rule,
    its allowed values, whether it is personal data and what it is for; then
    comes a JSON skeleton with a valid value in every field.

    Needs no home.

    \b
    Examples:
      ilo-node template incident_alert
      ilo-node template incident_alert --json > alert.json   # then fill it in
      ilo-node publish incident_alert --file alert.json
    """
    described = kind_template(kind)
    click.echo(skeleton_json(described) if as_json else template_text(described))
