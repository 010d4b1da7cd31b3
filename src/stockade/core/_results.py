"""Result codes of the core compartment (6000-6999): refusals about accounts, keys and the core's
own state rather than the message's shape or the exchange's rules."""

from __future__ import annotations

from enum import IntEnum

from stockade.wire import ErrorInfo


class CoreCode(IntEnum):
    UNKNOWN_ACCOUNT = 6000
    KEY_ALREADY_REGISTERED = 6001
    UNKNOWN_KEY = 6002
    KEY_IS_OPERATOR = 6003
    ORDER_NOT_FOUND = 6004
    NO_CHECKPOINT = 6005
    NO_SUCH_TILE = 6006
    USERNAME_TAKEN = 6007
    BAD_CREDENTIALS = 6008  # no such username, or a wrong password: never which
    TOO_MANY_ATTEMPTS = 6009
    NOT_A_SESSION = 6010  # log-out signed by an API key: revoke API keys through an operator
    BAD_GRANT = 6011  # a stream grant core did not sign, expired, or whose key is no longer live
    TOTP_REQUIRED = 6012  # the password is right; this account also needs an authenticator code
    BAD_TOTP = 6013  # a wrong code, or one whose time step was used already
    TOTP_ALREADY_ON = 6014
    TOTP_NOT_ON = 6015
    NO_PASSWORD = 6016  # an account an operator opened: it has no password log-in to protect
    RATE_LIMITED = 6017  # the account spent its request budget: wait ``quota.retry_after_ms``
    PASSKEYS_OFF = 6018  # core.toml names no relying party: this site takes no passkeys
    BAD_PASSKEY = 6019  # no such passkey, or its answer did not check out
    TOO_MANY_PASSKEYS = 6020
    PASSKEY_TAKEN = 6021  # that credential is registered already
    UNKNOWN_PASSKEY = 6022  # no such passkey of this account's


def core_error(code: CoreCode, message: str, field: str | None = None) -> ErrorInfo:
    return ErrorInfo(int(code), code.name, message, field)
