"""Password hashing: argon2id, run by the server off its event loop (``Work``), never journaled.

Parameters are OWASP's minimum for argon2id (19 MiB, two passes, one lane): about 20 ms here, so a
log-in costs a worker thread that long and the matching engine nothing. A log-in for a username
that does not exist is checked against a dummy hash, so its answer takes as long as a wrong
password's and says the same thing.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_DUMMY = _HASHER.hash("stockade: no such user; this hash only keeps time")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from (None: no such user)."""
    try:
        _HASHER.verify(password_hash or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None
