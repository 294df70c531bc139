"""Verifying a report without trusting the node that built it.

:func:`verify_report` takes the exact bytes of ``report.json`` and ``report.sig``,
the verifier's own trust state and, where the verifier holds a log (a node's home),
a way to look its envelopes up. It checks, in order, and collects every problem
with where it is:

1. the signature over the SHA-256 of the exact bytes, by a key certified for the
   building node when the report was built (nothing is parsed before);
2. the checkpoint of the manifest, signed by a key of that node; its cosignatures,
   each by another node of the roster with a key valid then (a witness cosigns only
   a checkpoint consistent with every earlier one it saw of that log), at least
   ``min_witnesses`` of them; that the verifier's own records of that node's log show
   no other root at its size, and no split view of it;
3. each contribution's inclusion proof in that checkpoint;
4. where the verifier can read the contributions (the Commission's node can):
   that each is the contribution the manifest says, that none it holds for the
   period was left out, and every figure, table and list, recomputed with the
   template the report names (:func:`ilo_node.report.aggregate.compose`).

No I/O here: the caller reads the files and passes the lookups in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from ilo_node.report.aggregate import Contribution, compose
from ilo_node.report.build import REPORT_FORM, expected_contributors
from ilo_node.report.signed import Verification, check_signed_json
from ilo_node.report.signed import hex_bytes as _hex
from ilo_node.report.template import ReportTemplate
from keys.errors import WitnessError
from keys.trust import TrustState
from protocol.checkpoint import SignedCheckpoint
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.merkle import leaf_hash, verify_inclusion

__all__ = ["MAX_REPORT_BYTES", "Verification", "verify_report"]

#: report.json is read at most this large (a report of every host country is a few MB).
MAX_REPORT_BYTES = 64 * 1024 * 1024

#: An envelope of the verifier's own log and its content, if the verifier can read it.
Lookup = Callable[[bytes], tuple[Envelope, dict[str, Any] | None] | None]


def verify_report(
    data: bytes,
    signature_data: bytes,
    trust: TrustState,
    now_ms: int,
    *,
    template_for: Callable[[str], ReportTemplate],
    lookup: Lookup | None = None,
    held_contributions: Callable[[str], Sequence[bytes]] | None = None,
    witnessed: Sequence[bytes] = (),
    split_view: bool = False,
    min_witnesses: int = 1,
) -> Verification:
    """``witnessed``: the verifier's notes of the building node's log; ``held_contributions``
    the ids of the contributions for a half-year the verifier can read; ``min_witnesses``
    the verifier's policy: how many peers must have cosigned the checkpoint."""
    out = Verification()
    body = _signed_body(data, signature_data, trust, now_ms, out)
    if body is None:
        return out
    try:
        _verify_body(
            body,
            trust,
            now_ms,
            template_for,
            lookup,
            held_contributions,
            witnessed,
            split_view,
            min_witnesses,
            out,
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # Signed by the right key, yet not a report as this code builds one: a broken or
        # dishonest builder's; say so rather than fail.
        out.problems.append(
            f"report.json: signed, but not of the form of a report ({type(exc).__name__})"
        )
    return out


def _verify_body(
    body: dict[str, Any],
    trust: TrustState,
    now_ms: int,
    template_for: Callable[[str], ReportTemplate],
    lookup: Lookup | None,
    held_contributions: Callable[[str], Sequence[bytes]] | None,
    witnessed: Sequence[bytes],
    split_view: bool,
    min_witnesses: int,
    out: Verification,
) -> None:
    node = body["built"]["node"]
    manifest = body["manifest"]
    root_size = _checkpoint(body, node, trust, now_ms, witnessed, split_view, min_witnesses, out)
    entries = manifest["contributions"]
    for n, entry in enumerate(entries):
        envelope_id = _hex(entry.get("id"), 32)
        proof = [_hex(h, 32) for h in entry.get("proof", [])]
        where = f"manifest.contributions[{n}] ({str(entry.get('id'))[:16]})"
        if envelope_id is None or any(p is None for p in proof):
            out.problems.append(f"{where}: not an envelope id and proof")
            continue
        if root_size is None:
            continue
        size, root = root_size
        try:
            verify_inclusion(leaf_hash(envelope_id), int(entry["index"]), size, proof, root)  # type: ignore[arg-type]
        except (ProtocolError, ValueError, TypeError) as exc:
            detail = exc.message if isinstance(exc, ProtocolError) else type(exc).__name__
            out.problems.append(f"{where}: inclusion proof does not verify ({detail})")
    if lookup is None:
        out.notes.append("figures not recomputed: this home holds no log to read them from")
        return
    _recompute(body, entries, trust, template_for, lookup, held_contributions, out)


def _signed_body(
    data: bytes, signature_data: bytes, trust: TrustState, now_ms: int, out: Verification
) -> dict[str, Any] | None:
    return check_signed_json(data, signature_data, trust, now_ms, REPORT_FORM, out)


def _checkpoint(
    body: dict[str, Any],
    node: str,
    trust: TrustState,
    now_ms: int,
    witnessed: Sequence[bytes],
    split_view: bool,
    min_witnesses: int,
    out: Verification,
) -> tuple[int, bytes] | None:
    note = str(body["manifest"].get("checkpoint", "")).encode()
    try:
        signed = trust.verify_checkpoint(node, note, now_ms)
    except WitnessError as exc:
        out.problems.append(f"manifest.checkpoint: {exc.message}")
        return None
    cp = signed.checkpoint
    if body["manifest"].get("log_size") != cp.size:
        out.problems.append("manifest.log_size: is not the size of the checkpoint")
    for other in witnessed:
        try:
            seen = trust.verify_checkpoint(node, other, now_ms).checkpoint
        except WitnessError:
            continue
        if seen.size == cp.size and seen.root != cp.root:
            out.problems.append(
                f"manifest.checkpoint: computed on a forked log: {node} showed this verifier "
                f"another root at size {cp.size}"
            )
    if split_view:
        out.problems.append(
            f"manifest.checkpoint: this verifier holds evidence that {node} showed different "
            "histories of its log (a split view); its report cannot be trusted"
        )
    out.notes.append(f"checkpoint of {node} at size {cp.size} verified")
    _witnesses(body, node, signed, trust, now_ms, min_witnesses, out)
    return cp.size, cp.root


def _witnesses(
    body: dict[str, Any],
    node: str,
    signed: SignedCheckpoint,
    trust: TrustState,
    now_ms: int,
    min_witnesses: int,
    out: Verification,
) -> None:
    valid, invalid = trust.cosigners_of(signed, node, now_ms)
    for reason in invalid:
        out.problems.append(f"manifest.checkpoint: a cosignature line is not valid: {reason}")
    if sorted(body["manifest"].get("witnesses", [])) != sorted(valid) and not invalid:
        out.problems.append(
            "manifest.witnesses: does not list the nodes whose cosignatures the checkpoint carries"
        )
    if len(valid) < min_witnesses:
        out.problems.append(
            f"manifest.checkpoint: cosigned by {len(valid)} peer(s) of {node}, fewer than "
            f"the {min_witnesses} this verification asks for: nobody else vouches that "
            "this log state is the one every peer was shown"
        )
    if valid:
        out.notes.append(
            f"checkpoint cosigned by {len(valid)} witness(es): " + ", ".join(sorted(valid))
        )


def _recompute(
    body: dict[str, Any],
    entries: Sequence[dict[str, Any]],
    trust: TrustState,
    template_for: Callable[[str], ReportTemplate],
    lookup: Lookup,
    held_contributions: Callable[[str], Sequence[bytes]] | None,
    out: Verification,
) -> None:
    template = template_for(str(body["template"]["id"]))
    if template.digest != body["template"].get("digest"):
        out.notes.append(
            f"the report was built with another version of template {template.id}; "
            "recomputed with this one"
        )
    contributions: list[Contribution] = []
    unreadable = 0
    for entry in entries:
        envelope_id = _hex(entry.get("id"), 32)
        found = lookup(envelope_id) if envelope_id is not None else None
        if found is None or found[1] is None:
            unreadable += 1
            continue
        envelope, content = found[0], found[1]
        where = f"contribution {entry['id'][:16]}"
        if envelope.header.kind != "half_year_contribution":
            out.problems.append(f"{where}: is a {envelope.header.kind}, not a contribution")
            continue
        said = (entry.get("half_year"), entry.get("host"), entry.get("member_state"))
        if said != (content["half_year"], content["host_country"], content["member_state"]):
            out.problems.append(f"{where}: the manifest names it for {said}, it is not")
        contributions.append(
            Contribution(
                envelope.id,
                content["member_state"],
                content["host_country"],
                content["half_year"],
                envelope.header.created_ms,
                content,
            )
        )
    if unreadable:
        out.notes.append(
            f"figures not recomputed: {unreadable} of {len(entries)} contributions cannot be "
            "read here"
        )
        return
    period = str(body["period"])
    if held_contributions is not None:
        listed = {e.get("id") for e in entries}
        for envelope_id in held_contributions(period):
            if envelope_id.hex() not in listed:
                out.problems.append(
                    f"contribution {envelope_id.hex()[:16]} for {period} is in this log but "
                    "not in the report"
                )
    expected = compose(template, period, contributions, expected_contributors(trust))
    for key, value in expected.items():
        if body.get(key) != value:
            out.problems.append(_difference(key, body.get(key), value))
    out.recomputed = not out.problems
    out.notes.append(f"every figure recomputed from {len(contributions)} contributions")


def _difference(key: str, said: Any, computed: Any) -> str:
    """Where a recomputed part differs, as precisely as the two can be compared."""
    if key == "host_countries" and isinstance(said, list) and isinstance(computed, list):
        for host in computed:
            theirs = next((h for h in said if h.get("code") == host["code"]), None)
            if theirs is None:
                return f"host_countries: {host['code']} is missing from the report"
            for section in host["sections"]:
                other: dict[str, Any] = next(
                    (s for s in theirs.get("sections", []) if s.get("id") == section["id"]), {}
                )
                for figure in section["figures"]:
                    given: dict[str, Any] = next(
                        (f for f in other.get("figures", []) if f.get("id") == figure["id"]), {}
                    )
                    if given.get("value") != figure["value"]:
                        return (
                            f"host_countries.{host['code']}.{section['id']}.{figure['id']}: the "
                            f"report says {given.get('value')}, the contributions give "
                            f"{figure['value']}"
                        )
            if theirs != host:
                return f"host_countries.{host['code']}: differs from the contributions"
        return "host_countries: lists another set of host countries than the contributions"
    digest = hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()[:12]
    return f"{key}: differs from what the contributions give (report part {digest})"
