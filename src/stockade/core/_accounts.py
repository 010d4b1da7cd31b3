"""What a person sees of how their account is reached: its keys and sessions, a fresh secret
for two-factor log-in, and its log-in history."""

from __future__ import annotations

from collections.abc import Callable

from stockade.core._people import People
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
    TotpSecret,
    TotpSecretRequest,
)


def account_read(
    people: People,
    message: KeysRequest | TotpSecretRequest | LogInsRequest,
    account: AccountId,
    sender: bytes,
    now_ms: int,
    issuer: str,
) -> Keys | TotpSecret | ErrorInfo | Callable[[Storage], LogIns]:
    """The answer, or the history query that makes it."""
    registry = people.registry
    match message:
        case KeysRequest():
            return keys_of(registry, account, now_ms)
        case TotpSecretRequest():
            return totp_secret_for(people, account, sender, issuer)
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
