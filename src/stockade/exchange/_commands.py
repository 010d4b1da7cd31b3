"""Commands the engine applies. Built by ``core`` from verified wire messages; never from raw input.

Types are guaranteed by construction (msgspec); everything that depends on the engine's state or a
market's rules (lots, ticks, funds, ownership) is checked by the engine, which rejects with a
``ResultCode`` and changes nothing.
"""

from __future__ import annotations

import msgspec

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


class _Command(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    pass


class PlaceOrder(_Command, frozen=True):
    """A new order. For ``MARKET`` orders ``price`` is the protection bound; 0 means the market's
    default distance from the best opposite price."""

    user: AccountId
    market: str
    side: Side
    tif: TimeInForce
    qty: int
    price: int
    client_order_id: str | None = None
    stp: SelfTrade = SelfTrade.CANCEL_RESTING


class CancelOrder(_Command, frozen=True):
    """Cancel one order, named by exactly one of its engine id or its owner's client id."""

    user: AccountId
    order_id: OrderId | None = None
    client_order_id: str | None = None


class CancelAll(_Command, frozen=True):
    user: AccountId
    market: str


class AmendOrder(_Command, frozen=True):
    """Change an open order's remaining quantity and/or price.

    Reducing the quantity at the same price keeps the order's place in the queue; any other change
    moves it to the back of its (new) price level and may trade if the new price crosses.
    """

    user: AccountId
    order_id: OrderId
    qty: int
    price: int


class Deposit(_Command, frozen=True):
    """Credit ``amount`` from outside (a confirmed chain payment or an operator credit).
    ``ref`` makes the credit idempotent: a second deposit with the same ref is rejected."""

    user: AccountId
    asset: str
    amount: int
    ref: str


class RequestWithdrawal(_Command, frozen=True):
    """Hold ``amount`` for a withdrawal identified by ``ref`` until it is completed or cancelled."""

    user: AccountId
    asset: str
    amount: int
    ref: str


class CompleteWithdrawal(_Command, frozen=True):
    ref: str


class CancelWithdrawal(_Command, frozen=True):
    ref: str


class ListAsset(_Command, frozen=True):
    asset: Asset


class ListMarket(_Command, frozen=True):
    market: Market


class SetMarketStatus(_Command, frozen=True):
    market: str
    status: MarketStatus


Command = (
    PlaceOrder
    | CancelOrder
    | CancelAll
    | AmendOrder
    | Deposit
    | RequestWithdrawal
    | CompleteWithdrawal
    | CancelWithdrawal
    | ListAsset
    | ListMarket
    | SetMarketStatus
)
