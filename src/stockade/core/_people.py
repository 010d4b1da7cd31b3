"""People: sign-up, log-in (password, then an authenticator's code if the owner turned
two-factor log-in on), sessions and the keys a person manages, sans I/O.

``start`` decides what a sign-up or log-in needs before its password work (a refusal, or the
``Work`` to run off the event loop); ``change`` applies the registry change of core's own command
after that work, or of a session managing its account's keys and two-factor log-in. Neither
touches the log or the journal: ``Core`` does, around them, as for every other command. Only a
session (a person, logged in) manages keys and two-factor log-in: an API key, perhaps leaked,
cannot make itself more keys, revoke its owner's, turn two-factor off, or log out.

A refused log-in for a username that exists is journaled too (``LogInRefused``), with where it
came from, so that the owner sees every attempt in their log-in history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from stockade.core._passwords import hash_password, password_matches
from stockade.core._registry import AccountRecord, Credential, KeyRecord, Registry
from stockade.core._results import CoreCode, core_error
from stockade.core._rows import LogInRecord
from stockade.core._totp import matching_step
from stockade.exchange import AccountId
from stockade.wire import (
    AddKeyRequest,
    CoreCommand,
    CreateUser,
    DisableTotpRequest,
    EnableTotpRequest,
    ErrorInfo,
    LogInRefused,
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

PersonChange = (
    CreateUser
    | OpenSession
    | LogInRefused
    | LogOutRequest
    | AddKeyRequest
    | RevokeOwnKeyRequest
    | EnableTotpRequest
    | DisableTotpRequest
)

#: What a journaled log-in refusal answers, by its reason.
REFUSALS = {
    "password": core_error(CoreCode.BAD_CREDENTIALS, "wrong username or password"),
    "code_missing": core_error(
        CoreCode.TOTP_REQUIRED, "this account also needs a code from its authenticator", "totp"
    ),
    "code": core_error(CoreCode.BAD_TOTP, "wrong code, or one used already", "totp"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Work:
    """Password work the server runs in a worker thread; its result is the command core then
    sends itself (``Core.complete``), or the refusal to answer with."""

    username: str
    compute: Callable[[], CoreCommand | ErrorInfo]


@dataclasses.dataclass(frozen=True, slots=True)
class Changed:
    """A registry change made: the record it touched (None: nothing the log shows, such as
    two-factor log-in turned on or off, or a refused log-in), and whether it added or removed a
    key (None: it opened an account); for the log-in history, the attempt; for a refused
    log-in, its answer."""

    record: AccountRecord | KeyRecord | None
    key: bytes | None = None
    added: bool = True
    login: LogInRecord | None = None
    refusal: ErrorInfo | None = None


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
        client, expires, code = message.client, ts + SESSION_MS, message.totp

        def check() -> CoreCommand | ErrorInfo:
            if credential is None:
                password_matches(None, password)  # as long as a wrong password takes
                return REFUSALS["password"]
            if not password_matches(credential.password_hash, password):
                return LogInRefused(username, "password", client)
            secret = credential.totp_secret
            if secret is None:
                return OpenSession(username, key, expires, None, client)
            if code is None:
                return LogInRefused(username, "code_missing", client)
            step = matching_step(secret, code, ts, credential.totp_step)
            if step is None:
                return LogInRefused(username, "code", client)
            return OpenSession(username, key, expires, step, client)

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
            case OpenSession() | LogInRefused():
                credential = registry.credentials.get(message.username)
                if credential is None:  # only core sends these, after checking: never expected
                    return core_error(CoreCode.BAD_CREDENTIALS, "no such user", "username")
                return self._logged_in(credential, message, seq)
        if registry.keys[sender].expires_ms is None:
            return core_error(CoreCode.NOT_A_SESSION, "sign this in a browser session", "key")
        match message:
            case AddKeyRequest():
                return self._add(account, message.public_key, message.label, seq, None)
            case EnableTotpRequest() | DisableTotpRequest():
                return self._two_factor(message, account, ts)
        key = sender if isinstance(message, LogOutRequest) else message.public_key
        owned = registry.keys.get(key)
        if owned is None or owned.account != account or not owned.live(ts):
            return core_error(CoreCode.UNKNOWN_KEY, "no such live key of yours", "public_key")
        registry.revoke(key, seq)
        return Changed(registry.keys[key], key, added=False)

    def _logged_in(
        self, credential: Credential, message: OpenSession | LogInRefused, seq: int
    ) -> Changed | ErrorInfo:
        """A log-in's outcome: a session opened (its code's step used up), or a refusal that
        changes nothing but the owner's log-in history."""
        if isinstance(message, LogInRefused):
            login = LogInRecord(credential.account, message.reason, message.client, None)
            return Changed(None, login=login, refusal=REFUSALS[message.reason])
        step, key = message.totp_step, message.session_key
        if credential.totp_secret is not None and (step is None or step <= credential.totp_step):
            return REFUSALS["code"]  # two log-ins raced with one code: the second loses
        code = self.registry.check_register(credential.account, key)
        if code is not None:
            return core_error(code, "a key can be registered once", "session_key")
        if step is not None:
            self.registry.set_totp(credential.username, credential.totp_secret, step)
        self.registry.register(credential.account, key, "session", seq, message.expires_ms)
        login = LogInRecord(credential.account, None, message.client, key)
        return Changed(self.registry.keys[key], key, login=login)

    def _two_factor(
        self, message: EnableTotpRequest | DisableTotpRequest, account: AccountId, ts: int
    ) -> Changed | ErrorInfo:
        """Turn two-factor log-in on with a new secret, or off, on a current code from it.
        Wrong codes count towards the same lock-out as wrong passwords. (A replayed command
        succeeded live, and success clears the count, so replay never meets the lock.)"""
        credential = self.registry.credential_of(account)
        if credential is None:
            return core_error(CoreCode.NO_PASSWORD, "this account has no password log-in")
        turning_on = isinstance(message, EnableTotpRequest)
        if turning_on and credential.totp_secret is not None:
            return core_error(CoreCode.TOTP_ALREADY_ON, "two-factor log-in is on already")
        if not turning_on and credential.totp_secret is None:
            return core_error(CoreCode.TOTP_NOT_ON, "two-factor log-in is not on")
        if not self._attempt(credential.username, ts):
            return core_error(CoreCode.TOO_MANY_ATTEMPTS, "too many wrong codes; wait", "code")
        secret = (
            message.secret if isinstance(message, EnableTotpRequest) else credential.totp_secret
        )
        assert secret is not None
        step = matching_step(secret, message.code, ts, credential.totp_step)
        if step is None:
            return core_error(CoreCode.BAD_TOTP, "wrong code, or one used already", "code")
        self._failures.pop(credential.username, None)
        self.registry.set_totp(credential.username, secret if turning_on else None, step)
        return Changed(None)

    def _add(
        self, account: AccountId, key: bytes, label: str, seq: int, expires_ms: int | None
    ) -> Changed | ErrorInfo:
        code = self.registry.check_register(account, key)
        if code is not None:
            return core_error(code, "a key can be registered once", "public_key")
        self.registry.register(account, key, label, seq, expires_ms)
        return Changed(self.registry.keys[key], key)
