"""``ilo-node roster``: propose, sign, combine, verify, show, pin and apply roster versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import FILE, emit, home_of, json_option, passphrases
from ilo_node.client.documents import update_roster
from ilo_node.home.home import now_ms
from ilo_node.home.rosters import (
    SignatureCount,
    combine_proposals,
    pin_root,
    propose_roster,
    roster_view,
    sign_roster,
    verify_roster,
)
from keys.errors import ThresholdError
from protocol.errors import UsageError

__all__ = ["roster"]


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


def _count_record(count: SignatureCount) -> dict[str, Any]:
    return {
        "administrators": count.whose,
        "signed": count.signed,
        "threshold": count.threshold,
        "met": count.met,
    }


def _count_text(count: SignatureCount) -> str:
    return f"{count.signed} of {count.whose} administrators signed (threshold {count.threshold})"


@click.group()
def roster() -> None:
    """Propose, sign, combine, verify and apply roster versions.

    See 'ilo-node roster COMMAND --help' for each command's examples.
    """


@roster.command("propose")
@click.argument("description", type=FILE)
@click.option("-o", "--output", type=FILE, required=True)
@click.option(
    "--previous",
    type=FILE,
    help="The current signed roster; checks that the version follows it.",
)
@json_option
def roster_propose(description: Path, output: Path, previous: Path | None, as_json: bool) -> None:
    """Turn a roster description (JSON) into an unsigned proposal file.

    Needs no home. 'ilo-node roster show --json' in an administrator's home writes the
    current roster's description, to edit into the next version.

    \b
    Examples:
      ilo-node roster propose roster-v1.json -o roster-v1.proposal
      ilo-node roster propose roster-v2.json --previous roster-v1.roster \\
          -o roster-v2.proposal
    """
    summary = propose_roster(description, output, previous, now_ms())
    emit(
        {**summary, "output": str(output)},
        as_json,
        _roster_text(summary)
        + f"\nwrote proposal {output}; each administrator now runs 'ilo-node roster sign'",
    )


_SIGNED_COPY = "Write the signed copy here instead of updating PROPOSAL in place."


@roster.command("sign")
@click.argument("proposal", type=FILE)
@click.option("-o", "--output", type=FILE, help=_SIGNED_COPY)
@click.option("--with-retired", is_flag=True, help="Also sign with this home's retired keys.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def roster_sign(
    ctx: click.Context,
    proposal: Path,
    output: Path | None,
    with_retired: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Add this administrator's signature to a roster proposal (works offline).

    Run in an administrator's home. Without --yes it shows the roster and asks first;
    with --yes --json it shows nothing but the JSON result (the summary is in it).

    \b
    Examples:
      ilo-node --home admin-anna roster sign roster-v2.proposal
      ilo-node --home admin-bruno roster sign --yes roster-v2.proposal \\
          -o roster-v2.bruno
      ilo-node --home admin-anna roster sign --with-retired roster-v3.proposal
    """

    reviewed: dict[str, Any] = {}

    def review(summary: dict[str, Any]) -> None:
        reviewed.update(summary)
        if yes and as_json:
            return
        click.echo(_roster_text(summary), err=True)
        for admin_key, admin in summary["administrators"].items():
            click.echo(f"  administrator {admin}: {admin_key}", err=True)
        if yes:
            return
        if sys.stdin is None or not sys.stdin.isatty():
            raise UsageError(
                "not signing without confirmation",
                "Read the summary above, then run again with --yes to sign.",
            )
        if not click.confirm("Sign this roster?", err=True):
            raise click.exceptions.Abort()

    signed = sign_roster(
        home_of(ctx),
        proposal,
        output,
        with_retired=with_retired,
        review=review,
        passphrase=passphrases(ctx),
    )
    done = (
        f"already signed by {signed.signer} ({signed.keys} key(s)): no signature added"
        if signed.already
        else f"signed by {signed.signer} ({signed.keys} key(s))"
    )
    record = {
        "signer": signed.signer,
        "keys": signed.keys,
        "added": not signed.already,
        "path": str(signed.path),
        "signatures": _count_record(signed.count),
        "roster": reviewed,
    }
    emit(record, as_json, f"{done}; wrote {signed.path}\n  {_count_text(signed.count)}")


@roster.command("combine")
@click.argument("proposals", nargs=-1, required=True, type=FILE)
@click.option("-o", "--output", type=FILE, required=True)
@click.option(
    "--previous",
    type=FILE,
    help="The signed roster this version follows: its administrators' threshold is counted too.",
)
@json_option
def roster_combine(
    proposals: tuple[Path, ...], output: Path, previous: Path | None, as_json: bool
) -> None:
    """Merge the signatures of copies of one proposal signed on different machines.

    The merged file is written in any case; below the roster's threshold of its own
    administrators (or of --previous's) it is not valid yet, and the command exits 1
    saying how many signatures it has and needs.

    \b
    Examples:
      ilo-node roster combine roster-v2.anna roster-v2.bruno -o roster-v2.roster
      ilo-node roster combine roster-v2.anna roster-v2.bruno -o roster-v2.roster \\
          --previous roster-v1.roster --json
    """
    combined = combine_proposals(proposals, output, previous)
    record = {
        **combined.summary,
        "output": str(output),
        "valid_signatures": combined.signatures,
        "thresholds": [_count_record(c) for c in combined.counts],
        "threshold_met": not combined.short,
    }
    text = [
        _roster_text(combined.summary),
        f"wrote {output} with {combined.signatures} valid signature(s)",
        *(f"  {_count_text(c)}{'' if c.met else ': NOT ENOUGH'}" for c in combined.counts),
    ]
    emit(record, as_json, "\n".join(text))
    if combined.short:
        version = combined.summary["version"]
        raise ThresholdError(
            f"{output} is not a valid roster yet: "
            + "; ".join(
                f"{c.signed} of {c.whose} administrators signed, {c.threshold} needed"
                for c in combined.short
            )
            + f" for version {version}",
            "Have "
            + " and ".join(f"{c.threshold - c.signed} more of {c.whose}" for c in combined.short)
            + f" administrators sign a copy ('ilo-node roster sign'), then combine it with "
            f"{output}.",
        )


@roster.command("verify")
@click.argument("file", type=FILE)
@click.option(
    "--previous",
    "previous",
    multiple=True,
    type=FILE,
    help="Earlier signed rosters, oldest first, starting from the root.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def roster_verify(
    ctx: click.Context, file: Path, previous: tuple[Path, ...], as_json: bool
) -> None:
    """Check that FILE is a valid next roster (against --previous or this home's chain).

    With neither (no --previous, no roster pinned in this home), FILE is checked as a
    root roster and its fingerprint printed.

    \b
    Examples:
      ilo-node --home admin-dora roster verify roster-v5.roster
      ilo-node roster verify roster-v3.roster --previous roster-v1.roster \\
          --previous roster-v2.roster
      ilo-node --home node-LT roster verify roster-v1.roster   # not pinned yet
    """
    check = verify_roster(home_of(ctx), file, previous, now_ms())
    result, new, before = check.record, check.roster, check.previous
    if before is None:
        text = (
            f"valid root roster version {new.version}\nfingerprint: {result['fingerprint']}\n"
            "pin it only if this fingerprint matches the one the administrators read out"
        )
    else:
        text = (
            f"valid: roster version {new.version} follows version {before.version}\n"
            f"  {result['signatures_from_previous']} of version {before.version}'s administrators "
            f"signed (threshold {before.threshold}); {result['signatures_from_own']} of its own "
            f"(threshold {new.threshold})"
        )
    emit(result, as_json, text)


@roster.command("show")
@click.argument("file", required=False, type=FILE)
@click.option("--json", "as_json", is_flag=True, help="Print an editable roster description.")
@click.pass_context
def roster_show(ctx: click.Context, file: Path | None, as_json: bool) -> None:
    """Show a roster file, or this home's current roster.

    \b
    Examples:
      ilo-node --home node-DE roster show
      ilo-node roster show roster-v2.proposal
      ilo-node --home admin-anna roster show --json > roster-v3.json
    """
    view = roster_view(home_of(ctx), file, now_ms())
    if as_json:
        click.echo(json.dumps(view.description, indent=1))
        return
    click.echo(_roster_text(view.summary))
    if view.status is not None:
        click.echo("  " + view.status)


@roster.command("init")
@click.argument("root", type=FILE)
@click.option(
    "--fingerprint",
    required=True,
    help="The root roster fingerprint the administrators read out to you.",
)
@json_option
@click.pass_context
def roster_init(ctx: click.Context, root: Path, fingerprint: str, as_json: bool) -> None:
    """Pin the root roster: the only trust this home will ever start from.

    Each home that checks rosters does it once, with the fingerprint an administrator
    read out to you over a channel you already trust; a mismatch is refused.

    \b
    Example:
      ilo-node --home node-DE roster init roster-v1.roster --fingerprint \\
          'f61e 4e91 5c39 bca8 afe9 c589 ddb5 55e5 f2a3 7540 709b 3a4d 2ef6 a943 5723 2431'
    """
    pinned = pin_root(home_of(ctx), root, fingerprint, now_ms())
    emit(
        {"pinned": str(root), "network": pinned.network, "version": pinned.version,
         "status": pinned.status},
        as_json,
        f"pinned root roster version {pinned.version} of {pinned.network}\n  {pinned.status}",
    )  # fmt: skip


@roster.command("update")
@click.argument("files", nargs=-1, required=True, type=FILE)
@json_option
@click.pass_context
def roster_update(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Apply the next roster version(s), in order.

    A running node takes them at once: it contacts the members they add, drops those
    they remove, and gossips the versions on.

    \b
    Examples:
      ilo-node --home node-DE roster update roster-v2.roster
      ilo-node --home node-LT roster update roster-v2.roster roster-v3.roster
    """
    updates = update_roster(home_of(ctx), files, now_ms())
    lines = [f"applied roster version {v}" for v in updates.applied]
    if updates.failure is None and not updates.applied:
        lines.append(f"nothing applied: roster version {updates.current} is already current here")
    if updates.status is not None:
        lines.append(f"  {updates.status}")
    if updates.node_answer is not None:
        lines.append("the running node took them: " + ", ".join(updates.node_answer))
    record = {
        "applied": updates.applied,
        "current": updates.current,
        "status": updates.status,
        "running_node": updates.node_answer,
    }
    if updates.failure is None or updates.applied:
        emit(record, as_json, "\n".join(lines))
    if updates.failure is not None:
        raise updates.failure
