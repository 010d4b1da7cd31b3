"""Time-based one-time passwords (RFC 6238 with pyotp's HOTP): six digits, 30-second steps.

Each account's secrets are derived from core's key, the account and a generation number that
turning two-factor on advances, so a new secret follows each time it is turned on again.

A code is accepted for the step it was made in or the one either side (clocks drift, people
type slowly), and only for a step later than the last one the account used: a code seen over a
shoulder, or sent twice, cannot be used again. Judged at a command's journal time, so replay
accepts exactly what the live core accepted.
"""

from __future__ import annotations

import base64
import hmac

import pyotp

STEP_MS = 30_000
#: Steps either side of now whose code still counts.
DRIFT = 1
SECRET_BYTES = 20


#: What core derives its master key for TOTP secrets under (``SecretKey.derive``).
MASTER_LABEL = b"stockade/totp/v1"


def derived_secret(master: bytes, account: int, generation: int) -> bytes:
    """The account's ``generation``-th secret. Derived, never stored: the journal, snapshots and
    backups hold no secret, and an account cannot choose its own (all zeros, say)."""
    data = account.to_bytes(8, "big") + generation.to_bytes(8, "big")
    return hmac.digest(master, data, "sha256")[:SECRET_BYTES]


def base32(secret: bytes) -> str:
    return base64.b32encode(secret).decode()


def provisioning_uri(secret: bytes, issuer: str, username: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from a QR code."""
    return pyotp.TOTP(base32(secret)).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: bytes, code: str, ts_ms: int, after_step: int) -> int | None:
    """The step, later than ``after_step``, whose code ``code`` is; None if it is none."""
    hotp = pyotp.HOTP(base32(secret))
    now = ts_ms // STEP_MS
    found = None
    for step in range(max(now - DRIFT, after_step + 1), now + DRIFT + 1):
        # Every candidate is compared, in constant time, whichever matches.
        if hmac.compare_digest(hotp.at(step), code) and found is None:
            found = step
    return found
