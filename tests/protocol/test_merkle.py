"""Tests for protocol.merkle against RFC 9162 section 2.1.

The module is checked three ways: against a deliberately naive recursive reference
written straight from the RFC's definitions (every size up to 64), against the
published Certificate Transparency test vectors, and with Hypothesis on larger
trees. Every proof it generates must verify, and every tampered proof must fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import IloError, ProofError, UsageError
from protocol.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# --- reference implementation: RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1, verbatim -----
# Recursive, slicing, and independent of the module (own hashing, own split).


def ref_sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over raw entries."""
    n = len(d)
    if n == 0:
        return ref_sha256(b"")
    if n == 1:
        return ref_sha256(b"\x00" + d[0])
    k = ref_k(n)
    return ref_sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), with the empty proof for m == 0 and m == n."""
    if m in (0, len(d)):
        return []
    return ref_subproof(m, d, True)


# --- fixtures as module data ---------------------------------------------------------

MAX_EXHAUSTIVE = 64
MAX_RANDOM = 2000

# Entry 0 is empty on purpose: an empty log entry is still a leaf.
DATA = [b""] + [b"entry %d" % i for i in range(1, MAX_RANDOM + 1)]
LEAVES = [ref_sha256(b"\x00" + d) for d in DATA]
REF_ROOTS = [ref_mth(DATA[:n]) for n in range(MAX_EXHAUSTIVE + 3)]


def _grow(leaves: Sequence[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for value in leaves:
        tree.append(value)
    return tree


# Built one append at a time; every test asks it about sizes it had in the past.
TREE = _grow(LEAVES)

# Certificate Transparency reference data (RFC 6962 test vectors, same tree as
# RFC 9162): eight entries, the root at every size, and some proofs.
CT_DATA = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
_H1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
_H23 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
_H4567 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
_H4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
_H67 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
_H45 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
CT_INCLUSION = [  # (index, tree size, proof) with 0-based indices
    (0, 8, [_H1, _H23, _H4567]),
    (5, 8, [_H4, _H67, CT_ROOTS[4]]),
    (2, 3, [CT_ROOTS[2]]),
    (1, 5, [CT_ROOTS[1], _H23, _H4]),
]
CT_CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, [_H1, _H23, _H4567]),
    (6, 8, [_H45, _H67, CT_ROOTS[4]]),
    (2, 5, [_H23, _H4]),
]

NO_DB = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flip_bit(value: bytes, bit: int = 0) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


# --- known answers -------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    expected = bytes.fromhex(CT_ROOTS[0])
    assert hashlib.sha256(b"").digest() == expected
    assert expected == EMPTY_ROOT
    assert root_from_leaf_hashes([]) == expected
    assert MerkleTree().root() == expected
    assert TREE.root(0) == expected


def test_leaf_and_node_hash_prefixes() -> None:
    assert leaf_hash(b"") == bytes.fromhex(CT_ROOTS[1])
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = bytes(range(32)), bytes(range(32, 64))
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)
    assert HASH_SIZE == 32


def test_one_leaf_root_is_the_leaf_hash() -> None:
    h = hashlib.sha256(b"\x00only").digest()
    assert root_from_leaf_hashes([h]) == h
    assert MerkleTree([h]).root() == h
    assert inclusion_proof([h], 0) == []
    verify_inclusion(h, 0, 1, [], h)


def test_two_and_three_leaf_roots_by_hand() -> None:
    a = hashlib.sha256(b"\x00a").digest()
    b = hashlib.sha256(b"\x00b").digest()
    c = hashlib.sha256(b"\x00c").digest()
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    abc = hashlib.sha256(b"\x01" + ab + c).digest()
    assert root_from_leaf_hashes([a, b]) == ab
    assert root_from_leaf_hashes([a, b, c]) == abc
    tree = MerkleTree([a, b, c])
    assert (tree.root(2), tree.root(3)) == (ab, abc)
    assert inclusion_proof([a, b, c], 0) == [b, c]
    assert inclusion_proof([a, b, c], 2) == [ab]
    assert consistency_proof([a, b, c], 2) == [c]
    assert consistency_proof([a, b, c], 1) == [b, c]


def test_certificate_transparency_roots() -> None:
    leaves = [leaf_hash(d) for d in CT_DATA]
    tree = _grow(leaves)
    for size, expected in enumerate(CT_ROOTS):
        assert root_from_leaf_hashes(leaves[:size]).hex() == expected, size
        assert tree.root(size).hex() == expected, size


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_certificate_transparency_inclusion(index: int, size: int, proof: list[str]) -> None:
    leaves = [leaf_hash(d) for d in CT_DATA]
    assert [p.hex() for p in inclusion_proof(leaves[:size], index)] == proof
    assert [p.hex() for p in MerkleTree(leaves).inclusion_proof(index, size)] == proof
    verify_inclusion(
        leaves[index], index, size, [bytes.fromhex(p) for p in proof], bytes.fromhex(CT_ROOTS[size])
    )


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_certificate_transparency_consistency(old: int, new: int, proof: list[str]) -> None:
    leaves = [leaf_hash(d) for d in CT_DATA]
    assert [p.hex() for p in consistency_proof(leaves[:new], old)] == proof
    assert [p.hex() for p in MerkleTree(leaves).consistency_proof(old, new)] == proof
    verify_consistency(
        old,
        new,
        bytes.fromhex(CT_ROOTS[old]),
        bytes.fromhex(CT_ROOTS[new]),
        [bytes.fromhex(p) for p in proof],
    )


# --- exhaustive agreement with the reference, sizes 0..64 ---------------------------

SIZES = range(MAX_EXHAUSTIVE + 1)


@pytest.mark.parametrize("size", SIZES)
def test_root_matches_reference(size: int) -> None:
    assert root_from_leaf_hashes(LEAVES[:size]) == REF_ROOTS[size]
    assert TREE.root(size) == REF_ROOTS[size]
    assert _grow(LEAVES[:size]).root() == REF_ROOTS[size]
    if size:
        assert TREE.subtree_hash(0, size) == REF_ROOTS[size]


@pytest.mark.parametrize("size", SIZES)
def test_inclusion_matches_reference_and_verifies(size: int) -> None:
    for index in range(size):
        expected = ref_path(index, DATA[:size])
        assert inclusion_proof(LEAVES[:size], index) == expected, index
        assert TREE.inclusion_proof(index, size) == expected, index
        verify_inclusion(LEAVES[index], index, size, expected, REF_ROOTS[size])


@pytest.mark.parametrize("size", SIZES)
def test_consistency_matches_reference_and_verifies(size: int) -> None:
    for old in range(size + 1):
        expected = ref_proof(old, DATA[:size])
        assert consistency_proof(LEAVES[:size], old) == expected, old
        assert TREE.consistency_proof(old, size) == expected, old
        verify_consistency(old, size, REF_ROOTS[old], REF_ROOTS[size], expected)


# --- tampering -----------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionClaim:
    leaf: bytes
    index: int
    size: int
    proof: list[bytes]
    root: bytes

    def verify(self) -> None:
        verify_inclusion(self.leaf, self.index, self.size, self.proof, self.root)


def honest_inclusion(index: int, size: int) -> InclusionClaim:
    return InclusionClaim(LEAVES[index], index, size, ref_path(index, DATA[:size]), REF_ROOTS[size])


def _flip_each_proof_bit(c: InclusionClaim) -> list[InclusionClaim]:
    return [
        replace(c, proof=[*c.proof[:i], flip_bit(p, bit), *c.proof[i + 1 :]])
        for i, p in enumerate(c.proof)
        for bit in (0, 7, 100, 255)
    ]


def _every_other_index(c: InclusionClaim) -> list[InclusionClaim]:
    return [replace(c, index=j) for j in range(c.size) if j != c.index]


def _proof_of_another_leaf(c: InclusionClaim) -> list[InclusionClaim]:
    # The leaf and index of j, with the path of the original leaf.
    return [replace(c, leaf=LEAVES[j], index=j) for j in range(c.size) if j != c.index]


def _other_leaf_hash(c: InclusionClaim) -> list[InclusionClaim]:
    return [replace(c, leaf=flip_bit(c.leaf)), replace(c, leaf=LEAVES[c.size + 1])]


def _index_at_tree_size(c: InclusionClaim) -> list[InclusionClaim]:
    return [replace(c, index=c.size), replace(c, index=c.size + 5)]


def _other_tree_size(c: InclusionClaim) -> list[InclusionClaim]:
    # A checkpoint is (size, root) together, so the wrong size comes with its own root.
    sizes = [s for s in (c.size - 1, c.size + 1, c.size + 2) if s > c.index]
    return [replace(c, size=s, root=REF_ROOTS[s]) for s in sizes]


def _root_of_other_size(c: InclusionClaim) -> list[InclusionClaim]:
    return [replace(c, root=REF_ROOTS[c.size + 1]), replace(c, root=flip_bit(c.root, 255))]


def _truncated(c: InclusionClaim) -> list[InclusionClaim]:
    return [replace(c, proof=c.proof[:-1]), replace(c, proof=c.proof[1:]), replace(c, proof=[])]


def _extended(c: InclusionClaim) -> list[InclusionClaim]:
    extra = REF_ROOTS[1]
    return [
        replace(c, proof=[*c.proof, extra]),
        replace(c, proof=[extra, *c.proof]),
        replace(c, proof=[*c.proof, c.proof[-1]]),
    ]


def _reordered(c: InclusionClaim) -> list[InclusionClaim]:
    return [replace(c, proof=c.proof[::-1])] if len(set(c.proof)) > 1 else []


INCLUSION_TAMPERS: dict[str, Callable[[InclusionClaim], list[InclusionClaim]]] = {
    "flipped_bit_in_a_proof_element": _flip_each_proof_bit,
    "wrong_index": _every_other_index,
    "proof_of_another_leaf": _proof_of_another_leaf,
    "wrong_leaf_hash": _other_leaf_hash,
    "index_not_below_tree_size": _index_at_tree_size,
    "wrong_tree_size": _other_tree_size,
    "wrong_root": _root_of_other_size,
    "truncated_proof": _truncated,
    "extended_proof": _extended,
    "reordered_proof": _reordered,
}
INCLUSION_CASES = [(0, 2), (1, 2), (2, 3), (4, 5), (3, 7), (5, 8), (6, 13), (15, 16), (0, 33)]


@pytest.mark.parametrize(("index", "size"), INCLUSION_CASES, ids=str)
@pytest.mark.parametrize("tamper", INCLUSION_TAMPERS.values(), ids=INCLUSION_TAMPERS.keys())
def test_tampered_inclusion_proof_is_rejected(
    tamper: Callable[[InclusionClaim], list[InclusionClaim]], index: int, size: int
) -> None:
    honest = honest_inclusion(index, size)
    honest.verify()
    for bad in tamper(honest):
        with pytest.raises(ProofError):
            bad.verify()


def test_one_leaf_tree_rejects_any_nonempty_proof() -> None:
    with pytest.raises(ProofError, match="more than the 0"):
        verify_inclusion(LEAVES[0], 0, 1, [LEAVES[1]], LEAVES[0])


@dataclass(frozen=True)
class ConsistencyClaim:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]

    def verify(self) -> None:
        verify_consistency(self.old_size, self.new_size, self.old_root, self.new_root, self.proof)


def honest_consistency(old: int, new: int) -> ConsistencyClaim:
    return ConsistencyClaim(old, new, REF_ROOTS[old], REF_ROOTS[new], ref_proof(old, DATA[:new]))


def _c_flip_each_proof_bit(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    return [
        replace(c, proof=[*c.proof[:i], flip_bit(p, bit), *c.proof[i + 1 :]])
        for i, p in enumerate(c.proof)
        for bit in (0, 7, 100, 255)
    ]


def _c_swapped_roots(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    return [replace(c, old_root=c.new_root, new_root=c.old_root)]


def _c_wrong_old_root(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    return [
        replace(c, old_root=flip_bit(c.old_root)),
        replace(c, old_root=REF_ROOTS[c.old_size + 1]),
        replace(c, old_root=REF_ROOTS[c.old_size - 1]),
    ]


def _c_wrong_new_root(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    return [
        replace(c, new_root=flip_bit(c.new_root)),
        replace(c, new_root=REF_ROOTS[c.new_size + 1]),
    ]


def _c_wrong_old_size(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    sizes = [s for s in (c.old_size - 1, c.old_size + 1) if 0 < s < c.new_size]
    return [replace(c, old_size=s, old_root=REF_ROOTS[s]) for s in sizes]


def _c_wrong_new_size(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    sizes = [s for s in (c.new_size - 1, c.new_size + 1, c.new_size + 2) if s > c.old_size]
    return [replace(c, new_size=s, new_root=REF_ROOTS[s]) for s in sizes]


def _c_truncated(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    return [replace(c, proof=c.proof[:-1]), replace(c, proof=c.proof[1:]), replace(c, proof=[])]


def _c_extended(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    extra = REF_ROOTS[1]
    return [
        replace(c, proof=[*c.proof, extra]),
        replace(c, proof=[extra, *c.proof]),
        replace(c, proof=[c.old_root, *c.proof]),
    ]


def _c_reordered(c: ConsistencyClaim) -> list[ConsistencyClaim]:
    return [replace(c, proof=c.proof[::-1])] if len(set(c.proof)) > 1 else []


CONSISTENCY_TAMPERS: dict[str, Callable[[ConsistencyClaim], list[ConsistencyClaim]]] = {
    "flipped_bit_in_a_proof_element": _c_flip_each_proof_bit,
    "swapped_roots": _c_swapped_roots,
    "wrong_old_root": _c_wrong_old_root,
    "wrong_new_root": _c_wrong_new_root,
    "wrong_old_size": _c_wrong_old_size,
    "wrong_new_size": _c_wrong_new_size,
    "truncated_proof": _c_truncated,
    "extended_proof": _c_extended,
    "reordered_proof": _c_reordered,
}
CONSISTENCY_CASES = [(1, 2), (1, 8), (2, 3), (3, 7), (4, 8), (5, 13), (6, 33), (7, 8), (16, 17)]


@pytest.mark.parametrize(("old", "new"), CONSISTENCY_CASES, ids=str)
@pytest.mark.parametrize("tamper", CONSISTENCY_TAMPERS.values(), ids=CONSISTENCY_TAMPERS.keys())
def test_tampered_consistency_proof_is_rejected(
    tamper: Callable[[ConsistencyClaim], list[ConsistencyClaim]], old: int, new: int
) -> None:
    honest = honest_consistency(old, new)
    honest.verify()
    for bad in tamper(honest):
        with pytest.raises(ProofError):
            bad.verify()


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    verify_consistency(5, 5, REF_ROOTS[5], REF_ROOTS[5], [])
    with pytest.raises(ProofError, match="size 5 have different roots"):
        verify_consistency(5, 5, REF_ROOTS[5], REF_ROOTS[6], [])
    with pytest.raises(ProofError, match="must be empty, but has 1 hashes"):
        verify_consistency(5, 5, REF_ROOTS[5], REF_ROOTS[5], [REF_ROOTS[5]])


def test_from_the_empty_tree_needs_an_empty_proof_and_the_empty_root() -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 9, EMPTY_ROOT, REF_ROOTS[9], [])
    with pytest.raises(ProofError, match="not the empty-tree root"):
        verify_consistency(0, 9, REF_ROOTS[1], REF_ROOTS[9], [])
    with pytest.raises(ProofError, match="not the empty-tree root"):
        verify_consistency(0, 0, REF_ROOTS[1], REF_ROOTS[1], [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 9, EMPTY_ROOT, REF_ROOTS[9], [REF_ROOTS[9]])


# --- error messages --------------------------------------------------------------------


def test_messages_name_the_leaf_size_and_what_failed() -> None:
    good = honest_inclusion(5, 8)
    with pytest.raises(
        ProofError, match=r"^inclusion proof for leaf 5 of 8 does not lead to the checkpoint root$"
    ):
        replace(good, root=REF_ROOTS[9]).verify()
    with pytest.raises(ProofError, match="leaf 5 of 8 has 2 hashes, fewer than the 3"):
        replace(good, proof=good.proof[:2]).verify()
    with pytest.raises(ProofError, match="leaf 5 of 8 has 4 hashes, more than the 3"):
        replace(good, proof=[*good.proof, good.proof[0]]).verify()
    with pytest.raises(ProofError, match="leaf 8 is outside a tree of 8"):
        replace(good, index=8).verify()
    with pytest.raises(ProofError, match="element 1 of the inclusion proof is 31 bytes, not 32"):
        replace(good, proof=[good.proof[0], good.proof[1][:31], good.proof[2]]).verify()

    cons = honest_consistency(3, 7)
    with pytest.raises(ProofError, match="from size 3 to 7 does not lead to the old checkpoint"):
        replace(cons, old_root=REF_ROOTS[2]).verify()
    with pytest.raises(ProofError, match="from size 3 to 7 does not lead to the new checkpoint"):
        replace(cons, new_root=REF_ROOTS[8]).verify()
    with pytest.raises(ProofError, match="from size 3 to 7 is empty; such a proof has 4 hashes"):
        replace(cons, proof=[]).verify()

    with pytest.raises(ProofError) as caught:
        replace(good, root=REF_ROOTS[9]).verify()
    error = caught.value
    assert isinstance(error, IloError)
    assert error.advice
    assert error.diagnostics().startswith("error: inclusion proof for leaf 5 of 8")


# --- invalid arguments ------------------------------------------------------------------

SHORT = b"\x00" * 31


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: inclusion_proof(LEAVES[:8], 8),
            "leaf index 8 is outside a tree of 8",
            id="inclusion_index_at_size",
        ),
        pytest.param(
            lambda: inclusion_proof(LEAVES[:8], -1),
            "leaf index must not be negative",
            id="inclusion_negative_index",
        ),
        pytest.param(
            lambda: inclusion_proof(LEAVES[:8], True),
            "leaf index must be an int",
            id="inclusion_bool_index",
        ),
        pytest.param(
            lambda: inclusion_proof([], 0), "outside a tree of 0", id="inclusion_in_empty_tree"
        ),
        pytest.param(
            lambda: consistency_proof(LEAVES[:8], 9),
            "old tree size 9 is larger than",
            id="consistency_old_larger_than_new",
        ),
        pytest.param(
            lambda: consistency_proof(LEAVES[:8], -2),
            "must not be negative",
            id="consistency_negative_old_size",
        ),
        pytest.param(
            lambda: root_from_leaf_hashes([LEAVES[0], SHORT]),
            "leaf hash 1 must be 32 bytes, got 31",
            id="root_short_leaf_hash",
        ),
        pytest.param(
            lambda: root_from_leaf_hashes(["ab" * 16]),  # type: ignore[list-item]
            "leaf hash 0 must be bytes, got str",
            id="root_text_leaf_hash",
        ),
        pytest.param(
            lambda: root_from_leaf_hashes(LEAVES[0]),  # type: ignore[arg-type]
            "not a single bytes object",
            id="root_single_hash_instead_of_list",
        ),
        pytest.param(
            lambda: leaf_hash("text"),  # type: ignore[arg-type]
            "leaf data must be bytes",
            id="leaf_hash_of_text",
        ),
        pytest.param(
            lambda: node_hash(LEAVES[0], SHORT),
            "right child hash must be 32 bytes",
            id="node_hash_short_child",
        ),
        pytest.param(
            lambda: verify_inclusion(SHORT, 0, 1, [], LEAVES[0]),
            "leaf hash must be 32 bytes",
            id="verify_inclusion_short_leaf",
        ),
        pytest.param(
            lambda: verify_inclusion(LEAVES[0], 0, 1, [], SHORT),
            "root hash must be 32 bytes",
            id="verify_inclusion_short_root",
        ),
        pytest.param(
            lambda: verify_inclusion(LEAVES[0], 0, -1, [], LEAVES[0]),
            "tree size must not be negative",
            id="verify_inclusion_negative_size",
        ),
        pytest.param(
            lambda: verify_inclusion(LEAVES[0], 0, 2, LEAVES[1], REF_ROOTS[2]),  # type: ignore[arg-type]
            "not a single bytes object",
            id="verify_inclusion_proof_is_one_hash",
        ),
        pytest.param(
            lambda: verify_inclusion(
                LEAVES[0],
                0,
                2,
                [LEAVES[1].hex()],  # type: ignore[list-item]
                REF_ROOTS[2],
            ),
            "element 0 of the inclusion proof must be bytes, got str",
            id="verify_inclusion_text_element",
        ),
        pytest.param(
            lambda: verify_consistency(5, 4, REF_ROOTS[5], REF_ROOTS[4], []),
            "old tree size 5 is larger than new tree size 4",
            id="verify_consistency_old_larger_than_new",
        ),
        pytest.param(
            lambda: verify_consistency(1, 2, SHORT, REF_ROOTS[2], []),
            "old root hash must be 32 bytes",
            id="verify_consistency_short_old_root",
        ),
        pytest.param(
            lambda: verify_consistency(1, 2.0, REF_ROOTS[1], REF_ROOTS[2], []),  # type: ignore[arg-type]
            "new tree size must be an int, got float",
            id="verify_consistency_float_size",
        ),
        pytest.param(
            lambda: TREE.root(MAX_RANDOM + 2), "larger than the tree", id="tree_root_beyond_size"
        ),
        pytest.param(
            lambda: TREE.inclusion_proof(3, MAX_RANDOM + 2),
            "larger than the tree",
            id="tree_inclusion_beyond_size",
        ),
        pytest.param(
            lambda: TREE.inclusion_proof(9, 9),
            "leaf index 9 is outside a tree of 9",
            id="tree_inclusion_index_at_historical_size",
        ),
        pytest.param(
            lambda: TREE.consistency_proof(10, 9),
            "old tree size 10 is larger",
            id="tree_consistency_old_larger_than_new",
        ),
        pytest.param(
            lambda: TREE.subtree_hash(4, 4), "not a non-empty range", id="tree_empty_subtree"
        ),
        pytest.param(
            lambda: MerkleTree().append(SHORT),
            "leaf hash must be 32 bytes",
            id="tree_append_short_hash",
        ),
        pytest.param(
            lambda: MerkleTree(LEAVES[0]),  # type: ignore[arg-type]
            "not a single bytes object",
            id="tree_built_from_one_hash",
        ),
        pytest.param(
            lambda: inclusion_proof_from(lambda s, e: SHORT, 0, 2),
            r"subtree_hash\(1, 2\) returned 31 bytes",
            id="hasher_returns_short_hash",
        ),
    ],
)
def test_invalid_arguments_raise_usage_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        call()


def test_failed_append_leaves_the_tree_unchanged() -> None:
    tree = MerkleTree(LEAVES[:3])
    with pytest.raises(UsageError):
        tree.append(SHORT)
    assert len(tree) == tree.size == 3
    assert tree.root() == REF_ROOTS[3]


# --- subtree hasher contract -------------------------------------------------------------


def _is_aligned_prefix(start: int, end: int) -> bool:
    width = end - start
    span = 1 << (width - 1).bit_length()  # smallest power of two >= width
    return start % span == 0


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 64])
def test_proof_builders_only_ask_for_aligned_subtrees(size: int) -> None:
    asked: list[tuple[int, int]] = []

    def hasher(start: int, end: int) -> bytes:
        asked.append((start, end))
        assert 0 <= start < end <= size
        return ref_mth(DATA[start:end])

    for index in range(size):
        assert inclusion_proof_from(hasher, index, size) == ref_path(index, DATA[:size])
    for old in range(size + 1):
        assert consistency_proof_from(hasher, old, size) == ref_proof(old, DATA[:size])
    assert asked or size == 1
    assert all(_is_aligned_prefix(start, end) for start, end in asked)


def test_subtree_hash_of_unaligned_ranges_is_still_correct() -> None:
    for start, end in [(1, 2), (1, 4), (3, 11), (5, 6), (7, 40), (13, 64)]:
        assert TREE.subtree_hash(start, end) == ref_mth(DATA[start:end]), (start, end)


# --- larger trees with Hypothesis -------------------------------------------------------


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_RANDOM))
    return size, draw(st.integers(0, size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(0, MAX_RANDOM))
    return draw(st.integers(0, new)), new


@settings(NO_DB, max_examples=60)
@given(size_and_index(), st.integers(0, 255))
def test_inclusion_round_trip_on_large_trees(case: tuple[int, int], bit: int) -> None:
    size, index = case
    proof = inclusion_proof(LEAVES[:size], index)
    root = root_from_leaf_hashes(LEAVES[:size])
    assert TREE.inclusion_proof(index, size) == proof
    assert TREE.root(size) == root
    verify_inclusion(LEAVES[index], index, size, proof, root)
    for position in range(len(proof)):
        tampered = [*proof[:position], flip_bit(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(ProofError):
            verify_inclusion(LEAVES[index], index, size, tampered, root)


@settings(NO_DB, max_examples=60)
@given(two_sizes(), st.integers(0, 255))
def test_consistency_round_trip_on_large_trees(sizes: tuple[int, int], bit: int) -> None:
    old, new = sizes
    proof = consistency_proof(LEAVES[:new], old)
    old_root = root_from_leaf_hashes(LEAVES[:old])
    new_root = root_from_leaf_hashes(LEAVES[:new])
    assert TREE.consistency_proof(old, new) == proof
    assert (TREE.root(old), TREE.root(new)) == (old_root, new_root)
    verify_consistency(old, new, old_root, new_root, proof)
    for position in range(len(proof)):
        tampered = [*proof[:position], flip_bit(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, tampered)


@settings(NO_DB, max_examples=25)
@given(st.lists(st.binary(max_size=8), max_size=300), st.data())
def test_incremental_tree_answers_for_every_past_size(
    entries: list[bytes], data: st.DataObject
) -> None:
    leaves = [leaf_hash(e) for e in entries]
    tree = MerkleTree()
    roots = [tree.root()]
    for value in leaves:
        tree.append(value)
        roots.append(tree.root())
    # Roots recorded while growing must still be what the grown tree says about the past.
    for size, root in enumerate(roots):
        assert tree.root(size) == root == root_from_leaf_hashes(leaves[:size])
    new = data.draw(st.integers(0, len(leaves)), label="new size")
    old = data.draw(st.integers(0, new), label="old size")
    assert tree.consistency_proof(old, new) == consistency_proof(leaves[:new], old)
    verify_consistency(old, new, roots[old], roots[new], tree.consistency_proof(old, new))
    if new:
        index = data.draw(st.integers(0, new - 1), label="index")
        assert tree.inclusion_proof(index, new) == inclusion_proof(leaves[:new], index)


@settings(NO_DB, max_examples=40)
@given(two_sizes())
def test_subtree_hash_matches_reference_on_arbitrary_ranges(sizes: tuple[int, int]) -> None:
    start, end = sizes
    if start == end:
        return
    assert TREE.subtree_hash(start, end) == root_from_leaf_hashes(LEAVES[start:end])
