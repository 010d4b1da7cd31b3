"""A thin typed wrapper over libsodium's Ed25519 (PyNaCl). We never implement crypto ourselves.

Every signature in Stockade is made over ``domain || message``, where the domain names the protocol
and its version, so a signature made for one purpose can never be replayed as another.
"""

from __future__ import annotations

import hmac

import nacl.exceptions
import nacl.signing

from stockade.errors import StockadeError

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64


class BadSignature(StockadeError):
    """A signature did not verify under the expected public key."""


class PublicKey:
    """An Ed25519 public key. Hashable and comparable in constant time."""

    __slots__ = ("_raw", "_verifier")

    def __init__(self, raw: bytes) -> None:
        if type(raw) is not bytes or len(raw) != PUBLIC_KEY_SIZE:
            raise ValueError("an Ed25519 public key is exactly 32 bytes")
        self._raw = raw
        self._verifier = nacl.signing.VerifyKey(raw)

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        return cls(bytes.fromhex(text))

    @property
    def raw(self) -> bytes:
        return self._raw

    def hex(self) -> str:
        return self._raw.hex()

    def verify(self, domain: bytes, message: bytes, signature: bytes) -> None:
        """Raise ``BadSignature`` unless ``signature`` signs ``domain || message``."""
        if len(signature) != SIGNATURE_SIZE:
            raise BadSignature("signature must be 64 bytes")
        try:
            self._verifier.verify(domain + message, signature)
        except nacl.exceptions.BadSignatureError:
            raise BadSignature("signature does not verify") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and hmac.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"PublicKey({self._raw.hex()[:16]}...)"


class SecretKey:
    """An Ed25519 signing key. Its repr and str never show the secret."""

    __slots__ = ("_public", "_signer")

    def __init__(self, seed: bytes) -> None:
        if type(seed) is not bytes or len(seed) != SEED_SIZE:
            raise ValueError("an Ed25519 seed is exactly 32 bytes")
        self._signer = nacl.signing.SigningKey(seed)
        self._public = PublicKey(bytes(self._signer.verify_key))

    @property
    def public(self) -> PublicKey:
        return self._public

    def seed(self) -> bytes:
        """The secret seed, for writing a key file. Never log or send it."""
        return bytes(self._signer)

    def sign(self, domain: bytes, message: bytes) -> bytes:
        return self._signer.sign(domain + message).signature

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key for another purpose, named by ``label`` (HMAC-SHA256 keyed with the
        seed): one key file serves, and neither the seed nor another label's key can be
        recovered from it."""
        return hmac.digest(bytes(self._signer), b"stockade/derive/v1\x00" + label, "sha256")

    def __repr__(self) -> str:
        return f"SecretKey(public={self._public.hex()[:16]}..., secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secret keys cannot be pickled")
