"""People: sign-up, log-in (password, then an authenticator's code if the owner turned
two-factor log-in on; or a passkey), sessions and the keys a person manages, sans I/O.

``start`` decides what a sign-up or log-in needs before its password or passkey work (a
refusal, or the ``Work`` to run off the event loop); ``change`` applies the registry change of
core's own command after that work, or of a session managing its account's keys, passkeys and
two-factor log-in. Neither touches the log or the journal: ``Core`` does, around them, as for
every other command. Only a session (a person, logged in) manages keys, passkeys and two-factor
log-in: an API key, perhaps leaked, cannot make itself more keys, revoke its owner's, turn
two-factor off, add a passkey, or log out.

A refused log-in for a username that exists is journaled too (``LogInRefused``), with where it
came from, so that the owner sees every attempt in their log-in history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from stockade.core._passkeys import MAX_PASSKEYS, Ceremonies, NewPasskey
from stockade.core._passwords import hash_password, password_matches
from stockade.core._registry import AccountRecord, Credential, KeyRecord, PasskeyRecord, Registry
from stockade.core._results import CoreCode, core_error
from stockade.core._rows import LogInRecord
from stockade.core._totp import derived_secret, matching_step
from stockade.exchange import AccountId
from stockade.wire import (
    AddKeyRequest,
    AddPasskey,
    AddPasskeyRequest,
    ChangePasswordRequest,
    CoreCommand,
    CreateUser,
    DisableTotpRequest,
    EnableTotpRequest,
    ErrorInfo,
    LogInRefused,
    LogInRequest,
    LogOutRequest,
    OpenSession,
    PasskeyLogInRequest,
    RemovePasskeyRequest,
    RevokeOwnKeyRequest,
    SetPassword,
    SignUpRequest,
)

#: How long a browser session's key may act for its account.
SESSION_MS = 12 * 3600 * 1000
#: Failed log-ins for one username that start a lock-out, and how long it lasts.
MAX_FAILURES = 5
LOCKOUT_MS = 15 * 60 * 1000
#: Usernames whose failures are remembered at most (a flood of names cannot grow it further).
MAX_TRACKED = 10_000
#: Refused log-ins journaled per minute at most, all usernames together: past it a refusal is
#: answered but not kept, so a guessing flood cannot grow the journal without bound.
RECORDED_REFUSALS_PER_MINUTE = 600

PersonChange = (
    CreateUser
    | SetPassword
    | OpenSession
    | LogInRefused
    | LogOutRequest
    | AddKeyRequest
    | RevokeOwnKeyRequest
    | EnableTotpRequest
    | DisableTotpRequest
    | AddPasskey
    | RemovePasskeyRequest
)

#: What people send that needs work off the loop (a password hash, a passkey's check) first.
WorkRequest = (
    SignUpRequest | LogInRequest | ChangePasswordRequest | AddPasskeyRequest | PasskeyLogInRequest
)

#: What a journaled log-in refusal answers, by its reason.
REFUSALS = {
    "password": core_error(CoreCode.BAD_CREDENTIALS, "wrong username or password"),
    "code_missing": core_error(
        CoreCode.TOTP_REQUIRED, "this account also needs a code from its authenticator", "totp"
    ),
    "code": core_error(CoreCode.BAD_TOTP, "wrong code, or one used already", "totp"),
    "passkey": core_error(CoreCode.BAD_PASSKEY, "the passkey's answer does not check out"),
}
PASSKEYS_OFF = core_error(CoreCode.PASSKEYS_OFF, "this site takes no passkeys")


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
    def __init__(self, registry: Registry, totp_master: bytes, passkey_key: bytes) -> None:
        self.registry = registry
        self._totp_master = totp_master
        self.ceremonies = Ceremonies(None, passkey_key)  # core.toml names the relying party
        self._failures: dict[str, tuple[int, int]] = {}  # username -> (failures, since ms)
        self._refusal_budget = (RECORDED_REFUSALS_PER_MINUTE, 0)  # (tokens, as of ms)

    def secret(self, credential: Credential, generation: int | None = None) -> bytes:
        """The account's current TOTP secret (or its ``generation``-th)."""
        number = credential.totp_generation if generation is None else generation
        return derived_secret(self._totp_master, credential.account, number)

    def start(self, message: WorkRequest, ts: int, sender: bytes) -> Work | ErrorInfo:
        """Refuse what can be refused at once; else the work to do off the loop."""
        match message:
            case ChangePasswordRequest():
                return self._change_password(message, ts, sender)
            case AddPasskeyRequest():
                return self._add_passkey(message, ts, sender)
            case PasskeyLogInRequest():
                return self._passkey_log_in(message, ts)
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
        secret = b"" if credential is None else self.secret(credential)

        def check() -> CoreCommand | ErrorInfo:
            if credential is None:
                password_matches(None, password)  # as long as a wrong password takes
                return REFUSALS["password"]
            if not password_matches(credential.password_hash, password):
                return LogInRefused(username, "password", client)
            if not credential.totp_on:
                return OpenSession(username, key, expires, None, None, client)
            if code is None:
                return LogInRefused(username, "code_missing", client)
            step = matching_step(secret, code, ts, credential.totp_step)
            if step is None:
                return LogInRefused(username, "code", client)
            return OpenSession(username, key, expires, step, credential.totp_generation, client)

        return Work(username, check)

    def _change_password(
        self, message: ChangePasswordRequest, ts: int, sender: bytes
    ) -> Work | ErrorInfo:
        """A session's change of its account's password: the current one and, once two-factor
        log-in is on, a current code; both count towards the lock-out when wrong."""
        credential = self.session_credential(sender)
        if isinstance(credential, ErrorInfo):
            return credential
        username, step, generation = credential.username, None, None
        if credential.totp_on:
            if message.totp is None:
                return REFUSALS["code_missing"]
            step = matching_step(self.secret(credential), message.totp, ts, credential.totp_step)
            generation = credential.totp_generation
        if not self._attempt(username, ts):
            return core_error(CoreCode.TOO_MANY_ATTEMPTS, "too many wrong tries; wait", "password")
        if credential.totp_on and step is None:
            return REFUSALS["code"]
        current, new = message.password, message.new_password

        def check() -> CoreCommand | ErrorInfo:
            if not password_matches(credential.password_hash, current):
                return core_error(CoreCode.BAD_CREDENTIALS, "wrong current password", "password")
            return SetPassword(username, hash_password(new), step, generation)

        return Work(username, check)

    def session_credential(self, sender: bytes) -> Credential | ErrorInfo:
        """The log-in of the account whose session signed this; refused to an API key."""
        key = self.registry.keys[sender]
        if key.expires_ms is None:
            return core_error(CoreCode.NOT_A_SESSION, "sign this in a browser session", "key")
        credential = self.registry.credential_of(key.account)
        if credential is None:
            return core_error(CoreCode.NO_PASSWORD, "this account has no password log-in")
        return credential

    def _add_passkey(self, message: AddPasskeyRequest, ts: int, sender: bytes) -> Work | ErrorInfo:
        """A passkey for the session's account, with a current code once two-factor log-in is
        on (a session someone took over cannot add itself a lasting way in without the
        authenticator). Its attestation is checked off the loop."""
        if self.ceremonies.party is None:
            return PASSKEYS_OFF
        credential = self.session_credential(sender)
        if isinstance(credential, ErrorInfo):
            return credential
        username, key_id = credential.username, message.credential_id
        problem = self._passkey_problem(username, key_id)
        if problem is not None:
            return problem
        step, generation = None, None
        if credential.totp_on:
            generation = credential.totp_generation
            found = self._current_code(credential, generation, message.totp, ts, "totp")
            if isinstance(found, ErrorInfo):
                return found
            step = found
        ceremonies, name = self.ceremonies, message.name

        def check() -> CoreCommand | ErrorInfo:
            made = ceremonies.check_new(
                key_id, message.client_data, message.attestation, sender, ts
            )
            if made is None:
                text = "the new passkey's answer does not check out"
                return core_error(CoreCode.BAD_PASSKEY, text, "attestation")
            cose, count = made.public_key, made.sign_count
            return AddPasskey(username, key_id, cose, count, name, sender, step, generation)

        return Work(username, check)

    def _passkey_problem(self, username: str, credential_id: bytes) -> ErrorInfo | None:
        if credential_id in self.registry.passkeys:
            return core_error(CoreCode.PASSKEY_TAKEN, "that passkey is added already")
        if len(self.registry.passkeys_of(username)) >= MAX_PASSKEYS:
            text = f"an account holds at most {MAX_PASSKEYS} passkeys"
            return core_error(CoreCode.TOO_MANY_PASSKEYS, text)
        return None

    def _passkey_log_in(self, message: PasskeyLogInRequest, ts: int) -> Work | ErrorInfo:
        """A log-in with a passkey instead of a password and code: the passkey asked for its
        owner's PIN or biometric itself. Its answer is checked off the loop. Failures do not
        count towards the lock-out: a passkey cannot be guessed, and anyone may know its id."""
        if self.ceremonies.party is None:
            return PASSKEYS_OFF
        key = message.session_key
        taken = self.registry.check_new_key(key)
        if taken is not None:
            return core_error(taken, "a session needs a key never used before", "session_key")
        found = self.registry.passkeys.get(message.credential_id)
        if found is None:
            return core_error(CoreCode.BAD_PASSKEY, "no such passkey", "credential_id")
        known = NewPasskey(found.credential_id, found.public_key, found.sign_count)
        username, client, expires = found.username, message.client, ts + SESSION_MS
        ceremonies = self.ceremonies

        def check() -> CoreCommand | ErrorInfo:
            count = ceremonies.check_assertion(
                known, message.client_data, message.authenticator_data, message.signature, key, ts
            )
            if count is None:
                return LogInRefused(username, "passkey", client)
            return OpenSession(
                username, key, expires, None, None, client, found.credential_id, count
            )

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

    def finished(
        self, username: str, result: CoreCommand | ErrorInfo, ts: int
    ) -> CoreCommand | ErrorInfo:
        """What to do with a log-in's result. Success clears its username's count; a failure
        stays counted. In memory only: a lock-out slows guessing; it need not survive a
        restart. A refusal is journaled while the budget lasts, else only answered."""
        if isinstance(result, OpenSession | SetPassword):
            self._failures.pop(username, None)
        if not isinstance(result, LogInRefused):
            return result
        tokens, since = self._refusal_budget
        tokens = min(
            RECORDED_REFUSALS_PER_MINUTE,
            tokens + (ts - since) * RECORDED_REFUSALS_PER_MINUTE // 60_000,
        )
        if tokens < 1:
            return REFUSALS[result.reason]
        self._refusal_budget = (tokens - 1, ts)
        return result

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
            case OpenSession() | LogInRefused() | SetPassword() | AddPasskey():
                credential = registry.credentials.get(message.username)
                if credential is None:  # only core sends these, after checking: never expected
                    return core_error(CoreCode.BAD_CREDENTIALS, "no such user", "username")
                if isinstance(message, SetPassword | AddPasskey):
                    return self._after_work(credential, message, seq, ts)
                return self._logged_in(credential, message, seq)
        if registry.keys[sender].expires_ms is None:
            return core_error(CoreCode.NOT_A_SESSION, "sign this in a browser session", "key")
        match message:
            case AddKeyRequest():
                return self._add_api_key(message, account, seq, ts)
            case EnableTotpRequest() | DisableTotpRequest():
                return self._two_factor(message, account, ts)
            case RemovePasskeyRequest():
                return self._remove_passkey(message.credential_id, account)
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
        key, passkey = message.session_key, message.passkey
        if passkey is None:
            refused = _spent_code(credential, message.totp_step, message.totp_generation)
        else:
            refused = self._passkey_spent(credential, passkey, message.sign_count)
        if refused is not None:
            return refused
        code = self.registry.check_register(credential.account, key)
        if code is not None:
            return core_error(code, "a key can be registered once", "session_key")
        self._spend(credential, message.totp_step)
        if passkey is not None:
            self.registry.used_passkey(passkey, message.sign_count)
        self.registry.register(credential.account, key, "session", seq, message.expires_ms)
        method = "password" if passkey is None else "passkey"
        login = LogInRecord(credential.account, None, message.client, key, method)
        return Changed(self.registry.keys[key], key, login=login)

    def _after_work(
        self, credential: Credential, message: SetPassword | AddPasskey, seq: int, ts: int
    ) -> Changed | ErrorInfo:
        """A new password, or a new passkey, once its code (if it took one) still counts and
        (for a passkey) the session that asked is still live."""
        refused = _spent_code(credential, message.totp_step, message.totp_generation)
        if isinstance(message, AddPasskey):
            refused = refused or self._passkey_problem(credential.username, message.credential_id)
            asked = self.registry.keys.get(message.session_key)
            if refused is None and (asked is None or not asked.live(ts)):
                refused = core_error(CoreCode.NOT_A_SESSION, "the session that asked has ended")
        if refused is not None:
            return refused
        self._spend(credential, message.totp_step)
        if isinstance(message, SetPassword):
            self.registry.set_password(credential.username, message.password_hash)
        else:
            record = PasskeyRecord(
                message.credential_id,
                credential.username,
                message.public_key,
                message.sign_count,
                message.name,
                seq,
            )
            self.registry.add_passkey(record)
        return Changed(None)

    def _spend(self, credential: Credential, step: int | None) -> None:
        """Record that ``step``'s code is used up: no command takes it again."""
        if step is not None:
            self.registry.set_totp(credential.username, True, credential.totp_generation, step)

    def _passkey_spent(
        self, credential: Credential, credential_id: bytes, sign_count: int
    ) -> ErrorInfo | None:
        """Why a passkey's log-in, checked off the loop, no longer counts: the passkey was
        removed meanwhile, or another log-in showed the same counter first (a counter that
        does not go up, once it has, is a cloned passkey's)."""
        found = self.registry.passkeys.get(credential_id)
        if found is None or found.username != credential.username:
            return REFUSALS["passkey"]
        if sign_count <= found.sign_count and (sign_count or found.sign_count):
            return REFUSALS["passkey"]
        return None

    def _remove_passkey(self, credential_id: bytes, account: AccountId) -> Changed | ErrorInfo:
        credential = self.registry.credential_of(account)
        found = self.registry.passkeys.get(credential_id)
        if credential is None or found is None or found.username != credential.username:
            return core_error(CoreCode.UNKNOWN_PASSKEY, "no such passkey of yours", "credential_id")
        self.registry.remove_passkey(credential_id)
        return Changed(None)

    def _two_factor(
        self, message: EnableTotpRequest | DisableTotpRequest, account: AccountId, ts: int
    ) -> Changed | ErrorInfo:
        """Turn two-factor log-in on, with the next secret, or off, on a current code."""
        credential = self.registry.credential_of(account)
        if credential is None:
            return core_error(CoreCode.NO_PASSWORD, "this account has no password log-in")
        turning_on = isinstance(message, EnableTotpRequest)
        if turning_on and credential.totp_on:
            return core_error(CoreCode.TOTP_ALREADY_ON, "two-factor log-in is on already")
        if not turning_on and not credential.totp_on:
            return core_error(CoreCode.TOTP_NOT_ON, "two-factor log-in is not on")
        generation = credential.totp_generation + turning_on
        step = self._current_code(credential, generation, message.code, ts, "code")
        if isinstance(step, ErrorInfo):
            return step
        self.registry.set_totp(credential.username, turning_on, generation, step)
        return Changed(None)

    def _current_code(
        self, credential: Credential, generation: int, code: str | None, ts: int, field: str
    ) -> int | ErrorInfo:
        """The step of ``code``, a current, unused code of secret ``generation``. Wrong codes
        count towards the same lock-out as wrong passwords. (A replayed command succeeded live,
        and success clears the count, so replay never meets the lock.)"""
        if code is None:
            return core_error(
                CoreCode.TOTP_REQUIRED, "this needs a code from your authenticator", field
            )
        if not self._attempt(credential.username, ts):
            return core_error(CoreCode.TOO_MANY_ATTEMPTS, "too many wrong codes; wait", field)
        step = matching_step(self.secret(credential, generation), code, ts, credential.totp_step)
        if step is None:
            return core_error(CoreCode.BAD_TOTP, "wrong code, or one used already", field)
        self._failures.pop(credential.username, None)
        return step

    def _add_api_key(
        self, message: AddKeyRequest, account: AccountId, seq: int, ts: int
    ) -> Changed | ErrorInfo:
        """An API key, with a current code once two-factor log-in is on: a session someone
        took over cannot mint itself a lasting key without the authenticator."""
        taken = self.registry.check_register(account, message.public_key)
        if taken is not None:
            return core_error(taken, "a key can be registered once", "public_key")
        credential = self.registry.credential_of(account)
        if credential is not None and credential.totp_on:
            generation = credential.totp_generation
            step = self._current_code(credential, generation, message.totp, ts, "totp")
            if isinstance(step, ErrorInfo):
                return step
            self.registry.set_totp(credential.username, True, generation, step)
        return self._add(account, message.public_key, message.label, seq, None)

    def _add(
        self, account: AccountId, key: bytes, label: str, seq: int, expires_ms: int | None
    ) -> Changed | ErrorInfo:
        code = self.registry.check_register(account, key)
        if code is not None:
            return core_error(code, "a key can be registered once", "public_key")
        self.registry.register(account, key, label, seq, expires_ms)
        return Changed(self.registry.keys[key], key)


def _spent_code(
    credential: Credential, step: int | None, generation: int | None
) -> ErrorInfo | None:
    """Why a code checked off the loop (its ``step`` of secret ``generation``; None: no code)
    no longer counts now that the command applies. Two commands racing with one code, or
    two-factor turned on or off meanwhile: the later loses."""
    if not credential.totp_on:
        good = step is None
    else:
        good = (
            step is not None
            and generation == credential.totp_generation
            and step > credential.totp_step
        )
    return None if good else REFUSALS["code"]
