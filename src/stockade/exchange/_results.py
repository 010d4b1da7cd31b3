"""Result codes of the exchange domain: expected outcomes are values, never exceptions.

Ranges: 0 success; 1000-1999 the order or command is malformed for its market; 2000-2999 funds and
ledger; 3000-3999 order state and matching; 4000-4999 listings. Other packages own other ranges
(``wire``: 5000-5999, ``core``: 6000-6999). Codes are never reassigned.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    OK = 0

    UNKNOWN_MARKET = 1000
    MARKET_HALTED = 1001
    QTY_NOT_MULTIPLE_OF_LOT = 1002
    QTY_BELOW_MINIMUM = 1003
    QTY_ABOVE_MAXIMUM = 1004
    PRICE_NOT_MULTIPLE_OF_TICK = 1005
    PRICE_OUT_OF_RANGE = 1006
    UNKNOWN_ASSET = 1007
    AMOUNT_OUT_OF_RANGE = 1008

    INSUFFICIENT_FUNDS = 2000
    DUPLICATE_REFERENCE = 2001
    UNKNOWN_REFERENCE = 2002
    BALANCE_LIMIT = 2003

    UNKNOWN_ORDER = 3000
    DUPLICATE_CLIENT_ORDER_ID = 3001
    POST_ONLY_WOULD_CROSS = 3002
    FOK_NOT_FILLABLE = 3003
    NO_LIQUIDITY = 3004
    NO_CHANGE = 3005

    DUPLICATE_ASSET = 4000
    DUPLICATE_MARKET = 4001
    INVALID_MARKET = 4002

    @property
    def ok(self) -> bool:
        return self is ResultCode.OK


#: What each refusal means, and the request field it is about (None: the request as a whole).
DESCRIPTIONS: dict[ResultCode, tuple[str, str | None]] = {
    ResultCode.OK: ("ok", None),
    ResultCode.UNKNOWN_MARKET: ("no such market", "market"),
    ResultCode.MARKET_HALTED: ("the market is halted: only cancels are accepted", "market"),
    ResultCode.QTY_NOT_MULTIPLE_OF_LOT: ("quantity is not a multiple of the lot size", "qty"),
    ResultCode.QTY_BELOW_MINIMUM: ("quantity is below the market minimum", "qty"),
    ResultCode.QTY_ABOVE_MAXIMUM: ("quantity is above the market maximum", "qty"),
    ResultCode.PRICE_NOT_MULTIPLE_OF_TICK: ("price is not a multiple of the tick size", "price"),
    ResultCode.PRICE_OUT_OF_RANGE: ("price is outside the market's range", "price"),
    ResultCode.UNKNOWN_ASSET: ("no such asset", "asset"),
    ResultCode.AMOUNT_OUT_OF_RANGE: ("amount is outside the asset's range", "amount"),
    ResultCode.INSUFFICIENT_FUNDS: ("insufficient available balance", None),
    ResultCode.DUPLICATE_REFERENCE: ("this reference was already used", "ref"),
    ResultCode.UNKNOWN_REFERENCE: ("no pending movement with this reference", "ref"),
    ResultCode.BALANCE_LIMIT: ("the asset's declared maximum would be exceeded", "amount"),
    ResultCode.UNKNOWN_ORDER: ("no such open order of yours", "order_id"),
    ResultCode.DUPLICATE_CLIENT_ORDER_ID: (
        "client_order_id already used by a recent order",
        "client_order_id",
    ),
    ResultCode.POST_ONLY_WOULD_CROSS: ("a post-only order would have traded", "price"),
    ResultCode.FOK_NOT_FILLABLE: ("a fill-or-kill order could not fill completely", "qty"),
    ResultCode.NO_LIQUIDITY: ("no opposite orders for a market order to trade with", "market"),
    ResultCode.NO_CHANGE: ("the request would change nothing", None),
    ResultCode.DUPLICATE_ASSET: ("the asset is already listed", "asset"),
    ResultCode.DUPLICATE_MARKET: ("the market is already listed", "market"),
    ResultCode.INVALID_MARKET: ("market parameters are inconsistent", "market"),
}
