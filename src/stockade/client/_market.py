"""Following a market from a relay without trusting it.

``MarketWatcher`` keeps one market's book from the relay's snapshot and events, and refuses:

* a gap or a reordering (event ``seq`` must run on by one; log indices never go back);
* an event past the signed checkpoint (no relay may relay what the log has not signed);
* a trade whose log entry does not hold it: each trade is proven by its entry's inclusion proof
  under a checkpoint the client accepted (``LogWatcher``), and must match it field for field.

Sequence numbers are the relay's, not signed: they catch an honest relay's lost or reordered
messages; a hostile relay can renumber after dropping a trade, which only replaying the log shows.
Level changes cannot be proven one by one (they are the book's state, not log entries); a client
that must be sure of them replays the log (``stockade verify`` does, and compares every event).
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise

from stockade.audit import (
    DEPTH,
    SIDES,
    BookView,
    LevelChanged,
    MarketEvent,
    TradeEvent,
    apply_event,
)
from stockade.client._log import LogMismatch, LogWatcher
from stockade.client._relay import RelayReader
from stockade.tlog import TradeEntry

#: Proven trades a watcher keeps (the latest).
KEEP_TRADES = 10_000


class MarketDataMismatch(LogMismatch):
    """The relay's market data contradicts the log, or skips or reorders events."""

    code = 7012


class FeedGap(MarketDataMismatch):
    """Events are missing between the last one seen and the next one served."""


class FeedReordered(MarketDataMismatch):
    """An event came before one it follows."""


class ForgedTrade(MarketDataMismatch):
    """A trade that the log entry it names does not hold."""


class MarketWatcher:
    def __init__(self, relay: RelayReader, market: str, log: LogWatcher) -> None:
        self.relay, self.market, self.log = relay, market, log
        self.book: BookView | None = None
        self.trades: deque[TradeEvent] = deque(maxlen=KEEP_TRADES)  # the latest, proven
        self.log_index = -1

    @property
    def seq(self) -> int:
        return -1 if self.book is None else self.book.seq

    def start(self) -> BookView:
        """Take the relay's snapshot of the book (as of an event seq and log index)."""
        book = self.relay.book(self.market)
        self._check_signed(book.log_index)
        self.book, self.log_index = book, book.log_index
        return book

    def from_start(self) -> None:
        """Follow every event since the market was listed, from an empty book."""
        self.book, self.log_index = BookView(self.market, 0, -1, [], []), -1

    def poll(self) -> list[MarketEvent]:
        """The events since the last seen, each checked; the book follows them."""
        if self.book is None:
            self.start()
        events = self.relay.events(self.market, self.seq)
        for before, after in pairwise(events):
            if after.seq < before.seq:
                message = f"{self.market}: event {after.seq} served after event {before.seq}"
                raise FeedReordered(message, "seq")
        for event in events:
            self._check(event)
        return events

    def _check(self, event: MarketEvent) -> None:
        assert self.book is not None
        if event.market != self.market:
            raise MarketDataMismatch(
                f"an event of {event.market} in {self.market}'s feed", "market"
            )
        # A trade is its own entry, after every event before it: a repeated index would let a
        # relay show one proven trade twice.
        index_back = event.log_index < self.log_index or (
            isinstance(event, TradeEvent) and event.log_index == self.log_index
        )
        if event.seq <= self.seq or index_back:
            message = f"event {event.seq} (entry {event.log_index}) after event {self.seq}"
            raise FeedReordered(f"{self.market}: {message}", "seq")
        if event.seq != self.seq + 1:
            message = f"{self.market}: events {self.seq + 1} to {event.seq - 1} are missing"
            raise FeedGap(message, "seq")
        self._check_signed(event.log_index)
        if isinstance(event, TradeEvent):
            self._prove_trade(event)
            self.trades.append(event)
        if isinstance(event, LevelChanged):
            self.book = apply_event(self.book, event)
            if max(len(self.book.bids), len(self.book.asks)) > DEPTH:
                raise MarketDataMismatch(f"{self.market}: over {DEPTH} levels a side", "level")
        else:
            self.book = BookView(
                self.market, event.seq, event.log_index, self.book.bids, self.book.asks
            )
        self.log_index = event.log_index

    def _check_signed(self, index: int) -> None:
        """``index`` must be under a checkpoint: take the relay's latest if needed."""
        checkpoint = self.log.checkpoint
        if checkpoint is None or index >= checkpoint.size:
            checkpoint = self.log.accept_checkpoint(
                self.relay.checkpoint_note(), self.relay.fetch_tile
            )
        if index >= checkpoint.size:
            message = f"{self.market}: entry {index} is past the signed log ({checkpoint.size})"
            raise MarketDataMismatch(message, "log_index")

    def _prove_trade(self, event: TradeEvent) -> None:
        entry = self.log.prove_index(event.log_index, self.relay.fetch_tile).entry
        if not isinstance(entry, TradeEntry):
            message = (
                f"{self.market}: trade {event.trade_id} is not in the log: entry "
                f"{event.log_index} is a {type(entry).__name__} at sequence {entry.seq}"
            )
            raise ForgedTrade(message, "trade")
        logged = (
            entry.market,
            entry.trade_id,
            entry.price,
            entry.qty,
            SIDES.get(entry.taker_side, "?"),
            entry.seq,
        )
        shown = (
            event.market,
            event.trade_id,
            event.price,
            event.qty,
            event.taker_side,
            event.engine_seq,
        )
        if logged != shown:
            message = f"{self.market}: trade {event.trade_id} differs from entry {event.log_index}"
            raise ForgedTrade(message, "trade")
