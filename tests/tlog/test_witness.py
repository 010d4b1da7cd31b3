"""The witness's rules (C2SP tlog-witness), pure: each refusal with its HTTP status, and the one
path to a cosignature: a proof that the new checkpoint extends the last one cosigned."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.tlog import (
    COSIGNATURE_V1,
    AddCheckpoint,
    BadProof,
    Checkpoint,
    Cosigned,
    NotSignedByLog,
    RootConflict,
    SizeConflict,
    Tree,
    UnknownLog,
    Verifier,
    Witness,
    WitnessRefusal,
    encode_add_checkpoint,
    open_checkpoint,
    parse_add_checkpoint,
    sign_text,
)
from tests.conftest import TEST_ORIGIN, fixed_identity

LOG = fixed_identity("log")
LOG_VERIFIER = Verifier(TEST_ORIGIN, 1, LOG.public.raw)
NOW = 1_800_000_000


def witness() -> Witness:
    key = fixed_identity("witness")
    return Witness("witness.test/w1", key.secret, key.public.raw, {TEST_ORIGIN: (LOG_VERIFIER,)})


def tree_of(size: int, salt: bytes = b"") -> Tree:
    tree = Tree()
    tree.extend(b"entry %d" % i + salt for i in range(size))
    return tree


def signed(tree: Tree, size: int, origin: str = TEST_ORIGIN, key: str = "log") -> bytes:
    text = Checkpoint(origin, size, tree.root(size)).text()
    signer = fixed_identity(key)
    return sign_text(text, origin, signer.secret, signer.public.raw).encode()


class Memory:
    """What the witness's store does, in memory: the latest (size, root) per origin."""

    def __init__(self) -> None:
        self.latest: dict[str, tuple[int, bytes]] = {}

    def add(self, w: Witness, request: AddCheckpoint) -> Cosigned:
        cosigned = w.add_checkpoint(request, self.latest.get, NOW)
        self.latest[cosigned.origin] = (cosigned.size, cosigned.root)
        return cosigned


def test_cosigns_a_first_checkpoint_then_only_consistent_ones() -> None:
    w, memory, tree = witness(), Memory(), tree_of(20)
    first = memory.add(w, AddCheckpoint(0, (), signed(tree, 7)))
    assert (first.size, first.root) == (7, tree.root(7))
    proof = tuple(tree.consistency_proof(7, 20))
    second = memory.add(w, AddCheckpoint(7, proof, signed(tree, 20)))
    # a client requiring this witness accepts the checkpoint with the cosignature added
    note = signed(tree, 20) + second.cosignature.line().encode()
    opened = open_checkpoint(note, LOG_VERIFIER, (w.verifier,), need=1)
    assert opened.cosigners == {"witness.test/w1": NOW}
    assert w.verifier.algorithm == COSIGNATURE_V1
    again = memory.add(w, AddCheckpoint(20, (), signed(tree, 20)))  # refreshes the time
    assert again.size == 20


def test_each_refusal_has_its_status_and_changes_nothing() -> None:
    w, memory, tree = witness(), Memory(), tree_of(20)
    memory.add(w, AddCheckpoint(0, (), signed(tree, 8)))
    proof = tuple(tree.consistency_proof(8, 20))
    forked = tree_of(20, b"fork")
    cases: list[tuple[AddCheckpoint, type[WitnessRefusal], int]] = [
        (AddCheckpoint(8, proof, signed(tree, 20, "other.log/x")), UnknownLog, 404),
        (AddCheckpoint(8, proof, signed(tree, 20, key="mallory")), NotSignedByLog, 403),
        (AddCheckpoint(21, proof, signed(tree, 20)), WitnessRefusal, 400),
        (AddCheckpoint(5, proof, signed(tree, 20)), SizeConflict, 409),
        (AddCheckpoint(8, proof[1:], signed(tree, 20)), BadProof, 422),
        (AddCheckpoint(8, proof, signed(forked, 20)), BadProof, 422),
        (AddCheckpoint(8, (), signed(forked, 8)), RootConflict, 409),
        (AddCheckpoint(8, proof[:1], signed(tree, 8)), BadProof, 422),
        (AddCheckpoint(8, proof, b"not a note"), WitnessRefusal, 400),
    ]
    for request, kind, status in cases:
        with pytest.raises(kind) as refused:
            memory.add(w, request)
        assert type(refused.value) is kind
        assert refused.value.status == status
        assert memory.latest[TEST_ORIGIN] == (8, tree.root(8))
    with pytest.raises(SizeConflict) as conflict:
        memory.add(w, AddCheckpoint(0, (), signed(tree, 20)))
    assert conflict.value.latest == 8


def test_a_witness_never_cosigns_two_trees_of_one_log() -> None:
    """The split view: a log shows two parties two trees; one witness cosigns only one."""
    w, memory = witness(), Memory()
    honest, forked = tree_of(30), tree_of(30, b"fork")
    memory.add(w, AddCheckpoint(0, (), signed(honest, 10)))
    memory.add(w, AddCheckpoint(10, tuple(honest.consistency_proof(10, 30)), signed(honest, 30)))
    for size in (10, 30):
        with pytest.raises((SizeConflict, RootConflict, BadProof)):
            memory.add(w, AddCheckpoint(size, (), signed(forked, 30)))


def test_request_bodies_round_trip_and_malformed_ones_are_400() -> None:
    tree = tree_of(9)
    request = AddCheckpoint(3, tuple(tree.consistency_proof(3, 9)), signed(tree, 9))
    assert parse_add_checkpoint(encode_add_checkpoint(request)) == request
    body = encode_add_checkpoint(request)
    bad = [
        body.replace(b"old 3", b"old 03"),
        body.replace(b"old 3", b"old -3"),
        body.replace(b"old 3", b"new 3"),
        body.replace(b"\n\n", b"\n", 1),
        b"old 3\n!!!!\n\n" + request.checkpoint,
        b"old 3\n" + b"AAAA\n" + b"\n" + request.checkpoint,
        b"old 0\n" + b"x" * (1 << 16),
        b"old 0\n" + b"\n".join(body.split(b"\n")[1:2] * 64) + b"\n\n" + request.checkpoint,
    ]
    for data in bad:
        with pytest.raises(WitnessRefusal) as refused:
            parse_add_checkpoint(data)
        assert refused.value.status == 400


@settings(max_examples=60, deadline=None)
@given(
    old=st.integers(1, 300),
    extra=st.integers(1, 300),
    data=st.data(),
)
def test_any_flipped_bit_in_a_proof_is_refused(old: int, extra: int, data: st.DataObject) -> None:
    w, memory, tree = witness(), Memory(), tree_of(old + extra)
    memory.add(w, AddCheckpoint(0, (), signed(tree, old)))
    proof = tree.consistency_proof(old, old + extra)
    if not proof:
        return
    which = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = bytearray(proof[which])
    flipped[bit // 8] ^= 1 << (bit % 8)
    proof[which] = bytes(flipped)
    with pytest.raises(BadProof):
        memory.add(w, AddCheckpoint(old, tuple(proof), signed(tree, old + extra)))
    assert memory.latest[TEST_ORIGIN] == (old, tree.root(old))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.builds(lambda b: b"old 0\n" + b, st.binary(max_size=200)))
def test_any_request_body_is_cosigned_or_refused_with_a_status(body: bytes) -> None:
    w, memory = witness(), Memory()
    with pytest.raises(WitnessRefusal) as refused:  # nothing random is a log-signed checkpoint
        memory.add(w, parse_add_checkpoint(body))
    assert refused.value.status in (400, 403, 404, 409, 422)
    assert memory.latest == {}
