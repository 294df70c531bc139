"""``ilo-node bundle``: carry envelopes to and from an offline posting."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ilo_node.cli.common import node_client
from ilo_node.client.bundles import (
    export_bundle,
    import_bundle,
    read_heads_file,
    write_heads_file,
)

__all__ = ["bundle"]

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.group()
def bundle() -> None:
    """Carry envelopes to and from an offline posting on removable media.

    Run in node homes. See 'ilo-node bundle COMMAND --help' for each command's
    examples.
    """


@bundle.command("heads")
@click.option("-o", "--output", type=_FILE, required=True)
@click.pass_context
def bundle_heads(ctx: click.Context, output: Path) -> None:
    """Write where this node stands (per-author heads), for the exporting node.

    \b
    Example:
      ilo-node --home node-IE bundle heads -o /media/usb/IE.heads
    """
    client = node_client(ctx)
    try:
        count = write_heads_file(client, output)
    finally:
        client.close()
    click.echo(f"wrote {output}: {count} author heads")


@bundle.command("export")
@click.option(
    "--since",
    "since_file",
    type=_FILE,
    help="The receiver's heads file ('ilo-node bundle heads'); default: everything.",
)
@click.option("-o", "--output", type=_FILE, required=True)
@click.pass_context
def bundle_export(ctx: click.Context, since_file: Path | None, output: Path) -> None:
    """Write a signed bundle of the envelopes the receiver lacks, and all trust documents.

    \b
    Examples:
      ilo-node --home node-DE bundle export --since /media/usb/IE.heads \\
          -o /media/usb/to-IE.bundle
      ilo-node --home node-DE bundle export -o /media/usb/everything.bundle
    """
    since = read_heads_file(since_file) if since_file is not None else {}
    client = node_client(ctx)
    try:
        exported = export_bundle(client, since)
    finally:
        client.close()
    output.write_bytes(exported.data)
    click.echo(
        f"wrote {output}: {exported.envelopes} envelopes, {len(exported.data)} bytes"
        + ("; more remain, export again with the receiver's new heads" if exported.more else "")
    )


@bundle.command("import")
@click.argument("file", type=_FILE)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def bundle_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Verify a bundle and feed its contents through the normal ingest path.

    \b
    Examples:
      ilo-node --home node-IE bundle import /media/usb/to-IE.bundle
      ilo-node --home node-IE bundle import /media/usb/to-IE.bundle --json
    """
    client = node_client(ctx)
    try:
        summary = import_bundle(client, file)
    finally:
        client.close()
    counts = {k: v for k, v in summary.items() if k not in ("exporter", "envelopes")}
    text = f"bundle from {summary['exporter']}: " + (
        ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        if counts
        else "nothing new"
    )
    click.echo(json.dumps(summary) if as_json else text)
