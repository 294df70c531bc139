"""Building and verifying half-year reports in a home: the files, the node's log read
without its lock (the running node may write meanwhile), the keys asked for only
to sign. The report's logic is in :mod:`ilo_node.report`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ilo_node.errors import InputError
from ilo_node.formats.jsonfile import read_limited
from ilo_node.home.home import Home, write_private_file
from ilo_node.node.core import Node
from ilo_node.report.aggregate import choose
from ilo_node.report.annual import annual_overview
from ilo_node.report.build import build_report, canonical_json, contributions_in
from ilo_node.report.render import write_outputs
from ilo_node.report.template import load_template
from ilo_node.report.verify import MAX_REPORT_BYTES, Verification, verify_report
from protocol.checkpoint import origin_for
from protocol.crypto import sha256, sign
from protocol.envelope import Envelope
from protocol.periods import half_year_bounds

__all__ = ["BuiltFiles", "annual_report_files", "build_report_files", "verify_report_files"]

#: What an annual overview's signature signs, before the digest of annual.json.
ANNUAL_DOMAIN = b"ilo-node/v1/annual\x00"


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
    signing = home.signing_key(passphrase())
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
    data = read_limited(report_path, "report", MAX_REPORT_BYTES)
    sig_path = report_path.with_name("report.sig")
    if not sig_path.exists():
        raise InputError(
            f"no report.sig beside {report_path}",
            "A report is verified with its signature: copy report.sig with report.json.",
        )
    signature = read_limited(sig_path, "report signature", 64 * 1024)
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
    reports: list[Path],
    out_dir: Path,
    now_ms: int,
) -> BuiltFiles:
    """``annual.json`` and ``annual.sig`` from the year's two half-year reports, each
    verified in this home first (a report that does not verify stops it)."""
    home.require_role("node")
    bodies = []
    for path in reports:
        result = verify_report_files(home, path, now_ms)
        if not result.ok:
            raise InputError(
                f"{path} does not verify: " + "; ".join(result.problems[:10]),
                "Build the annual overview from verified half-year reports only.",
            )
        bodies.append(json.loads(read_limited(path, "report", MAX_REPORT_BYTES)))
    try:
        overview = annual_overview(year, bodies)
    except ValueError as exc:
        raise InputError(str(exc), f"Give the reports of {year}-H1 and {year}-H2.") from None
    signing = home.signing_key(passphrase())
    data = canonical_json(overview)
    digest = sha256(data)
    config = home.config()
    signature = {
        "format": "ilo-node-annual-signature/1",
        "node": config.node,
        "key": signing.public.hex(),
        "digest": digest.hex(),
        "signature": sign(signing.reveal(), ANNUAL_DOMAIN, digest).hex(),
    }
    files = {"annual.json": out_dir / "annual.json", "annual.sig": out_dir / "annual.sig"}
    write_private_file(files["annual.json"], data)
    write_private_file(files["annual.sig"], canonical_json(signature))
    summary = {
        "year": year,
        "host_countries": [h["code"] for h in overview["host_countries"]],
        "missing": overview["missing"],
    }
    return BuiltFiles(out_dir, files, summary)
