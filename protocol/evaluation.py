"""Evaluation codes: how reliable the source of a report is, and how accurate its
information, as a letter and a digit written together (``B2``).

This is the "4x4" evaluation Europol and many law-enforcement services use, as
it is commonly described. The meanings below are data, so that the CLI can show
them next to a code and filter by code. WORDING TO BE CHECKED against Europol's
current handling rules before it is shown to users: it paraphrases common
descriptions of the system, not an official text.

The two grades travel as two optional fields of the alert and report kinds
(``protocol/kinds.py``), always together: a code is the pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .errors import UsageError

__all__ = [
    "ACCURACY_FIELD",
    "INFORMATION_ACCURACY",
    "SOURCE_FIELD",
    "SOURCE_RELIABILITY",
    "describe_evaluation",
    "evaluation_code",
]

SOURCE_FIELD = "source_reliability"
"""The content field that holds the source's grade."""
ACCURACY_FIELD = "information_accuracy"
"""The content field that holds the information's grade."""

# Wording to be checked before it is shown to users (see the module docstring).
SOURCE_RELIABILITY: Mapping[str, str] = MappingProxyType(
    {
        "A": "no doubt about the source's authenticity, trustworthiness and competence, "
        "or always reliable",
        "B": "mostly reliable",
        "C": "mostly unreliable",
        "X": "reliability cannot be assessed",
    }
)
"""Source reliability grades and what each means."""

# Wording to be checked before it is shown to users (see the module docstring).
INFORMATION_ACCURACY: Mapping[int, str] = MappingProxyType(
    {
        1: "accuracy not in doubt",
        2: "known personally to the source but not to the officer passing it on",
        3: "not known personally to the source, but corroborated by information already held",
        4: "not known personally to the source and cannot be corroborated",
    }
)
"""Information accuracy grades and what each means."""


def evaluation_code(content: Mapping[str, Any]) -> str | None:
    """The evaluation code of (validated) content, e.g. ``"B2"``; ``None`` if it has none."""
    source = content.get(SOURCE_FIELD)
    accuracy = content.get(ACCURACY_FIELD)
    # type() and not isinstance(): True == 1 must not read as grade 1.
    if source in SOURCE_RELIABILITY and type(accuracy) is int and accuracy in INFORMATION_ACCURACY:
        return f"{source}{accuracy}"
    return None


def describe_evaluation(code: str) -> str:
    """What an evaluation code such as ``B2`` means, in one line."""
    source, accuracy = code[:1], code[1:]
    if source not in SOURCE_RELIABILITY or accuracy not in {str(n) for n in INFORMATION_ACCURACY}:
        grades = ", ".join(SOURCE_RELIABILITY)
        raise UsageError(
            f"{code[:8]!r} is not an evaluation code",
            f"An evaluation code is a source grade ({grades}) followed by an information "
            f"grade ({min(INFORMATION_ACCURACY)}-{max(INFORMATION_ACCURACY)}), e.g. B2.",
        )
    return (
        f"{code}: source {source}, {SOURCE_RELIABILITY[source]}; "
        f"information {accuracy}, {INFORMATION_ACCURACY[int(accuracy)]}"
    )
