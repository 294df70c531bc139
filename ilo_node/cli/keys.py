"""``ilo-node keys``: create, show, export and rotate this home's keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import FILE, emit, home_of, json_option, passphrases
from ilo_node.client.keyrotation import rotate_node_keys
from ilo_node.home.home import now_ms
from ilo_node.home.identity import create_identity, describe_identity
from ilo_node.home.prekeyfiles import PrekeyChanges
from keys.ownkey import OwnKeyChoice
from protocol.identifiers import EU_INSTITUTIONS

__all__ = ["keys"]

_KDF = click.Choice(["interactive", "moderate", "sensitive"])

#: Who a new identity's public key file goes to, by role.
_RECEIVER = {
    "node": "your Member State authority (to certify it)",
    "officer": "your Member State authority (to certify it)",
    "admin": "the other administrators (for the roster)",
    "authority": "the administrators (for the roster)",
}

#: What to do after a new signing key, by role.
_AFTER_ROTATION = {
    "node": "next: export the public key, have your authority certify it ('ilo-node cert "
    "issue') and import the certificate here ('ilo-node cert import'); the node signs with "
    "the new key from then on",
    "officer": "next: export the public key and have your authority certify it "
    "('ilo-node officer add' in the authority's home)",
    "admin": "next: the administrators publish a roster that lists the new key",
    "authority": "next: the administrators publish a roster that lists the new key with "
    "an overlap ('valid_until' on the old one)",
}


def _prekey_lines(changes: PrekeyChanges) -> list[str]:
    lines = [f"prekey for epoch {epoch} created" for epoch in changes.created]
    lines += [f"prekey for epoch {epoch} deleted (forward secrecy)" for epoch in changes.deleted]
    lines += ["prekey announced" for _ in changes.announcements]
    if changes.not_announced:
        lines.append(
            "prekeys not announced yet (" + changes.not_announced + "); once the root roster "
            "is pinned and this node's key certified, run 'ilo-node keys rotate --prekeys-only'"
        )
    elif not lines:
        lines.append("prekeys up to date: none to create, delete or announce")
    return lines


def _prekey_record(changes: PrekeyChanges | None) -> dict[str, Any] | None:
    if changes is None:
        return None
    return {
        "created": changes.created,
        "deleted": changes.deleted,
        "announced": len(changes.announcements),
        "not_announced": changes.not_announced,
    }


def _at_start(choice: OwnKeyChoice | None) -> str:
    if choice is None:
        return ""
    if choice.waiting_for_newest:
        return (
            f" (it signs with the retired key {choice.key.hex()[:16]}… until the new key "
            f"may speak for it; now: {choice.newest_reason})"
        )
    return ""


def _running_node_lines(answer: dict[str, Any]) -> list[str]:
    """What the running node said after looking at its keys again."""
    out: list[str] = []
    signing = answer.get("signing_key", {})
    key, newest = str(signing.get("key", "")), str(signing.get("newest", ""))
    if key and key == newest and signing.get("may_speak"):
        out.append(f"the running node signs with key {key[:16]}… now")
    elif key and key != newest:
        out.append(
            f"the running node keeps signing with the retired key {key[:16]}… until the new "
            f"key {newest[:16]}… may speak for it (now: {signing.get('newest_reason', '')}); "
            "it switches at once then"
        )
    else:
        out.append(
            f"the running node signs with key {key[:16]}…, which may not speak for it yet "
            f"({signing.get('reason', '')}): what it writes waits at the other nodes until "
            "the key's certificate reaches them"
        )
    prekeys = answer.get("prekeys", {})
    for epoch in prekeys.get("created", []):
        out.append(f"prekey for epoch {epoch} created by the running node")
    for epoch in prekeys.get("deleted", []):
        out.append(f"prekey for epoch {epoch} deleted by the running node (forward secrecy)")
    for epoch in prekeys.get("announced", []):
        out.append(f"prekey for epoch {epoch} announced by the running node")
    if prekeys.get("not_announced"):
        out.append(
            f"prekeys not announced yet ({prekeys['not_announced']}); the running node "
            "announces them once its key may speak"
        )
    elif not any(prekeys.get(k) for k in ("created", "deleted", "announced", "replaced")):
        held = ", ".join(str(e) for e in prekeys.get("held", [])) or "none"
        out.append(f"the running node's prekeys are on schedule (epochs held: {held})")
    return out


@click.group()
def keys() -> None:
    """Create, show, rotate and export this home's keys.

    See 'ilo-node keys COMMAND --help' for each command's examples.
    """


@keys.command("init")
@click.option("--role", type=click.Choice(["node", "admin", "authority", "officer"]), required=True)
@click.option("--network", required=True, help="Network id, e.g. ilo-tr.")
@click.option("--node", "node_id", help="Node id such as DE@TR (nodes and officers).")
@click.option(
    "--party",
    help="Member State code, or an EU body's ("
    + ", ".join(sorted(EU_INSTITUTIONS))
    + ") for authorities.",
)
@click.option("--name", help="Administrator or officer name.")
@click.option(
    "--kdf",
    type=_KDF,
    default="moderate",
    show_default=True,
    help="Argon2id cost for encrypting the private key.",
)
@json_option
@click.pass_context
def keys_init(
    ctx: click.Context,
    role: str,
    network: str,
    node_id: str | None,
    party: str | None,
    name: str | None,
    kdf: str,
    as_json: bool,
) -> None:
    """Create a new identity (signing key, and prekeys for a node) in --home.

    \b
    Examples:
      ilo-node --home node-DE keys init --role node --network ilo-tr --node DE@TR
      ilo-node --home officer-hans keys init --role officer --network ilo-tr \\
          --node DE@TR --name hans.weber
      ilo-node --home auth-DE keys init --role authority --network ilo-tr \\
          --party DE
    """
    created = create_identity(
        home_of(ctx),
        role=role,
        network=network,
        node=node_id,
        party=party,
        name=name,
        kdf=kdf,
        passphrase=passphrases(ctx, confirm=True),
        now_ms=now_ms(),
    )
    after = f"'ilo-node keys export-public -o FILE' and hand FILE to {_RECEIVER[role]}"
    record = {
        "created": created.config.label,
        "role": role,
        "home": str(created.path),
        "key": created.key.hex(),
        "prekeys": _prekey_record(created.prekeys),
        "next": None if created.failure is not None else after,
    }
    lines = [f"created {created.config.label} in {created.path}", f"signing key: {record['key']}"]
    if created.prekeys is not None:
        lines += _prekey_lines(created.prekeys)
    if created.failure is None:
        lines.append(f"next: {after}")
    emit(record, as_json, "\n".join(lines))
    if created.failure is not None:
        raise created.failure


@keys.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keys_show(ctx: click.Context, as_json: bool) -> None:
    """Show this home's identity and public keys (no passphrase needed).

    \b
    Examples:
      ilo-node --home node-DE keys show
      ilo-node --home officer-hans keys show --json
    """
    view = describe_identity(home_of(ctx), now_ms())
    record = view.record
    text = [f"{view.label} in network {view.network}", f"  signing key: {record['key']}"]
    if record["retired_keys"]:
        text.append(f"  retired keys: {', '.join(record['retired_keys'])}")
    in_use = record.get("signing_key_in_use")
    if in_use is not None and in_use["key"] != record["key"]:
        text.append(
            f"  signs with: the retired key {in_use['key'][:16]}… until the new key may speak "
            f"for the node (now: {in_use['newest_reason']})"
        )
    elif in_use is not None and not in_use["may_speak"]:
        text.append(f"  its key may not speak for the node yet: {in_use['reason']}")
    if record["prekey_epochs"]:
        text.append(f"  prekey epochs held: {', '.join(map(str, record['prekey_epochs']))}")
    if "roster" in record:
        text.append(f"  {record['roster']['message']}")
        text.extend(f"  skipped stored document {w}" for w in record["trust_warnings"])
    emit(record, as_json, "\n".join(text))


@keys.command("export-public")
@click.option("-o", "--output", type=FILE)
@json_option
@click.pass_context
def keys_export_public(ctx: click.Context, output: Path | None, as_json: bool) -> None:
    """Write this identity's public key file (give it to your authority or the admins).

    Without -o it is printed (the file's content). With --json: the file written, if
    any, and the public record.

    \b
    Examples:
      ilo-node --home node-DE keys export-public -o node-DE.pub
      ilo-node --home admin-anna keys export-public -o admin-anna.pub
    """
    home = home_of(ctx)
    record = home.public_record()
    if output is not None:
        home.write_public(output)
    if as_json:
        emit({"output": None if output is None else str(output), "public": record}, True, "")
    elif output is None:
        click.echo(json.dumps(record, indent=1))
    else:
        click.echo(f"wrote {output}")


@keys.command("rotate")
@click.option("--prekeys-only", is_flag=True, help="Only create/delete prekeys per schedule.")
@click.option(
    "--replace-prekeys",
    is_flag=True,
    help="Also replace the current prekeys (after a compromise: the old ones were on the "
    "stolen disk). Envelopes still in flight to the old prekeys become unreadable here.",
)
@click.option("--kdf", type=_KDF, default="moderate")
@json_option
@click.pass_context
def keys_rotate(
    ctx: click.Context, prekeys_only: bool, replace_prekeys: bool, kdf: str, as_json: bool
) -> None:
    """Replace the signing key (the old one is retired, not deleted) and refresh prekeys.

    A node signs with the newest of its keys that is certified: the retired one until
    the new key's certificate is imported, then the new one. A running node is told at
    once and keeps its prekeys itself; otherwise the prekeys are refreshed here, on the
    schedule of the home's daemon.json.

    \b
    Examples:
      ilo-node --home node-DE keys rotate --prekeys-only     # daily, every node
      ilo-node --home auth-DE keys rotate
      ilo-node --home node-FR keys rotate --replace-prekeys  # after a compromise
    """
    done = rotate_node_keys(
        home_of(ctx),
        passphrases(ctx),
        prekeys_only=prekeys_only,
        replace_prekeys=replace_prekeys,
        kdf=kdf,
        now_ms=now_ms(),
    )
    rotation = done.rotation
    after = _AFTER_ROTATION[rotation.config.role] if rotation.new_key is not None else None
    record = {
        "home": str(home_of(ctx).path),
        "new_key": None if rotation.new_key is None else rotation.new_key.hex(),
        "retired_to": None if rotation.retired_to is None else str(rotation.retired_to),
        "next": after,
        "replaced_prekeys": rotation.replaced_prekeys,
        "prekeys": _prekey_record(rotation.prekeys),
        "running_node": done.node,
    }
    lines = []
    if rotation.new_key is not None:
        lines += [
            f"new signing key: {rotation.new_key.hex()}",
            f"old key retired to {rotation.retired_to}",
        ]
    lines += [f"prekey {e} deleted; a new one replaces it" for e in rotation.replaced_prekeys]
    if rotation.prekeys is not None:
        lines += _prekey_lines(rotation.prekeys)
    if done.node is not None:
        lines += _running_node_lines(done.node)
    elif rotation.config.role == "node" and rotation.failure is None:
        lines.append(
            "no node is running for this home: 'ilo-node run' takes the keys as they are "
            "now when it starts" + _at_start(done.at_start)
        )
    if after is not None:
        lines.append(after)
    emit(record, as_json, "\n".join(lines))
    if rotation.failure is not None:
        raise rotation.failure
