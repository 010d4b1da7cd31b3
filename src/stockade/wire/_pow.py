"""Proof of work for the anonymous lane, sans I/O: the puzzle edge sets and the client solves.

Under attack, edge answers an anonymous request (one signed by no key) with 429 and a challenge
header, ``Stockade-PoW-PowChallenge: v=1; seed=HEX; bits=N``. The client finds a nonce whose
``SHA-256("stockade/pow/v1" NUL || seed || nonce)`` starts with at least ``bits`` zero bits
and sends it back, ``Stockade-PoW: seed=HEX; nonce=HEX``. A solution is good once, for a seed
edge still accepts, and its effort (the zero bits it has) orders the anonymous queue: the more
work, the sooner served. Signed requests are never asked for work.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Final

POW_DOMAIN: Final = b"stockade/pow/v1\x00"
POW_CHALLENGE_HEADER: Final = "stockade-pow-challenge"
POW_HEADER: Final = "stockade-pow"
#: The cookie a browser's solver sets, ``SEED.NONCE`` in hex (a page load carries no header).
POW_COOKIE: Final = "stockade-pow"
POW_SEED_SIZE, POW_NONCE_SIZE = 16, 8
POW_MAX_BITS: Final = 32


class PowFormatError(ValueError):
    """A challenge or solution header is not in the form above."""


@dataclass(frozen=True, slots=True)
class PowChallenge:
    seed: bytes
    bits: int

    def header(self) -> str:
        return f"v=1; seed={self.seed.hex()}; bits={self.bits}"


@dataclass(frozen=True, slots=True)
class PowSolution:
    seed: bytes
    nonce: bytes

    def header(self) -> str:
        return f"seed={self.seed.hex()}; nonce={self.nonce.hex()}"

    def cookie(self) -> str:
        return f"{self.seed.hex()}.{self.nonce.hex()}"

    @property
    def effort(self) -> int:
        """The leading zero bits of this solution's hash."""
        digest = hashlib.sha256(POW_DOMAIN + self.seed + self.nonce).digest()
        value = int.from_bytes(digest, "big")
        return 256 - value.bit_length()


def _fields(text: str, names: tuple[str, ...]) -> dict[str, str]:
    if len(text) > 200 or not text.isascii():
        raise PowFormatError("too long or not ASCII")
    fields = {}
    for part in text.split(";"):
        name, eq, value = part.strip().partition("=")
        if not eq or name not in names or name in fields:
            raise PowFormatError(f"unexpected field {name[:16]!r}")
        fields[name] = value
    if set(fields) != set(names):
        raise PowFormatError(f"needs {', '.join(names)}")
    return fields


def _hex(text: str, size: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != size or raw.hex() != text:
        raise PowFormatError(f"{what} is {size} bytes of lower-case hex")
    return raw


def parse_pow_challenge(text: str) -> PowChallenge:
    fields = _fields(text, ("v", "seed", "bits"))
    bits = fields["bits"]
    if fields["v"] != "1" or not (bits.isdigit() and int(bits) <= POW_MAX_BITS):
        raise PowFormatError(f"a version 1 challenge of at most {POW_MAX_BITS} bits")
    return PowChallenge(_hex(fields["seed"], POW_SEED_SIZE, "seed"), int(bits))


def parse_pow_solution(text: str) -> PowSolution:
    fields = _fields(text, ("seed", "nonce"))
    return PowSolution(
        _hex(fields["seed"], POW_SEED_SIZE, "seed"), _hex(fields["nonce"], POW_NONCE_SIZE, "nonce")
    )


def parse_pow_cookie(text: str) -> PowSolution:
    seed, dot, nonce = text.partition(".")
    if not dot:
        raise PowFormatError("the cookie is SEED.NONCE")
    return PowSolution(_hex(seed, POW_SEED_SIZE, "seed"), _hex(nonce, POW_NONCE_SIZE, "nonce"))


def solve_pow(challenge: PowChallenge, start: int = 0) -> PowSolution:
    """The first nonce from ``start`` that meets the challenge (about ``2 ** bits`` hashes)."""
    prefix = hashlib.sha256(POW_DOMAIN + challenge.seed)
    limit = 1 << (256 - challenge.bits)
    for counter in itertools.count(start):
        nonce = counter.to_bytes(POW_NONCE_SIZE, "big")
        attempt = prefix.copy()
        attempt.update(nonce)
        if int.from_bytes(attempt.digest(), "big") < limit:
            return PowSolution(challenge.seed, nonce)
    raise AssertionError("unreachable")  # pragma: no cover
