"""Events: what the engine did. Each carries enough to derive its ledger postings (``_postings``).

Every event type has an integer tag in one registry (``EVENT_TAGS``); tags are never reassigned.
"""

from __future__ import annotations

import msgspec

from stockade.exchange._model import (
    AccountId,
    Asset,
    CloseReason,
    Market,
    MarketStatus,
    OrderId,
    Side,
    TimeInForce,
    TradeId,
)
from stockade.exchange._results import ResultCode


class _Event(msgspec.Struct, frozen=True, gc=False, tag_field="k", forbid_unknown_fields=True):
    pass


class OrderAccepted(_Event, frozen=True, tag=1):
    order_id: OrderId
    user: AccountId
    market: str
    side: Side
    tif: TimeInForce
    qty: int
    price: int  # limit price, or the protection bound actually used for a MARKET order
    client_order_id: str | None
    held: int  # moved from available to held: quote for a buy, base for a sell


class Trade(_Event, frozen=True, tag=3):
    """One fill. The buyer pays its fee in base, the seller in quote: each in what it receives."""

    trade_id: TradeId
    market: str
    price: int
    qty: int
    taker_side: Side
    maker_order_id: OrderId
    taker_order_id: OrderId
    maker_user: AccountId
    taker_user: AccountId
    quote_amount: int  # qty * price / scale, exact
    maker_fee: int
    taker_fee: int
    buyer_released: int  # a taker buy's reservation above the fill price, back to available


class OrderClosed(_Event, frozen=True, tag=4):
    order_id: OrderId
    user: AccountId
    market: str
    side: Side
    reason: CloseReason
    remaining: int  # unfilled quantity at close
    released: int  # hold returned to available: quote for a buy, base for a sell


class OrderAmended(_Event, frozen=True, tag=5):
    order_id: OrderId
    user: AccountId
    market: str
    side: Side
    qty: int  # new remaining quantity
    price: int
    kept_priority: bool
    hold_delta: int  # new hold minus old hold (negative: released to available)


class Deposited(_Event, frozen=True, tag=6):
    user: AccountId
    asset: str
    amount: int
    ref: str


class WithdrawalHeld(_Event, frozen=True, tag=7):
    user: AccountId
    asset: str
    amount: int
    ref: str


class WithdrawalCompleted(_Event, frozen=True, tag=8):
    user: AccountId
    asset: str
    amount: int
    ref: str


class WithdrawalCancelled(_Event, frozen=True, tag=9):
    user: AccountId
    asset: str
    amount: int
    ref: str


class AssetListed(_Event, frozen=True, tag=10):
    asset: Asset


class MarketListed(_Event, frozen=True, tag=11):
    market: Market


class MarketStatusChanged(_Event, frozen=True, tag=12):
    market: str
    status: MarketStatus


Event = (
    OrderAccepted
    | Trade
    | OrderClosed
    | OrderAmended
    | Deposited
    | WithdrawalHeld
    | WithdrawalCompleted
    | WithdrawalCancelled
    | AssetListed
    | MarketListed
    | MarketStatusChanged
)

EVENT_TAGS: dict[int, type[_Event]] = {}
for _cls in Event.__args__:
    _tag = _cls.__struct_config__.tag
    assert isinstance(_tag, int), _cls
    if _tag in EVENT_TAGS:
        raise RuntimeError(f"event tag {_tag} reused by {_cls.__name__}")
    EVENT_TAGS[_tag] = _cls


class Result(msgspec.Struct, frozen=True, gc=False):
    """The outcome of one command: a code, the sequence number it was applied at, its events.

    A rejected command (``code`` not OK) has no events and changed nothing.
    """

    code: ResultCode
    seq: int
    events: list[Event]
    order_id: OrderId | None = None
