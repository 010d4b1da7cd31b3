"""What every message is built of: the bounded field types and the tagged base class."""

from __future__ import annotations

from typing import Annotated

import msgspec

from stockade.exchange import MAX_AMOUNT

#: An entry bundle's largest size: 256 entries of at most one request each, with their trades.
MAX_TILE_BYTES = 512 * 1024
#: Longest list any reply carries: bounds the work one query can cause and the size of a reply.
MAX_LIST = 1000

Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT)]
Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{1,9}\Z")]
MarketName = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}\Z")]
ClientOrderId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,36}\Z")]
Reference = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,100}\Z")]
Label = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9 ._:@-]{0,64}\Z")]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_LIST)]
Nonce = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
Key32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
# Patterns end in \Z, not $: Python's $ also matches before a final newline ("alice\n").
Text = Annotated[str, msgspec.Meta(max_length=500)]
Username = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{2,31}\Z")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=128)]
#: An argon2id hash in its PHC string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
PasswordHash = Annotated[str, msgspec.Meta(pattern=r"^\$argon2id\$[A-Za-z0-9$=,+/.]{20,200}\Z")]
#: A code from an authenticator app (RFC 6238: six digits, 30-second steps).
TotpCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}\Z")]
#: Where a log-in came from, as web saw it (address and browser), printable ASCII: shown to the
#: account's owner in its log-in history, never trusted for anything.
ClientNote = Annotated[str, msgspec.Meta(pattern=r"^[ -~]{0,200}\Z")]


class _Msg(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="t"):
    pass
