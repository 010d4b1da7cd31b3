"""The engine's mutable records: a resting order and a balance cell.

Only the engine creates these and changes them; books read an order and decrement ``remaining`` on
fills. A book marks an order it dropped lazily by setting ``remaining`` to 0 (see ``_book``).

They are plain classes with annotated attributes because the build compiles this module, the books
and the engine with mypyc (``setup.py``): compiled, each becomes a C struct whose integer fields are
stored unboxed, so reading a price or adding to a balance allocates nothing.
"""

from __future__ import annotations

from stockade.exchange._model import AccountId, OrderId, SelfTrade, Side, TimeInForce


class Balance:
    """One user's holding of one asset: what is free to use and what open orders or withdrawals
    reserve."""

    available: int
    held: int

    def __init__(self, available: int = 0, held: int = 0) -> None:
        self.available = available
        self.held = held

    def __repr__(self) -> str:
        return f"Balance(available={self.available}, held={self.held})"


class Order:
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
    #: The owner's cells for the market's base and quote, so a fill settles without a lookup.
    base_balance: Balance
    quote_balance: Balance

    def __init__(
        self,
        id: OrderId,
        user: AccountId,
        market: str,
        side: Side,
        tif: TimeInForce,
        price: int,
        qty: int,
        remaining: int,
        priority: int,
        client_order_id: str | None,
        stp: SelfTrade,
        base_balance: Balance,
        quote_balance: Balance,
    ) -> None:
        self.id = id
        self.user = user
        self.market = market
        self.side = side
        self.tif = tif
        self.price = price
        self.qty = qty
        self.remaining = remaining
        self.priority = priority
        self.client_order_id = client_order_id
        self.stp = stp
        self.base_balance = base_balance
        self.quote_balance = quote_balance
