"""The Merkle tree against RFC 6962 reference vectors, a naive reference, and properties."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.tlog import (
    EMPTY_ROOT,
    ProofError,
    TileHashes,
    Tree,
    consistency_proof,
    hash_tile,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.tlog import vectors as v


def h(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 2.1 writes it."""
    if not leaves:
        return sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def tree_of(leaves: list[bytes]) -> Tree:
    tree = Tree()
    tree.extend(leaves)
    return tree


REFERENCE = tree_of(v.LEAF_INPUTS)


def test_roots_match_the_reference_vectors() -> None:
    assert EMPTY_ROOT.hex() == v.EMPTY_TREE_HASH
    for size, root in enumerate(v.ROOTS):
        assert REFERENCE.root(size).hex() == root


def test_stored_hashes_match_the_reference_node_hashes() -> None:
    for level, hashes in enumerate(v.NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert REFERENCE.stored(level, index).hex() == expected


@pytest.mark.parametrize(("index", "size", "proof"), v.INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_vectors(index: int, size: int, proof: list[str]) -> None:
    assert REFERENCE.inclusion_proof(index, size) == h(proof)
    leaf = leaf_hash(v.LEAF_INPUTS[index])
    verify_inclusion(index, size, leaf, h(proof), bytes.fromhex(v.ROOTS[size]))


@pytest.mark.parametrize(("number", "size", "proof"), v.INCLUSION_PROOFS_1BASED)
def test_inclusion_vectors_numbered_from_one(number: int, size: int, proof: list[str]) -> None:
    leaf = leaf_hash(v.LEAF_INPUTS[number - 1])
    verify_inclusion(number - 1, size, leaf, h(proof), bytes.fromhex(v.ROOTS[size]))
    assert REFERENCE.inclusion_proof(number - 1, size) == h(proof)


@pytest.mark.parametrize(("old", "new", "proof"), v.CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_vectors(old: int, new: int, proof: list[str]) -> None:
    assert REFERENCE.consistency_proof(old, new) == h(proof)
    roots = bytes.fromhex(v.ROOTS[old]), bytes.fromhex(v.ROOTS[new])
    verify_consistency(old, new, *roots, h(proof))


@pytest.mark.parametrize(
    ("old", "new", "root1", "root2", "proof", "fails"), v.CONSISTENCY_EDGE_CASES
)
def test_consistency_edge_cases(
    old: int, new: int, root1: bytes, root2: bytes, proof: list[bytes], fails: bool
) -> None:
    if fails:
        with pytest.raises(ProofError):
            verify_consistency(old, new, root1, root2, proof)
    else:
        verify_consistency(old, new, root1, root2, proof)


def test_mangled_inclusion_proofs_fail() -> None:
    index, size, proof_hex = v.INCLUSION_PROOFS[-1]
    proof, root, leaf = h(proof_hex), bytes.fromhex(v.ROOTS[size]), leaf_hash(v.LEAF_INPUTS[index])
    bad = [
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2 + 1, leaf, proof, root),
        (index, size, leaf_hash(b"other"), proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, proof[:-1], root),
        (index, size, leaf, [proof[0], leaf, *proof[1:]], root),
    ]
    for args in bad:
        with pytest.raises(ProofError):
            verify_inclusion(*args)


def test_questions_beyond_the_tree_are_refused() -> None:
    with pytest.raises(ProofError):
        REFERENCE.inclusion_proof(8, 8)
    with pytest.raises(ProofError):
        REFERENCE.root(9)
    with pytest.raises(ProofError):
        REFERENCE.consistency_proof(5, 4)
    with pytest.raises(ProofError):
        verify_inclusion(0, 0, EMPTY_ROOT, [], EMPTY_ROOT)


def flip_a_bit(proof: list[bytes], data: st.DataObject) -> list[bytes]:
    which = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = bytearray(proof[which])
    flipped[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:which], bytes(flipped), *proof[which + 1 :]]


leaves_st = st.lists(st.binary(max_size=40), min_size=1, max_size=300)


@given(leaves_st, st.data())
def test_every_inclusion_proof_verifies_and_any_bit_flip_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = tree_of(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    root = tree.root(size)
    assert root == reference_root(leaves[:size])
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)
    if proof:
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash(leaves[index]), flip_a_bit(proof, data), root)


@given(leaves_st, st.data())
def test_every_consistency_proof_verifies_and_any_bit_flip_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = tree_of(leaves)
    new = data.draw(st.integers(1, len(leaves)))
    old = data.draw(st.integers(1, new))
    proof = tree.consistency_proof(old, new)
    verify_consistency(old, new, tree.root(old), tree.root(new), proof)
    if proof:
        with pytest.raises(ProofError):
            verify_consistency(old, new, tree.root(old), tree.root(new), flip_a_bit(proof, data))
    other = tree_of([*leaves[: old - 1], leaves[old - 1] + b"!", *leaves[old:]])
    if old < new:
        with pytest.raises(ProofError):  # a rewritten past is never consistent
            verify_consistency(old, new, other.root(old), tree.root(new), proof)


@given(st.integers(1, 2000), st.data())
def test_proofs_from_tiles_equal_proofs_from_memory(size: int, data: st.DataObject) -> None:
    tree = tree_of([i.to_bytes(4, "big") for i in range(size)])
    tiles = TileHashes(size, lambda tile: hash_tile(tree, tile))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    assert inclusion_proof(tiles, index, size) == tree.inclusion_proof(index, size)
    assert consistency_proof(tiles, old, size) == tree.consistency_proof(old, size)
