"""The Commission's annual overview, from the two half-year reports of a year (each
verified first by the caller): their figures and tables added per host country and
overall, and what each half-year left out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ANNUAL_FORMAT", "annual_overview"]

ANNUAL_FORMAT = "ilo-node-annual/1"


def _figures(sections: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, int]]:
    out: dict[str, tuple[str, int]] = {}
    for section in sections:
        for f in section["figures"]:
            out[f["id"]] = (str(f["label"]), int(f["value"]))
    return out


def _add_tables(tables: list[dict[str, Any]], more: Sequence[Mapping[str, Any]]) -> None:
    for table in more:
        held = next((t for t in tables if t["id"] == table["id"]), None)
        if held is None:
            tables.append({**table, "rows": [list(r) for r in table["rows"]]})
            continue
        totals: dict[tuple[Any, ...], int] = defaultdict(int)
        for row in [*held["rows"], *table["rows"]]:
            totals[tuple(row[:-1])] += int(row[-1])
        held["rows"] = [[*k, v] for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def annual_overview(year: int, reports: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``reports``: the parsed half-year reports of ``year`` (H1 and H2, verified)."""
    periods = sorted(str(r["period"]) for r in reports)
    if periods != [f"{year}-H1", f"{year}-H2"]:
        raise ValueError(f"the half-year reports of {year} are needed, got {periods}")
    hosts: dict[str, dict[str, Any]] = {}
    overall: dict[str, list[Any]] = {}
    tables: list[dict[str, Any]] = []
    for report in sorted(reports, key=lambda r: str(r["period"])):
        for host in report["host_countries"]:
            entry = hosts.setdefault(
                host["code"],
                {
                    "code": host["code"],
                    "name": host["name"],
                    "figures": {},
                    "tables": [],
                    "periods": [],
                },
            )
            entry["periods"].append(report["period"])
            for fid, (label, value) in _figures(host["sections"]).items():
                label_value = entry["figures"].setdefault(fid, [label, 0])
                label_value[1] += value
            _add_tables(entry["tables"], host["tables"])
        for f in report["overall"]["figures"]:
            overall.setdefault(f["id"], [f["label"], 0])[1] += int(f["value"])
        _add_tables(tables, report["overall"]["tables"])
    return {
        "format": ANNUAL_FORMAT,
        "year": year,
        "from": [
            {"period": r["period"], "built_by": r["built"]["node"], "template": r["template"]["id"]}
            for r in sorted(reports, key=lambda r: str(r["period"]))
        ],
        "host_countries": [
            {
                "code": h["code"],
                "name": h["name"],
                "periods": h["periods"],
                "figures": [
                    {"id": k, "label": v[0], "value": v[1]} for k, v in h["figures"].items()
                ],
                "tables": h["tables"],
            }
            for _, h in sorted(hosts.items())
        ],
        "overall": {
            "figures": [{"id": k, "label": v[0], "value": v[1]} for k, v in overall.items()],
            "tables": tables,
        },
        "missing": [
            {**m, "period": r["period"]}
            for r in sorted(reports, key=lambda r: str(r["period"]))
            for m in r["missing"]
        ],
    }
