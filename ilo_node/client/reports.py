"""Building and verifying half-year reports and the annual overview in a home: the
files, the node's log read without its lock (the running node may write meanwhile),
the keys asked for only to sign. The logic is in :mod:`ilo_node.report`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ilo_node.errors import InputError, ReportError
from ilo_node.formats.jsonfile import read_limited
from ilo_node.home.home import Home, write_private_file
from ilo_node.home.ownkeys import signing_key_in_use
from ilo_node.node.core import Node
from ilo_node.report.aggregate import choose
from ilo_node.report.annual import ANNUAL_FORM, HalfYearReport, annual_overview
from ilo_node.report.annual_render import write_annual_outputs
from ilo_node.report.build import build_report, contributions_in
from ilo_node.report.render import write_outputs
from ilo_node.report.signed import sign_json
from ilo_node.report.template import load_template
from ilo_node.report.verify import MAX_REPORT_BYTES, Verification, verify_report
from ilo_node.report.verify_annual import MAX_ANNUAL_BYTES, AnnualSource, verify_annual
from protocol.checkpoint import origin_for
from protocol.envelope import Envelope
from protocol.periods import half_year_bounds

__all__ = [
    "BuiltFiles",
    "annual_report_files",
    "build_report_files",
    "verify_annual_files",
    "verify_report_files",
]

_MAX_SIG_BYTES = 64 * 1024


@dataclass(frozen=True)
class BuiltFiles:
    directory: Path
    files: dict[str, Path]
    summary: dict[str, Any]


def build_report_files(
    home: Home,
    passphrase: Callable[[], bytes],
    half_year: str,
    out_dir: Path,
    template_name: str,
    now_ms: int,
    *,
    render: bool = True,
    uncosigned: bool = False,
) -> BuiltFiles:
    """``report.json`` and ``report.sig`` (and, with ``render``, report.md, report.html
    and report.pdf) in ``out_dir``, built from the node of ``home``'s log and signed with
    its key."""
    home.require_role("node")
    half_year_bounds(half_year)
    template = load_template(template_name)
    signing = signing_key_in_use(home, passphrase(), now_ms)
    node = Node(home, None, writer=False)
    try:
        built = build_report(node, signing, template, half_year, now_ms, uncosigned=uncosigned)
    finally:
        node.close()
    files = {"report.json": out_dir / "report.json", "report.sig": out_dir / "report.sig"}
    write_private_file(files["report.json"], built.data)
    write_private_file(files["report.sig"], built.signature)
    body = built.body
    # The renderings are made from what was signed, read back as a verifier reads it.
    not_written: list[str] = []
    if render:
        rendered = write_outputs(json.loads(built.data), out_dir, problems=not_written)
        files.update({path.name: path for path in rendered.values()})
    summary = {
        "period": half_year,
        "host_countries": [h["code"] for h in body["host_countries"]],
        "contributions": len(body["manifest"]["contributions"]),
        "missing": body["missing"],
        "checkpoint_size": body["manifest"]["log_size"],
        "witnesses": body["manifest"]["witnesses"],
        "not_written": not_written,
    }
    return BuiltFiles(out_dir, files, summary)


def verify_report_files(
    home: Home, report_path: Path, now_ms: int, *, min_witnesses: int = 1
) -> Verification:
    """Verify ``report_path`` (and ``report.sig`` beside it) with this home's trust; a
    node's home also recomputes what it can read. ``min_witnesses``: how many peers of
    the building node must have cosigned the report's checkpoint."""
    report = _read_report(report_path)
    return _verify_report(home, report, now_ms, min_witnesses)


def _read_report(report_path: Path) -> HalfYearReport:
    """report.json and the report.sig beside it, each read once: what is verified is
    what is then used."""
    data = read_limited(report_path, "report", MAX_REPORT_BYTES)
    signature = _signature_beside(
        report_path, "report", ("annual overview", "annual", "report verify-annual")
    )
    return HalfYearReport(data, signature)


def _signature_beside(path: Path, kind: str, other: tuple[str, str, str]) -> bytes:
    """``KIND.sig`` beside ``path``, read capped; where it is missing but the other kind's
    signature is there, the advice names the command for that kind."""
    sig_path = path.with_name(f"{kind}.sig")
    if not sig_path.exists():
        what = "A report" if kind == "report" else "An overview"
        advice = f"{what} is verified with its signature: copy {kind}.sig with {kind}.json."
        other_what, other_kind, other_command = other
        if path.with_name(f"{other_kind}.sig").exists():
            advice = (
                f"This looks like {'an' if other_what[0] in 'aeiou' else 'a'} {other_what} "
                f"({other_kind}.sig is beside it): verify it with 'ilo-node {other_command}'."
            )
        raise InputError(f"no {kind}.sig beside {path}", advice)
    what = "report signature" if kind == "report" else "annual overview signature"
    return read_limited(sig_path, what, _MAX_SIG_BYTES)


def _verify_report(
    home: Home, report: HalfYearReport, now_ms: int, min_witnesses: int
) -> Verification:
    data, signature = report.data, report.signature
    trust = home.trust_state()
    if home.config().role != "node":
        return verify_report(
            data, signature, trust, now_ms, template_for=load_template, min_witnesses=min_witnesses
        )
    node = Node(home, None, writer=False)
    try:
        builder = _builder(signature)

        def lookup(envelope_id: bytes) -> tuple[Envelope, dict[str, Any] | None] | None:
            envelope = node.view.envelope(envelope_id)
            if envelope is None:
                return None
            content = node.view.read(envelope_id)
            return envelope, None if content is None else dict(content.fields)

        def held(period: str) -> list[bytes]:
            found = contributions_in(node, [period])
            return [c.envelope_id for c in choose(c for c, _, _ in found)]

        origin = origin_for(node.network, builder) if builder else ""
        split = any(v.origin == origin for v in node.witnessing.split_views())
        return verify_report(
            data,
            signature,
            node.trust,
            now_ms,
            template_for=load_template,
            lookup=lookup,
            held_contributions=held,
            witnessed=node.witnessing.notes_of(builder) if builder else (),
            split_view=split,
            min_witnesses=min_witnesses,
        )
    finally:
        node.close()


def _builder(signature: bytes) -> str:
    """The building node report.sig names (the report itself is not parsed before its
    signature is checked; verify_report checks that the two name the same node)."""
    try:
        return str(json.loads(signature)["node"])
    except (ValueError, KeyError, TypeError):
        return ""


def annual_report_files(
    home: Home,
    passphrase: Callable[[], bytes],
    year: int,
    reports: Sequence[Path],
    out_dir: Path,
    now_ms: int,
    *,
    render: bool = True,
    min_witnesses: int = 1,
) -> BuiltFiles:
    """``annual.json`` and ``annual.sig`` (and, with ``render``, annual.md, annual.html
    and annual.pdf) in ``out_dir``, from the year's two half-year reports, each verified
    in this home first: a report that does not verify stops it."""
    config = home.require_role("node")
    assert config.node is not None  # a node's home names its node
    node_id = config.node
    given = []
    for path in reports:
        report = _read_report(path)
        result = _verify_report(home, report, now_ms, min_witnesses)
        if not result.ok:
            raise ReportError(
                f"{path} does not verify: " + "; ".join(result.problems[:10]),
                "Build the annual overview from verified half-year reports only: ask the "
                "Presidency of that half-year for its report as built.",
            )
        given.append(report)
    try:
        overview = annual_overview(year, given, load_template, node_id, now_ms)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ReportError(
            f"the half-year reports are signed, but not of the form of a report "
            f"({type(exc).__name__})",
            "Ask the Presidency of that half-year for its report as built.",
        ) from None
    data, signature = sign_json(
        overview, ANNUAL_FORM, node_id, signing_key_in_use(home, passphrase(), now_ms)
    )
    files = {"annual.json": out_dir / "annual.json", "annual.sig": out_dir / "annual.sig"}
    write_private_file(files["annual.json"], data)
    write_private_file(files["annual.sig"], signature)
    not_written: list[str] = []
    if render:
        # Rendered from what was signed, read back as a verifier reads it.
        rendered = write_annual_outputs(json.loads(data), out_dir, problems=not_written)
        files.update({path.name: path for path in rendered.values()})
    summary = {
        "year": year,
        "from": [
            {"period": f["period"], "built_by": f["built_by"], "report_sha256": f["report_sha256"]}
            for f in overview["from"]
        ],
        "host_countries": [h["code"] for h in overview["host_countries"]],
        "missing": overview["missing"],
        "not_written": not_written,
    }
    return BuiltFiles(out_dir, files, summary)


def verify_annual_files(
    home: Home,
    annual_path: Path,
    report_paths: Sequence[Path] | None,
    now_ms: int,
    *,
    min_witnesses: int = 1,
) -> Verification:
    """Verify ``annual_path`` (and ``annual.sig`` beside it) with this home's trust; with
    ``report_paths`` (each with its report.sig beside it), verify each as a report and
    recompute the overview from them."""
    data = read_limited(annual_path, "annual overview", MAX_ANNUAL_BYTES)
    signature = _signature_beside(
        annual_path, "annual", ("half-year report", "report", "report verify")
    )
    sources = None
    if report_paths and len(report_paths) != 2:
        raise InputError(
            f"{len(report_paths)} half-year reports given; an overview is of two",
            "Give both half-year reports the overview names (--from twice), or none to "
            "check its signature only.",
        )
    if report_paths:
        sources = []
        for path in report_paths:
            report = _read_report(path)
            checked = _verify_report(home, report, now_ms, min_witnesses)
            sources.append(AnnualSource(str(path), report, checked))
    if home.config().role != "node":
        return verify_annual(
            data, signature, home.trust_state(), now_ms, template_for=load_template, sources=sources
        )
    # A node's trust is its home's documents and what it took in since, as for a report.
    node = Node(home, None, writer=False)
    try:
        return verify_annual(
            data, signature, node.trust, now_ms, template_for=load_template, sources=sources
        )
    finally:
        node.close()
