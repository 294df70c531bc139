"""``log verify``: check a node's log from its stored bytes alone.

Nothing the node computed is taken on trust: every envelope id is recomputed
from the raw bytes, every signature verified (on all cores), every hash-chain
link followed, every leaf re-hashed into a fresh Merkle tree, and the roots
compared with the node's signed checkpoints. The first position that fails is
named: each row also stores the root the log had right after it was appended,
so an edited, deleted, inserted or reordered row shows at its own position.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from protocol.checkpoint import CheckpointError, SignedCheckpoint
from protocol.crypto import key_commitment, sha256
from protocol.envelope import Envelope
from protocol.errors import IloError, ProtocolError
from protocol.limits import DEFAULT_LIMITS
from protocol.merkle import MerkleTree, leaf_hash

__all__ = ["AuditFailure", "AuditReport", "verify_log"]

_CHUNK = 512


class AuditFailure(IloError):
    default_advice = (
        "The node's log does not match its own signed history: treat this node as "
        "compromised or corrupted, keep a copy of node.db for investigation, and report it."
    )


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


def _verify_chunk(chunk: Sequence[tuple[int, bytes]]) -> list[tuple[int, str]]:
    """Worker: full decode + signature check of each (position, raw)."""
    bad: list[tuple[int, str]] = []
    for position, raw in chunk:
        try:
            Envelope.from_bytes(raw, DEFAULT_LIMITS)
        except ProtocolError as exc:
            bad.append((position, exc.message))
    return bad


def _chunks(rows: Sequence[tuple[int, bytes]]) -> Iterable[Sequence[tuple[int, bytes]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


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
    except sqlite3.Error as exc:
        raise AuditFailure(f"cannot open {db_path}: {exc}") from None
    try:
        conn.execute("BEGIN")  # one consistent snapshot while a node may be writing
        rows = conn.execute(
            "SELECT idx, id, raw, author_key, author_node, seq, created_ms, root_after "
            "FROM envelopes ORDER BY idx"
        ).fetchall()
        checkpoints = conn.execute(
            "SELECT size, root, time_ms, signer_key, note FROM checkpoints ORDER BY size"
        ).fetchall()
        contents = conn.execute("SELECT envelope_id, content_key FROM contents").fetchall()
        erasures = conn.execute("SELECT envelope_id FROM erasures").fetchall()
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise AuditFailure(f"{db_path} is not a readable node database: {exc}") from None
    finally:
        conn.close()
    report.size = len(rows)

    # 1. Signatures, on every core: the expensive part.
    raws = [(int(r[0]), bytes(r[2])) for r in rows]
    bad_signatures: dict[int, str] = {}
    done = 0
    if workers > 1 and len(raws) > _CHUNK:
        context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for chunk_result, chunk in zip(
                pool.map(_verify_chunk, _chunks(raws)), _chunks(raws), strict=True
            ):
                bad_signatures.update(chunk_result)
                done += len(chunk)
                if progress:
                    progress(done, len(raws))
    else:
        for chunk in _chunks(raws):
            bad_signatures.update(_verify_chunk(chunk))
            done += len(chunk)
            if progress:
                progress(done, len(raws))
    report.signatures = len(raws) - len(bad_signatures)

    # 2. Order, ids, columns, chains and roots, in log order.
    tree = MerkleTree()
    chains: dict[bytes, tuple[int, bytes]] = {}
    ids: dict[bytes, int] = {}
    for expected, row in enumerate(rows):
        idx, envelope_id, raw, author_key, author_node, seq, created_ms, root_after = row
        envelope_id, raw = bytes(envelope_id), bytes(raw)
        if idx != expected:
            report.fail(
                expected,
                f"row at log position {expected} is missing (the next row has position {idx})",
            )
            break
        if sha256(raw) != envelope_id:
            report.fail(idx, f"position {idx}: the stored envelope bytes were changed")
            break
        if idx in bad_signatures:
            report.fail(idx, f"position {idx}: {bad_signatures[idx]}")
            break
        envelope = Envelope.from_bytes(raw)
        header = envelope.header
        if (
            bytes(author_key) != header.author_key
            or author_node != header.author_node
            or seq != header.seq
            or created_ms != header.created_ms
        ):
            report.fail(idx, f"position {idx}: a column no longer matches the signed envelope")
            break
        previous = chains.get(header.author_key)
        if previous is None and header.seq != 1:
            report.fail(
                idx,
                f"position {idx}: {header.author_node} seq {header.seq} appears before its "
                "predecessors",
            )
            break
        if previous is not None and (header.seq != previous[0] + 1 or header.prev != previous[1]):
            report.fail(
                idx,
                f"position {idx}: breaks the hash chain of {header.author_node} "
                f"(seq {header.seq} after seq {previous[0]})",
            )
            break
        chains[header.author_key] = (header.seq, envelope_id)
        ids[envelope_id] = idx
        tree.append(leaf_hash(envelope_id))
        if tree.root() != bytes(root_after):
            report.fail(
                idx,
                f"position {idx}: the log root differs from the one recorded when this row "
                "was appended (a row was inserted, deleted or reordered at or before here)",
            )
            break

    # 3. Signed checkpoints against the recomputed tree.
    for size, root, time_ms, signer_key, note in checkpoints:
        report.checkpoints += 1
        signer = bytes(signer_key)
        where = f"checkpoint at size {size}"
        try:
            signed = SignedCheckpoint.from_bytes(bytes(note))
            signed.verify(node_name, signer)
        except CheckpointError as exc:
            report.fail(None, f"{where}: {exc.message}")
            continue
        if signer not in allowed:
            report.fail(None, f"{where} is signed by key {signer.hex()[:16]}…, not this node's")
            continue
        cp = signed.checkpoint
        if (cp.size, cp.root, cp.time_ms) != (size, bytes(root), time_ms):
            report.fail(None, f"{where}: the stored columns do not match the signed note")
            continue
        if size > tree.size:
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

    # 4. Stored content keys must be the ones the authors committed to.
    for envelope_id, content_key in contents:
        report.contents += 1
        position = ids.get(bytes(envelope_id))
        if position is None:
            report.fail(None, f"content stored for unknown envelope {bytes(envelope_id).hex()}")
            continue
        header = Envelope.from_bytes(raws[position][1]).header
        if key_commitment(bytes(content_key)) != header.key_commitment:
            report.fail(position, f"position {position}: the stored content key was changed")
    for (envelope_id,) in erasures:
        report.erasures += 1
        if bytes(envelope_id) not in ids:
            report.fail(None, f"erasure record for unknown envelope {bytes(envelope_id).hex()}")
    return report


def progress_printer(stream: object = sys.stderr) -> Callable[[int, int], None]:
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or done == total:
            last[0] = now
            print(f"verified {done}/{total} signatures", file=stream, flush=True)  # type: ignore[call-overload]

    return show
