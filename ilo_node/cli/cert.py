"""``ilo-node cert``: issue certificates (authority) and import trust documents (any home)."""

from __future__ import annotations

from pathlib import Path

import click

from ilo_node.cli.common import FILE, certify_command, emit, home_of, json_option
from ilo_node.client.documents import import_document_files
from ilo_node.errors import ClientError
from ilo_node.formats.timefmt import format_ms
from ilo_node.home.home import now_ms
from ilo_node.home.imports import OWN_KEY_REVOKED, PREKEYS_TO_ANNOUNCE, TrustDocument
from keys.documents import Certificate, PrekeyAnnouncement, Revocation, Withdrawal

__all__ = ["cert"]

_OWN_KEY_NOTE = {
    OWN_KEY_REVOKED: "this node's own signing key is revoked: re-key with 'ilo-node keys "
    "rotate --replace-prekeys' and have the new key certified",
    PREKEYS_TO_ANNOUNCE: "next: announce your prekeys with 'ilo-node keys rotate --prekeys-only'",
}


def _describe(document: TrustDocument) -> str:
    if isinstance(document, Certificate):
        officer = " " + document.officer if document.officer else ""
        return f"certificate for {document.node} ({document.role}{officer})"
    if isinstance(document, Revocation):
        return (
            f"revocation of {document.node} key {document.key.hex()[:16]}… compromised at "
            + format_ms(document.compromised_at_ms)
        )
    if isinstance(document, PrekeyAnnouncement):
        return f"prekey of {document.node} for epoch {document.epoch}"
    if isinstance(document, Withdrawal):
        return f"withdrawal of {document.target.hex()[:16]}… of {document.target_node}"
    return f"roster version {document.version}"


@click.group()
def cert() -> None:
    """Issue (authority) and import (node) certificates.

    See 'ilo-node cert COMMAND --help' for each command's examples.
    """


@certify_command(
    cert,
    "issue",
    "node",
    lambda c, output: (
        f"certified key {c.key.hex()[:16]}… for {c.node} from {format_ms(c.valid_from_ms)} "
        f"to {format_ms(c.valid_until_ms)}; wrote {output}"
    ),
)
def cert_issue() -> None:
    """Certify a node's signing key (run in the Member State authority's home).

    \b
    Examples:
      ilo-node --home auth-DE cert issue node-DE.pub -o node-DE.cert
      ilo-node --home auth-LT cert issue node-LT.pub -o node-LT.cert \\
          --valid-days 400
      ilo-node --home auth-DE --passphrase-file auth-DE.pass \\
          cert issue node-DE.2.pub -o node-DE.2.cert --valid-from 2027-01-01
    """


@cert.command("import")
@click.argument("files", nargs=-1, required=True, type=FILE)
@json_option
@click.pass_context
def cert_import(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Verify and store certificates, revocations, prekeys, withdrawals or rosters (in the
    order given).

    Usually in a node's home; a running node takes them at once and gossips them on.
    A document the home holds already is listed as such. It stops at the first file
    refused (exit 1; the files before it stay imported), and exits 1 too if the running
    node refuses one.

    \b
    Examples:
      ilo-node --home node-DE cert import node-FR.cert officer-hans.cert
      ilo-node --home node-DE cert import node-FR.rev
      ilo-node --home node-DE cert import prekeys/*.prekey
    """
    result = import_document_files(home_of(ctx), files, now_ms())
    lines = [
        ("imported " if item.new else "already held, nothing added: ") + _describe(item.document)
        for item in result.imported
    ]
    if result.node_answer is not None:
        lines.append("the running node answered: " + ", ".join(result.node_answer))
    note = _OWN_KEY_NOTE.get(result.own_key or "") if result.failure is None else None
    if note is not None and not result.node_refused:
        lines.append(note)
    record = {
        "imported": [
            {
                "file": str(item.file),
                "type": item.document.document.doc_type,
                "document": _describe(item.document),
                "new": item.new,
            }
            for item in result.imported
        ],
        "node": result.node_answer,
        "own_key": result.own_key,
        "next": note,
    }
    if lines or as_json:
        emit(record, as_json, "\n".join(lines))
    if result.failure is not None:
        raise result.failure
    if result.node_refused:
        raise ClientError(
            f"the running node refused {len(result.node_refused)} of the "
            f"{len(result.imported)} document(s): " + "; ".join(result.node_refused),
            "They are stored in this home but the running node does not use them: see its "
            "log (HOME/daemon.log) and 'ilo-node status', and import them again once the "
            "cause is fixed.",
        )
