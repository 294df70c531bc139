"""Verifying the Commission's annual overview without trusting the node that built it.

:func:`verify_annual` takes the exact bytes of ``annual.json`` and ``annual.sig``,
the verifier's trust state and, if given, the half-year reports it was built from,
each already verified as ``report verify`` verifies a report (the caller does that
I/O). It checks, in order, and collects every problem with where it is:

1. the signature over the SHA-256 of the exact bytes, by a key certified for the
   building node when the overview was built (:func:`~ilo_node.report.signed.
   check_signed_json`; nothing is parsed before);
2. that ``from`` names the year's two half-years, each with the SHA-256 of a
   report.json and of its report.sig;
3. with the reports: that each report given is one ``from`` names, with the
   signature it names, that each one named is given, and that each verifies;
4. then every part of the overview, recomputed from the two reports with the
   template they name (:func:`~ilo_node.report.annual.annual_overview`): each
   difference named by host country and figure, with what the overview says and
   what the reports give.

Without the reports, 1 and 2 are checked and the figures are said not to be
recomputed. No I/O here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import InputError
from ilo_node.report.annual import ANNUAL_FORM, HalfYearReport, annual_overview
from ilo_node.report.signed import Verification, check_signed_json, hex_bytes
from ilo_node.report.template import ReportTemplate
from keys.trust import TrustState
from protocol.crypto import sha256

__all__ = ["MAX_ANNUAL_BYTES", "AnnualSource", "verify_annual"]

#: annual.json is read at most this large (the figures of every host country, twice).
MAX_ANNUAL_BYTES = 16 * 1024 * 1024

_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


@dataclass(frozen=True)
class AnnualSource:
    """A half-year report given to the verifier: ``name`` says where it is (its path),
    ``verification`` is what verifying it as a report found."""

    name: str
    report: HalfYearReport
    verification: Verification


def verify_annual(
    data: bytes,
    signature_data: bytes,
    trust: TrustState,
    now_ms: int,
    *,
    template_for: Callable[[str], ReportTemplate],
    sources: Sequence[AnnualSource] | None = None,
) -> Verification:
    """``sources``: the half-year reports to recompute the overview from (None: the
    signature and the form of ``from`` only)."""
    out = Verification()
    body = check_signed_json(data, signature_data, trust, now_ms, ANNUAL_FORM, out)
    if body is None:
        return out
    try:
        named = _named(body, out)
        if named is None:
            return out
        if sources is None:
            out.notes.append(
                "figures not recomputed: no half-year report given (give both with --from)"
            )
            return out
        matched = _matched(named, sources, out)
        if matched is None:
            out.notes.append(
                "figures not recomputed: the half-year reports given are not the two it names, "
                "or do not verify"
            )
            return out
        _recompute(body, matched, template_for, out)
    except _MALFORMED as exc:
        # Signed by the right key, yet not an overview as this code builds one.
        out.problems.append(
            f"annual.json: signed, but not of the form of an annual overview ({type(exc).__name__})"
        )
    return out


def _named(body: Mapping[str, Any], out: Verification) -> list[Mapping[str, Any]] | None:
    """The entries of ``from``, if they name the year's two half-years by digest."""
    year = body["year"]
    if isinstance(year, bool) or not isinstance(year, int):
        raise TypeError("year")
    entries = body["from"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise TypeError("from")
    periods = sorted(str(e.get("period")) for e in entries)
    if periods != [f"{year}-H1", f"{year}-H2"]:
        out.problems.append(
            f"annual.json from: names the half-years {', '.join(periods) or 'none'}, not "
            f"{year}-H1 and {year}-H2"
        )
        return None
    for n, entry in enumerate(entries):
        for key in ("report_sha256", "signature_sha256"):
            if hex_bytes(entry.get(key), 32) is None:
                out.problems.append(f"annual.json from[{n}] ({entry['period']}): no {key}")
    return None if out.problems else entries


def _matched(
    named: Sequence[Mapping[str, Any]], sources: Sequence[AnnualSource], out: Verification
) -> list[AnnualSource] | None:
    """The sources in the order ``from`` names them, if each is the one named and
    verifies; otherwise None, with every problem found."""
    by_digest = {str(e["report_sha256"]): n for n, e in enumerate(named)}
    found: dict[int, AnnualSource] = {}
    for source in sources:
        digest = sha256(source.report.data).hex()
        n = by_digest.get(digest)
        if n is None:
            out.problems.append(
                f"{source.name}: is not a report this overview was built from (its SHA-256 "
                f"{digest[:16]}… is not in annual.json from)"
            )
            continue
        entry = named[n]
        if n in found:
            out.problems.append(f"{source.name}: the {entry['period']} report is given twice")
            continue
        found[n] = source
        if sha256(source.report.signature).hex() != entry["signature_sha256"]:
            out.problems.append(
                f"{source.name}: its report.sig is not the one annual.json from[{n}] names"
            )
        for problem in source.verification.problems:
            out.problems.append(f"{source.name}: {problem}")
    for n, entry in enumerate(named):
        if n not in found:
            out.problems.append(
                f"annual.json from[{n}] ({entry['period']}): no report given whose SHA-256 is "
                f"{str(entry['report_sha256'])[:16]}…"
            )
    if out.problems:
        return None
    for n, source in sorted(found.items()):
        how = (
            "every figure recomputed from its contributions"
            if source.verification.recomputed
            else "its figures not recomputed from contributions here"
        )
        out.notes.append(f"{source.name} ({named[n]['period']}): verified, {how}")
    return [source for _, source in sorted(found.items())]


def _recompute(
    body: Mapping[str, Any],
    sources: Sequence[AnnualSource],
    template_for: Callable[[str], ReportTemplate],
    out: Verification,
) -> None:
    built = body["built"]
    try:
        expected = annual_overview(
            body["year"],
            [s.report for s in sources],
            template_for,
            str(built["node"]),
            int(built["at_ms"]),
        )
    except InputError as exc:
        out.problems.append(f"annual.json: {exc.message}")
        return
    said_template, template = body["template"], expected["template"]
    if said_template.get("digest") != template["digest"] and said_template["id"] == template["id"]:
        # As for a report: recomputed with this verifier's version of the template.
        out.notes.append(
            f"the overview was built with another version of template {template['id']}; "
            "recomputed with this one"
        )
        expected["template"] = said_template
    for key, value in expected.items():
        if body.get(key) != value:
            out.problems.extend(_differences(key, body.get(key), value))
    for key in sorted(set(body) - set(expected)):
        out.problems.append(f"{_name(key)}: is in the overview, the reports give no such part")
    if not out.problems:
        out.recomputed = True
        out.notes.append(f"every figure recomputed from the {len(sources)} half-year reports")


def _short(value: Any) -> str:
    # ASCII escapes: what the overview says is shown at a terminal, control bytes too.
    text = json.dumps(value, sort_keys=True, ensure_ascii=True)
    return text if len(text) <= 120 else text[:119] + "…"


_PLAIN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


def _name(value: Any) -> str:
    """An id as it is, if it is a plain one; else quoted and escaped."""
    return value if isinstance(value, str) and _PLAIN.fullmatch(value) else _short(value)


def _differences(key: str, said: Any, computed: Any) -> list[str]:
    """Each place where the overview differs from what the reports give."""
    if key == "host_countries" and isinstance(said, list):
        return _host_differences(said, computed)
    if key == "overall" and isinstance(said, dict):
        found = _figure_differences("overall", said.get("figures"), computed["figures"])
        found += _table_differences("overall", said.get("tables"), computed["tables"])
        return found or [f"overall: differs from what the reports give ({_short(said)})"]
    return [f"{key}: the overview says {_short(said)}, the reports give {_short(computed)}"]


def _by_id(items: Any, key: str = "id") -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {str(i.get(key)): i for i in items if isinstance(i, dict)}


def _host_differences(said: list[Any], computed: list[dict[str, Any]]) -> list[str]:
    theirs = _by_id(said, "code")
    found: list[str] = []
    for host in computed:
        code = str(host["code"])
        where = f"host_countries.{_name(code)}"
        given = theirs.pop(code, None)
        if given is None:
            found.append(f"{where}: missing from the overview, the reports cover it")
            continue
        figures = [f for s in host["sections"] for f in s["figures"]]
        given_figures = [
            f
            for s in given.get("sections", [])
            if isinstance(s, dict)
            for f in s.get("figures", [])
        ]
        here = _figure_differences(where, given_figures, figures)
        here += _table_differences(where, given.get("tables"), host["tables"])
        if not here and given != host:
            here.append(
                f"{where}: differs from what the reports give (name, half-years or sections)"
            )
        found += here
    for code in sorted(theirs):
        found.append(f"host_countries.{_name(code)}: in the overview, in neither report")
    if len(said) != len(computed) + len(theirs) and not found:
        found.append("host_countries: lists a host country twice")
    return found


def _figure_differences(where: str, said: Any, computed: list[dict[str, Any]]) -> list[str]:
    theirs = _by_id(said)
    found: list[str] = []
    for figure in computed:
        fid = str(figure["id"])
        at = f"{where}.{_name(fid)}"
        given = theirs.pop(fid, None)
        if given is None:
            found.append(f"{at}: missing from the overview")
            continue
        halves = ", ".join(f"{p} {v}" for p, v in sorted(figure["by_half_year"].items()))
        if given.get("value") != figure["value"]:
            found.append(
                f"{at}: the overview says {_short(given.get('value'))}, the reports give "
                f"{figure['value']} ({figure['over_year']} of {halves})"
            )
        elif given.get("by_half_year") != figure["by_half_year"]:
            found.append(
                f"{at}: the overview gives the half-years as "
                f"{_short(given.get('by_half_year'))}, the reports {halves}"
            )
        elif given != figure:
            found.append(
                f"{at}: differs from what the reports give (label or over_year: "
                f"{figure['over_year']})"
            )
    for fid in sorted(theirs):
        found.append(f"{where}.{_name(fid)}: in the overview, in neither report")
    return found


def _table_differences(where: str, said: Any, computed: list[dict[str, Any]]) -> list[str]:
    theirs = _by_id(said)
    found: list[str] = []
    for table in computed:
        tid = str(table["id"])
        at = f"{where}.tables.{_name(tid)}"
        given = theirs.pop(tid, None)
        if given is None:
            found.append(f"{at}: missing from the overview")
        elif given != table:
            rows = given.get("rows") if isinstance(given.get("rows"), list) else []
            wrong = next(
                (r for r in rows if r not in table["rows"]),
                None,
            )
            detail = f"row {_short(wrong)} is not the reports'" if wrong is not None else "rows"
            found.append(f"{at}: differs from what the reports give ({detail})")
    for tid in sorted(theirs):
        found.append(f"{where}.tables.{_name(tid)}: in the overview, in neither report")
    return found
