"""The auditor's replay, pure: given the log's entries in order, check that every order, cancel
and amend was signed by a key registered to its pseudonym (or by an operator for listings), and
that replaying them under the matching rules produces exactly the trades and fees the log shows.
Used by ``stockade verify``; it trusts nothing but the site's public keys.

``MarketFeed`` derives the public market data (trades, book levels, tickers, candles) from the
same replay, so relays and web serve it and clients recompute it."""

from stockade.audit._market import (
    DEPTH,
    INTERVALS,
    MAX_CANDLES,
    MAX_EVENTS,
    SIDES,
    BookView,
    Candle,
    LevelChanged,
    MarketEvent,
    MarketFeed,
    Ticker,
    TradeEvent,
    apply_event,
    level_changes,
)
from stockade.audit._replay import Auditor, Finding, Observer, Report, signatures_valid

__all__ = [
    "DEPTH",
    "INTERVALS",
    "MAX_CANDLES",
    "MAX_EVENTS",
    "SIDES",
    "Auditor",
    "BookView",
    "Candle",
    "Finding",
    "LevelChanged",
    "MarketEvent",
    "MarketFeed",
    "Observer",
    "Report",
    "Ticker",
    "TradeEvent",
    "apply_event",
    "level_changes",
    "signatures_valid",
]
