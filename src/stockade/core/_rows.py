"""Derived rows, pure: what one batch of applied commands adds to the query tables.

Orders are inserted when accepted; if an order is accepted and changed within the same batch, its
insert carries the final state instead of an insert plus updates. Changes to orders from earlier
batches become updates: amends (price, size) before closes (remaining, reason), so the latest
``updated_seq`` wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from stockade.core._registry import AccountRecord, KeyRecord
from stockade.exchange import (
    AccountId,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    Trade,
    statement_lines,
)

Row = dict[str, int | str | bytes | bool | None]


class LogInRecord(msgspec.Struct, frozen=True):
    """A log-in for the owner's history: opened ``session_key``, or ``refused`` for a reason."""

    account: AccountId
    refused: str | None
    client: str
    session_key: bytes | None
    method: str | None = None  # a session opened by "password" or "passkey"


class Applied(msgspec.Struct, frozen=True):
    """One journaled command with what it did."""

    seq: int
    ts: int
    envelope: bytes
    events: list[Event]
    registry: AccountRecord | KeyRecord | None = None
    log_first: int = 0  # the log index of ``leaves[0]`` (with none, the log's size then)
    leaves: list[bytes] = msgspec.field(default_factory=list)
    login: LogInRecord | None = None


@dataclass
class Rows:
    journal: list[Row] = field(default_factory=list)
    order_inserts: dict[int, Row] = field(default_factory=dict)
    order_amends: list[Row] = field(default_factory=list)
    order_closes: list[Row] = field(default_factory=list)
    trades: list[Row] = field(default_factory=list)
    accounts: list[Row] = field(default_factory=list)
    keys: list[Row] = field(default_factory=list)  # inserted, or revoked_seq updated
    log: list[Row] = field(default_factory=list)
    logins: list[Row] = field(default_factory=list)
    ledger: list[Row] = field(default_factory=list)


def rows_for(batch: list[Applied]) -> Rows:
    rows = Rows()
    for applied in batch:
        rows.journal.append({"seq": applied.seq, "ts": applied.ts, "envelope": applied.envelope})
        for event in applied.events:
            _add_event(rows, applied, event)
        rows.ledger += _statement(applied)
        _add_registry(rows, applied.registry)
        if applied.login is not None:
            rows.logins.append(_login_row(applied))
        rows.log += [
            {"idx": applied.log_first + i, "seq": applied.seq, "data": leaf}
            for i, leaf in enumerate(applied.leaves)
        ]
    return rows


#: Statement lines one command may make: ``entry`` is ``seq << LINE_BITS | line``.
LINE_BITS = 20


def _statement(applied: Applied) -> list[Row]:
    """The statement lines of one command's events, numbered within it."""
    lines = [line for event in applied.events for line in statement_lines(event)]
    assert len(lines) < 1 << LINE_BITS
    return [
        {
            "account": line.user,
            "entry": applied.seq << LINE_BITS | number,
            "seq": applied.seq,
            "ts": applied.ts,
            "asset": line.asset,
            "amount": line.amount,
            "fee": line.fee,
            "kind": line.kind,
            "ref": line.ref,
        }
        for number, line in enumerate(lines)
    ]


def _login_row(applied: Applied) -> Row:
    login = applied.login
    assert login is not None
    return {
        "seq": applied.seq,
        "ts": applied.ts,
        "account": login.account,
        "refused": login.refused,
        "client": login.client,
        "session_key": login.session_key,
        "method": login.method,
    }


def _add_event(rows: Rows, applied: Applied, event: Event) -> None:
    seq = applied.seq
    match event:
        case OrderAccepted():
            rows.order_inserts[event.order_id] = {
                "order_id": event.order_id,
                "account": event.user,
                "market": event.market,
                "side": int(event.side),
                "tif": int(event.tif),
                "price": event.price,
                "qty": event.qty,
                "remaining": event.qty,
                "client_order_id": event.client_order_id,
                "open": True,
                "close_reason": None,
                "accepted_seq": seq,
                "updated_seq": seq,
            }
        case OrderAmended():
            change: Row = {"price": event.price, "qty": event.qty, "remaining": event.qty}
            _change_order(rows, rows.order_amends, event.order_id, seq, change)
        case OrderClosed():
            change = {
                "remaining": event.remaining,
                "open": False,
                "close_reason": int(event.reason),
            }
            _change_order(rows, rows.order_closes, event.order_id, seq, change)
        case Trade():
            rows.trades.append(
                {
                    "trade_id": event.trade_id,
                    "seq": seq,
                    "ts": applied.ts,
                    "market": event.market,
                    "price": event.price,
                    "qty": event.qty,
                    "quote_amount": event.quote_amount,
                    "taker_side": int(event.taker_side),
                    "maker_order": event.maker_order_id,
                    "taker_order": event.taker_order_id,
                    "maker_account": event.maker_user,
                    "taker_account": event.taker_user,
                    "maker_fee": event.maker_fee,
                    "taker_fee": event.taker_fee,
                }
            )
        case _:
            pass


def _change_order(rows: Rows, updates: list[Row], order_id: int, seq: int, change: Row) -> None:
    pending = rows.order_inserts.get(order_id)
    if pending is not None:
        pending.update(change, updated_seq=seq)
    else:
        updates.append({"b_order_id": order_id, "updated_seq": seq, **change})


def _add_registry(rows: Rows, record: AccountRecord | KeyRecord | None) -> None:
    match record:
        case AccountRecord():
            rows.accounts.append(
                {
                    "account": record.account,
                    "label": record.label,
                    "created_seq": record.created_seq,
                }
            )
        case KeyRecord():
            rows.keys.append(
                {
                    "public_key": record.public_key,
                    "account": record.account,
                    "label": record.label,
                    "created_seq": record.created_seq,
                    "revoked_seq": record.revoked_seq,
                }
            )
        case None:
            pass
