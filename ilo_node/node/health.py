"""What ``ilo-node status`` shows of a node's health beyond the counts of its log.

What waits in the quarantine and for what, the fork proofs, the latest checkpoint of
each other node witnessed here, the content keys still owed to recipients, this
node's own certificate (its TLS identity is valid exactly as long) and its prekeys.
Nothing here writes: the daemon runs it on its worker, and a stopped node's home is
read without the writer lock. docs/api.md, section 5, names every field.
"""

from __future__ import annotations

from typing import Any

from keys.decide import Outcome
from keys.documents import Certificate
from keys.errors import KeyStoreError
from keys.keystore import key_file_info
from keys.prekeys import select_prekey
from protocol.envelope import Envelope
from protocol.errors import IloError, ProtocolError

from .state import NodeState

__all__ = ["EXPIRY_WARNING_DAYS", "QUARANTINE_SHOWN", "WAITS_FOR", "health"]

#: Most quarantined envelopes listed one by one (the oldest first); all are counted.
QUARANTINE_SHOWN = 20
#: A certificate that ends within this many days is ``expiring``.
EXPIRY_WARNING_DAYS = 30
DAY_MS = 24 * 3600 * 1000

#: What a quarantined envelope waits for, by the first word of its ``waiting_for``.
WAITS_FOR = {
    "trust": "a certificate or roster version that covers its key",
    "pred": "the envelope before it in its author's chain",
    "target": "the envelope it retracts, corrects or shares",
    "witness": "proof that it was witnessed before its key's compromise",
    "held": "an administrator: its author equivocated",
    "fork-evidence": "the envelope that proves a fork of its author",
    "never": "nothing: it cannot be placed and stays for the record",
}


def health(state: NodeState) -> dict[str, Any]:
    now = state.clock()
    return {
        "quarantine_waiting": _quarantine(state),
        "quarantine_by_wait": _quarantine_by_wait(state),
        "fork_proofs": _forks(state),
        "witnessed": _witnessed(state),
        "outbox": {"key_shares": _key_shares(state)},
        "certificate": _certificate(state, now),
        "prekeys": _prekeys(state, now),
    }


def _waits_for(waiting_for: str) -> str:
    return waiting_for.split(":", 1)[0]


def _quarantine(state: NodeState) -> list[dict[str, Any]]:
    rows = state.db.execute(
        "SELECT id, raw, seq, reason, waiting_for, first_seen_ms, last_try_ms, attempts, sender "
        "FROM quarantine ORDER BY first_seen_ms, id LIMIT ?",
        [QUARANTINE_SHOWN],
    ).fetchall()
    out: list[dict[str, Any]] = []
    for envelope_id, raw, seq, reason, waiting_for, first, last, attempts, sender in rows:
        try:
            header = Envelope.from_bytes(bytes(raw), state.limits).header
            author, kind = header.author_node, header.kind
        except (ProtocolError, TypeError):
            author, kind = None, None  # a changed row; log verify says more
        out.append(
            {
                "id": bytes(envelope_id).hex(),
                "author": author,
                "kind": kind,
                "seq": int(seq),
                "waits_for": _waits_for(str(waiting_for)),
                "reason": str(reason),
                "since_ms": int(first),
                "last_try_ms": int(last),
                "attempts": int(attempts),
                "sender": str(sender) or None,
            }
        )
    return out


def _quarantine_by_wait(state: NodeState) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (waiting_for,) in state.db.execute("SELECT waiting_for FROM quarantine").fetchall():
        kind = _waits_for(str(waiting_for))
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def _forks(state: NodeState) -> list[dict[str, Any]]:
    rows = state.db.execute(
        "SELECT f.author_key, f.seq, f.detected_ms, h.author_node, h.held_since_ms "
        "FROM forks f LEFT JOIN heads h ON h.author_key = f.author_key ORDER BY f.detected_ms"
    ).fetchall()
    return [
        {
            "author": node,
            "author_key": bytes(key).hex(),
            "seq": int(seq),
            "detected_ms": int(detected),
            "held_since_ms": held,
        }
        for key, seq, detected, node, held in rows
    ]


def _witnessed(state: NodeState) -> dict[str, dict[str, Any]]:
    """The largest checkpoint of each other node's log witnessed here, by node id."""
    prefix = f"ilo-node/{state.network}/"
    rows = state.db.execute(
        "SELECT w.origin, w.size, w.time_ms, w.received_ms FROM witnessed w "
        "JOIN (SELECT origin, MAX(size) AS size FROM witnessed GROUP BY origin) m "
        "ON m.origin = w.origin AND m.size = w.size ORDER BY w.origin"
    ).fetchall()
    return {
        str(origin).removeprefix(prefix): {
            "size": int(size),
            "signed_ms": int(signed),
            "received_ms": int(received),
        }
        for origin, size, signed, received in rows
        if str(origin).startswith(prefix)
    }


def _key_shares(state: NodeState) -> dict[str, Any]:
    """Recipients still owed a content key (their prekey had not arrived)."""
    rows = state.db.execute(
        "SELECT recipient, COUNT(*), MIN(since_ms) FROM pending_shares GROUP BY recipient "
        "ORDER BY recipient"
    ).fetchall()
    envelopes = state.db.execute("SELECT COUNT(DISTINCT envelope_id) FROM pending_shares")
    return {
        "envelopes": int(envelopes.fetchone()[0]),
        "recipients": {
            str(node): {"envelopes": int(n), "since_ms": int(since)} for node, n, since in rows
        },
    }


def _own_key(state: NodeState) -> bytes | None:
    if state.signing is not None:
        return state.signing.public
    try:
        return state.home.public_key()
    except (KeyStoreError, OSError, ValueError, KeyError):
        return None


def _certificate(state: NodeState, now: int) -> dict[str, Any]:
    """This node's certificate for the key it signs with: peers accept its TLS
    certificate, requests and envelopes while this says ``may_speak``."""
    key = _own_key(state)
    if key is None:
        return {"key": None, "state": "no_key", "may_speak": False, "reason": "no signing key"}
    trust = state.trust
    mine = [
        c
        for c in trust.certificates.get(key, [])
        if c.node == state.node_id and c.role == "node" and trust.honoured(c)
    ]
    chosen = _current(mine, now)
    decision = trust.decide_node_key(key, state.node_id, now, now)
    record: dict[str, Any] = {
        "key": key.hex(),
        "valid_from_ms": chosen.valid_from_ms if chosen else None,
        "valid_until_ms": chosen.valid_until_ms if chosen else None,
        "days_left": (chosen.valid_until_ms - now) // DAY_MS if chosen else None,
        "may_speak": bool(decision),
        "reason": decision.reason,
    }
    if trust.revocations_of(key, state.node_id):
        record["state"] = "revoked"
    elif chosen is None:
        record["state"] = "uncertified"
    elif chosen.valid_until_ms <= now:
        record["state"] = "expired"
    elif chosen.valid_from_ms > now:
        record["state"] = "not_yet_valid"
    elif decision.outcome is not Outcome.ACCEPT:
        record["state"] = "refused"
    elif chosen.valid_until_ms - now <= EXPIRY_WARNING_DAYS * DAY_MS:
        record["state"] = "expiring"
    else:
        record["state"] = "ok"
    return record


def _current(certificates: list[Certificate], now: int) -> Certificate | None:
    """The certificate in force now that ends last; else the one that ends last."""
    valid = [c for c in certificates if c.valid_at(now)]
    pool = valid or certificates
    return max(pool, key=lambda c: c.valid_until_ms) if pool else None


def _prekeys(state: NodeState, now: int) -> dict[str, Any]:
    """The prekey peers seal to now (announced, and its secret held here), the next one,
    and the epochs whose secrets this node holds."""
    held: dict[int, bytes] = {}
    directory = state.home.prekey_dir
    if directory.exists():
        for path in sorted(directory.glob("*.key")):
            if not path.stem.isdigit():
                continue
            try:
                held[int(path.stem)] = bytes.fromhex(key_file_info(path.read_bytes())["public"])
            except (IloError, OSError, ValueError, KeyError):
                continue
    announced = state.trust.prekeys.get(state.node_id, [])
    record: dict[str, Any] = {
        "epoch": None,
        "valid_until_ms": None,
        "next_epoch": None,
        "held": sorted(held),
    }
    later = [a for a in announced if a.valid_from_ms > now]
    if later:
        record["next_epoch"] = min(a.epoch for a in later)
    try:
        current = select_prekey(announced, now) if announced else None
    except IloError:
        current = None
    if current is None:
        record["state"] = "none_announced"
        return record
    record["epoch"] = current.epoch
    record["valid_until_ms"] = current.valid_until_ms
    record["state"] = "ok" if current.key in held.values() else "secret_missing"
    return record
