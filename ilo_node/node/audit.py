"""``log verify``: check a node's log from its stored bytes alone.

Nothing the node computed is taken on trust: every envelope id is recomputed
from the raw bytes, every signature verified (on all cores), every hash-chain
link followed, every leaf re-hashed into a fresh Merkle tree, and the roots
compared with the node's signed checkpoints. The first position that fails is
named: each row also stores the root the log had right after it was appended,
so an edited, deleted, inserted or reordered row shows at its own position.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ilo_node.errors import AuditFailure
from ilo_node.node.search import searchable_text
from protocol.canonical import decode_canonical
from protocol.checkpoint import CheckpointError, SignedCheckpoint
from protocol.crypto import key_commitment, sha256
from protocol.envelope import Envelope
from protocol.errors import ProtocolError
from protocol.limits import DEFAULT_LIMITS
from protocol.merkle import MerkleTree, leaf_hash

__all__ = ["AuditReport", "verify_log"]


@dataclass
class AuditReport:
    size: int = 0
    signatures: int = 0
    checkpoints: int = 0
    contents: int = 0
    erasures: int = 0
    latest_checkpoint: int | None = None
    problems: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, position: int | None, message: str) -> None:
        self.problems.append((position, message))


#: Rows between two comparisons of the recomputed root with the recorded one.
ROOT_STRIDE = 64


class _Signed(NamedTuple):
    """What a worker learns from one row: an error, or the signed header fields the
    sequential checks compare with the row's columns (so no row is decoded twice)."""

    position: int
    error: str | None
    author_key: bytes = b""
    author_node: str = ""
    seq: int = 0
    prev: bytes | None = None
    created_ms: int = 0
    kind: str = ""
    distribution: str = ""
    handling: str = ""
    #: What is wrong with the stored decrypted content, if there is any.
    content_problem: str | None = None
    author_officer: str | None = None
    ref_relation: str | None = None
    ref_target: bytes | None = None
    #: The search index's text for the stored content, where the index holds a row.
    search_text: tuple[str, str] | None = None


#: (position, raw envelope, stored content key or None, stored content or None, whether
#: the search index holds a row for it)
_Input = tuple[int, bytes, bytes | None, bytes | None, bool]


def _content_problem(envelope: Envelope, key: bytes, content: bytes | None) -> str | None:
    """The stored content must be what the signed envelope decrypts to with the stored
    key, and the key the one the author committed to: what people read is what was signed."""
    if key_commitment(key) != envelope.header.key_commitment:
        return "the stored content key was changed"
    try:
        plaintext = envelope.decrypt(key)
    except ProtocolError:
        return "the stored content key does not open the envelope"
    if content != plaintext:
        return "the stored content was changed"
    return None


def _search_text(envelope: Envelope, content: bytes) -> tuple[str, str] | None:
    """What the search index must hold for this content (node/search.py makes it the
    same way), or None if the content does not decode.

    Decoded, not validated again: the bytes were just found to be the signed plaintext,
    which ingest validated, and a second validation would cost the audit a third of its
    time per envelope."""
    try:
        limits = DEFAULT_LIMITS
        fields = decode_canonical(content, limits, limits.max_content_bytes, "content")
        return searchable_text(envelope.header.kind, fields)
    except (ProtocolError, TypeError, ValueError, KeyError, AttributeError):
        return None


def _verify_chunk(chunk: Sequence[_Input]) -> list[_Signed]:
    """Worker: full decode and signature check of each row, and of its stored content."""
    out: list[_Signed] = []
    for position, raw, key, content, indexed in chunk:
        try:
            envelope = Envelope.from_bytes(raw, DEFAULT_LIMITS)
        except ProtocolError as exc:
            out.append(_Signed(position, exc.message))
            continue
        h = envelope.header
        problem = _content_problem(envelope, key, content) if key is not None else None
        text = None
        if indexed and problem is None and content is not None:
            text = _search_text(envelope, content)
        out.append(
            _Signed(
                position,
                None,
                h.author_key,
                h.author_node,
                h.seq,
                h.prev,
                h.created_ms,
                h.kind,
                h.distribution,
                h.handling,
                problem,
                h.author_officer,
                None if h.refers_to is None else h.refers_to[0],
                None if h.refers_to is None else h.refers_to[1],
                text,
            )
        )
    return out


def _chunks(rows: Sequence[_Input], size: int) -> Iterable[Sequence[_Input]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _as_bytes(value: object) -> bytes:
    # Someone editing node.db by hand may store TEXT where a BLOB belongs: that must
    # be reported as tampering at its position, never crash the audit.
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return repr(value).encode()


def _maybe_bytes(value: object) -> bytes | None:
    return None if value is None else _as_bytes(value)


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def verify_log(
    db_path: Path,
    node_keys: Iterable[bytes],
    node_name: str,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Verify the log in ``db_path``; ``node_keys`` are the keys allowed to sign checkpoints."""
    report = AuditReport()
    allowed = set(node_keys)
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        conn.text_factory = bytes  # undecodable TEXT must not fail the whole read
    except sqlite3.Error as exc:
        raise AuditFailure(f"cannot open {db_path}: {exc}") from None
    try:
        conn.execute("BEGIN")  # one consistent snapshot while a node may be writing
        rows = conn.execute(
            "SELECT e.idx, e.id, e.raw, e.author_key, e.author_node, e.seq, e.created_ms, "
            "e.root_after, e.kind, e.distribution, e.handling, c.content_key, c.content, "
            "e.author_officer, e.ref_relation, e.ref_target "
            "FROM envelopes e LEFT JOIN contents c ON c.envelope_id = e.id ORDER BY e.idx"
        ).fetchall()
        checkpoints = conn.execute(
            "SELECT size, root, time_ms, signer_key, note FROM checkpoints ORDER BY size"
        ).fetchall()
        orphans = conn.execute(
            "SELECT envelope_id FROM contents WHERE envelope_id NOT IN (SELECT id FROM envelopes)"
        ).fetchall()
        erasures = conn.execute("SELECT envelope_id FROM erasures").fetchall()
        has_index = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_docs'"
        ).fetchone()
        search_rows = (
            conn.execute("SELECT envelope_id, idx, kind, body, fields FROM search_docs").fetchall()
            if has_index
            else []
        )
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise AuditFailure(f"{db_path} is not a readable node database: {exc}") from None
    finally:
        conn.close()
    report.size = len(rows)

    # The search index is a stored copy of readable content: each row must be the text
    # of content this node holds, as the signed envelope gives it (an erased message's
    # words must not outlive it there).
    indexed: dict[bytes, tuple[object, str, str, str]] = {
        _as_bytes(r[0]): (r[1], _as_text(r[2]), _as_text(r[3]), _as_text(r[4])) for r in search_rows
    }
    raws: list[_Input] = [
        (
            i,
            _as_bytes(r[2]),
            None if r[11] is None else _as_bytes(r[11]),
            _maybe_bytes(r[12]),
            _as_bytes(r[1]) in indexed,
        )
        for i, r in enumerate(rows)
    ]
    chunk = max(64, min(2048, len(raws) // max(1, workers * 4) or 64))
    tree = MerkleTree()
    chains: dict[bytes, tuple[int, bytes]] = {}
    ids: dict[bytes, int] = {}
    stopped = False
    done = 0

    def check(signed: _Signed) -> bool:
        """Sequential checks of one row, in log order; False stops the scan."""
        position, error, author_key, author_node, seq, prev = signed[:6]
        row = rows[position]
        idx, envelope_id, root_after = row[0], _as_bytes(row[1]), row[7]
        if idx != position:
            report.fail(
                position,
                f"row at log position {position} is missing (the next row has position {idx})",
            )
            return False
        if sha256(raws[position][1]) != envelope_id:
            report.fail(idx, f"position {idx}: the stored envelope bytes were changed")
            return False
        if error is not None:
            report.fail(idx, f"position {idx}: {error}")
            return False
        report.signatures += 1
        stored = (
            _as_bytes(row[3]),
            _as_text(row[4]),
            row[5],
            row[6],
            *map(_as_text, row[8:11]),
            None if row[13] is None else _as_text(row[13]),
            None if row[14] is None else _as_text(row[14]),
            _maybe_bytes(row[15]),
        )
        signed_columns = (
            author_key,
            author_node,
            seq,
            *signed[6:10],
            signed.author_officer,
            signed.ref_relation,
            signed.ref_target,
        )
        if stored != signed_columns:
            report.fail(idx, f"position {idx}: a column no longer matches the signed envelope")
            return False
        if row[11] is not None:
            report.contents += 1
            if signed.content_problem is not None:
                report.fail(idx, f"position {idx}: {signed.content_problem}")
            entry = indexed.pop(envelope_id, None)
            if entry is not None and entry != (idx, signed.kind, *(signed.search_text or ("", ""))):
                report.fail(idx, f"position {idx}: the search index does not hold what was signed")
        previous = chains.get(author_key)
        if previous is None and seq != 1:
            report.fail(
                idx, f"position {idx}: {author_node} seq {seq} appears before its predecessors"
            )
            return False
        if previous is not None and (seq != previous[0] + 1 or prev != previous[1]):
            report.fail(
                idx,
                f"position {idx}: breaks the hash chain of {author_node} "
                f"(seq {seq} after seq {previous[0]})",
            )
            return False
        chains[author_key] = (seq, envelope_id)
        ids[envelope_id] = idx
        tree.append(leaf_hash(envelope_id))
        # Roots are compared every ROOT_STRIDE rows (and at the end); on a mismatch the
        # rows of that stride are compared one by one to name the first that differs.
        if (idx + 1) % ROOT_STRIDE and idx + 1 != len(rows):
            return True
        if tree.root() == _as_bytes(root_after):
            return True
        for k in range(idx - (idx % ROOT_STRIDE), idx + 1):
            if tree.root(k + 1) != _as_bytes(rows[k][7]):
                report.fail(
                    k,
                    f"position {k}: the log root differs from the one recorded when this row "
                    "was appended (a row was inserted, deleted or reordered at or before here)",
                )
                return False
        return True

    # Signatures on every core, the sequential checks overlapping with them in the
    # main process as each chunk comes back, in order.
    with contextlib.ExitStack() as stack:
        verified: Iterable[list[_Signed]]
        if workers > 1 and len(raws) > chunk:
            context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=context))
            verified = pool.map(_verify_chunk, _chunks(raws, chunk))
        else:
            verified = map(_verify_chunk, _chunks(raws, chunk))
        for results in verified:
            for result in results:
                if not stopped and not check(result):
                    stopped = True
            done += len(results)
            if progress:
                progress(done, len(raws))
            if stopped:
                break

    # Signed checkpoints against the recomputed tree.
    for size, root, time_ms, signer_key, note in checkpoints:
        report.checkpoints += 1
        signer = _as_bytes(signer_key)
        where = f"checkpoint at size {size}"
        try:
            signed = SignedCheckpoint.from_bytes(_as_bytes(note))
            signed.verify(node_name, signer)
        except CheckpointError as exc:
            report.fail(None, f"{where}: {exc.message}")
            continue
        if signer not in allowed:
            report.fail(None, f"{where} is signed by key {signer.hex()[:16]}…, not this node's")
            continue
        cp = signed.checkpoint
        if (cp.size, cp.root, cp.time_ms) != (size, _as_bytes(root), time_ms):
            report.fail(None, f"{where}: the stored columns do not match the signed note")
            continue
        if not isinstance(size, int) or size > tree.size:
            report.fail(
                tree.size,
                f"{where} covers {size} envelopes but only {tree.size} verify: rows from "
                f"position {tree.size} on are missing or altered",
            )
            continue
        if tree.root(size) != cp.root:
            report.fail(None, f"{where} does not match the log: rows before {size} changed")
            continue
        report.latest_checkpoint = size

    if not stopped:
        for envelope_id in indexed:
            report.fail(
                ids.get(envelope_id),
                f"the search index holds text of envelope {envelope_id.hex()[:16]}…, whose "
                "content this node does not hold (erased, or never readable here)",
            )
    for (envelope_id,) in orphans:
        report.contents += 1
        report.fail(None, f"content stored for unknown envelope {_as_bytes(envelope_id).hex()}")
    for (envelope_id,) in erasures:
        report.erasures += 1
        if _as_bytes(envelope_id) not in ids:
            report.fail(None, f"erasure record for unknown envelope {_as_bytes(envelope_id).hex()}")
    return report
