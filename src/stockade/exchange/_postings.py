"""The double-entry view of events: each event is one balanced transaction of postings.

``postings_of(event)`` is the ledger's definition. The engine applies the same movements in its
fast path; the property tests replay these postings into a plain ledger and require it to equal the
engine's balances after every command, and every transaction to sum to zero per asset.

Accounts: each user has ``AVAILABLE`` and ``HELD`` per asset; the system has ``FEES`` (collected)
and ``EXTERNAL`` (the outside world: deposits debit it, completed withdrawals credit it).
"""

from __future__ import annotations

from enum import IntEnum

import msgspec

from stockade.exchange._events import (
    Deposited,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    Trade,
    WithdrawalCancelled,
    WithdrawalCompleted,
    WithdrawalHeld,
)
from stockade.exchange._model import AccountId, Side

SYSTEM = AccountId(0)  # the owner of FEES and EXTERNAL; user ids start at 1


class Bucket(IntEnum):
    AVAILABLE = 0
    HELD = 1
    FEES = 2
    EXTERNAL = 3


class Posting(msgspec.Struct, frozen=True, array_like=True):
    owner: AccountId
    bucket: Bucket
    asset: str
    amount: int  # signed


def assets_of(market: str) -> tuple[str, str]:
    """Base and quote asset codes of a market code ``BASE-QUOTE``."""
    base, quote = market.split("-")
    return base, quote


def _move(user: AccountId, asset: str, amount: int, frm: Bucket, to: Bucket) -> list[Posting]:
    return [Posting(user, frm, asset, -amount), Posting(user, to, asset, amount)]


def _parties(t: Trade) -> tuple[AccountId, AccountId, int, int]:
    """The buyer, the seller, and their fees (the buyer's in base, the seller's in quote)."""
    if t.taker_side is Side.BUY:
        return t.taker_user, t.maker_user, t.taker_fee, t.maker_fee
    return t.maker_user, t.taker_user, t.maker_fee, t.taker_fee


def _trade(t: Trade) -> list[Posting]:
    base, quote = assets_of(t.market)
    buyer, seller, buyer_fee, seller_fee = _parties(t)
    return [
        Posting(buyer, Bucket.HELD, quote, -(t.quote_amount + t.buyer_released)),
        Posting(buyer, Bucket.AVAILABLE, quote, t.buyer_released),
        Posting(seller, Bucket.AVAILABLE, quote, t.quote_amount - seller_fee),
        Posting(SYSTEM, Bucket.FEES, quote, seller_fee),
        Posting(seller, Bucket.HELD, base, -t.qty),
        Posting(buyer, Bucket.AVAILABLE, base, t.qty - buyer_fee),
        Posting(SYSTEM, Bucket.FEES, base, buyer_fee),
    ]


def _held_asset(market: str, side: Side) -> str:
    base, quote = assets_of(market)
    return quote if side is Side.BUY else base


def postings_of(event: Event) -> list[Posting]:
    """The balanced postings of one event, zero amounts left out (empty if no money moved)."""
    return [p for p in _postings(event) if p.amount]


def _postings(event: Event) -> list[Posting]:
    a, h, x = Bucket.AVAILABLE, Bucket.HELD, Bucket.EXTERNAL
    match event:
        case Trade():
            return _trade(event)
        case OrderAccepted():
            return _move(event.user, _held_asset(event.market, event.side), event.held, a, h)
        case OrderClosed():
            return _move(event.user, _held_asset(event.market, event.side), event.released, h, a)
        case OrderAmended():
            asset = _held_asset(event.market, event.side)
            return _move(event.user, asset, event.hold_delta, a, h)
        case Deposited():
            return [
                Posting(SYSTEM, x, event.asset, -event.amount),
                Posting(event.user, a, event.asset, event.amount),
            ]
        case WithdrawalHeld():
            return _move(event.user, event.asset, event.amount, a, h)
        case WithdrawalCompleted():
            return [
                Posting(event.user, h, event.asset, -event.amount),
                Posting(SYSTEM, x, event.asset, event.amount),
            ]
        case WithdrawalCancelled():
            return _move(event.user, event.asset, event.amount, h, a)
    return []


class StatementLine(msgspec.Struct, frozen=True):
    """One line of a user's account statement: what an event changed in the user's total
    (available plus held) of one asset, fee included, and the fee it paid in that asset."""

    user: AccountId
    asset: str
    amount: int  # signed
    fee: int
    kind: str  # trade, deposit, withdrawal
    ref: str  # the trade id, or the deposit's or withdrawal's reference


_KINDS = {Trade: "trade", Deposited: "deposit", WithdrawalCompleted: "withdrawal"}


def statement_lines(event: Event) -> list[StatementLine]:
    """The statement lines of one event, read off its postings: holds and releases move money
    within a user's total and make none."""
    kind = _KINDS.get(type(event))
    if kind is None:
        return []
    totals: dict[tuple[AccountId, str], int] = {}
    for p in postings_of(event):
        if p.owner != SYSTEM and p.bucket in (Bucket.AVAILABLE, Bucket.HELD):
            totals[p.owner, p.asset] = totals.get((p.owner, p.asset), 0) + p.amount
    fees = _fees(event) if isinstance(event, Trade) else {}
    ref = str(event.trade_id) if isinstance(event, Trade) else getattr(event, "ref", "")
    return [
        StatementLine(user, asset, amount, fees.get((user, asset), 0), kind, ref)
        for (user, asset), amount in sorted(totals.items())
        if amount
    ]


def _fees(t: Trade) -> dict[tuple[AccountId, str], int]:
    base, quote = assets_of(t.market)
    buyer, seller, buyer_fee, seller_fee = _parties(t)
    return {(buyer, base): buyer_fee, (seller, quote): seller_fee}
