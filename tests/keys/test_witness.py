"""What a node makes of a checkpoint of its *own* log that a peer holds (``judge_own_log``),
as a table of named cases: the log it holds, a second log signed with its key, and the
history a restore from a backup lost."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from keys.keystore import generate_signing_key
from keys.witness import RestorePoint, judge_own_log
from protocol.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from protocol.merkle import MerkleTree, leaf_hash

NODE = "DE@TR"
ORIGIN = f"ilo-node/devnet.ilo/{NODE}"
SEED = generate_signing_key().reveal()
#: The log this node holds now: 10 envelopes, of which the backup held the first 6.
OURS = MerkleTree(leaf_hash(bytes([i]) * 32) for i in range(10))
#: The log it had before the restore: the same 6, then others in another order.
LOST = MerkleTree(leaf_hash(bytes([i]) * 32) for i in [*range(6), 17, 16, 15, 14, 13, 12, 11])
RESTORED_MS = 5_000
RESTORE = RestorePoint(restored_ms=RESTORED_MS, log_size=6)


def _note(tree: MerkleTree, size: int, time_ms: int) -> SignedCheckpoint:
    return SignedCheckpoint.from_bytes(
        sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size), time_ms), NODE, SEED)
    )


@dataclass(frozen=True)
class Case:
    name: str
    other: SignedCheckpoint
    restores: tuple[RestorePoint, ...]
    #: None: consistent with the log held; else whether the restore explains it.
    restored: bool | None


CASES = [
    Case("the log it holds", _note(OURS, 8, 9_000), (), None),
    Case("the log it holds, after a restore", _note(OURS, 8, 9_000), (RESTORE,), None),
    Case("a second log, never restored", _note(LOST, 9, 4_000), (), False),
    Case("a larger second log, never restored", _note(LOST, 13, 4_000), (), False),
    Case("history lost to the restore", _note(LOST, 9, 4_000), (RESTORE,), True),
    Case(
        "history lost to the restore, larger than the log", _note(LOST, 13, 4_000), (RESTORE,), True
    ),
    # Signed after the restore: not this node's lost history, whatever its size.
    Case("a second log signed after the restore", _note(LOST, 9, 6_000), (RESTORE,), False),
    # Within the backup the logs must agree: a different root there is no restore's doing.
    Case(
        "another root within what the backup held",
        _note(MerkleTree([leaf_hash(b"x" * 32)] * 6), 6, 4_000),
        (RESTORE,),
        False,
    ),
    Case(
        "an earlier restore explains it, the later one does not",
        _note(LOST, 9, 4_000),
        (RESTORE, RestorePoint(restored_ms=8_000, log_size=9)),
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_checkpoint_of_its_own_log_that_a_peer_holds(case: Case) -> None:
    size = case.other.checkpoint.size
    root = OURS.root(size) if size <= OURS.size else None
    own = sign_checkpoint(Checkpoint(ORIGIN, OURS.size, OURS.root(), 9_500), NODE, SEED)
    split = judge_own_log(OURS.size, root, own, case.other, case.restores)
    if case.restored is None:
        assert split is None
        return
    assert split is not None and split.origin == ORIGIN
    assert split.restored is case.restored
    assert ("restored from a backup" in split.reason) is case.restored
    assert ("its key signs another log" in split.reason) is not case.restored
