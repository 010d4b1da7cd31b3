"""Public market data as a pure function of the log: trades, book level changes, tickers.

The feed replays the log (``Auditor``) and, per market, numbers what changed: ``seq`` runs 1, 2, 3
... with no gap, and each event names ``log_index``, the entry that caused it. A relay serves these;
because they follow from the log alone, a client can prove a trade by its entry's inclusion proof,
see a gap or a reordering by ``seq``, see staleness by ``log_index`` against the signed checkpoint,
and, replaying the log itself, recompute every event and compare.

The book is the top ``DEPTH`` levels of each side; a level change gives the level's new total
volume (0: gone from the view).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from stockade.audit._replay import Auditor
from stockade.exchange import (
    Event,
    MarketListed,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    Side,
    Trade,
)
from stockade.keys import PublicKey
from stockade.tlog import TradeEntry

DEPTH = 50
#: Most events served in one page.
MAX_EVENTS = 1000
SIDES: dict[int, str] = {Side.BUY: "buy", Side.SELL: "sell"}


class _MarketEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    market: str
    seq: int  # per market, from 1, no gaps
    log_index: int  # the log entry that caused it


class LevelChanged(_MarketEvent, frozen=True, tag="level"):
    side: str  # "buy" (bids) or "sell" (asks)
    price: int
    volume: int  # the level's total remaining quantity now; 0: the level left the view


class TradeEvent(_MarketEvent, frozen=True, tag="trade"):
    trade_id: int
    price: int
    qty: int
    taker_side: str
    engine_seq: int  # the core's sequence number of the command that made it


MarketEvent = LevelChanged | TradeEvent


class BookView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The top of a market's book as of event ``seq`` (entries up to ``log_index``)."""

    market: str
    seq: int
    log_index: int
    bids: list[tuple[int, int]]  # (price, volume), best first
    asks: list[tuple[int, int]]


class Ticker(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    market: str
    seq: int
    log_index: int
    last: int | None  # last trade price
    bid: int | None
    ask: int | None
    trades: int  # since the log began
    volume: int  # base quantity traded since the log began


@dataclass
class _Market:
    seq: int = 0
    log_index: int = -1
    bids: list[tuple[int, int]] = field(default_factory=list)
    asks: list[tuple[int, int]] = field(default_factory=list)
    last: int | None = None
    trades: int = 0
    volume: int = 0
    events: list[MarketEvent] = field(default_factory=list)


class MarketFeed:
    """Feed it the log's entries in order; read ``events``, ``book`` and ``ticker``."""

    def __init__(
        self, core_key: PublicKey, operators: set[bytes], check_signatures: bool = True
    ) -> None:
        self.auditor = Auditor(core_key, operators, self, check_signatures)
        self.markets: dict[str, _Market] = {}

    def feed(self, index: int, entry: bytes, signed_ok: bool | None = None) -> None:
        self.auditor.feed(index, entry, signed_ok)

    # ------------------------------------------------------------------ Observer

    def applied(self, index: int, events: list[Event]) -> None:
        touched: dict[tuple[str, Side], None] = {}  # in order of first touch
        for event in events:
            if isinstance(event, MarketListed):
                self.markets[event.market.code] = _Market()
            elif isinstance(event, (OrderAccepted, OrderAmended, OrderClosed)):
                touched[event.market, event.side] = None
            elif isinstance(event, Trade):  # the maker's side of the book
                touched[event.market, Side(1 - event.taker_side)] = None
        for code, side in sorted(touched):
            self._levels(code, side, index)

    def traded(self, index: int, trade: TradeEntry) -> None:
        m = self.markets[trade.market]
        m.last, m.trades, m.volume = trade.price, m.trades + 1, m.volume + trade.qty
        side = SIDES[trade.taker_side]
        self._emit(
            m,
            TradeEvent(
                trade.market,
                m.seq + 1,
                index,
                trade.trade_id,
                trade.price,
                trade.qty,
                side,
                trade.seq,
            ),
        )

    # ------------------------------------------------------------------ views

    def events(self, market: str, after: int = 0, limit: int = MAX_EVENTS) -> list[MarketEvent]:
        """Events with ``seq > after``, oldest first (``seq`` n is at position n - 1)."""
        return self.markets[market].events[max(after, 0) : max(after, 0) + limit]

    def book(self, market: str) -> BookView:
        m = self.markets[market]
        return BookView(market, m.seq, m.log_index, list(m.bids), list(m.asks))

    def ticker(self, market: str) -> Ticker:
        m = self.markets[market]
        bid = m.bids[0][0] if m.bids else None
        ask = m.asks[0][0] if m.asks else None
        return Ticker(market, m.seq, m.log_index, m.last, bid, ask, m.trades, m.volume)

    # ------------------------------------------------------------------ internals

    def _levels(self, code: str, side: Side, index: int) -> None:
        m, book = self.markets[code], self.auditor.engine.markets[code].book
        new = book.depth(side, DEPTH)
        old = m.bids if side is Side.BUY else m.asks
        if new == old:
            return
        for price, volume in level_changes(old, new):
            self._emit(m, LevelChanged(code, m.seq + 1, index, SIDES[side], price, volume))
        if side is Side.BUY:
            m.bids = new
        else:
            m.asks = new

    @staticmethod
    def _emit(m: _Market, event: MarketEvent) -> None:
        m.seq, m.log_index = event.seq, event.log_index
        m.events.append(event)


def level_changes(old: list[tuple[int, int]], new: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(price, new volume) of every level that differs between two views, by price."""
    before, after = dict(old), dict(new)
    prices = sorted(set(before) | set(after))
    return [(p, after.get(p, 0)) for p in prices if before.get(p, 0) != after.get(p, 0)]


def apply_event(view: BookView, event: LevelChanged) -> BookView:
    """The view after one level change (for clients that keep a book from snapshot + diffs)."""
    bids, asks = dict(view.bids), dict(view.asks)
    levels = bids if event.side == "buy" else asks
    if event.volume:
        levels[event.price] = event.volume
    else:
        levels.pop(event.price, None)
    return BookView(
        view.market,
        event.seq,
        event.log_index,
        sorted(bids.items(), reverse=True),
        sorted(asks.items()),
    )
