"""The Commission's annual overview: the year's figures from the two half-year reports
as their template says (a stock is the second half-year's value, a flow the sum), tied
to the reports by the digests of their files, verified and recomputed from them (a
table of named ways to tamper with it), and rendered (Markdown, HTML as a real browser
reads it, PDF)."""

from __future__ import annotations

import json
import re
import shutil
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ilo_node.client.officer import PublishRequest
from ilo_node.client.reports import (
    annual_report_files,
    build_report_files,
    verify_annual_files,
)
from ilo_node.errors import InputError, ReportError
from ilo_node.home.home import Home
from ilo_node.report.aggregate import Contribution, compose
from ilo_node.report.annual import ANNUAL_DOMAIN, HalfYearReport, annual_overview, year_value
from ilo_node.report.annual_render import (
    render_annual_html,
    render_annual_markdown,
    write_annual_outputs,
)
from ilo_node.report.build import REPORT_FORMAT
from ilo_node.report.signed import Verification, canonical_json
from ilo_node.report.template import load_template
from protocol.crypto import sha256, sign
from protocol.examples import example
from protocol.periods import half_year_of
from tests.support.browser import dump_dom
from tests.support.clirun import check, invoke
from tests.support.officerkit import Posting
from tests.support.reportkit import (
    COM,
    FR,
    IE,
    Built,
    contribution,
    posting_now,
    resign,
    witnessed_checkpoint,
)

HOSTILE = 'Smugglers <script>alert("x")</script> & co | "quoted"'

# -- the year's figures, from reports made here ------------------------------------------


def _half_year(period: str, hosts: Mapping[str, Mapping[str, Any]], **body: Any) -> bytes:
    """A half-year report's bytes as the builder composes them: each host country with
    one contribution (by DE) of the example's values and ``hosts[code]``'s changes."""
    template = load_template(str(body.pop("template_id", "decision-2005-687")))
    contributions = []
    for n, (code, changes) in enumerate(sorted(hosts.items())):
        content = example("half_year_contribution")
        content.update(half_year=period, host_country=code, **changes)
        contributions.append(Contribution(bytes([n]) * 32, "DE", code, period, 0, content))
    report = {
        "format": REPORT_FORMAT,
        "template": {"id": template.id, "title": template.title, "digest": template.digest},
        "period": period,
        "network": "ilo-tr",
        "presidency": "IE",
        "built": {"node": "IE@TR", "at_ms": 0, "at": "1970-01-01T00:00:00.000Z"},
        **compose(template, period, contributions, []),
        "manifest": {},
    }
    report.update(body)
    return canonical_json(report)


def _overview(*reports: bytes, year: int = 2026) -> dict[str, Any]:
    given = [HalfYearReport(data, b"{}") for data in reports]
    return annual_overview(year, given, load_template, COM, 1_790_000_000_000)


def _figures(part: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    if "sections" in part:
        return {f["id"]: f for s in part["sections"] for f in s["figures"]}
    return {f["id"]: f for f in part["figures"]}


def test_a_stock_is_the_second_half_years_value_and_a_flow_the_sum() -> None:
    h1 = _half_year("2026-H1", {"TR": {"deployments": 4, "trainings": 3}})
    h2 = _half_year("2026-H2", {"TR": {"deployments": 3, "trainings": 5}})
    [tr] = _overview(h2, h1)["host_countries"]
    figures = _figures(tr)
    deployments, trainings = figures["deployments"], figures["trainings"]
    assert deployments["over_year"] == "last" and deployments["value"] == 3
    assert deployments["by_half_year"] == {"2026-H1": 4, "2026-H2": 3}
    assert trainings["over_year"] == "sum" and trainings["value"] == 3 + 5
    assert figures["representation_agreements"]["over_year"] == "last"
    assert figures["meetings_held"]["over_year"] == "sum"  # meetings happen in a half-year
    assert tr["periods"] == ["2026-H1", "2026-H2"]


def test_a_host_country_not_in_the_second_report_keeps_its_first_half_years_stock() -> None:
    h1 = _half_year("2026-H1", {"TR": {"deployments": 4}, "MA": {"deployments": 6}})
    h2 = _half_year("2026-H2", {"TR": {"deployments": 3}})
    overview = _overview(h1, h2)
    ma = next(h for h in overview["host_countries"] if h["code"] == "MA")
    assert ma["periods"] == ["2026-H1"]
    assert _figures(ma)["deployments"]["value"] == 6
    overall = _figures(overview["overall"])
    # Overall, a stock is each host country's year value summed, not the H2 report's total.
    assert overall["deployments"]["by_half_year"] == {"2026-H1": 10, "2026-H2": 3}
    assert overall["deployments"]["value"] == 3 + 6
    trainings = overall["trainings"]
    assert trainings["value"] == sum(trainings["by_half_year"].values()) == 2 * 2 + 2


def test_a_summed_table_is_ranked_again_and_cut_to_the_templates_top() -> None:
    many = [{"nationality": c, "count": 10 + i} for i, c in enumerate(["AF", "SY", "IQ", "IR"])]
    h1 = _half_year("2026-H1", {"TR": {"nationalities": many}}, template_id="host-country-brief")
    h2 = _half_year(
        "2026-H2",
        {"TR": {"nationalities": [{"nationality": "PK", "count": 30}, *many[:2]]}},
        template_id="host-country-brief",
    )
    [table] = _overview(h1, h2)["host_countries"][0]["tables"]
    assert table["over_year"] == "sum"
    # The brief keeps the top five: AF 10+10, SY 11+11, PK 30, IR 13, IQ 12.
    assert table["rows"] == [["PK", 30], ["SY", 22], ["AF", 20], ["IR", 13], ["IQ", 12]]


def test_year_value_follows_the_rule() -> None:
    assert year_value("sum", {"2026-H1": 2, "2026-H2": 5}) == 7
    assert year_value("last", {"2026-H1": 2, "2026-H2": 5}) == 5
    assert year_value("last", {"2026-H1": 2}) == 2


@pytest.mark.parametrize(
    ("reports", "words"),
    [
        (lambda: [_half_year("2026-H1", {}), _half_year("2026-H1", {})], "got 2026-H1, 2026-H1"),
        (lambda: [_half_year("2026-H1", {}), _half_year("2025-H2", {})], "of 2026 are needed"),
        (
            lambda: [
                _half_year("2026-H1", {}),
                _half_year("2026-H2", {}, template_id="host-country-brief"),
            ],
            "follow different templates",
        ),
        (
            lambda: [_half_year("2026-H1", {}), _half_year("2026-H2", {}, network="ilo-ma")],
            "of different networks",
        ),
    ],
    ids=["one half-year twice", "another year", "two templates", "two networks"],
)
def test_an_overview_is_of_one_years_two_half_years(
    reports: Callable[[], list[bytes]], words: str
) -> None:
    with pytest.raises(InputError, match=words):
        _overview(*reports())


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"over_year": "mean"}, "is 'mean' over the year"),
        ({"over_year": "last", "id": "not_shown"}, "no section shows it"),
    ],
    ids=["unknown rule", "a stock no section shows"],
)
def test_a_template_with_a_wrong_over_year_is_refused(change: dict[str, str], words: str) -> None:
    from importlib import resources

    from ilo_node.report.template import _checked

    raw = json.loads(
        (resources.files("ilo_node.report") / "templates" / "host-country-brief.json").read_bytes()
    )
    raw["figures"].append({"label": "X", "field": "trainings", "combine": "sum", "id": "x"})
    raw["figures"][-1].update(change)
    if change.get("over_year") != "last":
        raw["sections"][0]["figures"].append(raw["figures"][-1]["id"])
    with pytest.raises(InputError, match=words):
        _checked("test", raw, "0" * 64)


# -- built and verified at the nodes ------------------------------------------------------


@dataclass
class Year:
    posting: Posting
    h1: Path
    h2: Path
    out: Path

    @property
    def annual(self) -> Path:
        return self.out / "annual.json"

    @property
    def reports(self) -> list[Path]:
        return [self.h1 / "report.json", self.h2 / "report.json"]

    @property
    def year(self) -> int:
        return int(json.loads(self.annual.read_bytes())["year"])

    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.annual.read_bytes()))

    def report_body(self, path: Path) -> dict[str, Any]:
        return dict(json.loads(path.read_bytes()))

    def resign(self, body: Any, signer: str = COM) -> None:
        resign(self.posting, signer, self.annual, body, ANNUAL_DOMAIN)

    def forge(self, reports: list[Path]) -> None:
        """As a dishonest Commission node would: an overview of these files, signed."""
        given = [
            HalfYearReport(p.read_bytes(), p.with_name("report.sig").read_bytes()) for p in reports
        ]
        self.resign(annual_overview(self.year, given, load_template, COM, posting_now()))

    def verify(self, at: str = COM, reports: list[Path] | None = None) -> Verification:
        home = Home(self.posting.base / "nodes" / at)
        return verify_annual_files(home, self.annual, reports or self.reports, posting_now())


def _other_half(period: str) -> str:
    return period[:-1] + ("1" if period.endswith("2") else "2")


@pytest.fixture
def year(built: Built, tmp_path: Path) -> Year:
    """This half-year's report (DE's and FR's contributions) and the other half-year's of
    this year (DE's alone), and the overview built from them at the Commission's node."""
    posting = built.posting
    current = half_year_of(posting_now())
    other = _other_half(current)
    anna = posting.officer("anna.berg")
    late = contribution(
        "DE",
        half_year=other,
        deployments=4,
        trainings=7,
        nationalities=[{"nationality": "AF", "count": 10}, {"nationality": "IQ", "count": 5}],
    )
    assert anna.publish(PublishRequest("half_year_contribution", late, "presidency")).sent
    posting.sync_all()
    witnessed_checkpoint(posting)
    other_dir = tmp_path / other
    build_report_files(
        Home(posting.base / "nodes" / IE),
        lambda: b"unused",
        other,
        other_dir,
        "decision-2005-687",
        posting_now(),
        render=False,
    )
    dirs = {current: built.out, other: other_dir}
    h1, h2 = dirs[current[:4] + "-H1"], dirs[current[:4] + "-H2"]
    out = tmp_path / "annual"
    annual_report_files(
        Home(posting.base / "nodes" / COM),
        lambda: b"unused",
        int(current[:4]),
        [h2 / "report.json", h1 / "report.json"],
        out,
        posting_now(),
        render=False,
    )
    return Year(posting, h1, h2, out)


def test_the_commission_builds_the_year_and_anyone_with_the_reports_recomputes_it(
    year: Year,
) -> None:
    body = year.body()
    h1, h2 = (year.report_body(p) for p in year.reports)
    [tr] = body["host_countries"]
    figures = _figures(tr)
    said = {p["period"]: _figures(p["host_countries"][0]) for p in (h1, h2)}
    stock, flow = figures["deployments"], figures["trainings"]
    assert stock["value"] == said[h2["period"]]["deployments"]["value"]
    assert flow["value"] == sum(said[p]["trainings"]["value"] for p in said)
    assert stock["by_half_year"] == {p: said[p]["deployments"]["value"] for p in said}
    assert [f["period"] for f in body["from"]] == [h1["period"], h2["period"]]
    for entry, path in zip(body["from"], year.reports, strict=True):
        assert entry["report_sha256"] == sha256(path.read_bytes()).hex()
        assert entry["signature_sha256"] == sha256(path.with_name("report.sig").read_bytes()).hex()
        assert entry["built_by"] == IE and entry["template"]["id"] == "decision-2005-687"
    assert year.annual.read_bytes() == canonical_json(body)
    assert stat.S_IMODE(year.annual.stat().st_mode) == 0o600

    at_com = year.verify(COM)
    assert at_com.ok and at_com.recomputed, at_com.problems
    assert "every figure recomputed from the 2 half-year reports" in at_com.notes
    assert any(
        "verified, every figure recomputed from its contributions" in n for n in at_com.notes
    )
    # FR's node cannot read DE's contributions, yet recomputes the year from the reports.
    at_fr = year.verify(FR)
    assert at_fr.ok and at_fr.recomputed, at_fr.problems
    assert any("its figures not recomputed from contributions here" in n for n in at_fr.notes)


def test_without_the_reports_only_the_signature_is_checked(year: Year) -> None:
    home = Home(year.posting.base / "nodes" / FR)
    result = verify_annual_files(home, year.annual, None, posting_now())
    assert result.ok and not result.recomputed
    assert "figures not recomputed: no half-year report given (give both with --from)" in (
        result.notes
    )
    assert f"signed by {COM}" in result.notes[0]


def _change_host_figure(figure_id: str, change: Callable[[dict[str, Any]], None]) -> Any:
    def tamper(y: Year) -> Verification:
        body = y.body()
        change(_figures(body["host_countries"][0])[figure_id])
        y.resign(body)
        return y.verify()

    return tamper


def _stock_summed(figure: dict[str, Any]) -> None:
    figure["over_year"] = "sum"
    figure["value"] = sum(figure["by_half_year"].values())


def _resigned(change: Callable[[dict[str, Any]], Any]) -> Callable[[Year], Verification]:
    def tamper(y: Year) -> Verification:
        body = y.body()
        change(body)
        y.resign(body)
        return y.verify()

    return tamper


def _swapped(y: Year) -> Verification:
    """The second report replaced by another of the same half-year (the brief's)."""
    other = y.out.parent / "swapped"
    period = y.report_body(y.reports[1])["period"]
    build_report_files(
        Home(y.posting.base / "nodes" / IE),
        lambda: b"unused",
        period,
        other,
        "host-country-brief",
        posting_now(),
        render=False,
    )
    return y.verify(reports=[y.reports[0], other / "report.json"])


def _signature_not_the_one_named(y: Year) -> Verification:
    sig = y.reports[1].with_name("report.sig")
    # The same signature, written out differently: it still verifies the report.
    sig.write_text(json.dumps(json.loads(sig.read_bytes()), indent=2))
    return y.verify()


def _report_does_not_verify(y: Year) -> Verification:
    """A second report with a figure its contributions do not give, signed again by the
    Presidency, and an overview made of it, signed again by the Commission."""
    body = y.report_body(y.reports[1])
    body["host_countries"][0]["sections"][0]["figures"][0]["value"] += 100
    resign(y.posting, IE, y.reports[1], body)
    y.forge(y.reports)
    return y.verify()


def _edited_not_signed(y: Year) -> Verification:
    y.annual.write_bytes(y.annual.read_bytes().replace(b'"value":', b'"value":1', 1))
    return y.verify()


def _signed_by_another_node(y: Year) -> Verification:
    sig_path = y.out / "annual.sig"
    sig = json.loads(sig_path.read_bytes())
    key = y.posting.keys[y.posting.built.nodes[FR].signing_key_path]
    digest = bytes.fromhex(sig["digest"])
    sig.update(key=key.public.hex(), signature=sign(key.reveal(), ANNUAL_DOMAIN, digest).hex())
    sig_path.write_bytes(canonical_json(sig))
    return y.verify()


def _a_report_as_the_overview(y: Year) -> Verification:
    shutil.copy(y.reports[1], y.annual)
    shutil.copy(y.reports[1].with_name("report.sig"), y.out / "annual.sig")
    return y.verify()


def _given_twice(y: Year) -> Verification:
    return y.verify(reports=[y.reports[0], y.reports[0]])


def _add_host(body: dict[str, Any]) -> None:
    body["host_countries"].append({**body["host_countries"][0], "code": "MA"})


def _change_row(body: dict[str, Any]) -> None:
    table = body["host_countries"][0]["tables"][0]
    table["rows"][0][-1] += 1


#: Each way of tampering, and the words of the problem it must be refused with.
TAMPERING: dict[str, tuple[Callable[[Year], Verification], str]] = {
    "a flow changed and signed again": (
        _change_host_figure("trainings", lambda f: f.update(value=f["value"] + 1)),
        "host_countries.TR.trainings: the overview says",
    ),
    "a stock summed over the year": (
        _change_host_figure("deployments", _stock_summed),
        "host_countries.TR.deployments: the overview says 7, the reports give",
    ),
    "the half-years of a figure changed": (
        _change_host_figure("trainings", lambda f: f["by_half_year"].popitem()),
        "host_countries.TR.trainings: the overview gives the half-years as",
    ),
    "an overall figure changed": (
        _resigned(lambda b: b["overall"]["figures"][0].update(value=-1)),
        "overall.deployments: the overview says -1, the reports give",
    ),
    "a table row changed": (
        _resigned(_change_row),
        "host_countries.TR.tables.nationalities: differs from what the reports give (row",
    ),
    "a host country added": (_resigned(_add_host), "host_countries.MA: in the overview, in"),
    "a part added": (
        _resigned(lambda b: b.update(comment="trust me")),
        "comment: is in the overview, the reports give no such part",
    ),
    "the network changed": (
        _resigned(lambda b: b.update(network="ilo-ma")),
        'network: the overview says "ilo-ma", the reports give',
    ),
    "a report swapped for another": (_swapped, "is not a report this overview was built from"),
    "a report given twice": (_given_twice, "report is given twice"),
    "a report's signature not the one named": (
        _signature_not_the_one_named,
        "its report.sig is not the one annual.json from[1] names",
    ),
    "a source's digest changed": (
        _resigned(lambda b: b["from"][0].update(report_sha256="00" * 32)),
        "is not a report this overview was built from",
    ),
    "a half-year report that does not verify": (
        _report_does_not_verify,
        "the contributions give",
    ),
    "annual.json edited without signing again": (
        _edited_not_signed,
        "annual.sig: it signs other bytes than this annual.json",
    ),
    "signed by another node's key": (_signed_by_another_node, "annual.sig: the key is not COM"),
    "a half-year report given as the overview": (
        _a_report_as_the_overview,
        "annual.sig: the signature does not verify",
    ),
    "not of an overview's format": (
        _resigned(lambda b: b.update(format=REPORT_FORMAT)),
        "annual.json: signed, but not an annual overview of this format",
    ),
    "from taken out": (
        _resigned(lambda b: b.pop("from")),
        "annual.json: signed, but not of the form of an annual overview (KeyError)",
    ),
    "from not a list": (
        _resigned(lambda b: b.update({"from": 7})),
        "annual.json: signed, but not of the form of an annual overview (TypeError)",
    ),
    "the year changed": (
        _resigned(lambda b: b.update(year=b["year"] - 1)),
        "annual.json from: names the half-years",
    ),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_a_tampered_overview_is_refused_saying_where(year: Year, case: str) -> None:
    tamper, words = TAMPERING[case]
    result = tamper(year)
    assert not result.ok and not result.recomputed
    assert any(words in p for p in result.problems), result.problems


def test_a_report_that_does_not_verify_names_the_file(year: Year) -> None:
    result = _report_does_not_verify(year)
    [problem] = [p for p in result.problems if "the contributions give" in p]
    assert problem.startswith(f"{year.reports[1]}: host_countries.TR.composition.deployments")
    assert any(n.startswith("figures not recomputed: the half-year reports") for n in result.notes)


def test_the_builder_refuses_a_report_that_does_not_verify(year: Year, tmp_path: Path) -> None:
    body = year.report_body(year.reports[0])
    body["host_countries"][0]["sections"][0]["figures"][0]["value"] += 1
    resign(year.posting, IE, year.reports[0], body)
    with pytest.raises(ReportError, match=r"does not verify: host_countries\.TR"):
        annual_report_files(
            Home(year.posting.base / "nodes" / COM),
            lambda: b"unused",
            year.year,
            year.reports,
            tmp_path / "refused",
            posting_now(),
            render=False,
        )
    assert not (tmp_path / "refused").exists()


# -- the commands ---------------------------------------------------------------------------


def _cli(year: Year, at: str, *args: str) -> Any:
    home = year.posting.base / "nodes" / at
    passphrase = year.out.parent / "pw"
    passphrase.write_text("unused")
    passphrase.chmod(0o600)
    return invoke(
        ["--home", str(home), "--passphrase-file", str(passphrase), *args], cwd=year.out.parent
    )


def _from(year: Year) -> list[str]:
    return [arg for path in year.reports for arg in ("--from", str(path))]


def test_report_verify_annual(year: Year) -> None:
    ok = check(_cli(year, COM, "report", "verify-annual", str(year.annual), *_from(year)))
    assert ok.stdout.endswith(
        f"valid: {year.annual} (every figure recomputed from the half-year reports)\n"
    )
    assert f"  {year.reports[0]} (" in ok.stdout
    record = json.loads(
        check(_cli(year, FR, "report", "verify-annual", str(year.annual), "--json")).stdout
    )
    assert record["ok"] and not record["recomputed"] and not record["problems"]
    alone = check(_cli(year, FR, "report", "verify-annual", str(year.annual)))
    assert "(signature only: figures not recomputed, give both reports with --from)" in (
        alone.stdout
    )

    body = year.body()
    _figures(body["host_countries"][0])["trainings"]["value"] += 1
    year.resign(body)
    bad = check(
        _cli(year, COM, "report", "verify-annual", str(year.annual), *_from(year)), ok=False
    )
    assert bad.returncode == 1
    assert "does not verify: host_countries.TR.trainings: the overview says" in bad.stderr
    as_json = _cli(year, COM, "report", "verify-annual", str(year.annual), *_from(year), "--json")
    assert as_json.returncode == 1
    verdict = json.loads(as_json.stdout)
    assert not verdict["ok"] and verdict["problems"][0].startswith("host_countries.TR.trainings")

    one = check(
        _cli(year, COM, "report", "verify-annual", str(year.annual), *_from(year)[:2]), ok=False
    )
    assert one.returncode == 2 and "1 half-year reports given" in one.stderr
    wrong = check(_cli(year, COM, "report", "verify", str(year.annual)), ok=False)
    assert wrong.returncode == 2 and "report verify-annual" in wrong.stderr
    (year.out / "annual.sig").unlink()
    missing = check(_cli(year, COM, "report", "verify-annual", str(year.annual)), ok=False)
    assert missing.returncode == 2 and "no annual.sig beside" in missing.stderr


@pytest.mark.slow  # the overview renders its PDF (WeasyPrint)
def test_report_annual_writes_the_overview_and_its_renderings(year: Year) -> None:
    out = year.out.parent / "cli-annual"
    made = check(
        _cli(
            year, COM, "report", "annual", "--year", str(year.year), *_from(year), "--out", str(out)
        )
    )
    h1, h2 = (year.report_body(p)["period"] for p in year.reports)
    assert made.stdout.startswith(
        f"built the {year.year} overview from 2 verified half-year reports ({h1} by {IE}, "
        f"{h2} by {IE}): TR\n"
    )
    assert f"no contribution from IE for TR in {h2}" in made.stdout
    names = ["annual.json", "annual.sig", "annual.md", "annual.html", "annual.pdf"]
    for name in names:
        assert f"  {name}: {out / name}\n" in made.stdout, made.stdout
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert (out / "annual.pdf").read_bytes().startswith(b"%PDF")
    assert 'id="host-TR"' in (out / "annual.html").read_text("utf-8")
    record = json.loads(
        check(
            _cli(
                year,
                COM,
                "report",
                "annual",
                "--year",
                str(year.year),
                *_from(year),
                "--out",
                str(year.out.parent / "json"),
                "--json",
            )
        ).stdout
    )
    assert record["host_countries"] == ["TR"] and sorted(record["files"]) == sorted(names)
    check(_cli(year, FR, "report", "verify-annual", str(out / "annual.json"), *_from(year)))


# -- rendered -------------------------------------------------------------------------------


def _rendered_overview() -> dict[str, Any]:
    h1 = _half_year(
        "2026-H1",
        {"TR": {"deployments": 4, "trainings": 3}, "MA": {"deployments": 6}},
        missing=[{"host": "MA", "member_state": "ES", "node": "ES@MA"}],
    )
    h2 = _half_year("2026-H2", {"TR": {"deployments": 3, "trainings": 5}})
    overview = _overview(h1, h2)
    tr = overview["host_countries"][1]
    assert tr["code"] == "TR"
    # What the signed reports carry is shown as given: every text hostile.
    tr["sections"][0]["figures"][0]["label"] = HOSTILE
    tr["tables"][0]["title"] = HOSTILE
    tr["tables"][0]["rows"][0][0] = HOSTILE
    overview["network"] = HOSTILE
    return overview


def test_markdown_of_the_overview() -> None:
    md = render_annual_markdown(_rendered_overview())
    for heading in (
        "# Annual overview 2026",
        "## Morocco (MA)",
        "## Türkiye (TR)",
        "### I.1 Composition of the network",
        "### Statistical tables, the year",
        "## Overall",
        "## Local networks that did not contribute",
        "## Annex: the half-year reports",
    ):
        assert heading in md, heading
    assert "| Figure | 2026-H1 | 2026-H2 | Year | Over the year |" in md
    assert "| Trainings | 3 | 5 | 8 | sum of the half-years |" in md
    assert "| ILOs deployed | 6 | — | 6 | latest half-year |" in md  # MA: H1 only
    assert "| 2026-H1 | Morocco | Spain | ES@MA |" in md
    # Outside the charts' code blocks (where text is literal) every text is escaped.
    prose = re.sub(r"^(~{3,})\n.*?\n\1$", "", md, flags=re.S | re.M)
    assert "Smugglers" in prose and "<script>" not in prose
    assert "\\<script\\>" in prose and "\\& co \\| " in prose


def test_a_markdown_chart_label_cannot_close_its_code_block() -> None:
    overview = _rendered_overview()
    overview["host_countries"][1]["tables"][0]["rows"][0][0] = "x\n~~~~\n<b>out</b>"
    md = render_annual_markdown(overview)
    [block] = [
        b for b in re.findall(r"^(~{3,})\n(.*?)\n\1$", md, flags=re.S | re.M) if "out" in b[1]
    ]
    fence, body = block
    assert len(fence) == 5 and "x ~~~~ <b>out</b>" in body


def _ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


def test_html_of_the_overview_has_every_section_and_chart_and_escapes_text() -> None:
    html = render_annual_html(_rendered_overview())
    expected = {
        "title",
        "host-TR",
        "host-MA",
        "host-TR-composition",
        "host-TR-figures",
        "host-TR-part-I",
        "host-TR-part-II",
        "chart-host-TR-half-years",
        "chart-host-MA-half-years",
        "host-TR-table-nationalities",
        "chart-host-TR-flows",
        "chart-host-TR-fraud",
        "overall",
        "overall-figures",
        "chart-overall-half-years",
        "chart-overall-flows",
        "missing",
        "annex",
        "sources",
    }
    assert expected <= _ids(html), expected - _ids(html)
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2 * 3 + 3  # per host and overall: half-years, flows, fraud
    for svg in svgs:
        ET.fromstring(svg)
    halves = ET.fromstring(next(s for s in svgs if "chart-host-TR-half-years" in s))
    legend = [t.text for t in halves.iter("{http://www.w3.org/2000/svg}text")]
    assert "2026-H1" in legend and "2026-H2" in legend
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    assert not re.search(r"<(script|img|link|iframe|object|embed)\b", html)
    assert "https://" not in html and "src=" not in html


def test_an_overview_of_no_host_country_renders() -> None:
    overview = _overview(_half_year("2026-H1", {}), _half_year("2026-H2", {}))
    html = render_annual_html(overview)
    assert {"no-hosts", "overall", "missing", "annex"} <= _ids(html)
    assert "No host country is covered" in render_annual_markdown(overview)


@pytest.mark.slow
def test_the_overviews_pdf(tmp_path: Path) -> None:
    import ctypes.util

    if ctypes.util.find_library("pango-1.0") is None:
        pytest.skip("WeasyPrint needs Pango (Debian: libpango-1.0-0 libpangoft2-1.0-0)")
    paths = write_annual_outputs(_rendered_overview(), tmp_path)
    assert sorted(paths) == ["html", "md", "pdf"]
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert stat.S_IMODE(paths["pdf"].stat().st_mode) == 0o600


def test_without_weasyprint_the_overviews_pdf_is_left_out_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "weasyprint", None)
    problems: list[str] = []
    paths = write_annual_outputs(_rendered_overview(), tmp_path, problems=problems)
    assert sorted(paths) == ["html", "md"] and not (tmp_path / "annual.pdf").exists()
    [problem] = problems
    assert problem.startswith("annual.pdf cannot be written here")
    assert "annual.json, annual.html and annual.md are written all the same" in problem


@pytest.mark.slow
def test_browser_renders_the_overviews_sections_and_charts(tmp_path: Path) -> None:
    page = tmp_path / "annual.html"
    page.write_text(render_annual_html(_rendered_overview()), "utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    for anchor in ("host-TR", "host-MA", "overall", "missing", "annex", "chart-overall-half-years"):
        assert f'id="{anchor}"' in dom, anchor
    assert len(re.findall(r"<svg\b", dom)) == 9
    assert "<script" not in dom
    assert "&lt;script&gt;" in dom
