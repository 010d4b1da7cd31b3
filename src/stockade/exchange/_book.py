"""The fast order book.

Each side keeps a dict of price levels keyed by a signed *key* (the price for bids, minus the price
for asks) and a sorted list of those keys, so the best level of either side is the last key and
leaving it is an O(1) ``pop``. A level is a deque in time priority. Removing an order from the
middle of a deque would be O(n), so removal is lazy: the order's ``remaining`` is set to 0 and the
level's live count drops; dead orders are skipped when they reach the front and compacted away when
they outnumber live ones. A level with no live order is deleted at once.

Rules: ``level.live`` counts orders with ``remaining > 0`` in ``level.orders``; ``level.volume`` is
their total remaining; every key in a side's ``keys`` has a level with ``live > 0``.

The code is written flat (few calls, locals bound once) because it runs on every command.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from typing import Final

from stockade.exchange._model import AccountId, SelfTrade, Side
from stockade.exchange._order import Order
from stockade.exchange._protocol import Hit

#: Rebuild a level's deque when dead entries exceed live ones by this many: keeps memory linear in
#: live orders while making compaction rare enough to cost O(1) amortized per removal.
_COMPACT_SLACK: Final = 32

_CANCEL_RESTING: Final = SelfTrade.CANCEL_RESTING
_CANCEL_TAKER: Final = SelfTrade.CANCEL_TAKER
_BUY: Final = Side.BUY


class _Level:
    __slots__ = ("live", "orders", "volume")

    def __init__(self) -> None:
        self.orders: deque[Order] = deque()
        self.live = 0
        self.volume = 0


class _Side:
    """One side of a book: levels by key (the price for bids, minus the price for asks) and the
    keys sorted ascending, so the best level is always the last key."""

    __slots__ = ("keys", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []


class FastBook:
    __slots__ = ("_asks", "_bids")

    def __init__(self) -> None:
        self._bids = _Side(1)
        self._asks = _Side(-1)

    def _side(self, side: Side) -> _Side:
        # A branch, not a tuple indexed by the enum: compiled, this stays a pointer comparison.
        return self._bids if side is _BUY else self._asks

    def _opposite(self, side: Side) -> _Side:
        return self._asks if side is _BUY else self._bids

    def best(self, side: Side) -> int | None:
        book = self._side(side)
        keys = book.keys
        return book.sign * keys[-1] if keys else None

    def add(self, order: Order) -> None:
        book = self._side(order.side)
        key = book.sign * order.price
        levels = book.levels
        level = levels.get(key)
        if level is None:
            level = levels[key] = _Level()
            keys = book.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.orders.append(order)
        level.live += 1
        level.volume += order.remaining

    def remove(self, order: Order) -> None:
        book = self._side(order.side)
        key = book.sign * order.price
        level = book.levels[key]
        level.volume -= order.remaining
        order.remaining = 0
        level.live -= 1
        if not level.live:
            del book.levels[key]
            keys = book.keys
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
            return
        orders = level.orders
        if orders[0] is order:
            orders.popleft()
        elif len(orders) > 2 * level.live + _COMPACT_SLACK:
            level.orders = deque(o for o in orders if o.remaining)

    def reduce(self, order: Order, remaining: int) -> None:
        book = self._side(order.side)
        book.levels[book.sign * order.price].volume -= order.remaining - remaining
        order.remaining = remaining

    def match(self, taker: Order, hits: list[Hit]) -> bool:
        book = self._opposite(taker.side)
        keys = book.keys
        bound = book.sign * taker.price  # a maker crosses when its key >= bound
        if not keys or keys[-1] < bound:
            return False
        levels, qty, user, stp = book.levels, taker.remaining, taker.user, taker.stp
        while qty and keys and keys[-1] >= bound:
            key = keys[-1]
            level = levels[key]
            orders = level.orders
            while qty and level.live:
                maker = orders[0]
                rem = maker.remaining
                if not rem:
                    orders.popleft()
                    continue
                if maker.user == user:
                    if stp is _CANCEL_TAKER:
                        taker.remaining = qty
                        return True
                    orders.popleft()
                    level.live -= 1
                    level.volume -= rem
                    hits.append((maker, 0))
                    if stp is not _CANCEL_RESTING:  # CANCEL_BOTH
                        if not level.live:
                            del levels[key]
                            keys.pop()
                        taker.remaining = qty
                        return True
                    continue
                fill = rem if rem < qty else qty
                maker.remaining = rem - fill
                level.volume -= fill
                qty -= fill
                hits.append((maker, fill))
                if fill == rem:
                    orders.popleft()
                    level.live -= 1
            if level.live:
                break
            del levels[key]
            keys.pop()
        taker.remaining = qty
        return False

    def fillable(self, side: Side, limit: int, qty: int, user: AccountId, stp: SelfTrade) -> bool:
        book = self._opposite(side)
        levels = book.levels
        bound = book.sign * limit
        for key in reversed(book.keys):
            if key < bound:
                return False
            for maker in levels[key].orders:
                if not maker.remaining:
                    continue
                if maker.user == user:
                    if stp is not _CANCEL_RESTING:
                        return False
                    continue
                qty -= maker.remaining
                if qty <= 0:
                    return True
        return False

    def depth(self, side: Side, levels: int) -> list[tuple[int, int]]:
        book = self._side(side)
        keys = book.keys
        return [
            (book.sign * key, book.levels[key].volume)
            for key in reversed(keys[max(0, len(keys) - levels) :])
        ]

    def orders(self) -> Iterator[Order]:
        for book in (self._bids, self._asks):
            for key in reversed(book.keys):
                for order in book.levels[key].orders:
                    if order.remaining:
                        yield order
