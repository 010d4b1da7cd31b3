"""Pure arithmetic rules of the exchange. Integers only; every rounding is stated and favours the
exchange, so the sum of what users receive never exceeds what they give.

* notional: ``qty * price // scale`` is exact for every valid market (``validate_market``).
* fee: ``ceil(amount * bps / 10_000)``, charged in the asset the payer receives.
* MARKET protection price: the best opposite price moved by ``protection_bps``, rounded to the tick
  *towards* the best price (a buy's bound rounds down, a sell's rounds up), so the bound never
  allows a worse price than the percentage promised.
"""

from __future__ import annotations

from typing import Final

from stockade.exchange._model import Asset, Market, Side
from stockade.exchange._results import ResultCode

BPS: Final = 10_000


def fee(amount: int, bps: int) -> int:
    """Fee on ``amount`` at ``bps`` basis points, rounded up (never below the exact fee)."""
    return -(-amount * bps // BPS)


def validate_market(market: Market, base: Asset | None, quote: Asset | None) -> ResultCode:
    """A market is valid when its assets exist, its notionals are exact and its bounds are sane."""
    if base is None or quote is None or base.code == quote.code:
        return ResultCode.UNKNOWN_ASSET
    if market.code != f"{market.base}-{market.quote}":
        return ResultCode.INVALID_MARKET
    if (market.lot * market.tick) % base.scale:
        return ResultCode.INVALID_MARKET
    if market.min_qty % market.lot or market.max_qty % market.lot or market.max_price % market.tick:
        return ResultCode.INVALID_MARKET
    if market.min_qty > market.max_qty or market.max_qty > base.max_amount:
        return ResultCode.INVALID_MARKET
    if market.max_qty * market.max_price // base.scale > quote.max_amount:
        return ResultCode.INVALID_MARKET
    return ResultCode.OK


def check_qty(market: Market, qty: int) -> ResultCode:
    if qty % market.lot:
        return ResultCode.QTY_NOT_MULTIPLE_OF_LOT
    if qty < market.min_qty:
        return ResultCode.QTY_BELOW_MINIMUM
    if qty > market.max_qty:
        return ResultCode.QTY_ABOVE_MAXIMUM
    return ResultCode.OK


def check_reduction(market: Market, qty: int) -> ResultCode:
    """A smaller remaining quantity for a resting order: whole lots, at least one."""
    if qty % market.lot:
        return ResultCode.QTY_NOT_MULTIPLE_OF_LOT
    return ResultCode.OK if qty > 0 else ResultCode.QTY_BELOW_MINIMUM


def check_price(market: Market, price: int) -> ResultCode:
    if price % market.tick:
        return ResultCode.PRICE_NOT_MULTIPLE_OF_TICK
    if price < market.tick or price > market.max_price:
        return ResultCode.PRICE_OUT_OF_RANGE
    return ResultCode.OK


def check_amount(asset: Asset, amount: int) -> ResultCode:
    if amount < 1 or amount > asset.max_amount:
        return ResultCode.AMOUNT_OUT_OF_RANGE
    return ResultCode.OK


def protection_price(market: Market, side: Side, best_opposite: int) -> int:
    """The worst price a MARKET order may trade at when its owner gave no bound."""
    tick = market.tick
    if side is Side.BUY:
        bound = best_opposite * (BPS + market.protection_bps) // BPS
        return min(bound - bound % tick, market.max_price)
    bound = -(-best_opposite * (BPS - market.protection_bps) // BPS)
    return max(bound + (-bound) % tick, tick)
