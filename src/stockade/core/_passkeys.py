"""Passkeys (WebAuthn): logging in with a key that the person's device holds, checked by core.

Core checks every ceremony itself with py_webauthn (the attestation when a passkey is added, the
signature and its counter at log-in) against the relying party and origins that core.toml names;
web only relays what the browser answered. Challenges are stateless: 8 bytes of time, then a MAC
(under a key derived from core's identity) over what the ceremony is for and the key it binds. A
log-in's challenge binds the session key the log-in will register, so whoever relays the
browser's answer (web) cannot turn it into a session of its own: the passkey signs the
challenge, and the challenge names the browser's key, whose secret never leaves the browser.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

import msgspec
from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    RegistrationCredential,
)

from stockade.wire import to_b64url

#: What core derives the challenges' MAC key from its identity under.
MAC_LABEL = b"stockade/passkey/v1"
#: How long a challenge may be answered.
CHALLENGE_MS = 120_000
#: Passkeys one account may hold.
MAX_PASSKEYS = 10
#: What each kind of challenge is for (the MAC covers it: one kind never answers for another).
ADDING, LOGGING_IN = b"stockade/passkey/add\x00", b"stockade/passkey/log-in\x00"
CHALLENGE_BYTES = 32


class _ClientData(msgspec.Struct):
    """The one field of clientDataJSON core reads before py_webauthn checks the rest."""

    challenge: Annotated[str, msgspec.Meta(max_length=64)]


_client_data = msgspec.json.Decoder(_ClientData)


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who passkeys are made for: the site's domain (``rp_id``; never an IP address, browsers
    refuse those) and the exact origins its pages are served from."""

    rp_id: str
    origins: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewPasskey:
    credential_id: bytes
    public_key: bytes  # COSE_Key, as the authenticator gave it
    sign_count: int


class Ceremonies:
    """Challenges and the checks of their answers; pure but for the time passed in."""

    def __init__(self, party: RelyingParty | None, mac_key: bytes) -> None:
        self.party = party
        self._key = mac_key

    def challenge(self, purpose: bytes, bound: bytes, ts: int) -> bytes:
        stamp = ts.to_bytes(8, "big")
        return stamp + hmac.new(self._key, purpose + stamp + bound, hashlib.sha256).digest()[:24]

    def answered(self, client_data: bytes, purpose: bytes, bound: bytes, ts: int) -> bytes | None:
        """The challenge ``client_data`` answers, if core made it for ``purpose`` and ``bound``
        less than ``CHALLENGE_MS`` ago; else None."""
        try:
            text = _client_data.decode(client_data).challenge
            challenge = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (msgspec.DecodeError, ValueError, binascii.Error, RecursionError):
            return None  # (msgspec's ValidationError is a DecodeError; deep nesting recurses)
        if len(challenge) != CHALLENGE_BYTES:
            return None
        made = int.from_bytes(challenge[:8], "big")
        if not 0 <= ts - made <= CHALLENGE_MS:
            return None
        good = hmac.compare_digest(challenge, self.challenge(purpose, bound, made))
        return challenge if good else None

    def check_new(
        self, credential_id: bytes, client_data: bytes, attestation: bytes, bound: bytes, ts: int
    ) -> NewPasskey | None:
        """The passkey a registration made, if it answers a challenge for adding one to the
        session ``bound`` and verifies (user presence and verification required)."""
        challenge = self.answered(client_data, ADDING, bound, ts)
        if challenge is None or self.party is None:
            return None
        response = AuthenticatorAttestationResponse(client_data, attestation)
        credential = RegistrationCredential(to_b64url(credential_id), credential_id, response)
        try:
            done = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.party.rp_id,
                expected_origin=list(self.party.origins),
                require_user_verification=True,
            )
        except Exception:  # a third-party parser over hostile bytes: any failure is a refusal
            return None
        if done.credential_id != credential_id:
            return None
        return NewPasskey(done.credential_id, done.credential_public_key, done.sign_count)

    def check_assertion(
        self,
        passkey: NewPasskey,
        client_data: bytes,
        authenticator_data: bytes,
        signature: bytes,
        session_key: bytes,
        ts: int,
    ) -> int | None:
        """The passkey's new signature counter, if the assertion answers a log-in challenge
        bound to ``session_key`` and verifies; else None."""
        challenge = self.answered(client_data, LOGGING_IN, session_key, ts)
        if challenge is None or self.party is None:
            return None
        key_id = passkey.credential_id
        response = AuthenticatorAssertionResponse(client_data, authenticator_data, signature)
        credential = AuthenticationCredential(to_b64url(key_id), key_id, response)
        try:
            done = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.party.rp_id,
                expected_origin=list(self.party.origins),
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except Exception:  # as above: never let hostile bytes stop core
            return None
        return done.new_sign_count
