"""The half-year report's bench, shared by the report tests: a posting in Türkiye
(DE@TR and FR@TR with an officer each, IE@TR the Presidency's node, COM@EU the
Commission's) in one process; contributions sent, a report built at IE@TR, and a
way to change a signed file and sign it again as a dishonest builder would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ilo_node.client.officer import PublishRequest
from ilo_node.client.reports import build_report_files, verify_report_files
from ilo_node.home.home import Home, now_ms
from ilo_node.report.build import SIGNATURE_DOMAIN
from ilo_node.report.signed import canonical_json
from protocol.crypto import sha256, sign
from protocol.examples import example
from protocol.periods import half_year_of
from tests.support.officerkit import Posting, build_posting

DE, FR, IE, COM = "DE@TR", "FR@TR", "IE@TR", "COM@EU"


def report_posting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Posting]:
    """The posting, its nodes' keys read from memory (no Argon2id file to unlock)."""
    postings = build_posting(
        tmp_path, [DE, FR, IE, COM], {DE: ["anna.berg"], FR: ["claire.dubois"]}
    )
    posting = next(postings)
    keys = dict(posting.keys)
    # The nodes run from copies of their built homes: the same key under both paths.
    for name, built_home in posting.built.nodes.items():
        keys[posting.base / "nodes" / name / "keys" / "signing.key"] = keys[
            built_home.signing_key_path
        ]
    monkeypatch.setattr(Home, "signing_key", lambda self, passphrase: keys[self.signing_key_path])
    yield posting
    next(postings, None)


def posting_now() -> int:
    return now_ms()


def contribution(state: str, **changes: Any) -> dict[str, Any]:
    """A contribution of ``state`` for TR and this half-year, with ``changes``."""
    content = example("half_year_contribution")
    content.update(member_state=state, half_year=half_year_of(posting_now()))
    content.update(changes)
    return content


def witnessed_checkpoint(posting: Posting, by: tuple[str, ...] = (DE, COM)) -> None:
    """The Presidency's node signs a checkpoint and the nodes ``by`` cosign it."""
    posting.on(IE, posting.nodes[IE].checkpoint)
    posting.witness(IE, by)


def resign(
    posting: Posting, signer: str, data_path: Path, body: Any, domain: bytes = SIGNATURE_DOMAIN
) -> None:
    """``body`` written to ``data_path`` and signed again by ``signer``'s node key, in
    the signature file beside it (report.sig or annual.sig)."""
    data = canonical_json(body)
    key = posting.keys[posting.built.nodes[signer].signing_key_path]
    digest = sha256(data)
    sig_path = data_path.with_suffix(".sig")
    sig = json.loads(sig_path.read_bytes())
    sig.update(
        node=signer,
        key=key.public.hex(),
        digest=digest.hex(),
        signature=sign(key.reveal(), domain, digest).hex(),
    )
    data_path.write_bytes(data)
    sig_path.write_bytes(canonical_json(sig))


@dataclass
class Built:
    posting: Posting
    out: Path

    @property
    def report(self) -> Path:
        return self.out / "report.json"

    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.report.read_bytes()))

    def resign(self, body: dict[str, Any]) -> None:
        """As a dishonest Presidency would: change the report and sign it again."""
        resign(self.posting, IE, self.report, body)

    def verify(self, at: str = COM) -> Any:
        home = Home(self.posting.base / "nodes" / at)
        return verify_report_files(home, self.report, posting_now())


def build_first_report(posting: Posting, out: Path) -> Built:
    """DE's and FR's contributions for this half-year sent, witnessed, and the report
    built at IE@TR (not rendered) in ``out``."""
    anna, claire = posting.officer("anna.berg"), posting.officer("claire.dubois")
    for client, state, extra in (
        (anna, "DE", {}),
        (claire, "FR", {"deployments": 1, "meetings_held": 6, "meetings_attended": 4}),
    ):
        outcome = client.publish(
            PublishRequest("half_year_contribution", contribution(state, **extra), "presidency")
        )
        assert outcome.sent and IE in outcome.readable_by and COM in outcome.readable_by
    posting.sync_all()
    witnessed_checkpoint(posting)
    home = Home(posting.base / "nodes" / IE)
    period = half_year_of(posting_now())
    build_report_files(
        home, lambda: b"unused", period, out, "decision-2005-687", posting_now(), render=False
    )
    return Built(posting, out)
