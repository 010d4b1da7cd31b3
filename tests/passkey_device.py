"""A software passkey device for tests: makes WebAuthn registrations ("none" attestation) and
assertions with its own P-256 key, byte for byte as a browser hands them over (the browser
tests use Chromium's own virtual authenticator instead)."""

from __future__ import annotations

import hashlib
import json
import secrets

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from stockade.wire import to_b64url

USER_PRESENT, USER_VERIFIED, ATTESTED = 0x01, 0x04, 0x40


class PasskeyDevice:
    def __init__(self, rp_id: str, origin: str) -> None:
        self.rp_id, self.origin = rp_id, origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.count = 0

    def client_data(self, kind: str, challenge: bytes, origin: str | None = None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": to_b64url(challenge), "origin": origin or self.origin}
        ).encode()

    def _public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: x, -3: y})  # EC2, ES256, P-256

    def authenticator_data(
        self, attested: bool, flags: int = USER_PRESENT | USER_VERIFIED
    ) -> bytes:
        self.count += 1
        data = hashlib.sha256(self.rp_id.encode()).digest()
        data += bytes([flags | (ATTESTED if attested else 0)]) + self.count.to_bytes(4, "big")
        if attested:
            data += bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
            data += self._public_key()
        return data

    def create(self, challenge: bytes) -> tuple[bytes, bytes, bytes]:
        """``navigator.credentials.create``: the credential id, clientDataJSON and the
        attestation object."""
        data = self.authenticator_data(True)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
        return self.credential_id, self.client_data("webauthn.create", challenge), attestation

    def get(self, challenge: bytes, origin: str | None = None) -> tuple[bytes, bytes, bytes, bytes]:
        """``navigator.credentials.get``: the credential id, clientDataJSON, authenticator data
        and the signature over both."""
        client_data = self.client_data("webauthn.get", challenge, origin)
        data = self.authenticator_data(False)
        signed = data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self.credential_id, client_data, data, signature
