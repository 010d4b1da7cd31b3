"""What a person sees of how their account is reached: its keys and sessions, a fresh secret
for two-factor log-in, its passkeys and the challenges to make or use one, and its log-in
history."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from stockade.core._passkeys import ADDING, CHALLENGE_MS, LOGGING_IN
from stockade.core._people import PASSKEYS_OFF, People
from stockade.core._registry import Registry
from stockade.core._results import CoreCode, core_error
from stockade.core._storage import Storage
from stockade.core._totp import base32, provisioning_uri
from stockade.exchange import AccountId
from stockade.wire import (
    MAX_LIST,
    ErrorInfo,
    KeyRow,
    Keys,
    KeysRequest,
    LogIns,
    LogInsRequest,
    PasskeyChallenge,
    PasskeyChallengeRequest,
    PasskeyOptionsRequest,
    PasskeyRow,
    Passkeys,
    PasskeysRequest,
    TotpSecret,
    TotpSecretRequest,
)

AccountRead = (
    KeysRequest
    | TotpSecretRequest
    | LogInsRequest
    | PasskeyOptionsRequest
    | PasskeysRequest
    | PasskeyChallengeRequest
)


def account_read(
    people: People,
    message: AccountRead,
    account: AccountId,
    sender: bytes,
    now_ms: int,
    issuer: str,
) -> Keys | TotpSecret | PasskeyChallenge | Passkeys | ErrorInfo | Callable[[Storage], LogIns]:
    """The answer, or the history query that makes it."""
    registry = people.registry
    match message:
        case KeysRequest():
            return keys_of(registry, account, now_ms)
        case TotpSecretRequest():
            return totp_secret_for(people, account, sender, issuer)
        case PasskeyChallengeRequest():
            return passkey_challenge(people, LOGGING_IN, message.session_key, now_ms)
        case PasskeyOptionsRequest():
            return passkey_options(people, account, sender, now_ms)
        case PasskeysRequest():
            return passkeys_of(people, account)
    credential = registry.credential_of(account)
    on = credential is not None and credential.totp_on
    limit = message.limit
    return lambda storage: LogIns(on, storage.logins_of(account, limit))


def keys_of(registry: Registry, account: AccountId, now_ms: int) -> Keys:
    """The account's API keys and sessions, newest last."""
    mine = sorted(
        (k for k in registry.keys.values() if k.account == account), key=lambda k: k.created_seq
    )
    rows = [
        KeyRow(
            k.public_key,
            k.label,
            k.created_seq,
            k.expires_ms is not None,
            k.expires_ms,
            k.live(now_ms),
        )
        for k in mine[-MAX_LIST:]
    ]
    return Keys(rows)


def totp_secret_for(
    people: People, account: AccountId, sender: bytes, issuer: str
) -> TotpSecret | ErrorInfo:
    """The secret turning two-factor log-in on will take (the next one: never the one in use),
    for a session to show the account's authenticator app."""
    registry = people.registry
    if registry.keys[sender].expires_ms is None:
        return core_error(CoreCode.NOT_A_SESSION, "sign this in a browser session", "key")
    credential = registry.credential_of(account)
    if credential is None:
        return core_error(CoreCode.NO_PASSWORD, "this account has no password log-in")
    if credential.totp_on:
        return core_error(CoreCode.TOTP_ALREADY_ON, "two-factor log-in is on already")
    secret = people.secret(credential, credential.totp_generation + 1)
    return TotpSecret(base32(secret), provisioning_uri(secret, issuer, credential.username))


def passkey_challenge(
    people: People, purpose: bytes, bound: bytes, now_ms: int
) -> PasskeyChallenge | ErrorInfo:
    party = people.ceremonies.party
    if party is None:
        return PASSKEYS_OFF
    challenge = people.ceremonies.challenge(purpose, bound, now_ms)
    return PasskeyChallenge(challenge, party.rp_id, CHALLENGE_MS)


def passkey_options(
    people: People, account: AccountId, sender: bytes, now_ms: int
) -> PasskeyChallenge | ErrorInfo:
    """A challenge to add a passkey, bound to the session asking, with the account's user
    handle (its number: no name or address goes to the authenticator's maker) and the
    passkeys it holds, so that the browser makes no second one on the same device."""
    credential = people.session_credential(sender)
    if isinstance(credential, ErrorInfo):
        return credential
    made = passkey_challenge(people, ADDING, sender, now_ms)
    if isinstance(made, ErrorInfo):
        return made
    held = [p.credential_id for p in people.registry.passkeys_of(credential.username)]
    user = account.to_bytes(8, "big")
    return msgspec.structs.replace(made, user_id=user, username=credential.username, exclude=held)


def passkeys_of(people: People, account: AccountId) -> Passkeys:
    credential = people.registry.credential_of(account)
    held = [] if credential is None else people.registry.passkeys_of(credential.username)
    return Passkeys(
        [PasskeyRow(p.credential_id, p.name, p.created_seq, p.sign_count) for p in held]
    )
