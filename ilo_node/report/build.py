"""Building the half-year report at the Presidency's node, from its own log.

The report is ``report.json``: canonical JSON (keys sorted, no spaces, UTF-8), so
that its bytes are the same wherever it is rebuilt; ``report.sig`` beside it
signs the SHA-256 of those exact bytes with the building node's key. It carries
a manifest: the node's latest signed checkpoint and, for every contribution it
used, the envelope id, the author, the log index and the inclusion proof in that
checkpoint; whoever can read the contributions recomputes every figure from them
(:mod:`ilo_node.report.verify`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import NodeError
from ilo_node.formats.timefmt import format_ms
from ilo_node.node.core import Node
from ilo_node.report.aggregate import Contribution, choose, compose, previous_periods
from ilo_node.report.template import ReportTemplate
from keys.keystore import SecretKey
from keys.trust import TrustState
from protocol.checkpoint import SignedCheckpoint
from protocol.crypto import sha256, sign
from protocol.envelope import Envelope
from protocol.identifiers import split_node_id
from protocol.merkle import leaf_hash, verify_inclusion

__all__ = [
    "REPORT_FORMAT",
    "SIGNATURE_DOMAIN",
    "BuiltReport",
    "build_report",
    "canonical_json",
    "contributions_in",
    "expected_contributors",
]

REPORT_FORMAT = "ilo-node-report/1"
#: What a report signature signs, before the digest of report.json.
SIGNATURE_DOMAIN = b"ilo-node/v1/report\x00"
_KIND = "half_year_contribution"


@dataclass(frozen=True)
class BuiltReport:
    data: bytes  # report.json
    signature: bytes  # report.sig
    body: dict[str, Any]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _counts(envelope: Envelope, content: dict[str, Any], trust: TrustState) -> bool:
    """A contribution counts if its author is of the Member State and posting it names,
    and neither it nor its author's authority withdrew it."""
    header = envelope.header
    parts = split_node_id(header.author_node)
    if parts is None or parts != (content["member_state"], content["host_country"]):
        return False
    return not trust.withdrawals_of(envelope)


def contributions_in(
    node: Node, periods: Iterable[str]
) -> list[tuple[Contribution, Envelope, int]]:
    """The contributions for ``periods`` that ``node`` can read and that count, with the
    envelope and its log index."""
    wanted = set(periods)
    retracted = set()
    out: list[tuple[Contribution, Envelope, int]] = []
    for envelope_id in node.view.readable_ids(_KIND):
        for ref in node.officers.refs(envelope_id):
            refers = Envelope.from_bytes(ref["raw"]).header.refers_to
            if refers is not None and refers == ("retracts", envelope_id):
                retracted.add(envelope_id)
        envelope = node.view.envelope(envelope_id)
        content = node.view.read(envelope_id)
        if envelope is None or content is None or envelope_id in retracted:
            continue
        fields = dict(content.fields)
        if fields["half_year"] not in wanted or not _counts(envelope, fields, node.trust):
            continue
        contribution = Contribution(
            envelope_id,
            fields["member_state"],
            fields["host_country"],
            fields["half_year"],
            envelope.header.created_ms,
            fields,
        )
        out.append((contribution, envelope, node.log.index_of(envelope_id)))
    return out


def expected_contributors(trust: TrustState) -> list[tuple[str, str, str]]:
    """``(host, member_state, node)`` for every Member State node of the roster."""
    out = []
    for node_id, entry in trust.roster.nodes.items():
        parts = split_node_id(node_id)
        if parts is not None and entry.role == "member_state":
            out.append((parts[1], parts[0], node_id))
    return sorted(out)


def _author(envelope: Envelope) -> str:
    header = envelope.header
    if header.author_officer is None:
        return f"node {header.author_node}"
    return f"{header.author_officer} ({header.author_node})"


def build_report(
    node: Node, signing: SecretKey, template: ReportTemplate, half_year: str, now_ms: int
) -> BuiltReport:
    periods = [*previous_periods(half_year, template.trend_periods), half_year]
    found = contributions_in(node, periods)
    chosen = {c.envelope_id for c in choose(c for c, _, _ in found)}
    used = [(c, e, i) for c, e, i in found if c.envelope_id in chosen]
    latest = node.log.latest_checkpoint()
    size = 0 if latest is None else latest.checkpoint.size
    late = [c for c, _, i in used if i >= size]
    if latest is None or late:
        raise NodeError(
            f"the latest signed checkpoint of {node.node_id} does not cover "
            f"{len(late) or len(used)} of the contributions yet",
            "Let the running node sign a checkpoint (it does so as the log grows, or run "
            "'ilo-node log checkpoint'), then build again.",
        )
    manifest = [
        {
            "id": c.envelope_id.hex(),
            "half_year": c.half_year,
            "host": c.host_country,
            "member_state": c.member_state,
            "author": _author(e),
            "index": i,
            "proof": [h.hex() for h in _proof(node, latest, c.envelope_id)],
        }
        for c, e, i in sorted(used, key=lambda u: u[2])
    ]
    body: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "template": {"id": template.id, "title": template.title, "digest": template.digest},
        "period": half_year,
        "network": node.network,
        "presidency": node.trust.roster.presidency.get(half_year),
        "built": {"node": node.node_id, "at_ms": now_ms, "at": format_ms(now_ms)},
        **compose(template, half_year, [c for c, _, _ in used], expected_contributors(node.trust)),
        "manifest": {
            "checkpoint": _note_text(node),
            "log_size": size,
            "contributions": manifest,
        },
    }
    data = canonical_json(body)
    digest = sha256(data)
    signature = {
        "format": "ilo-node-report-signature/1",
        "node": node.node_id,
        "key": signing.public.hex(),
        "digest": digest.hex(),
        "signature": sign(signing.reveal(), SIGNATURE_DOMAIN, digest).hex(),
    }
    return BuiltReport(data, canonical_json(signature), body)


def _proof(node: Node, latest: SignedCheckpoint, envelope_id: bytes) -> list[bytes]:
    size = latest.checkpoint.size
    proof = node.log.inclusion_proof(envelope_id, size)
    # Checked here too: a report must not carry a proof that fails at its first reader.
    verify_inclusion(
        leaf_hash(envelope_id), node.log.index_of(envelope_id), size, proof, latest.checkpoint.root
    )
    return proof


def _note_text(node: Node) -> str:
    note = node.log.checkpoint_note_at()
    assert note is not None  # latest_checkpoint() read it
    return note.decode()
