"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 and cosignature/v1 keys.

A note is UTF-8 text ending in a newline, then a blank line, then one signature line per signer:
``<em dash> <name> <base64(key ID || signature)>``. A key ID is the first four bytes of
SHA-256(name || "\\n" || algorithm byte || public key). Verifiers ignore signatures from keys they
do not know, so a note can collect signatures (a log's, then witnesses') as it travels.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

import nacl.exceptions
import nacl.signing

from stockade.errors import RemoteProtocolError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # golang.org/x/mod/sumdb/note's bound; the spec asks for at least 16
MAX_NOTE = 1 << 20


class NoteError(RemoteProtocolError):
    """A note is malformed or lacks a signature it must carry."""

    code = 7002


class Signer(Protocol):
    """An Ed25519 signing key; ``stockade.keys.SecretKey`` is one. It never leaves its owner."""

    def sign(self, domain: bytes, message: bytes) -> bytes: ...


def check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise NoteError("a key name is non-empty, printable, with no space and no '+'", "name")


def key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([algorithm]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key that can check one kind of signature line in a note."""

    name: str
    algorithm: int
    public_key: bytes

    def __post_init__(self) -> None:
        check_name(self.name)
        if len(self.public_key) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes", "public_key")

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.algorithm, self.public_key)

    def encode(self) -> str:
        """The vkey string: ``name+hex(key ID)+base64(algorithm || key)``."""
        blob = base64.b64encode(bytes([self.algorithm]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def decode(cls, vkey: str) -> Verifier:
        parts = vkey.split("+", 2)  # base64 may hold '+' too
        if len(parts) != 3 or len(parts[1]) != 8:
            raise NoteError("a verifier key reads name+keyid+base64key", "vkey")
        blob = _b64(parts[2], "vkey")
        verifier = cls(parts[0], blob[0] if blob else -1, blob[1:])
        if verifier.algorithm not in (ED25519, COSIGNATURE_V1):
            raise NoteError("the verifier key's algorithm is not Ed25519 or cosignature/v1", "vkey")
        if verifier.key_id.hex() != parts[1].lower():
            raise NoteError("the verifier key's ID does not match its name and key", "vkey")
        return verifier

    def check(self, text: str, signature: bytes) -> int | None:
        """Verify ``signature`` (without its key ID) over the note ``text``. Returns the
        cosignature's timestamp for cosignature/v1, None for plain Ed25519."""
        message, sig, timestamp = text.encode(), signature, None
        if self.algorithm == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                raise NoteError(f"cosignature from {self.name} is not 72 bytes", "signature")
            timestamp = int.from_bytes(signature[:8], "big")
            message, sig = cosigned_message(text, timestamp), signature[8:]
        try:
            nacl.signing.VerifyKey(self.public_key).verify(message, sig)
        except (nacl.exceptions.BadSignatureError, ValueError):
            raise NoteError(f"signature from {self.name} does not verify", "signature") from None
        return timestamp


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs (https://c2sp.org/tlog-cosignature)."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # without the key ID

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{EM_DASH} {self.name} {blob}\n"


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    signatures: tuple[Signature, ...]

    def encode(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode()

    def with_signature(self, signature: Signature) -> Note:
        kept = tuple(s for s in self.signatures if s.key_id != signature.key_id)
        return Note(self.text, (*kept, signature))

    def verified_by(self, verifiers: list[Verifier]) -> dict[str, int | None]:
        """The names of the known verifiers whose signatures verify (each with its cosignature
        timestamp, if any). A signature from a known key that does not verify is an error;
        signatures from unknown keys are ignored, as the spec requires."""
        by_id = {(v.name, v.key_id): v for v in verifiers}
        good: dict[str, int | None] = {}
        for sig in self.signatures:
            verifier = by_id.get((sig.name, sig.key_id))
            if verifier is not None:
                good[sig.name] = verifier.check(self.text, sig.signature)
        return good


def sign_text(text: str, name: str, signer: Signer, public_key: bytes) -> Note:
    check_text(text)
    sig = signer.sign(b"", text.encode())
    return Note(text, (Signature(name, key_id(name, ED25519, public_key), sig),))


def cosign(note: Note, name: str, signer: Signer, public_key: bytes, timestamp: int) -> Signature:
    """A witness's timestamped cosignature (cosignature/v1) of ``note``."""
    if not 0 <= timestamp < 1 << 63:
        raise NoteError("a cosignature time is a non-negative 63-bit number", "timestamp")
    sig = signer.sign(b"", cosigned_message(note.text, timestamp))
    stamped = timestamp.to_bytes(8, "big") + sig
    return Signature(name, key_id(name, COSIGNATURE_V1, public_key), stamped)


def check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline", "note")
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("note text holds a control character", "note")


def parse_note(data: bytes) -> Note:
    """Split a signed note into its text and signature lines; check their form, not the
    signatures (``Note.verified_by`` does that against the keys the caller trusts)."""
    if len(data) > MAX_NOTE:
        raise NoteError(f"note is over {MAX_NOTE} bytes", "note")
    try:
        whole = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not UTF-8", "note") from None
    split = whole.rfind("\n\n")
    if split < 0 or not whole.endswith("\n"):
        raise NoteError("note has no signature block after a blank line", "note")
    text, block = whole[: split + 1], whole[split + 2 :]
    check_text(text)
    if any(c < " " and c != "\n" for c in block):
        raise NoteError("note signatures hold a control character", "note")
    lines = block.split("\n")[:-1]
    if not lines:
        raise NoteError("note carries no signature", "note")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note carries over {MAX_SIGNATURES} signatures", "note")
    return Note(text, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> Signature:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != EM_DASH or not parts[2]:
        raise NoteError("a signature line reads: em dash, name, base64", "signature")
    check_name(parts[1])
    blob = _b64(parts[2], "signature")
    if len(blob) < 5:
        raise NoteError("a signature holds a key ID and at least one byte", "signature")
    return Signature(parts[1], blob[:4], blob[4:])


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("invalid base64", field) from None
