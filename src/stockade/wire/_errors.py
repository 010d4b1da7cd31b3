"""Wire errors: every way a frame or message can be refused, each with its own code (5000-5999).

Each class is a ``RemoteProtocolError`` with a stable ``code`` and a name clients may match on.
``core`` adds its own codes (6000-6999) for refusals that are not about the message itself.
"""

from __future__ import annotations

import re

from stockade.errors import RemoteProtocolError


class WireError(RemoteProtocolError):
    code = 5000


class Oversize(WireError):
    code = 5001


class Malformed(WireError):
    code = 5002


class NonCanonical(WireError):
    code = 5003


class UnsupportedVersion(WireError):
    code = 5004


class WrongRecipient(WireError):
    code = 5005


class UnknownSender(WireError):
    code = 5006


class Expired(WireError):
    code = 5007


class FromTheFuture(WireError):
    code = 5008


class BadEnvelopeSignature(WireError):
    code = 5009


class Replayed(WireError):
    code = 5010


class Unauthorized(WireError):
    code = 5011


class UnexpectedMessage(WireError):
    code = 5012


class Overloaded(WireError):
    code = 5013


class UnknownRoute(WireError):
    """A signed HTTP request names no endpoint that takes signed requests."""

    code = 5014


def field_of(error: str) -> str | None:
    """The field a msgspec validation error names (``... - at `$.qty` ``), without the ``$.``."""
    marker = "at `$."
    at = error.rfind(marker)
    if at >= 0:
        return error[at + len(marker) :].rstrip("`").split("[")[0][:64] or None
    named = re.search(r"(?:unknown|missing required) field `([^`]{1,64})`\Z", error)
    return None if named is None else named.group(1)


def _registry() -> dict[int, type[WireError]]:
    codes: dict[int, type[WireError]] = {}
    classes: list[type[WireError]] = [WireError, *WireError.__subclasses__()]
    for cls in classes:
        if cls.code in codes:
            raise RuntimeError(f"wire error code {cls.code} reused by {cls.__name__}")
        codes[cls.code] = cls
    return codes


WIRE_ERRORS = _registry()
