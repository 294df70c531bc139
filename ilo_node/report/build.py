"""Building the half-year report at the Presidency's node, from its own log.

The report is ``report.json``: canonical JSON (keys sorted, no spaces, UTF-8), so
that its bytes are the same wherever it is rebuilt; ``report.sig`` beside it
signs the SHA-256 of those exact bytes with the building node's key. It carries
a manifest: a signed checkpoint of the node's log with the cosignatures its peers
made of it (each witness cosigns only a checkpoint consistent with every earlier
one it saw) and, for every contribution used, the envelope id, the author, the log
index and the inclusion proof in that checkpoint; whoever can read the
contributions recomputes every figure from them (:mod:`ilo_node.report.verify`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import ReportError
from ilo_node.formats.timefmt import format_ms
from ilo_node.node.core import Node
from ilo_node.report.aggregate import Contribution, choose, compose, previous_periods
from ilo_node.report.signed import SignedForm, canonical_json, sign_json
from ilo_node.report.template import ReportTemplate
from keys.keystore import SecretKey
from keys.trust import TrustState
from protocol.checkpoint import SignedCheckpoint, combine_signatures
from protocol.envelope import Envelope
from protocol.identifiers import split_node_id
from protocol.merkle import leaf_hash, verify_inclusion

__all__ = [
    "REPORT_FORM",
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
REPORT_FORM = SignedForm(
    REPORT_FORMAT,
    "ilo-node-report-signature/1",
    SIGNATURE_DOMAIN,
    "report.json",
    "report.sig",
    "a report",
)
_KIND = "half_year_contribution"


@dataclass(frozen=True)
class BuiltReport:
    data: bytes  # report.json
    signature: bytes  # report.sig
    body: dict[str, Any]


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
    node: Node,
    signing: SecretKey,
    template: ReportTemplate,
    half_year: str,
    now_ms: int,
    *,
    uncosigned: bool = False,
) -> BuiltReport:
    """The report of ``half_year`` from ``node``'s log, at the largest checkpoint that
    covers every contribution used and that peers cosigned (with ``uncosigned``, the
    latest checkpoint if none was cosigned yet: verifiers will say so)."""
    periods = [*previous_periods(half_year, template.trend_periods), half_year]
    found = contributions_in(node, periods)
    chosen = {c.envelope_id for c in choose(c for c, _, _ in found)}
    used = [(c, e, i) for c, e, i in found if c.envelope_id in chosen]
    note = _checkpoint_for(node, 1 + max((i for _, _, i in used), default=-1), uncosigned)
    signed = SignedCheckpoint.from_bytes(note)
    manifest = [
        {
            "id": c.envelope_id.hex(),
            "half_year": c.half_year,
            "host": c.host_country,
            "member_state": c.member_state,
            "author": _author(e),
            "index": i,
            "proof": [h.hex() for h in _proof(node, signed, c.envelope_id)],
        }
        for c, e, i in sorted(used, key=lambda u: u[2])
    ]
    size = signed.checkpoint.size
    body: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "template": {"id": template.id, "title": template.title, "digest": template.digest},
        "period": half_year,
        "network": node.network,
        "presidency": node.trust.roster.presidency.get(half_year),
        "built": {"node": node.node_id, "at_ms": now_ms, "at": format_ms(now_ms)},
        **compose(template, half_year, [c for c, _, _ in used], expected_contributors(node.trust)),
        "manifest": {
            "checkpoint": note.decode(),
            "witnesses": sorted(
                line.name for line in signed.signatures if line.name != node.node_id
            ),
            "log_size": size,
            "contributions": manifest,
        },
    }
    data, signature = sign_json(body, REPORT_FORM, node.node_id, signing)
    return BuiltReport(data, signature, body)


def _proof(node: Node, latest: SignedCheckpoint, envelope_id: bytes) -> list[bytes]:
    size = latest.checkpoint.size
    proof = node.log.inclusion_proof(envelope_id, size)
    # Checked here too: a report must not carry a proof that fails at its first reader.
    verify_inclusion(
        leaf_hash(envelope_id), node.log.index_of(envelope_id), size, proof, latest.checkpoint.root
    )
    return proof


def _checkpoint_for(node: Node, needed: int, uncosigned: bool) -> bytes:
    """The note of the checkpoint a report is computed at: the largest one of at least
    ``needed`` entries that a witness cosigned, with every cosignature received of it
    on one note; or, with ``uncosigned``, the latest one."""
    cosigned = node.witnessing.largest_cosigned(max(needed, 1))
    if cosigned is not None:
        own = node.log.checkpoint_note_at(cosigned)
        if own is not None:
            return combine_signatures([own, *node.witnessing.cosigned_at(cosigned)])
    latest = node.log.latest_checkpoint()
    if latest is None or latest.checkpoint.size < needed:
        raise ReportError(
            f"no signed checkpoint of {node.node_id}'s log covers the contributions yet "
            f"(they reach index {needed - 1})",
            "Let the running node sign a checkpoint (it does so as the log grows, or run "
            "'ilo-node log checkpoint'), then build again.",
        )
    if not uncosigned:
        raise ReportError(
            f"no checkpoint of {node.node_id}'s log that covers the contributions "
            f"(size {needed} or more) has been cosigned by a peer yet",
            "Keep the node running: its peers cosign its checkpoints in their witnessing "
            "rounds (every checkpoint_interval_s of daemon.json, 5 s by default); then build "
            "again. '--uncosigned' builds at the latest checkpoint anyway, and verifiers "
            "will say that no peer witnessed it.",
        )
    return latest.note
