"""Accounts and the user keys bound to them: pure, journaled, snapshotted with the engine.

Operator keys are not here: they are pinned in the core's configuration and never change through
the wire. A user key belongs to exactly one account, is never an operator key, and once revoked
stays revoked (a revoked key cannot be registered again, so old signatures never regain force).
A session key (a browser's, registered at log-in) is a user key that also stops at its expiry.
Accounts opened by sign-up carry a username and the argon2id hash of its password.
"""

from __future__ import annotations

import msgspec

from stockade.core._results import CoreCode
from stockade.exchange import AccountId


class AccountRecord(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    account: AccountId
    label: str
    created_seq: int


class KeyRecord(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    public_key: bytes
    account: AccountId
    label: str
    created_seq: int
    revoked_seq: int | None = None
    expires_ms: int | None = None  # a session key's end; None for an API key

    def live(self, now_ms: int) -> bool:
        return self.revoked_seq is None and (self.expires_ms is None or now_ms < self.expires_ms)


class Credential(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    username: str
    account: AccountId
    password_hash: str  # argon2id, PHC string form
    totp_on: bool = False  # two-factor log-in, with secret number ``totp_generation``
    totp_generation: int = 0
    totp_step: int = 0  # the last time step whose code was used: no code counts twice


class PasskeyRecord(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A passkey that logs in as ``username``: its WebAuthn credential and public key (COSE),
    and the last signature counter it showed (a passkey whose counter goes back was cloned)."""

    credential_id: bytes
    username: str
    public_key: bytes
    sign_count: int
    name: str
    created_seq: int


class RegistryState(msgspec.Struct, forbid_unknown_fields=True):
    next_account: int
    accounts: list[AccountRecord]
    keys: list[KeyRecord]
    credentials: list[Credential] = []
    passkeys: list[PasskeyRecord] = []


class Registry:
    def __init__(self, operators: frozenset[bytes]) -> None:
        self.operators = operators
        self.next_account = 1
        self.accounts: dict[AccountId, AccountRecord] = {}
        self.keys: dict[bytes, KeyRecord] = {}
        self.credentials: dict[str, Credential] = {}
        self.passkeys: dict[bytes, PasskeyRecord] = {}  # by credential id
        self._passkeys_of: dict[str, dict[bytes, PasskeyRecord]] = {}  # by username, then id

    def create_user(self, username: str, password_hash: str, seq: int) -> AccountId:
        assert username not in self.credentials
        account = self.create_account(username, seq)
        self.credentials[username] = Credential(username, account, password_hash)
        return account

    def credential_of(self, account: AccountId) -> Credential | None:
        record = self.accounts.get(account)
        found = None if record is None else self.credentials.get(record.label)
        return found if found is not None and found.account == account else None

    def set_password(self, username: str, password_hash: str) -> None:
        self.credentials[username] = msgspec.structs.replace(
            self.credentials[username], password_hash=password_hash
        )

    def set_totp(self, username: str, on: bool, generation: int, step: int) -> None:
        """Turn two-factor log-in on or off, or record a used code's step (callers check that
        ``step`` is later than the last)."""
        self.credentials[username] = msgspec.structs.replace(
            self.credentials[username], totp_on=on, totp_generation=generation, totp_step=step
        )

    def passkeys_of(self, username: str) -> list[PasskeyRecord]:
        mine = self._passkeys_of.get(username, {}).values()
        return sorted(mine, key=lambda p: p.created_seq)

    def add_passkey(self, record: PasskeyRecord) -> None:
        assert record.credential_id not in self.passkeys
        assert record.username in self.credentials
        self._keep_passkey(record)

    def used_passkey(self, credential_id: bytes, sign_count: int) -> None:
        record = self.passkeys[credential_id]
        self._keep_passkey(msgspec.structs.replace(record, sign_count=sign_count))

    def remove_passkey(self, credential_id: bytes) -> None:
        record = self.passkeys.pop(credential_id)
        del self._passkeys_of[record.username][credential_id]

    def _keep_passkey(self, record: PasskeyRecord) -> None:
        self.passkeys[record.credential_id] = record
        self._passkeys_of.setdefault(record.username, {})[record.credential_id] = record

    def create_account(self, label: str, seq: int) -> AccountId:
        account = AccountId(self.next_account)
        self.next_account += 1
        self.accounts[account] = AccountRecord(account, label, seq)
        return account

    def check_register(self, account: AccountId, public_key: bytes) -> CoreCode | None:
        if account not in self.accounts:
            return CoreCode.UNKNOWN_ACCOUNT
        return self.check_new_key(public_key)

    def check_new_key(self, public_key: bytes) -> CoreCode | None:
        """Why ``public_key`` cannot become a user key (an operator's, or ever registered)."""
        if public_key in self.operators:
            return CoreCode.KEY_IS_OPERATOR
        if public_key in self.keys:
            return CoreCode.KEY_ALREADY_REGISTERED
        return None

    def register(
        self,
        account: AccountId,
        public_key: bytes,
        label: str,
        seq: int,
        expires_ms: int | None = None,
    ) -> None:
        assert self.check_register(account, public_key) is None
        self.keys[public_key] = KeyRecord(public_key, account, label, seq, None, expires_ms)

    def check_revoke(self, public_key: bytes) -> CoreCode | None:
        record = self.keys.get(public_key)
        return CoreCode.UNKNOWN_KEY if record is None or record.revoked_seq is not None else None

    def revoke(self, public_key: bytes, seq: int) -> None:
        assert self.check_revoke(public_key) is None
        self.keys[public_key] = msgspec.structs.replace(self.keys[public_key], revoked_seq=seq)

    def active_account(self, public_key: bytes, now_ms: int) -> AccountId | None:
        """The account a live user key acts for at ``now_ms``, or None for unknown, revoked and
        expired keys."""
        record = self.keys.get(public_key)
        return record.account if record is not None and record.live(now_ms) else None

    def state(self) -> RegistryState:
        return RegistryState(
            self.next_account,
            sorted(self.accounts.values(), key=lambda a: a.account),
            sorted(self.keys.values(), key=lambda k: k.public_key),
            sorted(self.credentials.values(), key=lambda c: c.username),
            sorted(self.passkeys.values(), key=lambda p: p.credential_id),
        )

    @classmethod
    def from_state(cls, operators: frozenset[bytes], state: RegistryState) -> Registry:
        registry = cls(operators)
        registry.next_account = state.next_account
        registry.accounts = {a.account: a for a in state.accounts}
        registry.keys = {k.public_key: k for k in state.keys}
        registry.credentials = {c.username: c for c in state.credentials}
        for passkey in state.passkeys:
            registry._keep_passkey(passkey)
        return registry
