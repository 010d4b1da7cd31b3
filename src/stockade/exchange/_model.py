"""Frozen domain data: identifiers, enums, assets and markets.

Money is integers only. An asset counts in minor units (BTC in satoshis). A market quotes prices as
quote minor units per one *whole* base unit (per 10**base.decimals base minor units), so

    notional = qty * price // 10**base.decimals

and a market is only valid when ``lot * tick`` is a multiple of ``10**base.decimals``: then every
permitted (qty, price) pair has an exact integer notional and settlement never rounds.
Fees are the only rounded amounts, always up, in the exchange's favour (see ``_rules.fee``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, NewType

import msgspec

AccountId = NewType("AccountId", int)
OrderId = NewType("OrderId", int)
TradeId = NewType("TradeId", int)

#: Largest quantity, price or balance any asset or market may declare. Amounts are checked against
#: their declared maxima at entry, so products of two of them stay below 2**126 and fit a signed
#: 128-bit integer anywhere a downstream system stores them.
MAX_AMOUNT = 2**63 - 1

AssetCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{1,9}\Z")]
MarketCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}\Z")]
PositiveAmount = Annotated[int, msgspec.Meta(ge=1, le=MAX_AMOUNT)]
BasisPoints = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class Side(IntEnum):
    BUY = 0
    SELL = 1


class TimeInForce(IntEnum):
    """How long an order may live. MARKET orders are IOC with a protection price bound."""

    GTC = 0
    IOC = 1
    FOK = 2
    POST_ONLY = 3
    MARKET = 4


class SelfTrade(IntEnum):
    """What happens when an order would trade against one of its owner's resting orders."""

    CANCEL_RESTING = 0
    CANCEL_TAKER = 1
    CANCEL_BOTH = 2


class MarketStatus(IntEnum):
    OPEN = 0
    HALTED = 1  # no new orders or amends; cancels still work


class CloseReason(IntEnum):
    FILLED = 0
    CANCELLED = 1  # by its owner
    IOC_REMAINDER = 2  # IOC or MARKET order: what did not fill at once
    SELF_TRADE = 3  # removed by self-trade prevention


class Asset(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: AssetCode
    decimals: Annotated[int, msgspec.Meta(ge=0, le=18)]
    max_amount: PositiveAmount

    @property
    def scale(self) -> int:
        return int(10**self.decimals)


class Market(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A spot market. Quantities in base minor units, prices in quote minor units per whole base."""

    code: MarketCode
    base: AssetCode
    quote: AssetCode
    lot: PositiveAmount  # quantity step, base minor units
    tick: PositiveAmount  # price step, quote minor units per whole base unit
    min_qty: PositiveAmount
    max_qty: PositiveAmount
    max_price: PositiveAmount
    maker_fee_bps: BasisPoints
    taker_fee_bps: BasisPoints
    #: How far from the best opposite price a MARKET order without a bound may trade.
    protection_bps: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 500
