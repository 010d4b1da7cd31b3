"""RFC 6962 / RFC 9162 Merkle tree hashing, an append-only tree, and its proofs.

A leaf's hash is SHA-256(0x00 || data), an interior node's SHA-256(0x01 || left || right); the tree
of ``n`` leaves splits at the largest power of two below ``n``. ``Tree`` keeps the hash of every
complete, aligned subtree (level ``k`` holds the hashes of the 2**k-leaf subtrees, in order), packed
32 bytes each into one ``bytearray`` per level: two hashes per leaf on average, so an append costs
one leaf hash plus, amortized, one node hash, and any subtree of any past size is a fold over
O(log n) stored hashes. Those levels are also exactly what the tiles of C2SP ``tlog-tiles`` serve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from hashlib import sha256
from typing import Protocol

from stockade.errors import RemoteProtocolError

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()
_LEAF = sha256(b"\x00")
_NODE = sha256(b"\x01")
#: Right-edge subtree hashes a tree remembers for proofs: a few checkpoints' worth (~40 each).
MAX_EDGES = 4096


class ProofError(RemoteProtocolError):
    """A proof does not verify, or asks about positions that do not exist."""

    code = 7001


class InconsistentTrees(ProofError):
    """Proof that two trees cannot both be the log: equal sizes with different roots, or a
    consistency proof that leads to the new root but not to the old one."""


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """An append-only Merkle tree that can prove anything about any of its past sizes."""

    __slots__ = ("_edges", "_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self._edges: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes) -> int:
        """Add a leaf; return its index."""
        return self.extend((data,))

    def extend(self, entries: Iterable[bytes]) -> int:
        """Add leaves in order; return the index of the first."""
        first = size = self._size
        levels = self._levels
        level0 = levels[0]
        leaf_hasher, node_hasher = _LEAF.copy, _NODE.copy  # a copied prefix state is the cheapest
        for data in entries:
            h = leaf_hasher()
            h.update(data)
            level0 += h.digest()
            carry, level = size, 0
            while carry & 1:  # the new hash completes a pair: its parent is complete too
                h = node_hasher()
                h.update(levels[level][-64:])
                level += 1
                if level == len(levels):
                    levels.append(bytearray())
                levels[level] += h.digest()
                carry >>= 1
            size += 1
        self._size = size
        return first

    def stored(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of 2**level leaves starting at leaf index << level."""
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def level_bytes(self, level: int, start: int, count: int) -> bytes:
        """``count`` consecutive stored hashes of ``level`` from ``start``, concatenated."""
        if level >= len(self._levels) or (start + count) * HASH_SIZE > len(self._levels[level]):
            raise ProofError(f"level {level} does not hold hashes {start}..{start + count - 1}")
        return bytes(self._levels[level][start * HASH_SIZE : (start + count) * HASH_SIZE])

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise ProofError(f"leaf index {index} is not below tree size {self._size}")
        return self.stored(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree's first ``size`` leaves (its current size by default)."""
        size = self._size if size is None else size
        self._check_size(size)
        return subtree_hash(self, 0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """``inclusion_proof`` over this tree, remembering the right-edge hashes of each past
        size (every proof under one checkpoint shares them)."""
        self._check_size(size)
        return inclusion_proof(self, index, size, self._edge)

    def _edge(self, start: int, size: int) -> bytes:
        edges = self._edges
        found = edges.get((start, size))
        if found is None:
            if len(edges) >= MAX_EDGES:
                edges.clear()
            found = edges[start, size] = subtree_hash(self, start, size)
        return found

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        self._check_size(new)
        return consistency_proof(self, old, new)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ProofError(f"tree size {size} is beyond this tree's {self._size}")


class HashSource(Protocol):
    """Where the hashes of complete subtrees come from: a ``Tree`` in memory, or tiles."""

    def stored(self, level: int, index: int) -> bytes: ...


#: The hash of the leaves from ``start`` to ``size`` (a right edge of the tree of ``size``).
Edge = Callable[[int, int], bytes]


def subtree_hash(source: HashSource, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]). In the RFC's recursion ``lo`` is always aligned to the largest power of
    two <= hi - lo, so left halves are stored hashes and only the right edge is folded."""
    n = hi - lo
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return source.stored(level, lo >> level)
    k = _split(n)
    return node_hash(subtree_hash(source, lo, lo + k), subtree_hash(source, lo + k, hi))


def inclusion_proof(
    source: HashSource, index: int, size: int, edge: Edge | None = None
) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size]), bottom up: at each level the sibling of the leaf's
    ancestor, a stored hash when its subtree is complete, the hash of the right edge
    (``edge``, by default folded from stored hashes) when it is cut by ``size``, nothing when it
    lies beyond."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    proof: list[bytes] = []
    level = 0
    while 1 << level < size:
        sibling = (index >> level) ^ 1
        start = sibling << level
        if start + (1 << level) <= size:
            proof.append(source.stored(level, sibling))
        elif start < size:
            proof.append(edge(start, size) if edge else subtree_hash(source, start, size))
        level += 1
    return proof


def consistency_proof(source: HashSource, old: int, new: int) -> list[bytes]:
    """RFC 6962 PROOF(old, D[0:new])."""
    if not 0 <= old <= new:
        raise ProofError(f"cannot prove size {old} consistent with size {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    lo, hi, whole = 0, new, True  # whole: D[lo:old] is a complete subtree of the old tree
    while old != hi:
        k = _split(hi - lo)
        if old - lo <= k:
            proof.append(subtree_hash(source, lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_hash(source, lo, lo + k))
            lo += k
            whole = False
    if not whole:
        proof.append(subtree_hash(source, lo, hi))
    proof.reverse()
    return proof


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that ``proof`` makes ``leaf`` (a leaf hash) at ``index`` part of (RFC 9162
    2.1.3.2); the caller compares it with a signed root."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> None:
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with that root")


def _verify_trivial_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """Sizes 0 and equal sizes: the proof must be empty, and equal sizes need equal roots."""
    if old > new:
        raise ProofError(f"a tree of size {old} cannot precede one of size {new}")
    if proof:
        raise ProofError("a proof from the empty tree or between equal sizes must be empty")
    if old == new and old_root != new_root:
        raise InconsistentTrees(f"two different roots for tree size {new}")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    """Raise ``ProofError`` unless the tree ``(new, new_root)`` extends ``(old, old_root)``
    (RFC 9162 2.1.4.2)."""
    if old in (0, new):
        _verify_trivial_consistency(old, new, old_root, new_root, proof)
        return
    if old > new:
        raise ProofError(f"a tree of size {old} cannot precede one of size {new}")
    if not proof:
        raise ProofError("consistency proof is empty")
    if old & (old - 1) == 0:  # a power of two: the old root is itself the first node
        proof = [old_root, *proof]
    fr, sr = _consistency_roots(old - 1, new - 1, proof)
    if sr != new_root:  # a bad proof: says nothing about the trees
        raise ProofError(f"the proof does not lead to the new root of size {new}")
    if fr != old_root:  # hashes of the new tree that contradict the old root
        raise InconsistentTrees(f"the tree of size {new} does not extend the one of size {old}")


def _consistency_roots(fn: int, sn: int, proof: list[bytes]) -> tuple[bytes, bytes]:
    """The old and new roots ``proof`` leads to (RFC 9162 2.1.4.2 steps 3 to 6)."""
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    return fr, sr
