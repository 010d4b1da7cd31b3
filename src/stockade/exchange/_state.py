"""Canonical snapshots of an engine: bytes out, an equal engine back.

The encoding is canonical (sorted collections, books in priority order, empty balances omitted), so
two engines in the same state give byte-identical snapshots and the same ``state_hash`` whatever
book implementation or history brought them there. Restoring rebuilds each price level by
re-adding its orders in priority order, which reproduces time priority exactly.
"""

from __future__ import annotations

import hashlib

import msgspec

from stockade.errors import StockadeError
from stockade.exchange._book import FastBook
from stockade.exchange._engine import BookFactory, Engine, Withdrawal
from stockade.exchange._model import (
    AccountId,
    Asset,
    Market,
    MarketStatus,
    OrderId,
    SelfTrade,
    Side,
    TimeInForce,
)
from stockade.exchange._order import Balance

#: Bumped whenever the layout below changes; restore refuses other versions.
SNAPSHOT_VERSION = 1


class SnapshotError(StockadeError):
    """A snapshot could not be restored: unknown version or malformed content."""


class _OrderRow(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    id: OrderId
    user: AccountId
    market: str
    side: Side
    tif: TimeInForce
    price: int
    qty: int
    remaining: int
    priority: int
    client_order_id: str | None
    stp: SelfTrade


class _MarketRow(msgspec.Struct, array_like=True, forbid_unknown_fields=True):
    market: Market
    status: MarketStatus


class _State(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    seq: int
    next_trade_id: int
    assets: list[Asset]
    markets: list[_MarketRow]
    balances: list[tuple[AccountId, str, int, int]]
    fees: list[tuple[str, int]]
    external: list[tuple[str, int]]
    orders: list[_OrderRow]
    client_ids: list[tuple[AccountId, str, OrderId]]
    closed_client_ids: list[tuple[AccountId, str]]
    refs: list[str]
    withdrawals: list[tuple[str, AccountId, str, int]]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_State)


def _capture(engine: Engine) -> _State:
    return _State(
        version=SNAPSHOT_VERSION,
        seq=engine.seq,
        next_trade_id=engine.next_trade_id,
        assets=[engine.assets[code] for code in sorted(engine.assets)],
        markets=[_MarketRow(ms.market, ms.status) for _, ms in sorted(engine.markets.items())],
        balances=[
            (user, asset, cell.available, cell.held)
            for user, account in sorted(engine.balances.items())
            for asset, cell in sorted(account.items())
            if cell.available or cell.held
        ],
        fees=sorted(engine.fees.items()),
        external=sorted(engine.external.items()),
        orders=[
            _OrderRow(
                o.id,
                o.user,
                o.market,
                o.side,
                o.tif,
                o.price,
                o.qty,
                o.remaining,
                o.priority,
                o.client_order_id,
                o.stp,
            )
            for o in engine.resting_orders()
        ],
        client_ids=[(user, cid, oid) for (user, cid), oid in engine.client_ids.items()],
        closed_client_ids=list(engine.closed_client_ids),
        refs=sorted(engine.refs),
        withdrawals=[
            (ref, w.user, w.asset, w.amount) for ref, w in sorted(engine.withdrawals.items())
        ],
    )


def snapshot(engine: Engine) -> bytes:
    return _encoder.encode(_capture(engine))


def state_hash(engine: Engine) -> bytes:
    """SHA-256 of the canonical snapshot: equal exactly when the states are equal."""
    return hashlib.sha256(snapshot(engine)).digest()


def restore(data: bytes, book_factory: BookFactory = FastBook) -> Engine:
    try:
        state = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"malformed snapshot: {exc}") from None
    if state.version != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {state.version} is not {SNAPSHOT_VERSION}")
    engine = Engine(book_factory)
    engine.seq, engine.next_trade_id = state.seq, state.next_trade_id
    for listed in state.assets:
        engine.add_asset(listed)
    for row in state.markets:
        engine.add_market(row.market, engine.assets[row.market.base]).status = row.status
    for user, asset, available, held in state.balances:
        engine.balances.setdefault(user, {})[asset] = Balance(available, held)
    engine.fees.update(state.fees)
    engine.external.update(state.external)
    for r in state.orders:
        _rest(engine, r)
    engine.client_ids = {(user, cid): oid for user, cid, oid in state.client_ids}
    engine.closed_client_ids.extend(state.closed_client_ids)
    engine.refs = set(state.refs)
    engine.withdrawals = {
        ref: Withdrawal(user, asset, amount) for ref, user, asset, amount in state.withdrawals
    }
    return engine


def _rest(engine: Engine, r: _OrderRow) -> None:
    ms = engine.markets[r.market]
    engine.rest(
        ms,
        engine.new_order(
            ms,
            engine.balances.setdefault(r.user, {}),
            r.id,
            r.user,
            r.side,
            r.tif,
            r.price,
            r.qty,
            r.remaining,
            r.priority,
            r.client_order_id,
            r.stp,
        ),
    )
