"""CLI commands for identities, rosters, certificates, officers and revocations.

Each command is a few lines: read files, call ``keys/`` for every decision,
write files. See docs/operator-guide.md for the runbook these commands serve.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import emit, home_of, passphrase_for, read_bytes
from ilo_node.client import LocalApiClient, node_running
from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.home import Home, HomeConfig, now_ms, read_public_record, write_document
from ilo_node.home.keyfiles import (
    delete_private_key,
    read_private_key,
    write_private_key,
)
from ilo_node.home.prekeyfiles import maintain_prekeys
from ilo_node.home.roster_description import description_from_roster, payload_from_description
from keys.documents import OFFICER_NAME_PATTERN, Certificate, Revocation, Roster
from keys.errors import TrustError
from keys.keystore import (
    SecretKey,
    generate_signing_key,
)
from keys.roster import RosterChain, count_signers, fingerprint_of
from keys.trust import TrustState
from protocol.errors import ProtocolError, UsageError
from protocol.identifiers import EU_INSTITUTIONS, MEMBER_STATES, is_network_id, split_node_id
from protocol.signed import SignedDocument

__all__ = ["register"]

DAY_MS = 86_400_000


# -- shared plumbing --------------------------------------------------------------


_home = home_of
_passphrase = passphrase_for
_emit = emit
_read_bytes = read_bytes


def _document(path: Path, expected: str | None = None) -> SignedDocument:
    try:
        return SignedDocument.from_bytes(_read_bytes(path, "document"), expected)
    except ProtocolError as exc:
        raise UsageError(
            f"{path} is not a valid {expected or 'signed'} document: {exc.message}",
            "Check that you passed the file ilo-node wrote, unmodified.",
        ) from None


def _roster_summary(roster: Roster, document: SignedDocument | None = None) -> dict[str, Any]:
    doc = document or roster.document
    return {
        "network": roster.network,
        "version": roster.version,
        "issued": format_ms(roster.issued_ms),
        "expires": format_ms(roster.expires_ms),
        "threshold": roster.threshold,
        "administrators": {key.hex(): name for key, name in roster.administrators.items()},
        "signed_by": sorted(
            roster.administrators.get(k, "unknown key " + k.hex()[:16]) for k in doc.signed_keys()
        ),
        "authorities": sorted(a.party for a in roster.authorities),
        "nodes": sorted(roster.nodes),
        "presidency": dict(sorted(roster.presidency.items())),
        "digest": doc.digest.hex(),
        "fingerprint": fingerprint_of(doc.to_bytes()),
    }


def _roster_text(s: dict[str, Any]) -> str:
    lines = [
        f"roster {s['network']} version {s['version']}",
        f"  issued {s['issued']}, expires {s['expires']}",
        f"  administrators ({s['threshold']} of {len(s['administrators'])} must sign): "
        + ", ".join(sorted(s["administrators"].values())),
        f"  signed by: {', '.join(s['signed_by']) or 'nobody yet'}",
        f"  authorities: {', '.join(s['authorities'])}",
        f"  nodes ({len(s['nodes'])}): {', '.join(s['nodes'])}",
        "  presidency: " + ", ".join(f"{h} {p}" for h, p in s["presidency"].items()),
        f"  digest: {s['digest']}",
        f"  fingerprint of this file: {s['fingerprint']}",
    ]
    return "\n".join(lines)


# -- keys ---------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Create, show, rotate and export this home's keys."""


@keys.command("init")
@click.option("--role", type=click.Choice(["node", "admin", "authority", "officer"]), required=True)
@click.option("--network", required=True, help="Network id, e.g. ilo-tr.")
@click.option("--node", "node_id", help="Node id such as DE@TR (nodes and officers).")
@click.option("--party", help="Member State code, COM or EBCG (authorities).")
@click.option("--name", help="Administrator or officer name.")
@click.option(
    "--kdf",
    type=click.Choice(["interactive", "moderate", "sensitive"]),
    default="moderate",
    show_default=True,
    help="Argon2id cost for encrypting the private key.",
)
@click.pass_context
def keys_init(
    ctx: click.Context,
    role: str,
    network: str,
    node_id: str | None,
    party: str | None,
    name: str | None,
    kdf: str,
) -> None:
    """Create a new identity (signing key, and prekeys for a node) in --home."""
    if not is_network_id(network):
        raise UsageError(f"network id {network!r} must be 1-64 characters of a-z, 0-9, '.', '-'")
    if role in ("node", "officer") and (not node_id or split_node_id(node_id) is None):
        raise UsageError(f"--node must be a node id such as DE@TR (got {node_id!r})")
    if role == "authority" and (party not in MEMBER_STATES and party not in EU_INSTITUTIONS):
        raise UsageError(f"--party must be a Member State code, COM or EBCG (got {party!r})")
    if role in ("admin", "officer") and not name:
        raise UsageError(f"--name is required for role {role}")
    if role == "officer" and not re.fullmatch(OFFICER_NAME_PATTERN, str(name)):
        raise UsageError(
            f"officer name {name!r} must be lower case letters, digits, '.', '_' or '-'",
            "Use an identifier such as 'k.beispiel', not a display name.",
        )
    home = _home(ctx)
    config = HomeConfig(
        role=role,
        network=network,
        node=node_id if role in ("node", "officer") else None,
        party=party if role == "authority" else None,
        name=name if role in ("admin", "officer") else None,
    )
    passphrase = _passphrase(ctx, f"the new {config.label} key", confirm=True)
    home.create(config)
    key = generate_signing_key()
    write_private_key(home.signing_key_path, key, passphrase, label=config.label, profile=kdf)
    click.echo(f"created {config.label} in {home.path}")
    click.echo(f"signing key: {key.public.hex()}")
    if role == "node":
        _rotate_prekeys(home, config, key, passphrase, kdf)
    receiver = {
        "node": "your Member State authority (to certify it)",
        "officer": "your Member State authority (to certify it)",
        "admin": "the other administrators (for the roster)",
        "authority": "the administrators (for the roster)",
    }[role]
    click.echo(f"next: 'ilo-node keys export-public -o FILE' and hand FILE to {receiver}")


def _rotate_prekeys(
    home: Home, config: HomeConfig, signing: SecretKey, passphrase: bytes, kdf: str
) -> None:
    """Create the prekeys the schedule needs now, delete those past their grace, announce."""
    trust = home.trust_state() if home.has_roster() else None
    changes = maintain_prekeys(home, signing, passphrase, trust, now_ms(), kdf)
    for epoch in changes.created:
        click.echo(f"prekey for epoch {epoch} created")
    for epoch in changes.deleted:
        click.echo(f"prekey for epoch {epoch} deleted (forward secrecy)")
    for _ in changes.announcements:
        click.echo("prekey announced")
    if changes.not_announced:
        click.echo(
            "prekeys not announced yet (" + changes.not_announced + "); once the root roster "
            "is pinned and this node's key certified, run 'ilo-node keys rotate --prekeys-only'"
        )


@keys.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def keys_show(ctx: click.Context, as_json: bool) -> None:
    """Show this home's identity and public keys (no passphrase needed)."""
    home = _home(ctx)
    config = home.config()
    record = home.public_record()
    record["home"] = str(home.path)
    record["retired_keys"] = [p.stem for p in home.retired_key_paths()]
    record["prekey_epochs"] = (
        sorted(int(p.stem) for p in home.prekey_dir.glob("*.key") if p.stem.isdigit())
        if home.prekey_dir.exists()
        else []
    )
    if home.has_roster():
        home.trust_state()  # collects warnings about stored documents that no longer verify
        status = home.chain().status(now_ms())
        record["roster"] = {
            "version": status.version,
            "state": status.state,
            "message": status.message,
        }
    text = [f"{config.label} in network {config.network}", f"  signing key: {record['key']}"]
    if record["retired_keys"]:
        text.append(f"  retired keys: {', '.join(record['retired_keys'])}")
    if record["prekey_epochs"]:
        text.append(f"  prekey epochs held: {', '.join(map(str, record['prekey_epochs']))}")
    if "roster" in record:
        text.append(f"  {record['roster']['message']}")
        warnings = getattr(home, "trust_warnings", [])
        record["trust_warnings"] = warnings
        for warning in warnings:
            text.append(f"  skipped stored document {warning}")
    _emit(record, as_json, "\n".join(text))


@keys.command("export-public")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def keys_export_public(ctx: click.Context, output: Path | None) -> None:
    """Write this identity's public key file (give it to your authority or the admins)."""
    home = _home(ctx)
    if output is None:
        click.echo(json.dumps(home.public_record(), indent=1))
    else:
        home.write_public(output)
        click.echo(f"wrote {output}")


@keys.command("rotate")
@click.option("--prekeys-only", is_flag=True, help="Only create/delete prekeys per schedule.")
@click.option(
    "--replace-prekeys",
    is_flag=True,
    help="Also replace the current prekeys (after a compromise: the old ones were on the "
    "stolen disk). Envelopes still in flight to the old prekeys become unreadable here.",
)
@click.option(
    "--kdf", type=click.Choice(["interactive", "moderate", "sensitive"]), default="moderate"
)
@click.pass_context
def keys_rotate(ctx: click.Context, prekeys_only: bool, replace_prekeys: bool, kdf: str) -> None:
    """Replace the signing key (the old one is retired, not deleted) and refresh prekeys."""
    home = _home(ctx)
    config = home.config()
    passphrase = _passphrase(ctx, f"the {config.label} keys")
    current = home.signing_key(passphrase)
    if not prekeys_only:
        retired = home.retired_dir / f"{current.public.hex()[:16]}.key"
        home.retired_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(home.signing_key_path, retired)
        new = generate_signing_key()
        write_private_key(home.signing_key_path, new, passphrase, label=config.label, profile=kdf)
        click.echo(f"new signing key: {new.public.hex()}")
        click.echo(f"old key retired to {retired}")
        if config.role == "node":
            click.echo(
                "next: export the public key and have your authority certify it "
                "('ilo-node cert issue'); until that certificate reaches the other nodes, "
                "they hold this node's new envelopes in quarantine (nothing is lost)"
            )
        elif config.role == "officer":
            click.echo(
                "next: export the public key and have your authority certify it "
                "('ilo-node officer add' in the authority's home)"
            )
        elif config.role == "admin":
            click.echo("next: the administrators publish a roster that lists the new key")
        else:
            click.echo(
                "next: the administrators publish a roster that lists the new key with "
                "an overlap ('valid_until' on the old one)"
            )
        current = new
    if config.role == "node":
        if replace_prekeys and home.prekey_dir.exists():
            for path in sorted(home.prekey_dir.glob("*.key")):
                delete_private_key(path)
                click.echo(f"prekey {path.stem} deleted; a new one replaces it")
        _rotate_prekeys(home, config, current, passphrase, kdf)


# -- roster -----------------------------------------------------------------------------


@click.group()
def roster() -> None:
    """Propose, sign, combine, verify and apply roster versions."""


@roster.command("propose")
@click.argument("description", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The current signed roster; checks that the version follows it.",
)
def roster_propose(description: Path, output: Path, previous: Path | None) -> None:
    """Turn a roster description (JSON) into an unsigned proposal file."""
    payload = payload_from_description(description, now_ms())
    document = SignedDocument.create("roster", payload)
    try:
        roster_obj = Roster.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"the description is not a valid roster: {exc.message}") from None
    if previous is not None:
        before = Roster.from_document(_document(previous, "roster"))
        if roster_obj.version != before.version + 1:
            raise UsageError(
                f"proposal has version {roster_obj.version}; after version {before.version} "
                f"it must be {before.version + 1}"
            )
    write_document(output, document.to_bytes())
    click.echo(_roster_text(_roster_summary(roster_obj)))
    click.echo(f"wrote proposal {output}; each administrator now runs 'ilo-node roster sign'")


@roster.command("sign")
@click.argument("proposal", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed copy here instead of updating PROPOSAL in place.",
)
@click.option("--with-retired", is_flag=True, help="Also sign with this home's retired keys.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def roster_sign(
    ctx: click.Context, proposal: Path, output: Path | None, with_retired: bool, yes: bool
) -> None:
    """Add this administrator's signature to a roster proposal (works offline)."""
    home = _home(ctx)
    config = home.require_role("admin")
    document = _document(proposal, "roster")
    try:
        roster_obj = Roster.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"{proposal} is not a valid roster: {exc.message}") from None
    if roster_obj.network != config.network:
        raise UsageError(
            f"the proposal is for network {roster_obj.network!r}, "
            f"this administrator is in {config.network!r}"
        )
    click.echo(_roster_text(_roster_summary(roster_obj, document)), err=True)
    for admin_key, admin in roster_obj.administrators.items():
        click.echo(f"  administrator {admin}: {admin_key.hex()}", err=True)
    if not yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise UsageError(
                "not signing without confirmation",
                "Read the summary above, then run again with --yes to sign.",
            )
        if not click.confirm("Sign this roster?", err=True):
            raise click.exceptions.Abort()
    passphrase = _passphrase(ctx, f"the {config.label} key")
    keys_to_use = [home.signing_key(passphrase)]
    if with_retired:
        keys_to_use += [read_private_key(p, passphrase) for p in home.retired_key_paths()]
    for key in keys_to_use:
        document = document.signed_by(key.reveal())
    target = output or proposal
    write_document(target, document.to_bytes())
    click.echo(f"signed by {config.name} ({len(keys_to_use)} key(s)); wrote {target}")


@roster.command("combine")
@click.argument(
    "proposals", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def roster_combine(proposals: tuple[Path, ...], output: Path) -> None:
    """Merge the signatures of copies of one proposal signed on different machines."""
    first, *rest = [_document(p, "roster") for p in proposals]
    merged = first.merged_with(rest)
    write_document(output, merged.to_bytes())
    roster_obj = Roster.from_document(merged)
    click.echo(_roster_text(_roster_summary(roster_obj, merged)))
    click.echo(f"wrote {output} with {len(merged.signatures)} valid signature(s)")


@roster.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--previous",
    "previous",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Earlier signed rosters, oldest first, starting from the root.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def roster_verify(
    ctx: click.Context, file: Path, previous: tuple[Path, ...], as_json: bool
) -> None:
    """Check that FILE is a valid next roster (against --previous or this home's chain)."""
    data = _read_bytes(file, "roster")
    home = _home(ctx)
    if previous:
        chain = RosterChain.from_history(_read_bytes(p, "roster") for p in previous)
    elif home.exists() and home.has_roster():
        chain = home.chain()
    else:
        chain = None
    result: dict[str, Any] = {"file": str(file), "fingerprint": fingerprint_of(data)}
    if chain is None:
        new = RosterChain.from_history([data]).current  # a root: its own threshold
        result.update(valid=True, checked_as="root", version=new.version)
        text = (
            f"valid root roster version {new.version}\nfingerprint: {result['fingerprint']}\n"
            "pin it only if this fingerprint matches the one the administrators read out"
        )
    else:
        new = chain.check_next(data, now_ms())
        before = chain.current
        result.update(
            valid=True,
            checked_as="next",
            version=new.version,
            signatures_from_previous=count_signers(new.document, before.administrators),
            signatures_from_own=count_signers(new.document, new.administrators),
        )
        text = (
            f"valid: roster version {new.version} follows version {before.version}\n"
            f"  {result['signatures_from_previous']} of version {before.version}'s administrators "
            f"signed (threshold {before.threshold}); {result['signatures_from_own']} of its own "
            f"(threshold {new.threshold})"
        )
    _emit(result, as_json, text)


@roster.command("show")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print an editable roster description.")
@click.pass_context
def roster_show(ctx: click.Context, file: Path | None, as_json: bool) -> None:
    """Show a roster file, or this home's current roster."""
    if file is not None:
        document = _document(file, "roster")
        try:
            roster_obj = Roster.from_document(document)
        except ProtocolError as exc:
            raise UsageError(f"{file} is not a valid roster: {exc.message}") from None
    else:
        roster_obj = _home(ctx).chain().current
    if as_json:
        click.echo(json.dumps(description_from_roster(roster_obj), indent=1))
    else:
        click.echo(_roster_text(_roster_summary(roster_obj)))
        if file is None:
            click.echo("  " + _home(ctx).chain().status(now_ms()).message)


@roster.command("init")
@click.argument("root", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--fingerprint",
    required=True,
    help="The root roster fingerprint the administrators read out to you.",
)
@click.pass_context
def roster_init(ctx: click.Context, root: Path, fingerprint: str) -> None:
    """Pin the root roster: the only trust this home will ever start from."""
    home = _home(ctx)
    config = home.config()
    if home.has_roster():
        raise TrustError(
            f"{home.path} already trusts a roster chain",
            "Apply newer versions with 'ilo-node roster update'.",
        )
    data = _read_bytes(root, "roster")
    chain = RosterChain.from_pinned_root(data, fingerprint)
    if chain.current.network != config.network:
        raise TrustError(
            f"the root roster is for network {chain.current.network!r}, this home "
            f"is in {config.network!r}"
        )
    home.save_roster(data, chain.current.version)
    click.echo(f"pinned root roster version {chain.current.version} of {chain.current.network}")
    click.echo("  " + chain.status(now_ms()).message)


@roster.command("update")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def roster_update(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Apply the next roster version(s), in order."""
    home = _home(ctx)
    chain = home.chain()
    for file in files:
        data = _read_bytes(file, "roster")
        new = chain.update(data, now_ms())
        home.save_roster(data, new.version)
        click.echo(f"applied roster version {new.version}")
    click.echo("  " + chain.status(now_ms()).message)


# -- certificates, officers and revocations ---------------------------------------------


@click.group()
def cert() -> None:
    """Issue (authority) and import (node) certificates."""


def _issue(
    ctx: click.Context,
    public_file: Path,
    role: str,
    valid_from: str,
    valid_days: int,
) -> tuple[bytes, Certificate]:
    home = _home(ctx)
    config = home.require_role("authority")
    record = read_public_record(public_file)
    if record.get("network") != config.network:
        raise UsageError(f"{public_file} is for network {record.get('network')!r}")
    expected_role = "node" if role == "node" else "officer"
    if record.get("role") != expected_role:
        raise UsageError(
            f"{public_file} is the key of a {record.get('role')}, not of a {expected_role}"
        )
    node = str(record.get("node"))
    parsed = split_node_id(node)
    if parsed is None or parsed[0] != config.party:
        raise UsageError(
            f"{public_file} is for {node}; the {config.party} authority certifies only "
            f"{config.party} nodes and officers"
        )
    now = now_ms()
    start = parse_time(valid_from, now)
    payload: dict[str, Any] = {
        "network": config.network,
        "node": node,
        "role": expected_role,
        "key": bytes.fromhex(record["key"]),
        "valid_from_ms": start,
        "valid_until_ms": start + valid_days * DAY_MS,
        "issued_ms": now,
    }
    if expected_role == "officer":
        payload["officer"] = record.get("name")
    passphrase = _passphrase(ctx, f"the {config.label} key")
    key = home.signing_key(passphrase)
    try:
        document = SignedDocument.create("certificate", payload).signed_by(key.reveal())
        certificate = Certificate.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"cannot certify {public_file}: {exc.message}") from None
    data = document.to_bytes()
    home.save_document(home.issued_dir / "certificates", data, ".cert")
    return data, certificate


@cert.command("issue")
@click.argument("public_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--valid-from", default="now", show_default=True)
@click.option("--valid-days", type=click.IntRange(1, 3650), default=365, show_default=True)
@click.pass_context
def cert_issue(
    ctx: click.Context, public_file: Path, output: Path, valid_from: str, valid_days: int
) -> None:
    """Certify a node's signing key (run in the Member State authority's home)."""
    data, certificate = _issue(ctx, public_file, "node", valid_from, valid_days)
    write_document(output, data)
    click.echo(
        f"certified key {certificate.key.hex()[:16]}… for {certificate.node} from "
        f"{format_ms(certificate.valid_from_ms)} to {format_ms(certificate.valid_until_ms)}; "
        f"wrote {output}"
    )


def _import_one(home: Home, state: TrustState, data: bytes, name: str) -> str:
    if data.lstrip().startswith(b"{"):
        raise UsageError(
            f"{name} is a JSON file, not a signed document",
            "Public key files are certified with 'ilo-node cert issue' (authority), not "
            "imported; import the certificate the authority sends back.",
        )
    try:
        doc_type = SignedDocument.from_bytes(data).doc_type
    except ProtocolError as exc:
        raise UsageError(f"{name} is not a signed document: {exc.message}") from None
    if doc_type == "certificate":
        c = state.add_certificate(data)
        home.save_document(home.certificate_dir, data, ".cert")
        return f"certificate for {c.node} ({c.role}{' ' + c.officer if c.officer else ''})"
    if doc_type == "revocation":
        r = state.add_revocation(data)
        home.save_document(home.revocation_dir, data, ".rev")
        return f"revocation of {r.node} key {r.key.hex()[:16]}… compromised at " + format_ms(
            r.compromised_at_ms
        )
    if doc_type == "prekey":
        p = state.add_prekey(data, now_ms())
        home.save_document(home.prekey_announcement_dir, data, ".prekey")
        return f"prekey of {p.node} for epoch {p.epoch}"
    if doc_type == "roster":
        new = state.chain.update(data, now_ms())
        home.save_roster(data, new.version)
        return f"roster version {new.version}"
    raise UsageError(f"{name}: cannot import a {doc_type} document here")


@cert.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def cert_import(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Verify and store certificates, revocations, prekeys or rosters (in that order given)."""
    home = _home(ctx)
    state = home.trust_state()
    for file in files:
        click.echo("imported " + _import_one(home, state, _read_bytes(file, "document"), str(file)))
    # A running node keeps its trust state in memory: hand it the documents too, so it
    # uses them at once and gossips them on.
    if node_running(home):
        answer = LocalApiClient(home).add_documents([_read_bytes(f, "document") for f in files])
        click.echo("the running node took them: " + ", ".join(answer))
    config = home.config()
    if config.role == "node":
        own = state.certificates.get(home.public_key(), [])
        revoked = state.revocations.get(home.public_key(), [])
        mine = {a.key for a in state.prekeys.get(str(config.node), [])}
        if revoked:
            click.echo(
                "this node's own signing key is revoked: re-key with 'ilo-node keys rotate "
                "--replace-prekeys' and have the new key certified"
            )
        elif own and not mine:
            click.echo("next: announce your prekeys with 'ilo-node keys rotate --prekeys-only'")


@click.group()
def officer() -> None:
    """Certify, list and revoke officers' keys (run in the authority's home)."""


@officer.command("add")
@click.argument("public_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--valid-from", default="now", show_default=True)
@click.option("--valid-days", type=click.IntRange(1, 3650), default=365, show_default=True)
@click.pass_context
def officer_add(
    ctx: click.Context, public_file: Path, output: Path, valid_from: str, valid_days: int
) -> None:
    """Certify an officer's key (the officer ran 'keys init --role officer' on their machine)."""
    data, certificate = _issue(ctx, public_file, "officer", valid_from, valid_days)
    write_document(output, data)
    click.echo(
        f"certified officer {certificate.officer} at {certificate.node} until "
        f"{format_ms(certificate.valid_until_ms)}; wrote {output}"
    )


def _issued(home: Home) -> tuple[list[Certificate], list[Revocation]]:
    certs = (
        [
            Certificate.from_document(SignedDocument.from_bytes(p.read_bytes()))
            for p in sorted((home.issued_dir / "certificates").glob("*.cert"))
        ]
        if (home.issued_dir / "certificates").exists()
        else []
    )
    revs = (
        [
            Revocation.from_document(SignedDocument.from_bytes(p.read_bytes()))
            for p in sorted((home.issued_dir / "revocations").glob("*.rev"))
        ]
        if (home.issued_dir / "revocations").exists()
        else []
    )
    return certs, revs


@officer.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def officer_list(ctx: click.Context, as_json: bool) -> None:
    """List the officers this authority certified, and whether they are revoked."""
    home = _home(ctx)
    home.require_role("authority")
    certs, revs = _issued(home)
    revoked = {r.key: r for r in revs}
    rows: list[dict[str, Any]] = [
        {
            "officer": c.officer,
            "node": c.node,
            "key": c.key.hex(),
            "valid_from": format_ms(c.valid_from_ms),
            "valid_until": format_ms(c.valid_until_ms),
            "revoked": c.key in revoked,
            **(
                {"compromised_at": format_ms(revoked[c.key].compromised_at_ms)}
                if c.key in revoked
                else {}
            ),
        }
        for c in certs
        if c.role == "officer"
    ]
    text = (
        "\n".join(
            f"{r['officer']:<24} {r['node']:<8} {r['key'][:16]}…  {r['valid_from']} → "
            f"{r['valid_until']}{'  REVOKED' if r['revoked'] else ''}"
            for r in rows
        )
        or "no officers certified by this authority"
    )
    _emit(rows, as_json, text)


def _revoke(
    ctx: click.Context, key: bytes, node: str, compromised_at: str, reason: str, output: Path
) -> Revocation:
    home = _home(ctx)
    config = home.require_role("authority")
    parsed = split_node_id(node)
    if parsed is None or parsed[0] != config.party:
        raise UsageError(f"the {config.party} authority can only revoke {config.party} keys")
    now = now_ms()
    payload = {
        "network": config.network,
        "node": node,
        "key": key,
        "compromised_at_ms": parse_time(compromised_at, now),
        "issued_ms": now,
        "reason": reason,
    }
    passphrase = _passphrase(ctx, f"the {config.label} key")
    signing = home.signing_key(passphrase)
    try:
        document = SignedDocument.create("revocation", payload).signed_by(signing.reveal())
        revocation = Revocation.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"cannot build the revocation: {exc.message}") from None
    data = document.to_bytes()
    home.save_document(home.issued_dir / "revocations", data, ".rev")
    write_document(output, data)
    click.echo(
        f"revoked key {key.hex()[:16]}… of {node} as compromised from "
        f"{format_ms(revocation.compromised_at_ms)}; wrote {output}"
    )
    click.echo("next: every node imports it ('ilo-node cert import FILE'); gossip spreads it")
    return revocation


@officer.command("revoke")
@click.argument("name")
@click.option("--compromised-at", required=True, help="'now', a date or an ISO time (UTC).")
@click.option("--reason", default="officer key withdrawn", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def officer_revoke(
    ctx: click.Context, name: str, compromised_at: str, reason: str, output: Path
) -> None:
    """Revoke every key this authority certified for officer NAME."""
    home = _home(ctx)
    home.require_role("authority")
    certs, _ = _issued(home)
    mine = [c for c in certs if c.role == "officer" and c.officer == name]
    if not mine:
        raise UsageError(
            f"this authority has certified no officer named {name!r}",
            "See 'ilo-node officer list'.",
        )
    distinct = list({c.key: c for c in mine}.values())
    for c in distinct:
        target = output
        if len(distinct) > 1:
            target = output.with_name(f"{output.stem}-{c.key.hex()[:8]}{output.suffix}")
        _revoke(ctx, c.key, c.node, compromised_at, reason, target)


@click.command("revoke")
@click.option("--key", "key_hex", help="The revoked public key (hex).")
@click.option(
    "--public-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Or: the public key file of the revoked key.",
)
@click.option("--node", "node_id", help="The node the key belongs to (default: from the file).")
@click.option("--compromised-at", required=True, help="'now', a date or an ISO time (UTC).")
@click.option("--reason", required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def revoke(
    ctx: click.Context,
    key_hex: str | None,
    public_file: Path | None,
    node_id: str | None,
    compromised_at: str,
    reason: str,
    output: Path,
) -> None:
    """Revoke a key as compromised from a time on (run in the authority's home)."""
    if public_file is not None:
        record = read_public_record(public_file)
        key = bytes.fromhex(record["key"])
        node_id = node_id or record.get("node")
    elif key_hex:
        try:
            key = bytes.fromhex(key_hex)
        except ValueError:
            raise UsageError("--key must be hex") from None
        if len(key) != 32:
            raise UsageError("--key must be a 32-byte public key in hex")
    else:
        raise UsageError("give --key or --public-file")
    if not node_id:
        raise UsageError("give --node (the node the key belongs to)")
    _revoke(ctx, key, node_id, compromised_at, reason, output)


def register(cli: click.Group) -> None:
    for command in (keys, roster, cert, officer, revoke):
        cli.add_command(command)
