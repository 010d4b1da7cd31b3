"""Messages about people: signing up and logging in (password, authenticator code, passkey),
the account's keys and sessions, and what core journals of each."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from stockade.wire._base import (
    MAX_LIST,
    ClientNote,
    Key32,
    Label,
    Limit,
    Password,
    PasswordHash,
    Seq,
    TotpCode,
    Username,
    _Msg,
)

#: A WebAuthn credential's id as the authenticator chose it.
CredentialId = Annotated[bytes, msgspec.Meta(min_length=16, max_length=255)]
#: clientDataJSON, an attestation object or authenticator data, as the browser handed them over.
CeremonyBytes = Annotated[bytes, msgspec.Meta(min_length=37, max_length=2048)]
#: A passkey's public key (COSE_Key) or its signature (DER, or raw for Ed25519).
PasskeyBytes = Annotated[bytes, msgspec.Meta(min_length=32, max_length=1024)]


class SignUpRequest(_Msg, frozen=True, tag=30):
    """Open an account that logs in with this username and password. Anyone may ask; the
    password is hashed (argon2id) by core, off its event loop, and never stored or logged."""

    username: Username
    password: Password


class LogInRequest(_Msg, frozen=True, tag=31):
    """Check a username and password and, if they match, let ``session_key`` act for that
    account until the session expires: a browser's non-extractable key, made for this log-in."""

    username: Username
    password: Password
    session_key: Key32
    totp: TotpCode | None = None  # needed once the account has turned on two-factor log-in
    client: ClientNote = ""


class LogOutRequest(_Msg, frozen=True, tag=32):
    """End the session whose key signs this request."""


class AddKeyRequest(_Msg, frozen=True, tag=33):
    """Register an API key for the account of the session signing this (only a session may: a
    leaked API key cannot make itself more keys)."""

    public_key: Key32
    label: Label
    totp: TotpCode | None = None  # a current code, once two-factor log-in is on


class KeysRequest(_Msg, frozen=True, tag=34):
    """The account's keys: API keys and sessions, live or ended."""


class RevokeOwnKeyRequest(_Msg, frozen=True, tag=35):
    """End one of the account's API keys or sessions (signed by a session of the account)."""

    public_key: Key32


class TotpSecretRequest(_Msg, frozen=True, tag=37):
    """A fresh secret for an authenticator app (signed by a session). Nothing changes until an
    ``EnableTotpRequest`` shows a code made from it."""


class EnableTotpRequest(_Msg, frozen=True, tag=38):
    """Turn on two-factor log-in with the secret ``TotpSecretRequest`` showed, proved held by an
    authenticator by ``code`` (signed by a session). From then on a log-in, and adding an API
    key, needs a current code as well."""

    code: TotpCode


class DisableTotpRequest(_Msg, frozen=True, tag=39):
    """Turn two-factor log-in off, with a current code (signed by a session). Without the
    authenticator only an operator quorum can reset it."""

    code: TotpCode


class ChangePasswordRequest(_Msg, frozen=True, tag=17):
    """Replace the account's password (signed by a session): the current one, the new one, and
    a current code once two-factor log-in is on. Checked and hashed off core's event loop."""

    password: Password
    new_password: Password
    totp: TotpCode | None = None


class LogInsRequest(_Msg, frozen=True, tag=16):
    """The account's latest log-ins and refused log-in attempts, newest first."""

    limit: Limit = 50


class CreateUser(_Msg, frozen=True, tag=40):
    """Core's own command, once it has hashed a sign-up's password: what the journal keeps."""

    username: Username
    password_hash: PasswordHash


class OpenSession(_Msg, frozen=True, tag=41):
    """Core's own command, once a log-in's password checked out: what the journal keeps."""

    username: Username
    session_key: Key32
    expires_ms: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    totp_step: Seq | None = None  # the time step of the code it took, which no log-in may reuse
    totp_generation: Seq | None = None  # the secret that code was checked against
    client: ClientNote = ""
    passkey: CredentialId | None = None  # the passkey that logged in, instead of a password
    sign_count: Seq = 0  # that passkey's signature counter, which must only go up


class SetPassword(_Msg, frozen=True, tag=43):
    """Core's own command, once a password change's current password checked out and the new
    one is hashed: what the journal keeps (never either password)."""

    username: Username
    password_hash: PasswordHash
    totp_step: Seq | None = None
    totp_generation: Seq | None = None


#: Why core refused a log-in whose username exists (a refusal is journaled, for the owner's
#: log-in history): a wrong password, a missing or a wrong code, a passkey's answer that failed.
RefusedBecause = Literal["password", "code_missing", "code", "passkey"]


class LogInRefused(_Msg, frozen=True, tag=42):
    """Core's own command, once a log-in for an existing username failed its checks: what the
    journal keeps, so that the owner sees the attempt in their log-in history."""

    username: Username
    reason: RefusedBecause
    client: ClientNote = ""


class TotpSecret(_Msg, frozen=True, tag=118):
    """A secret for an authenticator app: ``secret`` in base32, and the ``otpauth://`` URI an
    app scans from a QR code."""

    secret: Annotated[str, msgspec.Meta(pattern=r"^[A-Z2-7]{32}\Z")]
    uri: Annotated[str, msgspec.Meta(max_length=300)]


class LogInRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One log-in (``refused`` is None) or refused attempt; ``session_key`` of the session a
    log-in opened, and ``method``, how it logged in (None before core recorded it)."""

    seq: Seq
    ts: int
    refused: RefusedBecause | None
    client: ClientNote
    session_key: Key32 | None
    method: Literal["password", "passkey"] | None = None


class LogIns(_Msg, frozen=True, tag=119):
    two_factor: bool  # whether a log-in needs an authenticator's code
    logins: Annotated[list[LogInRow], msgspec.Meta(max_length=MAX_LIST)]


class KeyRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    public_key: Key32
    label: Label
    created_seq: Seq
    session: bool  # a browser session's key (it expires); else an API key
    expires_ms: int | None
    live: bool


class Keys(_Msg, frozen=True, tag=115):
    keys: Annotated[list[KeyRow], msgspec.Meta(max_length=MAX_LIST)]


class PasskeyOptionsRequest(_Msg, frozen=True, tag=18):
    """What a browser needs to make a passkey for the account of the session signing this: a
    challenge bound to that session, and the passkeys the account holds (not to make twice)."""


class AddPasskeyRequest(_Msg, frozen=True, tag=19):
    """Add the passkey the browser made in answer to ``PasskeyOptionsRequest`` (signed by the
    same session), with a current code once two-factor log-in is on. Core checks the
    attestation itself; from then on the passkey alone logs in."""

    credential_id: CredentialId
    client_data: CeremonyBytes
    attestation: CeremonyBytes
    name: Label
    totp: TotpCode | None = None


class PasskeysRequest(_Msg, frozen=True, tag=28):
    """The account's passkeys (signed by a session)."""


class RemovePasskeyRequest(_Msg, frozen=True, tag=29):
    """Remove one of the account's passkeys (signed by a session)."""

    credential_id: CredentialId


class PasskeyChallengeRequest(_Msg, frozen=True, tag=44):
    """A challenge to log in with a passkey, bound to ``session_key``: the key the log-in will
    register, so that the answer can open a session for that key and no other. Anyone may
    ask."""

    session_key: Key32


class PasskeyLogInRequest(_Msg, frozen=True, tag=45):
    """Log in with a passkey's answer to ``PasskeyChallengeRequest``'s challenge: on success
    ``session_key`` acts for the passkey's account until the session expires. A passkey asks
    for the person's verification (PIN or biometric) itself, so no password or code is
    needed."""

    session_key: Key32
    credential_id: CredentialId
    client_data: CeremonyBytes
    authenticator_data: CeremonyBytes
    signature: PasskeyBytes
    client: ClientNote = ""


class AddPasskey(_Msg, frozen=True, tag=46):
    """Core's own command, once a new passkey's attestation checked out: what the journal
    keeps (the public key only)."""

    username: Username
    credential_id: CredentialId
    public_key: PasskeyBytes
    sign_count: Seq
    name: Label
    session_key: Key32  # the session that asked: it must still be live when this applies
    totp_step: Seq | None = None
    totp_generation: Seq | None = None


class PasskeyChallenge(_Msg, frozen=True, tag=120):
    """A WebAuthn challenge, for the relying party ``rp_id``, to answer within ``timeout_ms``;
    to add a passkey, also the account's user handle and name and the passkeys it holds."""

    challenge: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    rp_id: Annotated[str, msgspec.Meta(max_length=253)]
    timeout_ms: Seq
    user_id: Annotated[bytes, msgspec.Meta(max_length=64)] | None = None
    username: Username | None = None
    exclude: Annotated[list[CredentialId], msgspec.Meta(max_length=16)] = msgspec.field(
        default_factory=list
    )


class PasskeyRow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    credential_id: CredentialId
    name: Label
    created_seq: Seq
    sign_count: Seq


class Passkeys(_Msg, frozen=True, tag=121):
    passkeys: Annotated[list[PasskeyRow], msgspec.Meta(max_length=16)]
