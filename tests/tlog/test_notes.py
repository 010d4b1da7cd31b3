"""Signed notes and checkpoints against the vectors of golang.org/x/mod/sumdb/note and C2SP."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.keys import SecretKey
from stockade.tlog import (
    COSIGNATURE_V1,
    Checkpoint,
    CheckpointError,
    NoteError,
    Verifier,
    cosign,
    open_checkpoint,
    parse_note,
    sign_text,
)

# golang.org/x/mod sumdb/note/note_test.go (TestSign, TestOpen)
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
    "RZb6KE6RyyBwJnAM=\n"
)
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox"
    "33WWd1RvMc+QQ=\n"
)
# C2SP tlog-cosignature: made here with seed 00..1f (Ed25519 is deterministic), checked
# independently with the cryptography package.
WITNESS_VKEY = "witness.example/w1+e75f6532+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
SOFA = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
WITNESS_SIG = (
    "— witness.example/w1 519lMgAAAABkGFDLBuRDazBLVac2NE+Y+IjbjQOcXLfF9CSDZVUIoS83rE1nFZsVE8YiWV6Ng"
    "r7lV8H6bdoBQGP/l73euDMQ9k+bBQ==\n"
)


def peter() -> tuple[SecretKey, Verifier]:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])[1:]
    return SecretKey(seed), Verifier.decode(PETER_VKEY)


def test_signing_reproduces_the_go_vector() -> None:
    key, verifier = peter()
    note = sign_text(TEXT, "PeterNeumann", key, verifier.public_key)
    assert note.encode() == (TEXT + "\n" + PETER_SIG).encode()
    assert verifier.encode() == PETER_VKEY


def test_unknown_signatures_are_ignored_and_known_ones_checked() -> None:
    _, verifier = peter()
    note = parse_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode())
    assert note.verified_by([verifier]) == {"PeterNeumann": None}
    both = note.verified_by([verifier, Verifier.decode(ENOCH_VKEY)])
    assert set(both) == {"PeterNeumann", "EnochRoot"}
    assert note.verified_by([]) == {}


def test_a_known_key_with_a_bad_signature_rejects_the_note() -> None:
    _, verifier = peter()
    damaged = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    note = parse_note((TEXT + "\n" + damaged).encode())
    with pytest.raises(NoteError, match="does not verify"):
        note.verified_by([verifier])


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
        "qdngotpRZb6KE6RyyBwJnAM=\n",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_malformed_notes_from_the_go_suite_are_refused(data: str) -> None:
    with pytest.raises(NoteError):
        parse_note(data.encode())


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(NoteError):
        parse_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode())


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.decode(vkey)


def test_cosignature_vector() -> None:
    witness = Verifier.decode(WITNESS_VKEY)
    assert witness.algorithm == COSIGNATURE_V1
    note = parse_note((SOFA + "\n" + WITNESS_SIG).encode())
    assert note.verified_by([witness]) == {"witness.example/w1": 1679315147}
    key = SecretKey(bytes(range(32)))
    made = cosign(note, "witness.example/w1", key, witness.public_key, 1679315147)
    assert made.line() == WITNESS_SIG


def test_checkpoint_round_trip_with_log_and_witness_signatures() -> None:
    log_key, witness_key = SecretKey(bytes(32)), SecretKey(bytes(range(32)))
    log = Verifier("example.com/log", 1, log_key.public.raw)
    witness = Verifier("witness.example/w1", COSIGNATURE_V1, witness_key.public.raw)
    checkpoint = Checkpoint("example.com/log", 5, bytes(range(32)))
    note = sign_text(checkpoint.text(), log.name, log_key, log.public_key)
    opened = open_checkpoint(note.encode(), log)
    assert opened.checkpoint == checkpoint
    assert opened.cosigners == {}
    with pytest.raises(CheckpointError, match="0 of the 1 cosignatures"):
        open_checkpoint(note.encode(), log, (witness,), need=1)
    cosigned = note.with_signature(cosign(note, witness.name, witness_key, witness.public_key, 7))
    assert open_checkpoint(cosigned.encode(), log, (witness,), need=1).cosigners == {
        witness.name: 7
    }
    other = Verifier("example.com/other", 1, log_key.public.raw)
    with pytest.raises(CheckpointError, match="another log"):
        open_checkpoint(note.encode(), other)
    impostor = Verifier("example.com/log", 1, witness_key.public.raw)
    with pytest.raises(CheckpointError, match="lacks the log's signature"):
        open_checkpoint(note.encode(), impostor)


@pytest.mark.parametrize(
    "text",
    [
        "example.com/log\n5\n",
        "\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n05\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n-5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\nextension\n",
        "example.com/log\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(text)


@given(st.binary(max_size=400))
def test_the_note_parser_never_fails_other_than_with_a_note_error(data: bytes) -> None:
    with contextlib.suppress(NoteError):
        parse_note(data)


@given(st.text(max_size=200))
def test_the_checkpoint_parser_never_fails_other_than_with_its_error(text: str) -> None:
    with contextlib.suppress(CheckpointError):
        Checkpoint.parse(text)
