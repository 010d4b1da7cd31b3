"""The witness as a process: C2SP tlog-witness over real HTTP on loopback, its memory kept
across SIGKILL, one cosignature per old size under concurrency, and what its stolen key is worth."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stockade.keys import read_secret
from stockade.tlog import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    Checkpoint,
    CheckpointError,
    Tree,
    Verifier,
    cosign,
    encode_add_checkpoint,
    open_checkpoint,
    parse_note,
    sign_text,
)
from stockade.wire import parse_address
from stockade.witness import init_witness, load_config
from tests.conftest import fixed_identity
from tests.processes import free_port, http_get, http_post, spawn, stop, wait_for
from tests.tlog.test_witness import LOG_VERIFIER, signed, tree_of


@dataclass
class RunningWitness:
    directory: Path
    url: str
    verifier: Verifier
    process: object

    def add(
        self, old: int, tree: Tree, size: int, proof: list[bytes] | None = None
    ) -> tuple[int, str, bytes]:
        if proof is None:
            proof = tree.consistency_proof(old, size) if 0 < old < size else []
        body = encode_add_checkpoint(AddCheckpoint(old, tuple(proof), signed(tree, size)))
        return http_post(self.url, "/add-checkpoint", body)


def start(directory: Path) -> object:
    process = spawn(["witness", "run", str(directory)], directory, directory / "witness.log")
    url = f"http://127.0.0.1:{load_config(directory / 'witness.toml').listen.port}"
    wait_for(lambda: http_get(url, "/")[0] == 200, what="the witness to listen")
    return process


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[RunningWitness]:
    directory = tmp_path / "witness"
    port = free_port()
    verifier = init_witness(
        directory, "witness.test/w1", parse_address(f"tcp://127.0.0.1:{port}"), [LOG_VERIFIER]
    )
    running = RunningWitness(directory, f"http://127.0.0.1:{port}", verifier, start(directory))
    yield running
    stop(running.process)  # type: ignore[arg-type]


def test_cosigns_over_http_and_answers_each_refusal_by_the_spec(witness: RunningWitness) -> None:
    tree = tree_of(40)
    status, _, body = witness.add(0, tree, 10)
    assert status == 200
    note = signed(tree, 10) + body
    assert open_checkpoint(note, LOG_VERIFIER, (witness.verifier,), 1).cosigners
    status, content_type, body = witness.add(3, tree, 40)
    assert (status, content_type, body) == (409, SIZE_CONTENT_TYPE, b"10\n")
    assert witness.add(10, tree, 40, proof=[bytes(32)])[0] == 422
    assert witness.add(41, tree, 40)[0] == 400
    assert witness.add(10, tree_of(10, b"fork"), 10)[0] == 409
    too_big = http_post(witness.url, "/add-checkpoint", b"old 0\n" + b"A" * (1 << 17))
    assert too_big[0] == 413
    assert http_post(witness.url, "/add-checkpoint", b"garbage")[0] == 400
    assert witness.add(10, tree, 40)[0] == 200


def test_its_memory_survives_sigkill(witness: RunningWitness) -> None:
    tree = tree_of(30)
    assert witness.add(0, tree, 12)[0] == 200
    process = witness.process
    os.kill(process.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    process.wait(10)  # type: ignore[attr-defined]
    witness.process = start(witness.directory)
    # restarted, it still knows size 12: a request from 0 (a fork from scratch) is refused
    status, _, body = witness.add(0, tree_of(30, b"fork"), 30)
    assert (status, body) == (409, b"12\n")
    assert witness.add(12, tree, 30)[0] == 200


def test_concurrent_requests_from_one_old_size_get_one_cosignature(
    witness: RunningWitness,
) -> None:
    """Two views of the log raced to the witness from the same old size: at most one wins."""
    honest = tree_of(50)
    assert witness.add(0, honest, 20)[0] == 200
    views = [honest] + [extend(honest, 20, b"v%d" % i, 50) for i in range(5)]
    results: list[int] = []

    def submit(tree: Tree) -> None:
        results.append(witness.add(20, tree, 50)[0])

    threads = [threading.Thread(target=submit, args=(t,)) for t in views]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200] + [409] * 5


def extend(base: Tree, keep: int, salt: bytes, size: int) -> Tree:
    """A tree sharing ``base``'s first ``keep`` entries, then its own."""
    tree = tree_of(keep)
    tree.extend(b"entry %d" % i + salt for i in range(keep, size))
    assert tree.root(keep) == base.root(keep)
    return tree


def test_a_stolen_witness_key_cannot_make_a_client_accept_a_forged_checkpoint(
    witness: RunningWitness,
) -> None:
    """Breach: the attacker holds the witness's directory and key. It can cosign anything, but
    a client also requires the log's own signature, which the witness never held."""
    files = {p.name for p in witness.directory.iterdir()}
    assert files <= {
        "witness.toml",
        "witness.key",
        "witness.db",
        "witness.db-wal",
        "witness.db-shm",
        "witness.log",
    }
    stolen = read_secret(witness.directory / "witness.key")
    forged_tree = tree_of(99, b"forged")
    text = Checkpoint(LOG_VERIFIER.name, 99, forged_tree.root()).text()
    mallory = fixed_identity("mallory")
    note = sign_text(text, LOG_VERIFIER.name, mallory.secret, mallory.public.raw)
    cosigned = note.with_signature(
        cosign(note, witness.verifier.name, stolen.secret, stolen.public.raw, 1_800_000_000)
    )
    with pytest.raises(CheckpointError, match="lacks the log's signature"):
        open_checkpoint(cosigned.encode(), LOG_VERIFIER, (witness.verifier,), need=1)
    assert len(parse_note(cosigned.encode()).signatures) == 2
