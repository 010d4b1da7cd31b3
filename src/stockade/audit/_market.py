"""Public market data as a pure function of the log: trades, book level changes, tickers.

The feed replays the log (``Auditor``) and, per market, numbers what changed: ``seq`` runs 1, 2, 3
... with no gap, and each event names ``log_index``, the entry that caused it. A relay serves these;
because they follow from the log alone, a client can prove a trade by its entry's inclusion proof,
see a gap or a reordering by ``seq``, see staleness by ``log_index`` against the signed checkpoint,
and, replaying the log itself, recompute every event and compare.

The book is the top ``DEPTH`` levels of each side; a level change gives the level's new total
volume (0: gone from the view).

Times come from the log too: a trade's ``ts`` is the log's clock when it was made, the latest time
any logged request was signed at (``Auditor.time_ms``; core accepts a request only within 5 s of
its own clock). Candles (OHLCV) bucket trades by that time, and the ticker's 24-hour figures end
at it, so every replica of the feed gives the same candles and tickers.
"""

from __future__ import annotations

from collections import deque
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
#: Candle widths, by name, in milliseconds.
INTERVALS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}
#: Candles kept per market and width (a week of minutes); older ones are forgotten.
KEEP_CANDLES = 10_080
#: Most candles served in one page.
MAX_CANDLES = 1000
DAY_MS = 86_400_000


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
    ts: int  # the log's clock when it was made (ms since the Unix epoch)


MarketEvent = LevelChanged | TradeEvent


class BookView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The top of a market's book as of event ``seq`` (entries up to ``log_index``)."""

    market: str
    seq: int
    log_index: int
    bids: list[tuple[int, int]]  # (price, volume), best first
    asks: list[tuple[int, int]]


class Candle(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One interval's trades: ``[open_ms, open, high, low, close, volume, trades]`` (CCXT's OHLCV
    order, with the trade count after it); volume in the base asset's minor units."""

    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int


class Ticker(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    market: str
    seq: int
    log_index: int
    ts: int  # the log's clock: the 24-hour window ends here
    last: int | None  # last trade price
    bid: int | None
    ask: int | None
    trades: int  # since the log began
    volume: int  # base quantity traded since the log began
    open_24h: int | None  # the first trade's price in the 24 hours up to ``ts``
    high_24h: int | None
    low_24h: int | None
    volume_24h: int
    trades_24h: int


def new_candles() -> dict[int, deque[list[int]]]:
    return {width: deque(maxlen=KEEP_CANDLES) for width in INTERVALS.values()}


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
    # per width, [open_ms, open, high, low, close, volume, trades] lists, oldest first
    candles: dict[int, deque[list[int]]] = field(default_factory=new_candles)


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
        ts = self.auditor.time_ms
        count_in_candles(m.candles, ts, trade.price, trade.qty)
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
                ts,
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
        m, now = self.markets[market], self.auditor.time_ms
        bid = m.bids[0][0] if m.bids else None
        ask = m.asks[0][0] if m.asks else None
        day = [c for c in _newest_first(m.candles[INTERVALS["1m"]]) if c[0] > now - DAY_MS]
        return Ticker(
            market,
            m.seq,
            m.log_index,
            now,
            m.last,
            bid,
            ask,
            m.trades,
            m.volume,
            day[-1][1] if day else None,
            max((c[2] for c in day), default=None),
            min((c[3] for c in day), default=None),
            sum(c[5] for c in day),
            sum(c[6] for c in day),
        )

    def candles(
        self, market: str, width: int, since_ms: int = 0, limit: int = MAX_CANDLES
    ) -> list[Candle]:
        """Candles of ``width`` ms (one of ``INTERVALS``) opening at or after ``since_ms``,
        oldest first; with ``since_ms`` 0, the latest ``limit``."""
        kept = list(self.markets[market].candles[width])  # one copy: a follower thread appends
        chosen = [c for c in kept if c[0] >= since_ms]
        chosen = chosen[:limit] if since_ms else chosen[-limit:]
        return [Candle(*c) for c in chosen]

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


def _newest_first(candles: deque[list[int]]) -> list[list[int]]:
    """The minute candles of the last day at most, newest first (the deque is oldest first)."""
    out: list[list[int]] = []
    for candle in reversed(candles):
        out.append(candle)
        if len(out) == DAY_MS // INTERVALS["1m"]:
            break
    return out


def count_in_candles(candles: dict[int, deque[list[int]]], ts: int, price: int, qty: int) -> None:
    """Count a trade in the candle of each width that covers ``ts`` (the log's clock never goes
    back, so that is the newest candle or a new one)."""
    for width, kept in candles.items():
        start = ts - ts % width
        if kept and kept[-1][0] == start:
            candle = kept[-1]
            candle[2], candle[3] = max(candle[2], price), min(candle[3], price)
            candle[4] = price
            candle[5] += qty
            candle[6] += 1
        else:
            kept.append([start, price, price, price, price, qty, 1])


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
