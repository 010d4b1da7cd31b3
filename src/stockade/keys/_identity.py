"""Named identities: who a compartment, operator or client is on the wire."""

from __future__ import annotations

import re

from stockade.keys._ed25519 import PublicKey, SecretKey

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"identity names are 1-63 of a-z 0-9 . _ - (got {name!r})")
    return name


class Identity:
    """A name and a secret key. Secret-bearing: its repr shows only the public key."""

    __slots__ = ("name", "secret")

    def __init__(self, name: str, secret: SecretKey) -> None:
        self.name = check_name(name)
        self.secret = secret

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Identity:
        return cls(name, SecretKey(seed))

    @property
    def public(self) -> PublicKey:
        return self.secret.public

    def __repr__(self) -> str:
        return f"Identity({self.name!r}, public={self.public.hex()[:16]}...)"

    __str__ = __repr__
