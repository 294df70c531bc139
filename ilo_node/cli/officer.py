"""``ilo-node officer`` (certify, list and revoke officers) and ``ilo-node revoke`` (any key).

Both run in an authority's home and end in revocations, which they report alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import FILE, certify_command, emit, home_of, json_option, passphrases
from ilo_node.formats.timefmt import format_ms
from ilo_node.home.authority import (
    IssuedRevocation,
    RevocationOrder,
    certified_officers,
    countersign_revocation,
    revoke_key,
    revoke_officer,
    withdraw_envelope,
)
from ilo_node.home.home import now_ms
from protocol.errors import UsageError

__all__ = ["countersign", "officer", "revoke", "withdraw"]

_COMPROMISED_AT = click.option(
    "--compromised-at", required=True, help="'now', a date or an ISO time (UTC)."
)


_IMPORT_IT = "next: every node imports it ('ilo-node cert import FILE'); gossip spreads it"


def _revocation_line(issued: IssuedRevocation) -> str:
    revocation = issued.revocation
    return (
        f"revoked key {revocation.key.hex()[:16]}… of {revocation.node} as compromised from "
        f"{format_ms(revocation.compromised_at_ms)}; wrote {issued.path}"
    )


def _revocation_record(issued: IssuedRevocation) -> dict[str, Any]:
    revocation = issued.revocation
    return {
        "output": str(issued.path),
        "node": revocation.node,
        "key": revocation.key.hex(),
        "compromised_at": format_ms(revocation.compromised_at_ms),
        "reason": revocation.reason,
        "digest": revocation.document.digest.hex(),
    }


@click.group()
def officer() -> None:
    """Certify, list and revoke officers' keys (run in the authority's home).

    See 'ilo-node officer COMMAND --help' for each command's examples.
    """


@certify_command(
    officer,
    "add",
    "officer",
    lambda c, output: (
        f"certified officer {c.officer} at {c.node} until {format_ms(c.valid_until_ms)}; "
        f"wrote {output}"
    ),
)
def officer_add() -> None:
    """Certify an officer's key (the officer ran 'keys init --role officer' on their machine).

    Run in the authority's home; the nodes then import the certificate
    ('ilo-node cert import').

    \b
    Examples:
      ilo-node --home auth-DE officer add officer-hans.pub -o officer-hans.cert
      ilo-node --home auth-DE officer add officer-lea.pub -o officer-lea.cert \\
          --valid-days 180
    """


@officer.command("list")
@json_option
@click.pass_context
def officer_list(ctx: click.Context, as_json: bool) -> None:
    """List the officers this authority certified, and whether they are revoked.

    \b
    Examples:
      ilo-node --home auth-DE officer list
      ilo-node --home auth-DE officer list --json
    """
    rows = certified_officers(home_of(ctx))
    text = (
        "\n".join(
            f"{r['officer']:<24} {r['node']:<10} {r['key'][:16]}…  {r['valid_from']} → "
            f"{r['valid_until']}{'  REVOKED' if r['revoked'] else ''}"
            for r in rows
        )
        or "no officers certified by this authority"
    )
    emit(rows, as_json, text)


@officer.command("revoke")
@click.argument("name")
@_COMPROMISED_AT
@click.option("--reason", default="officer key withdrawn", show_default=True)
@click.option("-o", "--output", type=FILE, required=True)
@json_option
@click.pass_context
def officer_revoke(
    ctx: click.Context, name: str, compromised_at: str, reason: str, output: Path, as_json: bool
) -> None:
    """Revoke every key this authority certified for officer NAME.

    \b
    Examples:
      ilo-node --home auth-DE officer revoke lea.schulz --compromised-at now \\
          --reason "posting ended" -o officer-lea.rev
      ilo-node --home auth-DE officer revoke hans.weber \\
          --compromised-at 2026-11-27 --reason "phone lost" -o officer-hans.rev
    """
    order = RevocationOrder(compromised_at, reason, output)
    result = revoke_officer(home_of(ctx), name, order, passphrases(ctx), now_ms())
    lines = [_revocation_line(issued) for issued in result.revoked]
    if result.revoked and result.failure is None:
        lines.append(_IMPORT_IT)
    record = {"officer": name, "revoked": [_revocation_record(i) for i in result.revoked]}
    if lines or as_json:
        emit(record, as_json, "\n".join(lines))
    if result.failure is not None:
        raise result.failure


def _public_key(key_hex: str) -> bytes:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        raise UsageError("--key must be hex") from None
    if len(key) != 32:
        raise UsageError("--key must be a 32-byte public key in hex")
    return key


@click.command("revoke")
@click.option("--key", "key_hex", help="The revoked public key (hex).")
@click.option(
    "--public-file",
    type=FILE,
    help="Or: the public key file of the revoked key.",
)
@click.option("--node", "node_id", help="The node the key belongs to (default: from the file).")
@_COMPROMISED_AT
@click.option("--reason", required=True)
@click.option("-o", "--output", type=FILE, required=True)
@json_option
@click.pass_context
def revoke(
    ctx: click.Context,
    key_hex: str | None,
    public_file: Path | None,
    node_id: str | None,
    compromised_at: str,
    reason: str,
    output: Path,
    as_json: bool,
) -> None:
    """Revoke a key as compromised from a time on.

    In a Member State authority's home: keys of that state's nodes and officers. In an
    administrator's home: any key, once a threshold of administrators signed it
    ('ilo-node countersign FILE' on each of their machines).

    \b
    Examples:
      ilo-node --home auth-FR revoke --public-file node-FR.pub -o node-FR.rev \\
          --compromised-at 2026-11-28T10:09:39Z --reason "node laptop stolen"
      ilo-node --home admin-anna revoke --node DE@TR --compromised-at now \\
          --key 2f78f5ad5c26b570d0a4e5c1f3b9a87e6d2c4b1a0f9e8d7c6b5a49382716f5e4 \\
          --reason "key published on a leak site" -o DE@TR-key.rev
    """
    # --public-file wins over --key, as it always has.
    key = _public_key(key_hex) if public_file is None and key_hex else None
    order = RevocationOrder(compromised_at, reason, output)
    issued = revoke_key(
        home_of(ctx),
        order,
        passphrases(ctx),
        now_ms(),
        key=key,
        public_file=public_file,
        node=node_id,
    )
    emit(_revocation_record(issued), as_json, f"{_revocation_line(issued)}\n{_IMPORT_IT}")


@click.command("countersign")
@click.argument("file", type=FILE)
@click.option("-o", "--output", type=FILE, help="Write here instead of updating FILE.")
@json_option
@click.pass_context
def countersign(ctx: click.Context, file: Path, output: Path | None, as_json: bool) -> None:
    """Add this administrator's signature to a revocation made in an administrator's home.

    Pass the file from one administrator to the next until a threshold of the roster's
    administrators signed it.

    \b
    Examples:
      ilo-node --home admin-bruno countersign DE@TR-key.rev
      ilo-node --home admin-chiara countersign DE@TR-key.rev -o DE@TR-key.3.rev
    """
    done = countersign_revocation(home_of(ctx), file, output, passphrases(ctx))
    r = done.revocation
    verb = "already signed, no signature added to" if done.already else "signed"
    text = (
        f"{verb} the revocation of key {r.key.hex()[:16]}… of {r.node} (compromised from "
        f"{format_ms(r.compromised_at_ms)}); it carries {done.signatures} signature(s); "
        f"wrote {done.path}"
    )
    if done.threshold is not None:
        signed, needed = done.threshold
        text += f"\n  {signed} of the roster's administrators signed (threshold {needed})" + (
            ": it counts for any key once imported"
            if signed >= needed
            else f": {needed - signed} more needed"
        )
    record = {
        "output": str(done.path),
        "node": r.node,
        "key": r.key.hex(),
        "added": not done.already,
        "signatures": done.signatures,
        "administrators_signed": None if done.threshold is None else done.threshold[0],
        "threshold": None if done.threshold is None else done.threshold[1],
    }
    emit(record, as_json, text)


@click.command("withdraw")
@click.argument("envelope_id")
@click.option("--node", "node_id", required=True, help="The node the envelope was written at.")
@click.option("--reason", required=True, help="Why (travels in clear: no operational detail).")
@click.option("-o", "--output", type=FILE, required=True)
@json_option
@click.pass_context
def withdraw(
    ctx: click.Context, envelope_id: str, node_id: str, reason: str, output: Path, as_json: bool
) -> None:
    """Withdraw an envelope written at one of this authority's nodes (run in the
    authority's home); every node then shows it as withdrawn.

    ENVELOPE_ID is the whole id, 64 hex digits ('ilo-node show ID --json' prints it):
    the authority signs over the id itself, and its home holds no log to look up a
    shorter prefix in.

    \b
    Examples:
      ilo-node --home auth-DE withdraw --node DE@TR --reason "issued in error" \\
          -o withdraw.doc \\
          5e1f0a9d3c7b24e6a8f1d0c3b5e7a9f2c4d6e8b0a1c3e5f7d9b2a4c6e8f0a1c9
      ilo-node --home node-DE cert import withdraw.doc   # gossip spreads it
    """
    try:
        target = bytes.fromhex(envelope_id)
    except ValueError:
        target = b""
    if len(target) != 32:
        raise UsageError(
            "ENVELOPE_ID must be the whole id (64 hex digits)",
            "'ilo-node show ID --json' prints it in full.",
        )
    done = withdraw_envelope(
        home_of(ctx), target, node_id, reason, output, passphrases(ctx), now_ms()
    )
    record = {
        "output": str(output),
        "target": done.target.hex(),
        "target_node": done.target_node,
        "reason": done.reason,
        "digest": done.document.digest.hex(),
    }
    emit(
        record,
        as_json,
        f"withdrew {done.target.hex()[:16]}… of {done.target_node}; wrote {output}\n"
        "next: import it on a node ('ilo-node cert import FILE'); gossip spreads it",
    )
