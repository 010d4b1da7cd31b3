"""The JSON bodies and queries web itself reads (signed requests' bodies are ``wire._http``'s),
and the answers it makes itself, from its mirror of the log."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import segno

from stockade.audit import MAX_CANDLES, Candle, Ticker

Interval = Literal["1m", "5m", "15m", "1h", "4h", "1d"]


class SignUpBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    username: str
    password: str


class LogInBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``session_key``: the hex public key of the Ed25519 key pair the browser made for this
    session (non-extractable: only this origin's scripts can ever sign with it); ``totp``, a
    code from the account's authenticator app once it has turned two-factor log-in on."""

    username: str
    password: str
    session_key: str
    totp: str | None = None  # the authenticator's code, once two-factor log-in is on


class PasskeyChallengeBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``session_key``: the hex public key of the key pair the browser made for the session a
    passkey log-in will open (the challenge names it)."""

    session_key: str


class PasskeyLogInBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What ``navigator.credentials.get`` gave, in base64url, and the same ``session_key``."""

    session_key: str
    credential_id: str
    client_data: str
    authenticator_data: str
    signature: str


class CandlesQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    interval: Interval = "1m"
    since: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_CANDLES)] = 100


class CandlePage(msgspec.Struct, frozen=True):
    """Candles of one market and interval as of event ``seq`` (entry ``log_index``)."""

    market: str
    interval: Interval
    seq: int
    log_index: int
    candles: list[Candle]


class Tickers(msgspec.Struct, frozen=True):
    tickers: list[Ticker]


class TotpOffer(msgspec.Struct, frozen=True):
    """A fresh two-factor secret: base32 for typing in, the ``otpauth://`` URI, and the URI as
    a QR code's modules (with its quiet zone), one string of 0s and 1s per row, for an app to
    scan."""

    secret: str
    uri: str
    qr: list[str]


def totp_offer(secret: str, uri: str) -> TotpOffer:
    code = segno.make(uri, error="m")
    rows = ["".join("1" if dark else "0" for dark in row) for row in code.matrix_iter(border=4)]
    return TotpOffer(secret, uri, rows)


class LogProof(msgspec.Struct, frozen=True):
    """Entry ``index`` of the log (``entry``, base64, exactly as logged; ``says``, what it
    says) and its inclusion proof (``proof``, base64 hashes, RFC 9162) in the tree of ``size``
    entries that ``checkpoint``, a C2SP signed note, commits to."""

    index: int
    size: int
    checkpoint: str
    entry: str
    proof: list[str]
    says: Annotated[
        msgspec.Raw,
        msgspec.Meta(extra_json_schema={"type": "object", "required": ["type"]}),
    ]
