"""Stream grants: core's signed, short-lived word that a key acts for an account, which lets web
stream that account's orders, fills and balances to the key's holder (``wire.StreamGrant``).

A grant is no stronger than the key it was made for: every read it is used for checks core's
signature, the time and that the key is still live for the account, so a log-out or a
revocation ends it at once, and it never outlives a session.
"""

from __future__ import annotations

from stockade.core._registry import Registry
from stockade.keys import BadSignature, Identity, PublicKey
from stockade.wire import GRANT_DOMAIN, GRANT_MS, StreamGrant, grant_bytes


def make_grant(
    identity: Identity, registry: Registry, key: bytes, pseudonym: bytes, now_ms: int
) -> StreamGrant:
    """A grant for ``key`` (live for an account: it signed the request), ending with it if it is
    a session's key."""
    record = registry.keys[key]
    ends = now_ms + GRANT_MS
    expires = ends if record.expires_ms is None else min(ends, record.expires_ms)
    signed = grant_bytes(record.account, key, pseudonym, expires)
    return StreamGrant(
        record.account, key, pseudonym, expires, identity.secret.sign(GRANT_DOMAIN, signed)
    )


def grant_problem(
    core_key: PublicKey, registry: Registry, grant: StreamGrant, now_ms: int
) -> str | None:
    """Why ``grant`` may not be used now, or None if it may."""
    signed = grant_bytes(grant.account, grant.public_key, grant.user, grant.expires_ms)
    try:
        core_key.verify(GRANT_DOMAIN, signed, grant.signature)
    except BadSignature:
        return "the grant is not signed by this exchange"
    if now_ms >= grant.expires_ms:
        return "the grant has expired: ask for a new one"
    if registry.active_account(grant.public_key, now_ms) != grant.account:
        return "the grant's key is no longer live"
    return None
