"""A resting order: the one mutable object the books share with the engine.

Only the engine creates orders and changes ``remaining``; books read it and decrement it on fills.
A book marks an order it dropped lazily by setting ``remaining`` to 0 (see ``_book``). It is a
msgspec Struct rather than a plain class because construction happens on every placement and a
Struct is built in C; ``gc=False`` is safe because an order refers to nothing that refers back.
"""

from __future__ import annotations

import msgspec

from stockade.exchange._model import AccountId, OrderId, SelfTrade, Side, TimeInForce


class Order(msgspec.Struct, gc=False):
    id: OrderId
    user: AccountId
    market: str
    side: Side
    tif: TimeInForce
    price: int
    qty: int
    remaining: int
    #: Time priority: the sequence number at which the order last joined its price level.
    priority: int
    client_order_id: str | None
    stp: SelfTrade
    #: The owner's [available, held] balance cells, so a fill settles without a lookup.
    base_balance: list[int]
    quote_balance: list[int]
