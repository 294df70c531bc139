"""An officer's side of the exchange: sign in the officer's own home, hand over to the node.

:class:`OfficerClient` is what the officer commands (``publish``, ``inbox``,
``show``, ``search``, ``retract``, ``correct``) call. The officer's private key
never leaves their home:

* **Trust** is the home's own: the pinned root roster and the documents synced
  from the node (:meth:`sync`), each verified before it is kept. The recipients'
  prekeys come from there, so the node cannot make an officer encrypt to a key
  of its choosing.
* **Publishing** seals and signs here, with the officer's key, as the next link
  of the officer key's own chain; the envelope goes to the outbox before it is
  sent (:mod:`ilo_node.home.outbox`), so a node that is down loses nothing.
  Recipients whose prekey has not arrived are named to the node, which shares
  the content key with them once it can (``--require-all`` refuses instead).
* **Reading** takes envelopes and content keys from the node and checks each
  here (:mod:`ilo_node.client.reading`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ilo_node.client.officer_transport import HttpOfficerTransport, OfficerTransport
from ilo_node.client.reading import ReadMessage, check_message, check_position
from ilo_node.errors import ClientError, HomeError, NodeUnreachableError, NotFoundError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.formats.jsonfile import read_json_file
from ilo_node.home.home import Home, now_ms
from ilo_node.home.imports import import_document
from ilo_node.home.outbox import ChainHead, Draft, Outbox, Waiting
from ilo_node.net.peerauth import OfficerIdentity
from keys.distribution import recipients_for
from keys.errors import PrekeyError
from keys.keystore import SecretKey
from keys.trust import TrustState
from protocol.countries import CODE_CORRECTIONS
from protocol.crypto import sha256
from protocol.envelope import DISTRIBUTIONS, REFERENCE_KINDS, Envelope, seal
from protocol.errors import IloError, ProtocolError, UsageError
from protocol.identifiers import MEMBER_STATES, split_node_id
from protocol.kinds import kind_spec
from protocol.signed import SignedDocument

__all__ = [
    "Delivery",
    "MessageFilter",
    "OfficerClient",
    "PublishOutcome",
    "PublishRequest",
]


@dataclass(frozen=True)
class PublishRequest:
    kind: str
    content: dict[str, Any]
    level: str = "local"
    #: Member States for level ``states``.
    to: tuple[str, ...] = ()
    handling: str = "H1"
    require_all: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class Delivery:
    """What the node said of one envelope handed over from the outbox."""

    envelope_id: bytes
    status: str  # accepted, quarantined, duplicate, rejected, waiting (not sent)
    reason: str


@dataclass
class PublishOutcome:
    envelope_id: bytes | None
    seq: int | None
    kind: str
    level: str
    handling: str
    #: Nodes that can read it now (sealed to their prekey).
    readable_by: tuple[str, ...]
    #: Addressed, but no prekey yet: the node gives them the key once it can.
    awaiting: tuple[str, ...]
    dry_run: bool = False
    delivery: Delivery | None = None
    #: Other outbox entries handed over in the same run.
    others: list[Delivery] = field(default_factory=list)
    refers_to: tuple[str, bytes] | None = None

    @property
    def sent(self) -> bool:
        return self.delivery is not None and self.delivery.status in (
            "accepted",
            "quarantined",
            "duplicate",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": None if self.envelope_id is None else self.envelope_id.hex(),
            "seq": self.seq,
            "kind": self.kind,
            "level": self.level,
            "handling": self.handling,
            "readable_by": list(self.readable_by),
            "awaiting_prekey": list(self.awaiting),
            "dry_run": self.dry_run,
            "sent": self.sent,
            "status": None if self.delivery is None else self.delivery.status,
            "reason": None if self.delivery is None else self.delivery.reason,
            "refers_to": None
            if self.refers_to is None
            else {"relation": self.refers_to[0], "id": self.refers_to[1].hex()},
        }


@dataclass(frozen=True)
class MessageFilter:
    kinds: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    parties: tuple[str, ...] = ()
    officers: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    unread_only: bool = False
    others_only: bool = False
    limit: int = 50
    text: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "kinds": list(self.kinds),
            "hosts": list(self.hosts),
            "parties": list(self.parties),
            "officers": list(self.officers),
            "since_ms": self.since_ms,
            "until_ms": self.until_ms,
            "unread": self.unread_only,
            "others": self.others_only,
            "limit": self.limit,
            "text": self.text,
        }


#: The most messages the node gives in one answer (MAX_MESSAGES of the officer desk).
_PAGE = 500


def _digest(data: bytes) -> bytes:
    return sha256(data)[:16]


def _is_roster(data: bytes) -> bool:
    try:
        return SignedDocument.from_bytes(data).doc_type == "roster"
    except ProtocolError:
        return False


def _held_documents(trust: TrustState) -> set[bytes]:
    docs = [r.document.to_bytes() for r in trust.chain.versions]
    for group in (trust.certificates, trust.revocations, trust.withdrawals):
        docs += [item.document.to_bytes() for items in group.values() for item in items]
    docs += [a.document.to_bytes() for items in trust.prekeys.values() for a in items]
    return {_digest(d) for d in docs}


class OfficerClient:
    def __init__(
        self,
        home: Home,
        passphrase: bytes,
        *,
        transport: OfficerTransport | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        config = home.require_role("officer")
        if config.node is None or config.name is None:
            raise HomeError(f"{home.config_path} names no node or officer")
        self.home = home
        self.node: str = config.node
        self.officer: str = config.name
        self.network = config.network
        self.clock = clock
        self.signing: SecretKey = home.signing_key(passphrase)
        self.outbox = Outbox(home)
        self.trust = home.trust_state()
        self.transport = transport if transport is not None else self._http()
        self.synced = False

    def __repr__(self) -> str:
        return f"OfficerClient({self.officer} at {self.node})"

    def close(self) -> None:
        self.transport.close()

    # -- reaching the node ----------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """``HOME/officer.json``: ``node_url`` overrides the roster's endpoint (the node
        as this workstation reaches it)."""
        path = self.home.path / "officer.json"
        if not path.exists():
            return {}
        raw = read_json_file(path, "officer settings")
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise HomeError(f"{path} must be a JSON object of text settings, e.g. node_url")
        return raw

    def _http(self) -> HttpOfficerTransport:
        node = self.trust.roster.nodes.get(self.node)
        if node is None:
            raise ClientError(f"{self.node} is not in roster v{self.trust.roster.version}")
        endpoint = self.settings().get("node_url", node.endpoint)
        identity = OfficerIdentity(self.node, self.officer, self.signing.reveal())
        return HttpOfficerTransport(identity, self.network, endpoint, self._pins, self.clock)

    def _pins(self) -> frozenset[bytes]:
        now = self.clock()
        return frozenset(
            key
            for key in self.trust.node_keys(self.node).values()
            if self.trust.decide_node_statement(key, self.node, now, now)
        )

    def sync(self) -> int:
        """Take the trust documents the node has and this home lacks, each verified here
        against the home's own pinned roster; returns how many were new."""
        added = 0
        have = _held_documents(self.trust)
        for _ in range(64):  # pages; a bound, not an expected count
            pinned = bool(self._pins())
            answer = self.transport.call(
                "POST", "/v1/officer/documents", {"have": sorted(have)}, pinned=pinned
            )
            documents = answer.get("documents", [])
            if not isinstance(documents, list):
                raise ClientError("the node answered the document sync with garbage")
            documents = [d for d in documents if isinstance(d, bytes)]
            have.update(_digest(d) for d in documents)
            added += self._catch_up_rosters(documents)
            for data in documents:
                if _is_roster(data):
                    continue
                try:
                    import_document(self.home, self.trust, data, "a node's document", now_ms())
                    added += 1
                except IloError:
                    continue  # refused here: the node is not trusted for documents
            if not answer.get("more") or not pinned:
                if not pinned and self._pins():
                    continue  # bootstrapped: the rest over a pinned connection
                break
        self.synced = True
        return added

    def _catch_up_rosters(self, documents: Sequence[bytes]) -> int:
        """Apply the roster versions among ``documents`` together, as nodes do: versions
        that expired while this home was away are passed through on the way to a current
        one (one at a time, an expired version would be refused and block the rest)."""
        rosters = [d for d in documents if _is_roster(d)]
        if not rosters:
            return 0
        try:
            applied = self.trust.chain.update_all(rosters, now_ms())
        except IloError:
            return 0  # refused here: the node is not trusted for documents
        for roster in applied:
            self.home.save_roster(roster.document.to_bytes(), roster.version)
        return len(applied)

    def _try_sync(self) -> bool:
        try:
            self.sync()
        except NodeUnreachableError:
            return False
        return True

    def status(self) -> dict[str, Any]:
        """Hand over what waits, then say where this officer stands: the outbox (what is
        signed but not yet with the node), drafts the node refused, and the node's view
        if it answers (``node_reachable`` false if not: the outbox is shown all the same)."""
        node: dict[str, Any] | None
        deliveries: list[Delivery] = []
        try:
            deliveries = self.flush()
            self.sync()
            node = self.transport.call("GET", "/v1/officer/status")
        except ClientError as exc:
            # Unreachable, or refusing this officer: the outbox is shown all the same.
            node = None
            unreachable = exc.message
            state = "unreachable" if isinstance(exc, NodeUnreachableError) else "refused"
        refused = sorted(
            p
            for p in (self.home.path / "refused").glob("*.json")
            if not p.name.endswith(".why.json")
        )
        return {
            "officer": self.officer,
            "node": self.node,
            "home": str(self.home.path),
            "key": self.signing.public.hex(),
            "node_reachable": node is not None,
            "node_state": "reachable" if node is not None else state,
            "node_problem": None if node is not None else unreachable,
            "handed_over": [
                {"id": d.envelope_id.hex(), "status": d.status, "reason": d.reason}
                for d in deliveries
                if d.status != "waiting"
            ],
            "outbox": [
                {
                    "id": w.envelope.id.hex(),
                    "kind": w.draft.kind,
                    "seq": w.seq,
                    "created_ms": w.envelope.header.created_ms,
                    "awaiting_prekey": list(w.awaiting),
                }
                for w in self.outbox.waiting()
            ],
            "refused": [str(p) for p in refused],
            "unread": None if node is None else node.get("unread"),
            "roster": None if node is None else node.get("roster"),
            "pending_shares": None if node is None else node.get("pending_shares"),
        }

    # -- publishing -----------------------------------------------------------------

    def recipients(self, level: str, to: Sequence[str]) -> list[str]:
        """Every node a message of ``level`` (to Member States ``to``) is addressed to; a
        named state without a node in the roster is an error, never a narrower delivery."""
        if level not in DISTRIBUTIONS:
            raise UsageError(
                f"unknown level {level!r}",
                f"Use one of {', '.join(DISTRIBUTIONS)} ('ilo-node publish --help').",
            )
        roster, now = self.trust.roster, self.clock()
        if level != "states" and to:
            raise UsageError(
                "--to names Member States for --level states only",
                f"Add --level states, or leave --to out to send to the {level} level.",
            )
        if level == "states":
            if not to:
                raise UsageError(
                    "--level states needs --to with at least one Member State",
                    "For example: --level states --to FR --to IT.",
                )
            for state in to:
                if state not in MEMBER_STATES:
                    corrected = CODE_CORRECTIONS.get(state)
                    meant = f" (did you mean {corrected}?)" if corrected in MEMBER_STATES else ""
                    raise UsageError(
                        f"{state[:20]!r} is not a Member State code{meant}",
                        "Member States are named by their ISO code, e.g. FR, IT, GR.",
                    )
                if not any((split_node_id(n) or ("",))[0] == state for n in roster.nodes):
                    raise UsageError(
                        f"{state} has no node in roster v{roster.version}: nobody there "
                        "could read it",
                        "Name Member States that hold a node in this network "
                        "('ilo-node roster show').",
                    )
        recipients = recipients_for(roster, self.node, level, now, to)
        if not set(recipients) - {self.node}:
            raise UsageError(
                f"at level {level}, nobody but your own node {self.node} could read it: "
                f"roster v{roster.version} has no other node to address",
                "Choose another level, or ask the administrators whether the nodes it "
                "should reach (the Presidency's, the Commission's) are in the roster.",
            )
        return recipients

    def _prekeys(self, nodes: Sequence[str]) -> tuple[dict[str, list[bytes]], list[str]]:
        now = self.clock()
        keys: dict[str, list[bytes]] = {}
        missing: list[str] = []
        for node in nodes:
            try:
                keys[node] = [self.trust.current_prekey(node, now).key]
            except PrekeyError:
                missing.append(node)
        return keys, missing

    def publish(self, request: PublishRequest) -> PublishOutcome:
        content = kind_spec(request.kind).validate(request.content)  # names the field
        if request.kind in REFERENCE_KINDS:
            raise UsageError(
                f"a {request.kind} is not published directly",
                "Use 'ilo-node retract ID'; content keys are shared by the node itself.",
            )
        with self.outbox.locked():
            self._try_sync()
            recipients = self.recipients(request.level, request.to)
            draft = Draft(
                request.kind,
                content,
                request.level,
                request.handling,
                tuple(recipients),
                states=request.to,
            )
            return self._send(draft, request.require_all, request.dry_run)

    def _send(self, draft: Draft, require_all: bool, dry_run: bool) -> PublishOutcome:
        keys, missing = self._prekeys(draft.recipients)
        if self.node in missing and not self.synced:
            raise NodeUnreachableError(
                f"{self.node} cannot be reached, and this home has not learnt the "
                "recipients' prekeys from it yet: nothing was signed",
                "Run the command again once the node answers ('ilo-node status' checks).",
            )
        if self.node in missing:
            raise ClientError(
                f"this home has no prekey of your own node {self.node} yet",
                "Run the command again once the node is reachable: it syncs the prekeys.",
            )
        if missing and require_all:
            raise ClientError(
                f"no prekey known yet for {', '.join(missing)}: they could not read it now",
                "Send without --require-all: the node gives them the key when their prekey "
                "arrives.",
            )
        outcome = PublishOutcome(
            None,
            None,
            draft.kind,
            draft.distribution,
            draft.handling,
            tuple(sorted(keys)),
            tuple(missing),
            dry_run=dry_run,
            refers_to=draft.refers_to,
        )
        if dry_run:
            return outcome
        deliveries = self._flush()
        envelope = self._seal(draft, keys)
        self.outbox.add(envelope, draft, tuple(missing))
        outcome.envelope_id, outcome.seq = envelope.id, envelope.header.seq
        outcome.others = deliveries
        delivered = self._flush()
        mine = [d for d in delivered if d.envelope_id == envelope.id]
        outcome.others += [d for d in delivered if d.envelope_id != envelope.id]
        outcome.delivery = mine[0] if mine else Delivery(envelope.id, "waiting", "not sent")
        return outcome

    def _head(self) -> ChainHead | None:
        """Where this key's chain stands: this home's record, or the node's if it is
        further (this home lost track); a different envelope at the same place means the
        key signed elsewhere too, which would fork the chain."""
        local = self.outbox.head(self.signing.public)
        try:
            remote = self._node_head()
        except NodeUnreachableError:
            return local
        if remote is None:
            return local
        if local is None or remote.seq > local.seq:
            return remote
        if remote.seq == local.seq and remote.envelope_id != local.envelope_id:
            raise ClientError(
                f"the node holds another envelope of your key at seq {remote.seq} than this "
                "home signed",
                "Your key signed from another home too (or was copied): stop using it, ask "
                "your authority to revoke it, and create a new key ('ilo-node keys rotate').",
            )
        return local

    def _seal(self, draft: Draft, keys: dict[str, list[bytes]]) -> Envelope:
        head = self._head()
        now = self.clock()
        return seal(
            signing_seed=self.signing.reveal(),
            network=self.network,
            kind=draft.kind,
            author_node=self.node,
            author_officer=self.officer,
            seq=1 if head is None else head.seq + 1,
            prev=None if head is None else head.envelope_id,
            created_ms=max(now, head.created_ms if head else 0),
            distribution=draft.distribution,
            recipient_keys=keys,
            handling=draft.handling,
            content=draft.content,
            refers_to=draft.refers_to,
        )

    def flush(self) -> list[Delivery]:
        """Hand over what waits in the outbox (every command does, first)."""
        with self.outbox.locked():
            return self._flush()

    def _flush(self) -> list[Delivery]:
        waiting = self.outbox.waiting()
        if not waiting:
            return []
        try:
            answer = self.transport.call(
                "POST",
                "/v1/officer/submit",
                {
                    "envelopes": [w.envelope.to_bytes() for w in waiting],
                    "awaiting": [[w.envelope.id, list(w.awaiting)] for w in waiting if w.awaiting],
                },
            )
        except NodeUnreachableError:
            return [Delivery(w.envelope.id, "waiting", "node unreachable") for w in waiting]
        results = answer.get("results")
        if not isinstance(results, list) or len(results) != len(waiting):
            raise ClientError("the node answered the hand-over with garbage; nothing was lost")
        deliveries: list[Delivery] = []
        refused_at: Waiting | None = None
        for item, result in zip(waiting, results, strict=True):
            status = str(result[0]) if isinstance(result, list) and result else "rejected"
            reason = str(result[1]) if isinstance(result, list) and len(result) > 1 else ""
            deliveries.append(Delivery(item.envelope.id, status, reason))
            if status in ("accepted", "quarantined", "duplicate"):
                self.outbox.remove(item)
            elif status == "rejected" and refused_at is None:
                refused_at = item
        if refused_at is not None:
            deliveries += self._after_refusal(refused_at, deliveries)
        return deliveries

    def _after_refusal(self, refused: Waiting, deliveries: list[Delivery]) -> list[Delivery]:
        """The node refused one envelope: keep its draft where the officer finds it, and
        seal what followed it again on the chain as the node has it (a gap would block
        every later envelope)."""
        delivery = next(d for d in deliveries if d.envelope_id == refused.envelope.id)
        self._keep_refused(refused, delivery)
        self.outbox.remove(refused)
        later = [
            w
            for w in self.outbox.waiting()
            if w.envelope.header.author_key == refused.envelope.header.author_key
            and w.seq > refused.seq
        ]
        for item in later:
            self.outbox.remove(item)
        # The chain continues from what the node holds, not from the refused envelope.
        node_head = self._node_head()
        self.outbox.set_head(self.signing.public, node_head or ChainHead(0, None, 0))
        resealed: list[Delivery] = []
        for item in later:
            keys, missing = self._prekeys(item.draft.recipients)
            envelope = self._seal(item.draft, keys)
            self.outbox.add(envelope, item.draft, tuple(missing))
            resealed.append(
                Delivery(item.envelope.id, "resealed", f"sealed again as {envelope.id.hex()[:16]}")
            )
        return resealed + (self._flush() if later else [])

    def _node_head(self) -> ChainHead | None:
        answer = self.transport.call("GET", "/v1/officer/head")
        seq, envelope_id = answer.get("seq"), answer.get("id")
        if not isinstance(seq, int) or seq <= 0 or not isinstance(envelope_id, bytes):
            return None
        return ChainHead(seq, envelope_id, int(answer.get("created_ms") or 0))

    def _keep_refused(self, item: Waiting, delivery: Delivery) -> Path:
        """``refused/ID.json`` holds the content as ``publish --file`` reads it;
        ``refused/ID.why.json`` why the node refused it and how it was addressed."""
        directory = self.home.path / "refused"
        stem = item.envelope.id.hex()[:16]
        path = directory / f"{stem}.json"
        content = json.dumps(content_to_json(item.draft.content), indent=1, ensure_ascii=False)
        self.home._write(path, content.encode())
        why = {
            "reason": delivery.reason,
            "kind": item.draft.kind,
            "level": item.draft.distribution,
            "to": list(item.draft.states),
            "handling": item.draft.handling,
            "refers_to": None
            if item.draft.refers_to is None
            else {"relation": item.draft.refers_to[0], "id": item.draft.refers_to[1].hex()},
        }
        self.home._write(directory / f"{stem}.why.json", json.dumps(why, indent=1).encode())
        return path

    # -- reading --------------------------------------------------------------------

    def messages(self, query: MessageFilter) -> list[ReadMessage]:
        self._try_sync_quietly()
        answer = self.transport.call("POST", "/v1/officer/messages", query.body())
        return [self._check(entry) for entry in answer.get("messages", [])]

    def every_message(self, query: MessageFilter) -> list[ReadMessage]:
        """All the messages ``query`` selects, however many: pages of the node's largest,
        newest first, each next page before the oldest of the last."""
        out: list[ReadMessage] = []
        seen: set[bytes] = set()
        until = query.until_ms
        for _ in range(10_000):  # a bound, not an expected count
            page = self.messages(replace(query, until_ms=until, limit=_PAGE))
            out += [m for m in page if m.envelope_id not in seen]
            seen.update(m.envelope_id for m in page)
            if len(page) < _PAGE:
                break
            oldest = min(m.header.created_ms for m in page)
            # The next page includes the oldest time again (others may share it); if a
            # whole page shares one time, go on before it.
            until = oldest + 1 if until != oldest + 1 else oldest
        return out

    def _try_sync_quietly(self) -> None:
        if not self.synced:
            self.sync()
            self.flush()

    def _check(self, entry: Any) -> ReadMessage:
        if not isinstance(entry, dict):
            raise ClientError("the node sent a message entry that is not a map")
        try:
            return check_message(self.trust, entry, self.clock())
        except (ProtocolError, KeyError, TypeError) as exc:
            detail = exc.message if isinstance(exc, ProtocolError) else type(exc).__name__
            raise ClientError(
                f"the node sent a message that does not verify ({detail})",
                "The node, or something between it and you, altered it: report this to "
                "the node's operator.",
            ) from None

    def resolve(self, text: str) -> bytes:
        """The one id ``text`` names (a full id or a prefix of at least 8 hex digits)."""
        digits = text.strip().lower()
        if not 8 <= len(digits) <= 64 or any(c not in "0123456789abcdef" for c in digits):
            raise UsageError(
                f"{text[:80]!r} is not a message id",
                "Give the id, or its first 8 or more hex digits, as 'ilo-node inbox' lists it.",
            )
        text = digits
        answer = self.transport.call("POST", "/v1/officer/resolve", {"prefix": text})
        ids = [i for i in answer.get("ids", []) if isinstance(i, bytes)]
        if not ids:
            raise NotFoundError(f"no message with an id starting {text[:64]!r} at {self.node}")
        if len(ids) > 1:
            raise UsageError(
                f"{text!r} is the start of {len(ids)} ids: "
                + ", ".join(i.hex()[:16] for i in ids[:5]),
                "Give more digits of the id.",
            )
        return ids[0]

    def show(self, text: str, *, mark_read: bool = True) -> ReadMessage:
        self._try_sync_quietly()
        envelope_id = self.resolve(text)
        answer = self.transport.call(
            "POST", "/v1/officer/messages", {"ids": [envelope_id], "limit": 1}
        )
        entries = answer.get("messages", [])
        if not entries:
            raise NotFoundError(
                f"{envelope_id.hex()[:16]}… is in the log of {self.node} but not readable there",
                "It was not addressed to your node, or its content was erased by retention.",
            )
        message = self._check(entries[0])
        proof = self.transport.call("GET", f"/v1/officer/proof?id={envelope_id.hex()}")
        check_position(self.trust, self.node, message, proof, self.clock())
        if mark_read:
            self.mark_read([envelope_id])
        return message

    def mark_read(self, ids: Sequence[bytes]) -> int:
        if not ids:
            return 0
        answer = self.transport.call("POST", "/v1/officer/read", {"ids": list(ids)})
        return int(answer.get("marked", 0))

    # -- retracting and correcting --------------------------------------------------------

    def _own(self, text: str, action: str) -> ReadMessage:
        """The message to retract or correct, if this officer wrote it: checked here for a
        clear error; every node checks it again (:func:`keys.authorship.reference_problem`)."""
        target = self.show(text, mark_read=False)
        header = target.header
        if (header.author_node, header.author_officer) != (self.node, self.officer):
            party = (split_node_id(header.author_node) or ("the author's",))[0]
            raise ClientError(
                f"only its author ({target.author_label}) may {action} "
                f"{target.envelope_id.hex()[:16]}…; you are {self.officer} ({self.node})",
                f"Ask the author, or the {party} authority ('ilo-node withdraw ID' in the "
                "authority's home).",
            )
        if header.kind == "retraction":
            raise UsageError(
                "a retraction cannot be retracted or corrected",
                "Publish the message again if it should stand; its readers see both.",
            )
        if target.retractions or target.withdrawals:
            raise UsageError(
                f"{target.envelope_id.hex()[:16]}… is already retracted or withdrawn",
                "Nothing to do: every reader sees it so.",
            )
        return target

    def retract(self, text: str, reason: str, *, dry_run: bool = False) -> PublishOutcome:
        with self.outbox.locked():
            self._try_sync()
            target = self._own(text, "retract")
            draft = Draft(
                "retraction",
                kind_spec("retraction").validate({"reason": reason}),
                target.header.distribution,
                target.header.handling,
                target.readers,
                refers_to=("retracts", target.envelope_id),
            )
            return self._send(draft, False, dry_run)

    def correct(
        self, text: str, content: dict[str, Any], *, dry_run: bool = False
    ) -> PublishOutcome:
        with self.outbox.locked():
            self._try_sync()
            target = self._own(text, "correct")
            draft = Draft(
                target.header.kind,
                kind_spec(target.header.kind).validate(content),
                target.header.distribution,
                target.header.handling,
                target.readers,
                refers_to=("corrects", target.envelope_id),
            )
            return self._send(draft, False, dry_run)
