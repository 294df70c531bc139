"""Roster versions as files and in a home: propose, sign, combine, verify, pin, update.

An administrator turns a description into a proposal (``propose_roster``), each
administrator signs a copy offline (``sign_roster``) and the copies are merged
(``combine_proposals``); anyone checks the result (``verify_roster``); a home
pins the root once (``pin_root``) and then only moves forward
(``apply_roster_updates``). The decisions themselves are ``keys.roster``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ilo_node.home.docfiles import read_input, read_roster_file, read_signed_file
from ilo_node.home.home import Home, write_document
from ilo_node.home.keyfiles import PassphraseFor, read_private_key
from ilo_node.home.roster_description import (
    description_from_roster,
    payload_from_description,
    roster_heading,
)
from keys.documents import Roster
from keys.errors import TrustError
from keys.roster import RosterChain, count_signers, fingerprint_of
from protocol.errors import IloError, ProtocolError, UsageError
from protocol.signed import SignedDocument

__all__ = [
    "CombinedRoster",
    "PinnedRoot",
    "RosterCheck",
    "RosterUpdates",
    "RosterView",
    "SignatureCount",
    "SignedRoster",
    "apply_roster_updates",
    "combine_proposals",
    "pin_root",
    "propose_roster",
    "roster_summary",
    "roster_view",
    "sign_roster",
    "verify_roster",
]


@dataclass(frozen=True)
class SignatureCount:
    """How many distinct administrators of one roster version signed, of how many needed."""

    whose: str  # "its own", or "version N's" (the version it follows)
    signed: int
    threshold: int

    @property
    def met(self) -> bool:
        return self.signed >= self.threshold


@dataclass(frozen=True)
class SignedRoster:
    signer: str | None  # the administrator's name
    keys: int  # how many of the administrator's keys signed
    path: Path
    already: bool  # every one of those keys had signed this copy before: nothing added
    count: SignatureCount  # of the proposal's own administrators, after signing


@dataclass(frozen=True)
class CombinedRoster:
    summary: dict[str, Any]
    signatures: int  # valid signatures in the merged document
    #: Its own administrators' signatures, then (with ``previous``) the version before's.
    counts: list[SignatureCount]

    @property
    def short(self) -> list[SignatureCount]:
        """The thresholds not met: the merged file is not a valid roster yet."""
        return [c for c in self.counts if not c.met]


@dataclass(frozen=True)
class RosterCheck:
    record: dict[str, Any]  # the verdict, as ``roster verify --json`` prints it
    roster: Roster  # the version checked
    previous: Roster | None  # the version it was checked against; None for a root


@dataclass(frozen=True)
class RosterView:
    summary: dict[str, Any]
    description: dict[str, Any]  # editable, for the next ``propose_roster``
    status: str | None  # the home's roster state, when the roster is the home's


@dataclass(frozen=True)
class PinnedRoot:
    network: str
    version: int
    status: str


@dataclass
class RosterUpdates:
    applied: list[int] = field(default_factory=list)  # versions, in order
    current: int | None = None  # the home's version once all are applied
    status: str | None = None  # the home's roster state once all are applied
    failure: IloError | None = None  # stopped at a file; the versions above were applied
    documents: list[bytes] = field(default_factory=list)  # the files, as read
    #: What the running node said of each (None: no node runs, the home took them).
    node_answer: list[str] | None = None


def roster_summary(roster: Roster, document: SignedDocument | None = None) -> dict[str, Any]:
    """What an administrator checks before signing, and what ``roster show`` prints.

    ``document``: the copy whose signatures to list, when it is not the roster's own
    (a proposal being signed or combined)."""
    doc = document or roster.document
    return {
        **roster_heading(roster),
        "administrators": {key.hex(): name for key, name in roster.administrators.items()},
        "signed_by": sorted(
            roster.administrators.get(k, "unknown key " + k.hex()[:16]) for k in doc.signed_keys()
        ),
        "authorities": sorted(a.party for a in roster.authorities),
        "nodes": sorted(roster.nodes),
        "presidency": dict(sorted(roster.presidency.items())),
        "digest": doc.digest.hex(),
        "fingerprint": fingerprint_of(doc.to_bytes()),
    }


def propose_roster(
    description: Path, output: Path, previous: Path | None, now_ms: int
) -> dict[str, Any]:
    """Write the unsigned proposal of ``description`` to ``output``; its summary."""
    document = SignedDocument.create("roster", payload_from_description(description, now_ms))
    try:
        roster = Roster.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"the description is not a valid roster: {exc.message}") from None
    if previous is not None:
        before = Roster.from_document(read_signed_file(previous, "roster"))
        if roster.version != before.version + 1:
            raise UsageError(
                f"proposal has version {roster.version}; after version {before.version} "
                f"it must be {before.version + 1}"
            )
    write_document(output, document.to_bytes())
    return roster_summary(roster)


def sign_roster(
    home: Home,
    proposal: Path,
    output: Path | None,
    *,
    with_retired: bool,
    review: Callable[[dict[str, Any]], None],
    passphrase: PassphraseFor,
) -> SignedRoster:
    """Add the signature of the administrator of ``home`` to ``proposal`` (written back
    in place unless ``output`` is given).

    ``review`` is shown the summary before anything is signed and raises to refuse:
    an administrator signs what they have read, not a file name."""
    config = home.require_role("admin")
    document, roster = read_roster_file(proposal)
    if roster.network != config.network:
        raise UsageError(
            f"the proposal is for network {roster.network!r}, "
            f"this administrator is in {config.network!r}"
        )
    review(roster_summary(roster, document))
    secret = passphrase(f"the {config.label} key")
    keys = [home.signing_key(secret)]
    if with_retired:
        keys += [read_private_key(p, secret) for p in home.retired_key_paths()]
    before = document.signed_keys()
    for key in keys:
        document = document.signed_by(key.reveal())
    target = output or proposal
    write_document(target, document.to_bytes())
    already = all(key.public in before for key in keys)
    count = SignatureCount(
        "its own", count_signers(document, roster.administrators), roster.threshold
    )
    return SignedRoster(config.name, len(keys), target, already, count)


def combine_proposals(
    proposals: Sequence[Path], output: Path, previous: Path | None = None
) -> CombinedRoster:
    """Merge the signatures of copies of one proposal signed on different machines, and
    count them against its own threshold and, given ``previous`` (the signed version it
    follows), against that version's. The merged file is written either way: one below
    a threshold can still collect signatures ('roster sign' on it)."""
    if not proposals:
        raise UsageError("give at least one signed copy of the proposal")
    first, *rest = [read_signed_file(p, "roster") for p in proposals]
    merged = first.merged_with(rest)
    roster = Roster.from_document(merged)
    counts = [
        SignatureCount("its own", count_signers(merged, roster.administrators), roster.threshold)
    ]
    if previous is not None:
        _, before = read_roster_file(previous)
        if roster.version != before.version + 1:
            raise UsageError(
                f"the proposal has version {roster.version}; after version {before.version} "
                f"it must be {before.version + 1}",
                "Give the signed roster this proposal follows as --previous.",
            )
        signed = count_signers(merged, before.administrators)
        counts.append(SignatureCount(f"version {before.version}'s", signed, before.threshold))
    write_document(output, merged.to_bytes())
    return CombinedRoster(roster_summary(roster, merged), len(merged.signatures), counts)


def verify_roster(home: Home, file: Path, previous: Sequence[Path], now_ms: int) -> RosterCheck:
    """Check ``file`` as the next version of ``previous`` (oldest first, from the root),
    else of the home's chain, else as a root that must carry its own threshold."""
    data = read_input(file, "roster")
    if previous:
        chain: RosterChain | None = RosterChain.from_history(
            read_input(p, "roster") for p in previous
        )
    elif home.exists() and home.has_roster():
        chain = home.chain()
    else:
        chain = None
    record: dict[str, Any] = {"file": str(file), "fingerprint": fingerprint_of(data)}
    if chain is None:
        new = RosterChain.from_history([data]).current
        record.update(valid=True, checked_as="root", version=new.version)
        return RosterCheck(record, new, None)
    new = chain.check_next(data, now_ms)
    before = chain.current
    record.update(
        valid=True,
        checked_as="next",
        version=new.version,
        signatures_from_previous=count_signers(new.document, before.administrators),
        signatures_from_own=count_signers(new.document, new.administrators),
    )
    return RosterCheck(record, new, before)


def roster_view(home: Home, file: Path | None, now_ms: int) -> RosterView:
    """A roster file, or (``file`` None) the home's current roster with its state."""
    if file is not None:
        _, roster = read_roster_file(file)
        status = None
    else:
        chain = home.chain()
        roster = chain.current
        status = chain.status(now_ms).message
    return RosterView(roster_summary(roster), description_from_roster(roster), status)


def pin_root(home: Home, root: Path, fingerprint: str, now_ms: int) -> PinnedRoot:
    """Pin the root roster whose fingerprint the administrators read out: the only
    trust the home will ever start from, so it is pinned once and never replaced."""
    config = home.config()
    if home.has_roster():
        raise TrustError(
            f"{home.path} already trusts a roster chain",
            "Apply newer versions with 'ilo-node roster update'.",
        )
    data = read_input(root, "roster")
    chain = RosterChain.from_pinned_root(data, fingerprint)
    if chain.current.network != config.network:
        raise TrustError(
            f"the root roster is for network {chain.current.network!r}, this home "
            f"is in {config.network!r}"
        )
    home.save_roster(data, chain.current.version)
    return PinnedRoot(chain.current.network, chain.current.version, chain.status(now_ms).message)


def apply_roster_updates(
    home: Home, files: Sequence[Path], now_ms: int, *, store: bool = True
) -> RosterUpdates:
    """Apply the next roster versions in the order given, all or none: versions that
    expired meanwhile pass only on the way to a current one (keys/roster.py). Without
    ``store`` they are only checked against the home's chain, to be handed to its
    running node, which keeps them; ``documents`` holds them as read."""
    chain = home.chain()
    updates = RosterUpdates()
    try:
        documents = [read_input(file, "roster") for file in files]
        updates.documents = documents
        for new in chain.update_all(documents, now_ms):
            if store:
                home.save_roster(new.document.to_bytes(), new.version)
            updates.applied.append(new.version)
    except IloError as exc:
        updates.failure = exc
        return updates
    updates.current = chain.current.version
    updates.status = chain.status(now_ms).message
    return updates
