"""Session tickets, sans I/O: how a logged-in browser's page loads reach edge's verified lane.

A page load carries no signature headers, so under a flood it would wait with the anonymous.
The page's script therefore signs, with the session key that never leaves the browser, a ticket
and keeps it in a cookie, ``stockade-ticket=KEY.TS.SIGNATURE`` (hex key, decimal ms, base64url
signature over ``TICKET_DOMAIN || core key hex || "\\n" || TS``), renewed well before it ends.

A ticket is good for ``TICKET_MS`` from its timestamp, for admission only: web never reads it and
no request is authorized by it (every private request is signed on its own). Anyone who copies
the cookie gets nothing but the lane, under the key's own rate limits, until the ticket ends or
the session does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stockade.keys import BadSignature, PublicKey, SecretKey
from stockade.wire._http import from_b64url, to_b64url

TICKET_DOMAIN: Final = b"stockade/ticket/v1\x00"
TICKET_COOKIE: Final = "stockade-ticket"
#: How long a ticket is good for after its timestamp; the browser renews it at half that.
TICKET_MS: Final = 600_000
_MAX_TEXT = 200


class TicketFormatError(ValueError):
    """A ticket cookie is not ``KEY.TS.SIGNATURE`` as above."""


@dataclass(frozen=True, slots=True)
class Ticket:
    key: bytes
    ts: int
    signature: bytes

    def cookie(self) -> str:
        return f"{self.key.hex()}.{self.ts}.{to_b64url(self.signature)}"


def ticket_message(recipient: bytes, ts_ms: int) -> bytes:
    """What a ticket's signature covers (after ``TICKET_DOMAIN``): the site, then the time."""
    return f"{recipient.hex()}\n{ts_ms}".encode()


def make_ticket(secret: SecretKey, recipient: bytes, ts_ms: int) -> Ticket:
    signature = secret.sign(TICKET_DOMAIN, ticket_message(recipient, ts_ms))
    return Ticket(secret.public.raw, ts_ms, signature)


def verify_ticket(key: PublicKey, recipient: bytes, ticket: Ticket) -> bool:
    """Whether ``ticket`` is ``key``'s, for the site whose core key is ``recipient``."""
    try:
        key.verify(TICKET_DOMAIN, ticket_message(recipient, ticket.ts), ticket.signature)
    except BadSignature:
        return False
    return True


def parse_ticket(text: str) -> Ticket:
    if len(text) > _MAX_TEXT or not text.isascii():
        raise TicketFormatError("too long or not ASCII")
    parts = text.split(".")
    if len(parts) != 3:
        raise TicketFormatError("a ticket is KEY.TS.SIGNATURE")
    key_hex, ts, signature_text = parts
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        key = b""
    if len(key) != 32 or key.hex() != key_hex:
        raise TicketFormatError("the key is 32 bytes of lower-case hex")
    if not (ts.isdigit() and len(ts) <= 15) or str(int(ts)) != ts:
        raise TicketFormatError("the time is milliseconds since the Unix epoch")
    signature = from_b64url(signature_text)
    if signature is None or len(signature) != 64 or to_b64url(signature) != signature_text:
        raise TicketFormatError("the signature is 64 bytes in unpadded base64url")
    return Ticket(key, int(ts), signature)
