"""Identities and key files: signatures bind their domain; secret files refuse to be careless."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.keys import (
    BadSignature,
    Identity,
    InsecureKeyFile,
    KeyFileError,
    PublicKey,
    generate,
    read_public,
    read_secret,
    write_public,
    write_secret,
)
from tests.conftest import fixed_identity

# RFC 8032 section 7.1, test 1: the empty message.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_SIG = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
    "d25bf5f0595bbe24655141438e7a100b"
)


def test_known_answer_vector() -> None:
    identity = Identity.from_seed("rfc", RFC8032_SEED)
    assert identity.public.hex() == RFC8032_PUBLIC
    assert identity.secret.sign(b"", b"").hex() == RFC8032_SIG


@given(domain=st.binary(max_size=20), message=st.binary(max_size=200))
def test_signatures_verify_only_for_their_domain_and_message(domain: bytes, message: bytes) -> None:
    alice = fixed_identity("alice")
    sig = alice.secret.sign(domain, message)
    alice.public.verify(domain, message, sig)
    with pytest.raises(BadSignature):
        alice.public.verify(domain + b"x", message, sig)
    with pytest.raises(BadSignature):
        fixed_identity("bob").public.verify(domain, message, sig)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(BadSignature):
        alice.public.verify(domain, message, flipped)


def test_secrets_never_show_in_repr_and_do_not_pickle() -> None:
    identity = fixed_identity("alice")
    seed_hex = identity.secret.seed().hex()
    for text in (repr(identity), str(identity), repr(identity.secret), str(identity.secret)):
        assert seed_hex not in text
        assert seed_hex[:16] not in text
    with pytest.raises(TypeError):
        pickle.dumps(identity.secret)


def test_key_files_round_trip_with_private_modes(tmp_path: Path) -> None:
    identity = generate("alice")
    path = tmp_path / "alice.key"
    write_secret(path, identity)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = read_secret(path)
    assert loaded.public == identity.public
    assert loaded.name == "alice"
    with pytest.raises(FileExistsError):
        write_secret(path, identity)  # never overwrites a key
    write_public(tmp_path / "alice.pub", "alice", identity.public)
    assert read_public(tmp_path / "alice.pub") == ("alice", identity.public)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o666])
def test_readable_key_files_are_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.key"
    write_secret(path, generate("k"))
    path.chmod(mode)
    with pytest.raises(InsecureKeyFile, match="chmod 600"):
        read_secret(path)


def test_pinned_public_keys_must_not_be_writable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "op.pub"
    write_public(path, "op", generate("op").public)
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o666)
    with pytest.raises(InsecureKeyFile, match="go-w"):
        read_public(path)


def test_symlinked_and_damaged_key_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    write_secret(path, generate("k"))
    link = tmp_path / "link.key"
    link.symlink_to(path)
    with pytest.raises(KeyFileError):
        read_secret(link)
    text = path.read_text()
    for damage, message in (
        (text.replace("stockade-ed25519-secret-v1", "stockade-ed25519-secret-v9"), "format"),
        (text.replace('seed = "', 'seed = "00'), "checksum"),
        (text + 'extra = "1"\n', "unexpected"),
        ("not toml at all [", "not a key file"),
    ):
        damaged = tmp_path / f"damaged-{message.replace(' ', '-')}.key"
        fd = os.open(damaged, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, damage.encode())
        os.close(fd)
        with pytest.raises(KeyFileError, match=message):
            read_secret(damaged)


def test_public_keys_compare_by_value() -> None:
    a = fixed_identity("a").public
    assert a == PublicKey(a.raw)
    assert a != fixed_identity("b").public
    assert len({a, PublicKey(a.raw)}) == 1
    with pytest.raises(ValueError, match="32 bytes"):
        PublicKey(b"short")
