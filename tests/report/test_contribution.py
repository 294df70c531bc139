"""Drafting a contribution from checked messages (ilo_node/report/contribution.py).

Each case is a small log and what the draft must count from it; the draft, with its
narratives written, is a valid half_year_contribution.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ilo_node.report.contribution import (
    TO_BE_WRITTEN,
    Counted,
    draft_contribution,
    unfinished,
)
from protocol.errors import UsageError
from protocol.examples import example
from protocol.kinds import COUNTED_KINDS, kind_spec
from protocol.periods import half_year_bounds, half_year_of

H2_START, H2_END = half_year_bounds("2026-H2")
IN_H2 = H2_START + 86_400_000
BEFORE = H2_START - 1


def _message(
    kind: str, node: str = "DE@TR", at: int = IN_H2, n: int = 0, **content: Any
) -> Counted:
    body = example(kind)
    body.update(content)
    return Counted(bytes([n]) * 32, kind, node, at, body, corrected=False)


def _draft(*messages: Counted) -> dict[str, Any]:
    return draft_contribution("DE", "TR", "2026-H2", messages)


def test_an_empty_log_drafts_zeros_and_leaves_the_narratives_to_write() -> None:
    draft = _draft()
    assert draft["deployments"] == draft["meetings_held"] == 0
    assert draft["alerts_by_kind"] == [] and draft["sources"] == []
    assert unfinished(draft) == ["activities_narrative", "situation_narrative"]
    written = {**draft, "activities_narrative": "Part I.", "situation_narrative": "Part II."}
    assert kind_spec("half_year_contribution").validate(written) == written


def test_own_reporting_is_counted_by_kind_and_others_are_not() -> None:
    draft = _draft(
        _message("forged_document_alert", n=1),
        _message("forged_document_alert", n=2, issuing_country="FR"),
        _message("forged_document_alert", "FR@TR", n=3),  # another state's
        _message("route_report", n=4),
        _message("training_record", n=5),
        _message("deployment_notice", n=6),  # the example is DE's
    )
    assert draft["forged_documents_detected"] == 2
    assert draft["trainings"] == 1 and draft["deployments"] == 1
    assert {r["kind"]: r["count"] for r in draft["alerts_by_kind"]} == {
        "deployment_notice": 1,
        "forged_document_alert": 2,
        "route_report": 1,
        "training_record": 1,
    }
    assert [(r["issuing_country"], r["count"]) for r in draft["document_fraud"]] == [
        ("FR", 1),
        ("IT", 1),
    ]
    assert draft["routes"] == [example("route_report")["route_name"]]
    assert bytes([3]) * 32 not in draft["sources"] and len(draft["sources"]) == 5


def test_only_the_half_year_and_the_host_country_count() -> None:
    draft = _draft(
        _message("incident_alert", at=BEFORE, n=1),
        _message("incident_alert", at=H2_END, n=2),  # the end is excluded
        _message("incident_alert", "DE@MA", n=3),  # another posting
        _message("incident_alert", at=H2_END - 1, n=4),
    )
    assert draft["alerts_by_kind"] == [{"kind": "incident_alert", "count": 1, "corrected": 0}]


def test_meetings_are_the_networks_and_attendance_the_member_states() -> None:
    draft = _draft(
        _message("meeting_record", "FR@TR", n=1, chair_state="FR", participants=["FR", "DE"]),
        _message("meeting_record", "IT@TR", n=2, chair_state="IT", participants=["IT", "FR"]),
        _message("meeting_record", n=3, chair_state="DE", participants=["DE"]),
    )
    assert (draft["meetings_held"], draft["meetings_attended"]) == (3, 2)


def test_agreements_count_while_in_force_and_naming_the_member_state() -> None:
    draft = _draft(
        # Written before the half-year, in force during it.
        _message(
            "representation_agreement",
            "FR@TR",
            at=BEFORE,
            n=1,
            representing_state="FR",
            represented_states=["DE"],
            start_date="2025-01-01",
        ),
        # Ended before the half-year began.
        _message(
            "representation_agreement",
            "FR@TR",
            at=BEFORE,
            n=2,
            representing_state="FR",
            represented_states=["DE"],
            start_date="2025-01-01",
            end_date="2026-06-30",
        ),
        # Not naming DE.
        _message(
            "task_sharing_agreement",
            "FR@TR",
            n=3,
            participating_states=["FR", "IT"],
            start_date="2026-08-01",
        ),
        _message(
            "task_sharing_agreement",
            "IT@TR",
            n=4,
            participating_states=["IT", "DE"],
            start_date="2026-12-31",
        ),
    )
    assert (draft["representation_agreements"], draft["task_sharing_agreements"]) == (1, 1)


def test_a_correction_is_counted_as_corrected() -> None:
    corrected = Counted(
        bytes(32), "incident_alert", "DE@TR", IN_H2, example("incident_alert"), corrected=True
    )
    draft = _draft(corrected, _message("incident_alert", n=1))
    assert draft["alerts_by_kind"] == [{"kind": "incident_alert", "count": 2, "corrected": 1}]


def test_the_counted_kinds_are_every_kind_a_person_publishes_but_the_contribution() -> None:
    from protocol.envelope import REFERENCE_KINDS
    from protocol.kinds import KINDS

    assert set(COUNTED_KINDS) == set(KINDS) - set(REFERENCE_KINDS) - {"half_year_contribution"}


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_every_time_falls_in_the_bounds_of_its_half_year(time_ms: int) -> None:
    start, end = half_year_bounds(half_year_of(time_ms))
    assert start <= time_ms < end


@pytest.mark.parametrize("text", ["2026-H3", "2026H1", "26-H1", "1969-H2", "2026-h1", ""])
def test_a_period_not_written_as_a_half_year_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="is not a half-year"):
        half_year_bounds(text)


def test_the_marker_is_what_unfinished_looks_for() -> None:
    assert unfinished({"a": TO_BE_WRITTEN, "b": "done"}) == ["a"]


def test_ilos_deployed_are_the_postings_in_force_whenever_notified() -> None:
    draft = _draft(
        # Notified before the half-year, posted through it: in post.
        _message("deployment_notice", at=BEFORE, n=1, start_date="2025-03-01"),
        # Ended before the half-year began.
        _message(
            "deployment_notice", at=BEFORE, n=2, start_date="2024-01-01", end_date="2026-06-30"
        ),
        # Starts after it.
        _message("deployment_notice", n=3, start_date="2027-02-01"),
        # Another Member State's officer.
        _message("deployment_notice", "FR@TR", n=4, sending_state="FR"),
        # Notified in the half-year, starting in it.
        _message("deployment_notice", n=5, start_date="2026-09-01"),
    )
    assert draft["deployments"] == 2
    assert {bytes([1]) * 32, bytes([5]) * 32} <= set(draft["sources"])
