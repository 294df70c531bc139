"""Merkle tree hashing, inclusion proofs and consistency proofs of RFC 9162, section 2.1.

This is the Certificate Transparency v2 tree over SHA-256: a leaf hashes as
``SHA-256(0x00 || data)``, an interior node as ``SHA-256(0x01 || left || right)``,
and the empty tree as ``SHA-256()``. A tree of ``n > 1`` leaves splits at ``k``,
the largest power of two smaller than ``n``.

Everything here is pure (no I/O). There are three layers:

* plain functions over a sequence of leaf hashes (:func:`root_from_leaf_hashes`,
  :func:`inclusion_proof`, :func:`consistency_proof`), O(n) per call;
* :func:`inclusion_proof_from` and :func:`consistency_proof_from`, which take a
  :data:`SubtreeHasher` callable, so a storage layer that keeps subtree hashes on
  disk can produce proofs without loading every leaf;
* :class:`MerkleTree`, an append-only in-memory tree that keeps every complete
  subtree, so roots and proofs for any size it has ever had cost O(log n) hashes.

The verifiers (:func:`verify_inclusion`, :func:`verify_consistency`) follow the
algorithms of RFC 9162 2.1.3.2 and 2.1.4.2 step by step and raise
:class:`~protocol.errors.ProofError` when a proof does not hold. Arguments that
cannot be right whatever the proof says (a negative size, a root that is not 32
bytes, an index outside the tree when *generating* a proof) raise
:class:`~protocol.errors.UsageError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from .errors import ProofError, UsageError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "SubtreeHasher",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

#: Length in bytes of every hash in the tree (SHA-256).
HASH_SIZE = 32

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

#: MTH({}), the root of the tree with no leaves.
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``subtree_hash(start, end)`` returns MTH(D[start:end]), the root of the tree over
#: leaves ``start .. end - 1``. The proof builders call it only with
#: ``0 <= start < end <= tree_size`` and with ``start`` a multiple of the smallest
#: power of two ``>= end - start``: every range asked for is a prefix of an aligned
#: complete subtree, which a store keeping complete subtrees can answer in O(log n).
SubtreeHasher = Callable[[int, int], bytes]


# --- argument checks -------------------------------------------------------------


def _check_size(value: object, name: str) -> int:
    # bool is an int subclass; True as a tree size is always a caller bug.
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise UsageError(f"{name} must not be negative, got {value}")
    return value


def _check_hash(value: object, name: str) -> bytes:
    if not isinstance(value, bytes):
        raise UsageError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise UsageError(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    if isinstance(leaf_hashes, (bytes, bytearray, str)):
        # Iterating a bytes object yields ints: almost certainly a single hash
        # passed where a list of them was meant.
        raise UsageError(
            f"leaf_hashes must be a sequence of {HASH_SIZE}-byte hashes, "
            f"not a single {type(leaf_hashes).__name__} object"
        )
    # One fast pass for the common all-valid case; the slow pass names the culprit.
    if all(isinstance(value, bytes) and len(value) == HASH_SIZE for value in leaf_hashes):
        return
    for position, value in enumerate(leaf_hashes):
        _check_hash(value, f"leaf hash {position}")


def _check_proof(proof: Sequence[bytes], what: str) -> list[bytes]:
    """Copy ``proof`` into a list, refusing elements that can never be a tree hash.

    A proof usually comes from a peer, so a 31-byte element is a bad proof
    (ProofError), while an element that is not bytes at all means the caller
    skipped decoding (UsageError).
    """
    if isinstance(proof, (bytes, bytearray, str)):
        raise UsageError(
            f"{what} must be a sequence of {HASH_SIZE}-byte hashes, "
            f"not a single {type(proof).__name__} object"
        )
    try:
        elements = list(proof)
    except TypeError:
        raise UsageError(
            f"{what} must be a sequence of {HASH_SIZE}-byte hashes, not {type(proof).__name__}"
        ) from None
    for position, value in enumerate(elements):
        if not isinstance(value, bytes):
            raise UsageError(
                f"element {position} of the {what} must be bytes, got {type(value).__name__}"
            )
        if len(value) != HASH_SIZE:
            raise ProofError(
                f"element {position} of the {what} is {len(value)} bytes, not {HASH_SIZE}"
            )
    return elements


# --- hashing ---------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry."""
    if not isinstance(data, bytes):
        raise UsageError(f"leaf data must be bytes, got {type(data).__name__}")
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    _check_hash(left, "left child hash")
    _check_hash(right, "right child hash")
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _node(left: bytes | bytearray, right: bytes | bytearray) -> bytes:
    # Unchecked node_hash for internal loops, where the inputs are our own hashes.
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(width: int) -> int:
    """k of RFC 9162: the largest power of two strictly smaller than ``width`` (>= 2)."""
    return 1 << ((width - 1).bit_length() - 1)


def _fold_peaks(peaks: list[bytes]) -> bytes:
    # The RFC tree over n leaves is the complete subtrees of n's binary
    # decomposition, largest first, joined from the right.
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = _node(peak, root)
    return root


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]) for ``start < end``, with O(log n) memory and no slicing."""
    # After c leaves the stack holds the roots of the complete subtrees of c's
    # binary decomposition; the leaf that makes the count c completes one more
    # subtree per trailing zero bit of c. This builds the same tree as the
    # recursive definition without copying the sequence.
    stack: list[bytes] = []
    sha256 = hashlib.sha256
    for count, position in enumerate(range(start, end), start=1):
        node = leaf_hashes[position]
        merges = count
        while merges & 1 == 0:
            node = sha256(_NODE_PREFIX + stack.pop() + node).digest()
            merges >>= 1
        stack.append(node)
    return _fold_peaks(stack)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]): the root of the tree whose leaves hash to ``leaf_hashes``."""
    _check_leaf_hashes(leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


# --- proof shapes ----------------------------------------------------------------


def _inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make up PATH(index, D[tree_size]), in proof order."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, tree_size
    # Walking from the root down collects siblings top first; PATH lists them
    # bottom first, hence the reversal.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make up PROOF(old_size, D[new_size]), in proof order.

    Only defined for ``0 < old_size < new_size``; the other cases have empty proofs.
    """
    ranges: list[tuple[int, int]] = []
    start, end = 0, new_size
    # ``whole`` is SUBPROOF's b: true while the old tree is a prefix of the
    # left-most path, where its root is already known to the verifier.
    whole = True
    while old_size != end:
        middle = start + _split(end - start)
        if old_size <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _hashes_for(ranges: list[tuple[int, int]], subtree_hash: SubtreeHasher) -> list[bytes]:
    hashes: list[bytes] = []
    for start, end in ranges:
        value = subtree_hash(start, end)
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
            raise UsageError(
                f"subtree_hash({start}, {end}) returned {got}, not a {HASH_SIZE}-byte hash"
            )
        hashes.append(value)
    return hashes


def _check_index(index: object, tree_size: int) -> int:
    checked = _check_size(index, "leaf index")
    if checked >= tree_size:
        raise UsageError(f"leaf index {checked} is outside a tree of {tree_size} leaves")
    return checked


def _check_sizes(old_size: object, new_size: object) -> tuple[int, int]:
    old = _check_size(old_size, "old tree size")
    new = _check_size(new_size, "new tree size")
    if old > new:
        raise UsageError(
            f"old tree size {old} is larger than new tree size {new}; "
            "a log only grows, so pass the sizes in order"
        )
    return old, new


# --- proof generation ------------------------------------------------------------


def inclusion_proof_from(subtree_hash: SubtreeHasher, index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) of RFC 9162 2.1.3.1, built from ``subtree_hash``.

    Calls ``subtree_hash`` once per proof element (about log2(tree_size) times).
    """
    tree_size = _check_size(tree_size, "tree size")
    index = _check_index(index, tree_size)
    return _hashes_for(_inclusion_ranges(index, tree_size), subtree_hash)


def consistency_proof_from(
    subtree_hash: SubtreeHasher, old_size: int, new_size: int
) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 2.1.4.1, built from ``subtree_hash``.

    The proof is empty when ``old_size`` is 0 or equal to ``new_size``: every tree
    extends the empty tree, and a tree extends itself.
    """
    old, new = _check_sizes(old_size, new_size)
    if old in (0, new):
        return []
    return _hashes_for(_consistency_ranges(old, new), subtree_hash)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) for the tree over all of ``leaf_hashes`` (O(n) hashes)."""
    _check_leaf_hashes(leaf_hashes)
    return inclusion_proof_from(
        lambda start, end: _range_root(leaf_hashes, start, end), index, len(leaf_hashes)
    )


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) for the tree over all of ``leaf_hashes`` (O(n) hashes)."""
    _check_leaf_hashes(leaf_hashes)
    return consistency_proof_from(
        lambda start, end: _range_root(leaf_hashes, start, end), old_size, len(leaf_hashes)
    )


# --- verification ----------------------------------------------------------------


def _lsb(value: int) -> bool:
    return value & 1 == 1


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``proof`` puts ``leaf_hash`` at ``index`` of the tree of ``tree_size``
    leaves whose root is ``root`` (RFC 9162 2.1.3.2); raise ProofError if it does not.
    """
    leaf = _check_hash(leaf_hash, "leaf hash")
    root = _check_hash(root, "root hash")
    index = _check_size(index, "leaf index")
    tree_size = _check_size(tree_size, "tree size")
    path = _check_proof(proof, "inclusion proof")
    where = f"inclusion proof for leaf {index} of {tree_size}"

    # Step 1. An index outside the tree is something a peer claimed, so it fails
    # the proof rather than being a usage error.
    if index >= tree_size:
        raise ProofError(f"{where} is impossible: leaf {index} is outside a tree of {tree_size}")
    # Steps 2 and 3.
    fn, sn = index, tree_size - 1
    r = leaf
    # Step 4.
    for p in path:
        if sn == 0:
            raise ProofError(
                f"{where} has {len(path)} hashes, more than the "
                f"{len(_inclusion_ranges(index, tree_size))} such a proof has"
            )
        if _lsb(fn) or fn == sn:
            r = _node(p, r)
            while not _lsb(fn) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise ProofError(
            f"{where} has {len(path)} hashes, fewer than the "
            f"{len(_inclusion_ranges(index, tree_size))} such a proof has"
        )
    if r != root:
        raise ProofError(f"{where} does not lead to the checkpoint root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` leaves with root ``new_root`` extends the tree
    of ``old_size`` leaves with root ``old_root`` (RFC 9162 2.1.4.2); raise ProofError
    if ``proof`` does not show it.

    RFC 9162 defines the algorithm for ``0 < old_size < new_size``. For equal sizes
    the proof must be empty and the roots equal; from size 0 the proof must be empty
    and ``old_root`` must be the empty-tree root.
    """
    old_size, new_size = _check_sizes(old_size, new_size)
    first_hash = _check_hash(old_root, "old root hash")
    second_hash = _check_hash(new_root, "new root hash")
    path = _check_proof(proof, "consistency proof")
    where = f"consistency proof from size {old_size} to {new_size}"

    if old_size in (0, new_size):
        if path:
            raise ProofError(f"{where} must be empty, but has {len(path)} hashes")
        if old_size == 0 and first_hash != EMPTY_ROOT:
            raise ProofError(
                "the old checkpoint has size 0 but its root is not the empty-tree root"
            )
        if old_size == new_size and first_hash != second_hash:
            raise ProofError(
                f"two checkpoints of size {new_size} have different roots: the log has forked"
            )
        return

    supplied = len(path)
    expected = len(_consistency_ranges(old_size, new_size))
    # Step 1.
    if not path:
        raise ProofError(f"{where} is empty; such a proof has {expected} hashes")
    # Step 2. For a power-of-two old size the old root is itself a node of the new
    # tree, so the generator leaves it out and the verifier supplies it.
    if old_size & (old_size - 1) == 0:
        path = [first_hash, *path]
    # Step 3.
    fn, sn = old_size - 1, new_size - 1
    # Step 4.
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                f"{where} has {supplied} hashes, more than the {expected} such a proof has"
            )
        if _lsb(fn) or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not _lsb(fn) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ProofError(
            f"{where} has {supplied} hashes, fewer than the {expected} such a proof has"
        )
    if fr != first_hash:
        raise ProofError(f"{where} does not lead to the old checkpoint root")
    if sr != second_hash:
        raise ProofError(f"{where} does not lead to the new checkpoint root")


# --- incremental tree ------------------------------------------------------------


class MerkleTree:
    """An append-only RFC 9162 tree that answers for every size it has had.

    It stores, for each height h, the roots of all complete subtrees of 2**h leaves
    (a subtree never changes once complete), packed into one bytearray per height:
    about 64 bytes per leaf. Any root or proof for a size up to :attr:`size` is then
    O(log n) hashes. Appending costs one hash per completed subtree, amortised < 2.

    Not thread-safe: callers that share one tree across threads must lock it.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[h][32*i : 32*(i+1)] is the root of leaves [i * 2**h, (i+1) * 2**h).
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"MerkleTree(size={self._size})"

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf (already hashed with :func:`leaf_hash`) at index :attr:`size`."""
        node = _check_hash(leaf_hash, "leaf hash")
        levels = self._levels
        levels[0] += node
        self._size += 1
        height = 0
        # Each trailing zero bit of the new size is a subtree the new leaf completed.
        while (self._size >> height) & 1 == 0:
            node = _node(levels[height][-2 * HASH_SIZE : -HASH_SIZE], node)
            height += 1
            if height == len(levels):
                levels.append(bytearray())
            levels[height] += node

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append each of ``leaf_hashes`` in order."""
        if isinstance(leaf_hashes, (bytes, bytearray, str)):
            raise UsageError(
                f"leaf_hashes must be an iterable of {HASH_SIZE}-byte hashes, "
                f"not a single {type(leaf_hashes).__name__} object"
            )
        for value in leaf_hashes:
            self.append(value)

    def _size_or_current(self, size: int | None, name: str) -> int:
        if size is None:
            return self._size
        size = _check_size(size, name)
        if size > self._size:
            raise UsageError(
                f"{name} {size} is larger than the tree, which has {self._size} leaves"
            )
        return size

    def _stored(self, height: int, position: int) -> bytes:
        offset = position * HASH_SIZE
        return bytes(self._levels[height][offset : offset + HASH_SIZE])

    def _range_root(self, start: int, end: int) -> bytes:
        # Peel complete left subtrees off the range; for the ranges proofs ask for
        # (prefixes of aligned subtrees) each is a stored node, so this is O(log n).
        peaks: list[bytes] = []
        while True:
            width = end - start
            if width & (width - 1) == 0 and start % width == 0:
                peaks.append(self._stored(width.bit_length() - 1, start // width))
                break
            middle = start + _split(width)
            peaks.append(self._range_root(start, middle))
            start = middle
        return _fold_peaks(peaks)

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) over leaves ``start .. end - 1``.

        O(log n) for the ranges :data:`SubtreeHasher` describes; correct but up to
        O(end - start) for others. This method is itself a :data:`SubtreeHasher`.
        """
        start = _check_size(start, "subtree start")
        end = _check_size(end, "subtree end")
        if not start < end <= self._size:
            raise UsageError(
                f"subtree [{start}, {end}) is not a non-empty range of a tree of "
                f"{self._size} leaves"
            )
        return self._range_root(start, end)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all of them)."""
        size = self._size_or_current(size, "tree size")
        if size == 0:
            return EMPTY_ROOT
        return self._range_root(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) for the first ``size`` leaves (default: all of them)."""
        size = self._size_or_current(size, "tree size")
        return inclusion_proof_from(self._range_root, index, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) (``new_size`` defaults to the current size)."""
        new_size = self._size_or_current(new_size, "new tree size")
        return consistency_proof_from(self._range_root, old_size, new_size)
