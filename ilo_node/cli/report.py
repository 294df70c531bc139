"""``ilo-node report build`` (at the Presidency's node) and ``report verify`` (anywhere);
``report annual`` (at the Commission's node) and ``report verify-annual`` (anywhere)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import home_of, passphrase_for
from ilo_node.client.reports import (
    BuiltFiles,
    annual_report_files,
    build_report_files,
    verify_annual_files,
    verify_report_files,
)
from ilo_node.errors import ReportError
from ilo_node.home.home import Home, now_ms
from ilo_node.report.signed import Verification
from ilo_node.report.template import template_names

__all__ = ["report"]


@click.group()
def report() -> None:
    """Build the half-year report from the contributions, and verify one; build the
    Commission's annual overview from two reports, and verify one.
    See 'ilo-node report COMMAND --help'."""


@report.command("build")
@click.option("--period", required=True, help="The half-year, e.g. 2026-H2.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write report.json, report.sig and the renderings to.",
)
@click.option(
    "--template",
    "template_name",
    type=click.Choice(template_names()),
    default="decision-2005-687",
    show_default=True,
)
@click.option(
    "--uncosigned",
    is_flag=True,
    help="Build at the latest checkpoint even if no peer has cosigned one that covers "
    "the contributions yet (verifiers will refuse it unless they accept no witness).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def build(
    ctx: click.Context,
    period: str,
    out_dir: Path,
    template_name: str,
    uncosigned: bool,
    as_json: bool,
) -> None:
    """Build and sign the report at the Presidency's node, from its log (run in the
    node's home; the node may be running).

    \b
    Example:
      ilo-node --home node-IE report build --period 2026-H2 --out report-2026-H2
    """
    home, keys = _node_keys(ctx)
    built = build_report_files(
        home, keys, period, out_dir, template_name, now_ms(), uncosigned=uncosigned
    )
    record = _record(built)
    if as_json:
        click.echo(json.dumps(record, indent=1))
        return
    click.echo(
        f"built the {period} report from {record['contributions']} contributions "
        f"({', '.join(record['host_countries']) or 'no host country'}), at checkpoint size "
        f"{record['checkpoint_size']}, cosigned by "
        f"{', '.join(record['witnesses']) or 'no peer'}"
    )
    for item in record["missing"]:
        click.echo(f"  no contribution from {item['member_state']} for {item['host']}")
    _echo_files(record)
    for problem in record["not_written"]:
        click.echo(f"  not written: {problem}", err=True)


@report.command("verify")
@click.argument(
    "report_file", metavar="REPORT_JSON", type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--min-witnesses",
    type=click.IntRange(0, 100),
    default=1,
    show_default=True,
    help="How many peers of the building node must have cosigned its checkpoint.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def verify(ctx: click.Context, report_file: Path, min_witnesses: int, as_json: bool) -> None:
    """Verify a report and its report.sig: signature, checkpoint, every inclusion proof,
    and, in a node's home that can read the contributions, every figure.

    \b
    Example:
      ilo-node --home node-COM report verify report-2026-H2/report.json
    """
    result = verify_report_files(home_of(ctx), report_file, now_ms(), min_witnesses=min_witnesses)
    if as_json:
        click.echo(json.dumps(_verdict(result), indent=1))
    else:
        for note in result.notes:
            click.echo(f"  {note}")
    if not result.ok:
        raise ReportError(f"{report_file} does not verify: " + "; ".join(result.problems[:20]))
    if not as_json:
        what = "every figure recomputed" if result.recomputed else "figures not recomputed here"
        click.echo(f"valid: {report_file} ({what})")


_MIN_WITNESSES = click.option(
    "--min-witnesses",
    type=click.IntRange(0, 100),
    default=1,
    show_default=True,
    help="How many peers of the building node must have cosigned a half-year report's checkpoint.",
)


@report.command("annual")
@click.option("--year", required=True, type=click.IntRange(1970, 9999))
@click.option(
    "--from",
    "reports",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A half-year report.json of the year, its report.sig beside it (give both; each "
    "is verified first).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write annual.json, annual.sig and the renderings to.",
)
@_MIN_WITNESSES
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def annual(
    ctx: click.Context,
    year: int,
    reports: tuple[Path, ...],
    out_dir: Path,
    min_witnesses: int,
    as_json: bool,
) -> None:
    """Build the Commission's annual overview from the year's two half-year reports,
    verifying both first (run in a node's home, the Commission's): annual.json signed
    (annual.sig), annual.html, annual.md and annual.pdf.

    \b
    Example:
      ilo-node --home node-COM report annual --year 2026 --from h1/report.json \\
          --from h2/report.json --out annual-2026
    """
    home, keys = _node_keys(ctx)
    built = annual_report_files(
        home, keys, year, list(reports), out_dir, now_ms(), min_witnesses=min_witnesses
    )
    record = _record(built)
    if as_json:
        click.echo(json.dumps(record, indent=1))
        return
    sources = ", ".join(f"{f['period']} by {f['built_by']}" for f in record["from"])
    click.echo(
        f"built the {year} overview from 2 verified half-year reports ({sources}): "
        f"{', '.join(record['host_countries']) or 'no host country'}"
    )
    for item in record["missing"]:
        click.echo(
            f"  no contribution from {item['member_state']} for {item['host']} in {item['period']}"
        )
    _echo_files(record)
    for problem in record["not_written"]:
        click.echo(f"  not written: {problem}", err=True)


@report.command("verify-annual")
@click.argument(
    "annual_file", metavar="ANNUAL_JSON", type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--from",
    "reports",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A half-year report.json the overview names, its report.sig beside it (give "
    "both to recompute every figure; without, the signature alone is checked).",
)
@_MIN_WITNESSES
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.pass_context
def verify_annual(
    ctx: click.Context,
    annual_file: Path,
    reports: tuple[Path, ...],
    min_witnesses: int,
    as_json: bool,
) -> None:
    """Verify an annual overview and its annual.sig; with the two half-year reports it
    names (--from), verify each as 'report verify' does and recompute every figure.

    \b
    Examples:
      ilo-node --home node-COM report verify-annual annual-2026/annual.json \\
          --from h1/report.json --from h2/report.json
      ilo-node --home node-FR report verify-annual annual-2026/annual.json --json
    """
    result = verify_annual_files(
        home_of(ctx), annual_file, list(reports) or None, now_ms(), min_witnesses=min_witnesses
    )
    if as_json:
        click.echo(json.dumps(_verdict(result), indent=1))
    else:
        for note in result.notes:
            click.echo(f"  {note}")
    if not result.ok:
        raise ReportError(
            f"{annual_file} does not verify: " + "; ".join(result.problems[:20]),
            "Do not use this overview: ask its builder for the overview as built, with the "
            "two half-year reports it names, and compare.",
        )
    if not as_json:
        what = (
            "every figure recomputed from the half-year reports"
            if result.recomputed
            else "signature only: figures not recomputed, give both reports with --from"
        )
        click.echo(f"valid: {annual_file} ({what})")


def _node_keys(ctx: click.Context) -> tuple[Home, Callable[[], bytes]]:
    """The node home of --home, and its passphrase asked for when the key signs."""
    home = home_of(ctx)
    label = home.require_role("node").label
    return home, lambda: passphrase_for(ctx, f"the {label} keys")


def _verdict(result: Verification) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "recomputed": result.recomputed,
        "problems": result.problems,
        "notes": result.notes,
    }


def _record(built: BuiltFiles) -> dict[str, Any]:
    return {**built.summary, "files": {k: str(v) for k, v in built.files.items()}}


def _echo_files(record: dict[str, Any]) -> None:
    for name, path in record["files"].items():
        click.echo(f"  {name}: {path}")
