"""People: sign-up, log-in, sessions and the keys a person manages, sans I/O.

``start`` decides what a sign-up or log-in needs before its password work (a refusal, or the
``Work`` to run off the event loop); ``change`` applies the registry change of core's own command
after that work, or of a session managing its account's keys. Neither touches the log or the
journal: ``Core`` does, around them, as for every other command. Only a session (a person, logged
in) manages keys: an API key, perhaps leaked, cannot make itself more keys, revoke its owner's,
or log out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stockade.core._passwords import hash_password, password_matches
from stockade.core._registry import AccountRecord, KeyRecord, Registry
from stockade.core._results import CoreCode, core_error
from stockade.exchange import AccountId
from stockade.wire import (
    AddKeyRequest,
    CoreCommand,
    CreateUser,
    ErrorInfo,
    LogInRequest,
    LogOutRequest,
    OpenSession,
    RevokeOwnKeyRequest,
    SignUpRequest,
)

#: How long a browser session's key may act for its account.
SESSION_MS = 12 * 3600 * 1000
#: Failed log-ins for one username that start a lock-out, and how long it lasts.
MAX_FAILURES = 5
LOCKOUT_MS = 15 * 60 * 1000
#: Usernames whose failures are remembered at most (a flood of names cannot grow it further).
MAX_TRACKED = 10_000

PersonChange = CreateUser | OpenSession | LogOutRequest | AddKeyRequest | RevokeOwnKeyRequest


@dataclass(frozen=True, slots=True)
class Work:
    """Password work the server runs in a worker thread; its result is the command core then
    sends itself (``Core.complete``), or the refusal to answer with."""

    username: str
    compute: Callable[[], CoreCommand | ErrorInfo]


@dataclass(frozen=True, slots=True)
class Changed:
    """A registry change made: the record it touched, and whether it added or removed a key
    (None: it opened an account)."""

    record: AccountRecord | KeyRecord
    key: bytes | None = None
    added: bool = True


class People:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._failures: dict[str, tuple[int, int]] = {}  # username -> (failures, since ms)

    def start(self, message: SignUpRequest | LogInRequest, ts: int) -> Work | ErrorInfo:
        """Refuse what can be refused at once; else the password work to do off the loop."""
        username, password = message.username, message.password
        if isinstance(message, SignUpRequest):
            if username in self.registry.credentials:
                return core_error(CoreCode.USERNAME_TAKEN, "that username is taken", "username")
            return Work(username, lambda: CreateUser(username, hash_password(password)))
        if not self._attempt(username, ts):
            text = "too many failed log-ins; wait"
            return core_error(CoreCode.TOO_MANY_ATTEMPTS, text, "username")
        key = message.session_key
        taken = self.registry.check_new_key(key)
        if taken is not None:
            return core_error(taken, "a session needs a key never used before", "session_key")
        credential = self.registry.credentials.get(username)
        stored = None if credential is None else credential.password_hash
        expires = ts + SESSION_MS

        def check() -> OpenSession | ErrorInfo:
            if password_matches(stored, password):
                return OpenSession(username, key, expires)
            return core_error(CoreCode.BAD_CREDENTIALS, "wrong username or password", None)

        return Work(username, check)

    def _attempt(self, username: str, ts: int) -> bool:
        """Count a log-in attempt as a failure from the moment it starts (so that attempts
        in flight together cannot outrun the lock-out); False when the username is locked."""
        failures, since = self._failures.get(username, (0, ts))
        if ts - since >= LOCKOUT_MS:
            failures, since = 0, ts
        if failures >= MAX_FAILURES:
            return False
        if len(self._failures) >= MAX_TRACKED and username not in self._failures:
            self._forget_old(ts)
        self._failures[username] = (failures + 1, since)
        return True

    def _forget_old(self, ts: int) -> None:
        """Bound the memory guessing can cost: drop ended windows, then the oldest."""
        for name in [n for n, (_, since) in self._failures.items() if ts - since >= LOCKOUT_MS]:
            del self._failures[name]
        while len(self._failures) >= MAX_TRACKED:
            del self._failures[next(iter(self._failures))]

    def finished(self, username: str, result: CoreCommand | ErrorInfo) -> None:
        """A log-in that succeeded clears its username's count; a failure stays counted. In
        memory only: a lock-out slows guessing; it need not survive a restart."""
        if isinstance(result, OpenSession):
            self._failures.pop(username, None)

    def change(
        self, message: PersonChange, sender: bytes, account: AccountId, seq: int, ts: int
    ) -> Changed | ErrorInfo:
        registry = self.registry
        match message:
            case CreateUser():
                if message.username in registry.credentials:  # taken while it was hashed
                    return core_error(CoreCode.USERNAME_TAKEN, "that username is taken", "username")
                created = registry.create_user(message.username, message.password_hash, seq)
                return Changed(registry.accounts[created])
            case OpenSession():
                credential = registry.credentials.get(message.username)
                if credential is None:  # only core sends this, after checking: never expected
                    return core_error(CoreCode.BAD_CREDENTIALS, "no such user", "username")
                return self._add(
                    credential.account, message.session_key, "session", seq, message.expires_ms
                )
        if registry.keys[sender].expires_ms is None:
            return core_error(CoreCode.NOT_A_SESSION, "sign this in a browser session", "key")
        if isinstance(message, AddKeyRequest):
            return self._add(account, message.public_key, message.label, seq, None)
        key = sender if isinstance(message, LogOutRequest) else message.public_key
        owned = registry.keys.get(key)
        if owned is None or owned.account != account or not owned.live(ts):
            return core_error(CoreCode.UNKNOWN_KEY, "no such live key of yours", "public_key")
        registry.revoke(key, seq)
        return Changed(registry.keys[key], key, added=False)

    def _add(
        self, account: AccountId, key: bytes, label: str, seq: int, expires_ms: int | None
    ) -> Changed | ErrorInfo:
        code = self.registry.check_register(account, key)
        if code is not None:
            return core_error(code, "a key can be registered once", "public_key")
        self.registry.register(account, key, label, seq, expires_ms)
        return Changed(self.registry.keys[key], key)
