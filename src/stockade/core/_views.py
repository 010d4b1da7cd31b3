"""What core shows of its state to one user: their side of trades, their orders, their history."""

from __future__ import annotations

import msgspec

from stockade.core._results import CoreCode, core_error
from stockade.core._storage import Storage, StoredOrder
from stockade.exchange import SYSTEM, AccountId, Event, Order, OrderId, Side, Trade
from stockade.wire import (
    ErrorInfo,
    OrderInfo,
    PublicTradeRow,
    PublicTrades,
    PublicTradesRequest,
    TradeRow,
    Trades,
)


def private_view(events: list[Event], account: AccountId) -> list[Event]:
    """The events as ``account`` may see them: its own, and its side of each trade.

    A receipt goes to one user. The counterparty of a trade is anonymous to them: its account,
    order and fee are blanked, and events about other users' orders are left out.
    """
    seen: list[Event] = []
    for event in events:
        if isinstance(event, Trade):
            seen.append(_my_side(event, account))
        elif getattr(event, "user", account) == account:  # listing events have no user
            seen.append(event)
    return seen


def _my_side(trade: Trade, account: AccountId) -> Trade:
    if trade.maker_user != account:
        return msgspec.structs.replace(
            trade, maker_user=SYSTEM, maker_order_id=OrderId(0), maker_fee=0
        )
    if trade.taker_user != account:
        return msgspec.structs.replace(
            trade, taker_user=SYSTEM, taker_order_id=OrderId(0), taker_fee=0
        )
    return trade


def open_info(order: Order) -> OrderInfo:
    return OrderInfo(
        order.id,
        order.market,
        order.side,
        order.tif,
        order.price,
        order.qty,
        order.remaining,
        order.client_order_id,
        True,
    )


def stored_order(
    storage: Storage, account: AccountId, order_id: int | None, client_order_id: str | None
) -> OrderInfo | ErrorInfo:
    found: StoredOrder | None = storage.find_order(account, order_id, client_order_id)
    if found is None:
        return core_error(CoreCode.ORDER_NOT_FOUND, "no such order of yours", "order_id")
    return OrderInfo(
        found.order_id,
        found.market,
        found.side,
        found.tif,
        found.price,
        found.qty,
        found.remaining,
        found.client_order_id,
        found.open,
        found.close_reason,
    )


def trades_of(
    storage: Storage,
    account: AccountId,
    market: str | None,
    after: int,
    limit: int,
    latest: bool = False,
) -> Trades:
    rows = []
    for t in storage.trades_of(account, market, after, limit, latest):
        maker = t.maker_account == account
        side = Side(1 - t.taker_side) if maker else t.taker_side
        rows.append(
            TradeRow(
                t.trade_id,
                t.seq,
                t.ts,
                t.market,
                t.maker_order if maker else t.taker_order,
                side,
                maker,
                t.price,
                t.qty,
                t.maker_fee if maker else t.taker_fee,
            )
        )
    return Trades(rows)


def public_trades(storage: Storage, req: PublicTradesRequest) -> PublicTrades:
    """A market's trades as anyone may see them: no account, order or fee."""
    latest = req.after_trade_id == 0
    found = storage.trades_of(None, req.market, req.after_trade_id, req.limit, latest)
    rows = [PublicTradeRow(t.trade_id, t.seq, t.ts, t.price, t.qty, t.taker_side) for t in found]
    return PublicTrades(req.market, rows)
