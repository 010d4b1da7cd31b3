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
