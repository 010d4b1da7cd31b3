"""The reference order book: obviously correct, slow on purpose.

It keeps resting orders in one list and finds the best maker by sorting on every step. Property
tests run the engine with this book and with ``FastBook`` on the same commands and require equal
events and equal state hashes.
"""

from __future__ import annotations

from collections.abc import Iterator

from stockade.exchange._model import AccountId, SelfTrade, Side
from stockade.exchange._order import Order
from stockade.exchange._protocol import Hit


def _rank(order: Order) -> tuple[int, int]:
    """Sort key putting the best order of its side first: best price, then earliest priority."""
    price = -order.price if order.side is Side.BUY else order.price
    return price, order.priority


def _crosses(taker_side: Side, limit: int, maker: Order) -> bool:
    return maker.price <= limit if taker_side is Side.BUY else maker.price >= limit


class NaiveBook:
    def __init__(self) -> None:
        self._resting: list[Order] = []

    def _side(self, side: Side) -> list[Order]:
        return sorted((o for o in self._resting if o.side is side), key=_rank)

    def best(self, side: Side) -> int | None:
        ranked = self._side(side)
        return ranked[0].price if ranked else None

    def add(self, order: Order) -> None:
        self._resting.append(order)

    def remove(self, order: Order) -> None:
        self._resting.remove(order)
        order.remaining = 0

    def reduce(self, order: Order, remaining: int) -> None:
        order.remaining = remaining

    def match(self, taker: Order, hits: list[Hit]) -> bool:
        side, limit, user, stp = taker.side, taker.price, taker.user, taker.stp
        while taker.remaining:
            makers = [o for o in self._side(Side(1 - side)) if _crosses(side, limit, o)]
            if not makers:
                break
            maker = makers[0]
            if maker.user == user:
                if stp is SelfTrade.CANCEL_TAKER:
                    return True
                self._resting.remove(maker)
                hits.append((maker, 0))
                if stp is SelfTrade.CANCEL_BOTH:
                    return True
                continue
            fill = min(taker.remaining, maker.remaining)
            maker.remaining -= fill
            taker.remaining -= fill
            hits.append((maker, fill))
            if not maker.remaining:
                self._resting.remove(maker)
        return False

    def fillable(self, side: Side, limit: int, qty: int, user: AccountId, stp: SelfTrade) -> bool:
        available = 0
        for maker in self._side(Side(1 - side)):
            if not _crosses(side, limit, maker):
                break
            if maker.user == user:
                if stp is not SelfTrade.CANCEL_RESTING:
                    return False
                continue
            available += maker.remaining
            if available >= qty:
                return True
        return False

    def depth(self, side: Side, levels: int) -> list[tuple[int, int]]:
        totals: dict[int, int] = {}
        for order in self._side(side):
            totals[order.price] = totals.get(order.price, 0) + order.remaining
        return list(totals.items())[:levels]

    def orders(self) -> Iterator[Order]:
        yield from self._side(Side.BUY)
        yield from self._side(Side.SELL)
