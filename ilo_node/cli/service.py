"""``ilo-node service``: running a node as a system service."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ilo_node.cli.common import FILE, home_of, json_option
from ilo_node.client.service import service_unit
from ilo_node.home.home import write_private_file

__all__ = ["service"]


@click.group()
def service() -> None:
    """Run a node as a system service (systemd).

    \b
    Example:
      ilo-node --home /var/lib/ilo-node/de-tr service unit --user ilo-node
    """


@service.command()
@click.option("--user", help="The user the node runs as [default: the home's owner].")
@click.option("--group", help="Its group [default: the user's primary group].")
@click.option(
    "--credential",
    type=FILE,
    help="The credential file holding the passphrase [default: "
    "/etc/credstore.encrypted/ilo-node-NODE, or /etc/credstore/ilo-node-NODE with --plain].",
)
@click.option(
    "--plain",
    is_flag=True,
    help="LoadCredential= of a root-only file instead of LoadCredentialEncrypted=.",
)
@click.option("-o", "--output", type=FILE, help="Write the unit here instead of stdout.")
@json_option
@click.pass_context
def unit(
    ctx: click.Context,
    user: str | None,
    group: str | None,
    credential: Path | None,
    plain: bool,
    output: Path | None,
    as_json: bool,
) -> None:
    """Write the systemd unit that runs the node of --home, hardened, its passphrase a
    systemd credential.

    Save it as /etc/systemd/system/ilo-node-NODE.service (its first lines say how to
    install it). Warnings go to standard error.

    \b
    Examples:
      ilo-node --home /var/lib/ilo-node/de-tr service unit --user ilo-node > ilo-node-de-tr.service
      ilo-node --home /var/lib/ilo-node/de-tr service unit --plain -o ilo-node-de-tr.service
    """
    written = service_unit(
        home_of(ctx), user=user, group=group, credential=credential, encrypted=not plain
    )
    if output is not None:
        write_private_file(output, written.text.encode())
    if as_json:
        record = {
            "name": written.name,
            "unit": None if output is not None else written.text,
            "written_to": None if output is None else str(output),
            "warnings": list(written.warnings),
        }
        click.echo(json.dumps(record, indent=1))
        return
    for warning in written.warnings:
        click.echo(f"warning: {warning}", err=True)
    if output is None:
        click.echo(written.text, nl=False)
        return
    click.echo(f"wrote {output}; install it as /etc/systemd/system/{written.name}", err=True)
