"""The market feed is a function of the log: for any order flow its events are numbered without
gaps, replaying them rebuilds its book, the book is the engine's, and its trades are the log's."""

from __future__ import annotations

from hypothesis import given, settings

from stockade.audit import DEPTH, BookView, LevelChanged, MarketFeed, TradeEvent, apply_event
from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.tlog import TradeEntry, decode_entry
from tests.audit.test_replay import all_entries, flows, run_flow
from tests.core.helpers import CoreHarness


@settings(max_examples=40, deadline=None)
@given(flows)
def test_the_feed_follows_the_engine_for_any_order_flow(flow: list[object]) -> None:
    h = CoreHarness()
    run_flow(h, flow)
    entries = all_entries(h)
    feed = MarketFeed(h.core_identity.public, {h.operator.public.raw})
    for index, entry in enumerate(entries):
        feed.feed(index, entry)
    events = feed.events("BTC-USD", 0, len(entries) * 10)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.log_index for e in events] == sorted(e.log_index for e in events)
    view = BookView("BTC-USD", 0, -1, [], [])
    for event in events:
        if isinstance(event, LevelChanged):
            view = apply_event(view, event)
    book = h.core.engine.markets["BTC-USD"].book
    expected = (book.depth(Side.BUY, DEPTH), book.depth(Side.SELL, DEPTH))
    assert (view.bids, view.asks) == expected
    assert (feed.book("BTC-USD").bids, feed.book("BTC-USD").asks) == expected
    logged = [
        (i, e) for i, data in enumerate(entries) if isinstance(e := decode_entry(data), TradeEntry)
    ]
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert [(t.log_index, t.trade_id, t.price, t.qty) for t in trades] == [
        (i, e.trade_id, e.price, e.qty) for i, e in logged
    ]
    assert feed.ticker("BTC-USD").trades == len(trades)


def test_a_relays_feed_without_signature_checks_gives_the_same_events() -> None:
    """A relay derives the feed without re-checking signatures (its readers do): same events."""
    h = CoreHarness()
    run_flow(h, [(Side.SELL, TimeInForce.GTC, 2, 0, False, SelfTrade.CANCEL_RESTING)] * 3)
    run_flow(h, [(Side.BUY, TimeInForce.IOC, 3, 1, False, SelfTrade.CANCEL_RESTING)] * 2)
    feeds = [
        MarketFeed(h.core_identity.public, {h.operator.public.raw}, check_signatures=check)
        for check in (True, False)
    ]
    for feed in feeds:
        for index, entry in enumerate(all_entries(h)):
            feed.feed(index, entry)
    checked, unchecked = (feed.events("BTC-USD", 0, 10_000) for feed in feeds)
    assert any(isinstance(e, TradeEvent) for e in checked)
    assert checked == unchecked
    assert [f.auditor.report.findings for f in feeds] == [[], []]
