"""The exchange domain, pure: assets, markets, ledger, order books, matching.

No I/O, no clock, no randomness, no logging: ``Engine.apply(command, seq)`` returns a ``Result``
with the events it caused, and the same commands at the same sequence numbers always give the same
events and the same state (``state_hash``).
"""

from stockade.exchange._audit import audit
from stockade.exchange._book import FastBook
from stockade.exchange._commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelWithdrawal,
    Command,
    CompleteWithdrawal,
    Deposit,
    ListAsset,
    ListMarket,
    PlaceOrder,
    RequestWithdrawal,
    SetMarketStatus,
)
from stockade.exchange._engine import CLIENT_ID_WINDOW, Engine, SequenceError
from stockade.exchange._events import (
    EVENT_TAGS,
    AssetListed,
    Deposited,
    Event,
    MarketListed,
    MarketStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    Result,
    Trade,
    WithdrawalCancelled,
    WithdrawalCompleted,
    WithdrawalHeld,
)
from stockade.exchange._model import (
    MAX_AMOUNT,
    AccountId,
    Asset,
    CloseReason,
    Market,
    MarketStatus,
    OrderId,
    SelfTrade,
    Side,
    TimeInForce,
    TradeId,
)
from stockade.exchange._naive import NaiveBook
from stockade.exchange._order import Order
from stockade.exchange._postings import (
    SYSTEM,
    Bucket,
    Posting,
    StatementLine,
    assets_of,
    postings_of,
    statement_lines,
)
from stockade.exchange._protocol import Book
from stockade.exchange._results import DESCRIPTIONS, ResultCode
from stockade.exchange._rules import fee, protection_price
from stockade.exchange._state import SNAPSHOT_VERSION, SnapshotError, restore, snapshot, state_hash

__all__ = [
    "CLIENT_ID_WINDOW",
    "DESCRIPTIONS",
    "EVENT_TAGS",
    "MAX_AMOUNT",
    "SNAPSHOT_VERSION",
    "SYSTEM",
    "AccountId",
    "AmendOrder",
    "Asset",
    "AssetListed",
    "Book",
    "Bucket",
    "CancelAll",
    "CancelOrder",
    "CancelWithdrawal",
    "CloseReason",
    "Command",
    "CompleteWithdrawal",
    "Deposit",
    "Deposited",
    "Engine",
    "Event",
    "FastBook",
    "ListAsset",
    "ListMarket",
    "Market",
    "MarketListed",
    "MarketStatus",
    "MarketStatusChanged",
    "NaiveBook",
    "Order",
    "OrderAccepted",
    "OrderAmended",
    "OrderClosed",
    "OrderId",
    "PlaceOrder",
    "Posting",
    "RequestWithdrawal",
    "Result",
    "ResultCode",
    "SelfTrade",
    "SequenceError",
    "SetMarketStatus",
    "Side",
    "SnapshotError",
    "StatementLine",
    "TimeInForce",
    "Trade",
    "TradeId",
    "WithdrawalCancelled",
    "WithdrawalCompleted",
    "WithdrawalHeld",
    "assets_of",
    "audit",
    "fee",
    "postings_of",
    "protection_price",
    "restore",
    "snapshot",
    "state_hash",
    "statement_lines",
]
