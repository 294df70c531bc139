"""``ilo-node bundle``: carry envelopes to and from an offline posting."""

from __future__ import annotations

from pathlib import Path

import click

from ilo_node.cli.common import emit, json_option, node_client
from ilo_node.client.bundles import (
    SUMMARY_KEYS,
    export_bundle,
    import_bundle,
    read_heads_file,
    write_heads_file,
)
from ilo_node.errors import IncompleteError

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
@json_option
@click.pass_context
def bundle_heads(ctx: click.Context, output: Path, as_json: bool) -> None:
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
    emit(
        {"output": str(output), "authors": count}, as_json, f"wrote {output}: {count} author heads"
    )


@bundle.command("export")
@click.option(
    "--since",
    "since_file",
    type=_FILE,
    help="The receiver's heads file ('ilo-node bundle heads'); default: everything.",
)
@click.option("-o", "--output", type=_FILE, required=True)
@json_option
@click.pass_context
def bundle_export(ctx: click.Context, since_file: Path | None, output: Path, as_json: bool) -> None:
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
    record = {
        "output": str(output),
        "envelopes": exported.envelopes,
        "bytes": len(exported.data),
        "more": exported.more,
    }
    emit(
        record,
        as_json,
        f"wrote {output}: {exported.envelopes} envelopes, {len(exported.data)} bytes"
        + ("; more remain, export again with the receiver's new heads" if exported.more else ""),
    )


@bundle.command("import")
@click.argument("file", type=_FILE)
@json_option
@click.pass_context
def bundle_import(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Verify a bundle and feed its contents through the normal ingest path.

    Exits 1 if the node did not store an envelope of the bundle, or refused one of its
    trust documents (the rest is imported; the output lists what became of each).

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
    counts = {k: v for k, v in summary.items() if k not in SUMMARY_KEYS}
    documents = summary["documents"]
    lines = [
        f"bundle from {summary['exporter']}: {summary['envelopes']} envelope(s): "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"),
        f"  trust documents: {documents['added']} added, {documents['known']} known, "
        f"{documents['refused']} refused",
    ]
    lines += [
        f"  not stored: {e['id'] or '?'} {e['status']}: {e['reason']}"
        for e in summary["not_stored"]
    ]
    lines += [f"  document refused: {reason}" for reason in documents["refused_reasons"]]
    emit(summary, as_json, "\n".join(lines))
    not_stored, refused = len(summary["not_stored"]), documents["refused"]
    if not_stored or refused:
        raise IncompleteError(
            f"{file}: {not_stored} of {summary['envelopes']} envelope(s) not stored and "
            f"{refused} trust document(s) refused; everything else was imported",
            "The reasons are listed above. Envelopes deferred by a full quarantine are "
            "taken by a later import of the same bundle; for refused ones, ask the "
            "exporting node's operator.",
        )
