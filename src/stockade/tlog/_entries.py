"""What the exchange's log holds: one entry per fact, in the order the engine applied them.

Entries are msgpack arrays whose first element is an integer tag. They carry no user identity and
no balance: an account appears as a pseudonym (16 bytes, stable per account, unlinkable to it
without the core's blinding key), and what an operator did for an account (its label, a credited
amount) as a salted commitment whose opening only that command's receipt carries. Orders, cancels
and amends carry the client's own signed request, so anyone can check that a trade is backed by
two orders their owners signed.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

import msgspec

from stockade.errors import RemoteProtocolError
from stockade.exchange import Trade

PSEUDONYM_SIZE = 16
SALT_SIZE = 32
COMMIT_DOMAIN = b"stockade/log/commit/v1\x00"


class EntryError(RemoteProtocolError):
    """A log entry is not a well-formed entry of a known kind."""

    code = 7005


class _Entry(
    msgspec.Struct, frozen=True, array_like=True, tag_field="k", forbid_unknown_fields=True
):
    seq: int  # the engine's sequence number of the command that produced this entry


class SignedRequest(_Entry, frozen=True, tag=1):
    """A request applied as its sender signed it: an order, cancel, amend or cancel-all by a
    user, or a listing change by an operator (``user`` is empty)."""

    user: bytes
    envelope: bytes


class TradeEntry(_Entry, frozen=True, tag=2):
    """One fill, naming the log indices of the two orders' ``SignedRequest`` entries."""

    trade_id: int
    market: str
    price: int
    qty: int
    taker_side: int
    maker_leaf: int
    taker_leaf: int
    maker_fee: int
    taker_fee: int


class AccountOpened(_Entry, frozen=True, tag=3):
    user: bytes
    operator: bytes  # the public key of the operator who signed the command
    commitment: bytes  # to the operator's signed command


class KeyAdded(_Entry, frozen=True, tag=4):
    user: bytes
    public_key: bytes  # public, so that anyone can check the orders it signs
    operator: bytes
    commitment: bytes


class KeyRemoved(_Entry, frozen=True, tag=5):
    user: bytes
    public_key: bytes
    operator: bytes
    commitment: bytes


class DepositCredited(_Entry, frozen=True, tag=6):
    user: bytes
    asset: str
    operator: bytes
    commitment: bytes  # to the operator's signed command, which holds the amount


LogEntry = SignedRequest | TradeEntry | AccountOpened | KeyAdded | KeyRemoved | DepositCredited

_decoder: msgspec.msgpack.Decoder[LogEntry] = msgspec.msgpack.Decoder(LogEntry)
_encoder = msgspec.msgpack.Encoder()


def encode_entry(entry: LogEntry) -> bytes:
    return _encoder.encode(entry)


def decode_entry(data: bytes) -> LogEntry:
    try:
        entry = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a str field's bad UTF-8
        raise EntryError("not a log entry", "entry", str(exc)) from None
    if _encoder.encode(entry) != data:
        raise EntryError("log entry is not canonically encoded", "entry")
    return entry


def trade_entry(seq: int, trade: Trade, maker_leaf: int, taker_leaf: int) -> TradeEntry:
    """The log entry of an engine trade, given the log indices of its two orders."""
    return TradeEntry(
        seq,
        trade.trade_id,
        trade.market,
        trade.price,
        trade.qty,
        int(trade.taker_side),
        maker_leaf,
        taker_leaf,
        trade.maker_fee,
        trade.taker_fee,
    )


def pseudonym(blinding_key: bytes, account: int) -> bytes:
    return hmac.digest(blinding_key, b"user\x00" + account.to_bytes(8, "big"), "sha256")[:16]


def salt_for(blinding_key: bytes, seq: int) -> bytes:
    """The salt of the commitment made at ``seq``: derived, so a replay rebuilds the same log."""
    return hmac.digest(blinding_key, b"salt\x00" + seq.to_bytes(8, "big"), "sha256")


def commit(salt: bytes, data: bytes) -> bytes:
    return sha256(COMMIT_DOMAIN + salt + data).digest()


def check_opening(commitment: bytes, salt: bytes, data: bytes) -> bool:
    return hmac.compare_digest(commitment, commit(salt, data))
