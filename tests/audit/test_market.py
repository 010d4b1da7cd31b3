"""The market feed is a function of the log: for any order flow its events are numbered without
gaps, replaying them rebuilds its book, the book is the engine's, and its trades are the log's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.audit import (
    DEPTH,
    INTERVALS,
    BookView,
    Candle,
    LevelChanged,
    MarketFeed,
    TradeEvent,
    apply_event,
)
from stockade.audit._market import count_in_candles, new_candles
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


trade_flow = st.lists(
    st.tuples(
        st.integers(0, 3 * 86_400_000),  # time since the previous trade, ms
        st.integers(1, 10**12),  # price
        st.integers(1, 10**9),  # quantity
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(trade_flow)
def test_candles_are_exactly_the_trades_of_their_interval(flow: list[tuple[int, int, int]]) -> None:
    candles = new_candles()
    trades, ts = [], 1_700_000_000_000
    for gap, price, qty in flow:
        ts += gap
        count_in_candles(candles, ts, price, qty)
        trades.append((ts, price, qty))
    for name, width in INTERVALS.items():
        expected: dict[int, list[tuple[int, int, int]]] = {}
        for t in trades:
            expected.setdefault(t[0] - t[0] % width, []).append(t)
        kept = [Candle(*c) for c in candles[width]]
        assert [c.open_ms for c in kept] == sorted(expected), name
        for candle in kept:
            inside = expected[candle.open_ms]
            prices = [p for _, p, _ in inside]
            assert (candle.open, candle.close) == (prices[0], prices[-1])
            assert (candle.high, candle.low) == (max(prices), min(prices))
            assert (candle.volume, candle.trades) == (sum(q for *_, q in inside), len(inside))


@settings(max_examples=30, deadline=None)
@given(flows)
def test_trade_times_never_go_back_and_the_ticker_counts_the_day(flow: list[object]) -> None:
    h = CoreHarness()
    run_flow(h, flow)
    feed = MarketFeed(h.core_identity.public, {h.operator.public.raw})
    for index, entry in enumerate(all_entries(h)):
        feed.feed(index, entry)
    trades = [e for e in feed.events("BTC-USD", 0, 10**6) if isinstance(e, TradeEvent)]
    times = [t.ts for t in trades]
    assert times == sorted(times)
    assert all(t <= h.now_ms for t in times)
    ticker = feed.ticker("BTC-USD")
    assert ticker.ts == feed.auditor.time_ms
    assert (ticker.trades_24h, ticker.volume_24h) == (len(trades), sum(t.qty for t in trades))
    if trades:
        prices = [t.price for t in trades]
        assert (ticker.open_24h, ticker.last) == (prices[0], prices[-1])
        assert (ticker.high_24h, ticker.low_24h) == (max(prices), min(prices))
    minutes = feed.candles("BTC-USD", INTERVALS["1m"])
    assert sum(c.trades for c in minutes) == len(trades)
