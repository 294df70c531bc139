"""The report tests' posting and first report (tests.support.reportkit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.officerkit import Posting
from tests.support.reportkit import Built, build_first_report, report_posting


@pytest.fixture
def posting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Posting]:
    yield from report_posting(tmp_path, monkeypatch)


@pytest.fixture
def built(posting: Posting, tmp_path: Path) -> Built:
    return build_first_report(posting, tmp_path / "report")
