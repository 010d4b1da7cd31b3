"""What an order book must do. Two implementations: ``FastBook`` (used) and ``NaiveBook`` (the
reference the property tests compare it with).

Matching rules every book implements:

* price-time priority: the best price first; at one price, the lowest ``priority`` first;
* a taker trades at each maker's price while that price is no worse than the taker's limit;
* self-trade prevention when the maker belongs to the taker's owner: ``CANCEL_RESTING`` drops the
  maker and goes on; ``CANCEL_TAKER`` stops the taker; ``CANCEL_BOTH`` drops the maker and stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from stockade.exchange._model import AccountId, SelfTrade, Side
from stockade.exchange._order import Order

#: One step of a match: ``(maker, qty)`` for a fill, ``(maker, 0)`` for a maker dropped by
#: self-trade prevention. Books append these in the order they happened.
Hit = tuple[Order, int]


class Book(Protocol):
    def best(self, side: Side) -> int | None:
        """Best price resting on ``side`` (highest bid, lowest ask), or None when empty."""

    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""

    def remove(self, order: Order) -> None:
        """Take a resting order out of the book (it must be in it)."""

    def reduce(self, order: Order, remaining: int) -> None:
        """Lower a resting order's remaining quantity in place, keeping its priority."""

    def match(self, taker: Order, hits: list[Hit]) -> bool:
        """Trade ``taker`` (not in the book) at prices no worse than its own.

        Decrements the makers' and the taker's ``remaining``, removes makers that are filled or
        dropped, and appends each step to ``hits``. Returns whether self-trade prevention stopped
        the taker.
        """

    def fillable(self, side: Side, limit: int, qty: int, user: AccountId, stp: SelfTrade) -> bool:
        """Whether ``match`` with these arguments would fill ``qty`` completely (FOK check)."""

    def depth(self, side: Side, levels: int) -> list[tuple[int, int]]:
        """Up to ``levels`` (price, total remaining) pairs on ``side``, best first."""

    def orders(self) -> Iterator[Order]:
        """Every resting order: bids best first, then asks best first; priority order within."""
