"""Matching and ledger scenarios a trader would recognise, each checked against exact balances."""

from __future__ import annotations

import pytest

from stockade.exchange import (
    AccountId,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelWithdrawal,
    CloseReason,
    CompleteWithdrawal,
    Deposit,
    Engine,
    ListAsset,
    ListMarket,
    Market,
    MarketStatus,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    PlaceOrder,
    RequestWithdrawal,
    Result,
    ResultCode,
    SelfTrade,
    SequenceError,
    SetMarketStatus,
    Side,
    TimeInForce,
    Trade,
    fee,
    state_hash,
)
from tests.exchange.conftest import ALICE, BOB, BTC, CAROL, LOT, MARKET, USD, Harness, usd

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK, POST, MKT = (
    TimeInForce.GTC,
    TimeInForce.IOC,
    TimeInForce.FOK,
    TimeInForce.POST_ONLY,
    TimeInForce.MARKET,
)


def place(
    ex: Harness,
    user: AccountId,
    side: Side,
    lots: int,
    dollars: int,
    tif: TimeInForce = GTC,
    cid: str | None = None,
    stp: SelfTrade = SelfTrade.CANCEL_RESTING,
) -> Result:
    return ex(PlaceOrder(user, "BTC-USD", side, tif, lots * LOT, usd(dollars), cid, stp))


def trades(result: Result) -> list[Trade]:
    return [e for e in result.events if isinstance(e, Trade)]


def closed(result: Result) -> list[OrderClosed]:
    return [e for e in result.events if isinstance(e, OrderClosed)]


def book(ex: Harness, side: Side) -> list[tuple[int, int]]:
    return [(p // 10**8, q // LOT) for p, q in ex.engine.markets["BTC-USD"].book.depth(side, 100)]


def test_resting_orders_form_a_book_and_hold_funds(ex: Harness) -> None:
    r = place(ex, ALICE, BUY, 10, 50_000)
    assert r.code is ResultCode.OK
    assert isinstance(r.events[0], OrderAccepted)
    assert r.events[0].held == 10 * LOT * 50_000  # qty * price / scale, in USD minor units
    place(ex, BOB, SELL, 5, 51_000)
    assert book(ex, BUY) == [(50_000, 10)]
    assert book(ex, SELL) == [(51_000, 5)]
    assert ex.engine.balance(ALICE, "USD") == (usd(1_000_000) - usd(5), usd(5))  # 0.0001 BTC
    assert ex.engine.balance(BOB, "BTC") == (10**8 - 5 * LOT, 5 * LOT)


def test_price_time_priority_and_maker_price(ex: Harness) -> None:
    first = place(ex, ALICE, SELL, 2, 50_100).order_id
    better = place(ex, BOB, SELL, 2, 50_000).order_id
    second = place(ex, BOB, SELL, 2, 50_100).order_id
    r = place(ex, CAROL, BUY, 5, 50_200)
    fills = [(t.maker_order_id, t.price // 10**8, t.qty // LOT) for t in trades(r)]
    assert fills == [(better, 50_000, 2), (first, 50_100, 2), (second, 50_100, 1)]
    assert book(ex, SELL) == [(50_100, 1)]


def test_fees_are_charged_in_the_received_asset_and_round_up(ex: Harness) -> None:
    place(ex, ALICE, SELL, 1, 50_000)
    r = place(ex, BOB, BUY, 1, 50_000)
    (t,) = trades(r)
    quote = LOT * usd(50_000) // 10**8
    assert t.quote_amount == quote
    assert t.taker_fee == fee(LOT, 20) == 2  # 1000 sat * 0.2% = 2 sat
    assert t.maker_fee == fee(quote, 10)
    assert fee(1, 10) == 1  # a fraction of a unit rounds up, never to zero
    assert ex.engine.balance(BOB, "BTC") == (10**8 + LOT - 2, 0)
    assert ex.engine.balance(ALICE, "USD") == (usd(1_000_000) + quote - t.maker_fee, 0)
    assert ex.engine.fees == {"BTC": 2, "USD": t.maker_fee}


def test_taker_buy_at_better_price_gets_the_difference_back(ex: Harness) -> None:
    place(ex, ALICE, SELL, 1, 49_000)
    r = place(ex, BOB, BUY, 1, 50_000)
    (t,) = trades(r)
    assert t.buyer_released == LOT * usd(1_000) // 10**8
    assert ex.engine.balance(BOB, "USD") == (usd(1_000_000) - t.quote_amount, 0)


def test_ioc_fills_what_it_can_and_releases_the_rest(ex: Harness) -> None:
    place(ex, ALICE, SELL, 3, 50_000)
    r = place(ex, BOB, BUY, 5, 50_000, IOC)
    assert sum(t.qty for t in trades(r)) == 3 * LOT
    (last,) = [c for c in closed(r) if c.user == BOB]
    assert last.reason is CloseReason.IOC_REMAINDER
    assert last.remaining == 2 * LOT
    assert ex.engine.balance(BOB, "USD")[1] == 0
    assert book(ex, BUY) == []


def test_fok_is_all_or_nothing(ex: Harness) -> None:
    place(ex, ALICE, SELL, 3, 50_000)
    before = state_hash(ex.engine)
    assert place(ex, BOB, BUY, 4, 50_000, FOK).code is ResultCode.FOK_NOT_FILLABLE
    assert state_hash(ex.engine) == before
    r = place(ex, BOB, BUY, 3, 50_000, FOK)
    assert sum(t.qty for t in trades(r)) == 3 * LOT


def test_post_only_never_takes(ex: Harness) -> None:
    place(ex, ALICE, SELL, 1, 50_000)
    assert place(ex, BOB, BUY, 1, 50_000, POST).code is ResultCode.POST_ONLY_WOULD_CROSS
    assert place(ex, BOB, BUY, 1, 49_999, POST).code is ResultCode.OK
    assert book(ex, BUY) == [(49_999, 1)]


def test_market_order_stops_at_its_protection_bound(ex: Harness) -> None:
    assert place(ex, BOB, BUY, 1, 0, MKT).code is ResultCode.NO_LIQUIDITY
    place(ex, ALICE, SELL, 1, 50_000)
    place(ex, ALICE, SELL, 1, 52_000)  # within 5% of 50,000
    place(ex, ALICE, SELL, 1, 53_000)  # beyond it
    r = place(ex, BOB, BUY, 3, 0, MKT)
    assert [t.price // 10**8 for t in trades(r)] == [50_000, 52_000]
    assert isinstance(r.events[0], OrderAccepted)
    assert r.events[0].price == usd(52_500)
    assert book(ex, SELL) == [(53_000, 1)]
    assert ex.engine.balance(BOB, "USD")[1] == 0


def test_market_order_with_explicit_bound(ex: Harness) -> None:
    place(ex, ALICE, BUY, 2, 50_000)
    r = place(ex, BOB, SELL, 3, 49_000, MKT)
    assert sum(t.qty for t in trades(r)) == 2 * LOT
    assert closed(r)[-1].reason is CloseReason.IOC_REMAINDER


@pytest.mark.parametrize(
    ("stp", "resting_left", "taker_fills"),
    [
        (SelfTrade.CANCEL_RESTING, False, 1),
        (SelfTrade.CANCEL_TAKER, True, 0),
        (SelfTrade.CANCEL_BOTH, False, 0),
    ],
)
def test_self_trade_prevention(
    ex: Harness, stp: SelfTrade, resting_left: bool, taker_fills: int
) -> None:
    own = place(ex, ALICE, SELL, 1, 50_000).order_id
    place(ex, BOB, SELL, 1, 50_100)
    r = place(ex, ALICE, BUY, 1, 50_100, stp=stp)
    assert all(t.maker_user != t.taker_user for t in trades(r))
    assert len(trades(r)) == taker_fills
    assert (own in ex.engine.orders) is resting_left
    assert ex.engine.balance(ALICE, "USD")[1] == 0


def test_amend_down_keeps_priority_and_other_amends_lose_it(ex: Harness) -> None:
    a = place(ex, ALICE, SELL, 5, 50_000).order_id
    b = place(ex, BOB, SELL, 5, 50_000).order_id
    r = ex(AmendOrder(ALICE, a, 3 * LOT, usd(50_000)))
    assert isinstance(r.events[0], OrderAmended)
    assert r.events[0].kept_priority
    assert ex.engine.balance(ALICE, "BTC")[1] == 3 * LOT
    assert [t.maker_order_id for t in trades(place(ex, CAROL, BUY, 1, 50_000))] == [a]
    r = ex(AmendOrder(ALICE, a, 4 * LOT, usd(50_000)))  # up: to the back of the queue
    assert isinstance(r.events[0], OrderAmended)
    assert not r.events[0].kept_priority
    assert [t.maker_order_id for t in trades(place(ex, CAROL, BUY, 1, 50_000))] == [b]


def test_amend_in_place_may_go_below_the_minimum_but_a_move_may_not(ex: Harness) -> None:
    big = Market(
        code="BTC-USD",
        base="BTC",
        quote="USD",
        lot=LOT,
        tick=10**8,
        min_qty=5 * LOT,
        max_qty=10**10,
        max_price=10**15,
        maker_fee_bps=0,
        taker_fee_bps=0,
    )
    h = Harness(Engine())
    for cmd in (ListAsset(BTC), ListAsset(USD), ListMarket(big)):
        assert h(cmd).code is ResultCode.OK
    h.fund(ALICE)
    oid = place(h, ALICE, BUY, 5, 49_000).order_id
    assert oid is not None
    moved = h(AmendOrder(ALICE, oid, 2 * LOT, usd(48_000)))
    assert moved.code is ResultCode.QTY_BELOW_MINIMUM
    assert h(AmendOrder(ALICE, oid, 2 * LOT, usd(49_000))).code is ResultCode.OK


def test_amend_to_a_crossing_price_trades(ex: Harness) -> None:
    place(ex, ALICE, SELL, 2, 50_000)
    mine = place(ex, BOB, BUY, 2, 49_000).order_id
    r = ex(AmendOrder(BOB, mine, 2 * LOT, usd(50_000)))
    assert [t.taker_order_id for t in trades(r)] == [mine]
    assert mine not in ex.engine.orders
    assert ex.engine.balance(BOB, "USD")[1] == 0


def test_amend_rejections_change_nothing(ex: Harness) -> None:
    mine = place(ex, ALICE, BUY, 2, 49_000).order_id
    before = state_hash(ex.engine)
    assert ex(AmendOrder(BOB, mine, LOT, usd(49_000))).code is ResultCode.UNKNOWN_ORDER
    assert ex(AmendOrder(ALICE, mine, 2 * LOT, usd(49_000))).code is ResultCode.NO_CHANGE
    assert (
        ex(AmendOrder(ALICE, mine, LOT + 1, usd(49_000))).code is ResultCode.QTY_NOT_MULTIPLE_OF_LOT
    )
    too_much = ex(AmendOrder(ALICE, mine, 10**10, usd(10_000_000)))
    assert too_much.code is ResultCode.INSUFFICIENT_FUNDS
    assert state_hash(ex.engine) == before


def test_cancel_by_id_or_client_id_releases_exactly(ex: Harness) -> None:
    place(ex, ALICE, BUY, 2, 49_000, cid="mine-1")
    other = place(ex, ALICE, BUY, 3, 48_000).order_id
    assert ex(CancelOrder(BOB, order_id=other)).code is ResultCode.UNKNOWN_ORDER
    assert ex(CancelOrder(ALICE, client_order_id="mine-1")).code is ResultCode.OK
    assert ex(CancelOrder(ALICE, order_id=other)).code is ResultCode.OK
    assert ex(CancelOrder(ALICE, order_id=other)).code is ResultCode.UNKNOWN_ORDER
    assert ex.engine.balance(ALICE, "USD") == (usd(1_000_000), 0)


def test_cancel_needs_exactly_one_name(ex: Harness) -> None:
    oid = place(ex, ALICE, BUY, 1, 49_000, cid="x").order_id
    assert ex(CancelOrder(ALICE)).code is ResultCode.UNKNOWN_ORDER
    both = CancelOrder(ALICE, order_id=oid, client_order_id="x")
    assert ex(both).code is ResultCode.UNKNOWN_ORDER


def test_cancel_all_is_per_market_and_per_user(ex: Harness) -> None:
    for price in (49_000, 48_000, 47_000):
        place(ex, ALICE, BUY, 1, price)
    keep = place(ex, BOB, BUY, 1, 46_000).order_id
    r = ex(CancelAll(ALICE, "BTC-USD"))
    assert len(closed(r)) == 3
    assert list(ex.engine.orders) == [keep]
    assert ex(CancelAll(ALICE, "ETH-USD")).code is ResultCode.UNKNOWN_MARKET


def test_client_order_id_is_idempotent(ex: Harness) -> None:
    first = place(ex, ALICE, BUY, 1, 49_000, cid="retry-me")
    again = place(ex, ALICE, BUY, 1, 49_000, cid="retry-me")
    assert again.code is ResultCode.DUPLICATE_CLIENT_ORDER_ID
    assert again.order_id == first.order_id
    assert place(ex, BOB, BUY, 1, 49_000, cid="retry-me").code is ResultCode.OK  # per user
    ex(CancelOrder(ALICE, client_order_id="retry-me"))
    closed_again = place(ex, ALICE, BUY, 1, 49_000, cid="retry-me")
    assert closed_again.code is ResultCode.DUPLICATE_CLIENT_ORDER_ID  # still within the window


def test_order_validation(ex: Harness) -> None:
    before = state_hash(ex.engine)
    cases = {
        ResultCode.UNKNOWN_MARKET: PlaceOrder(ALICE, "ETH-USD", BUY, GTC, LOT, usd(1)),
        ResultCode.QTY_NOT_MULTIPLE_OF_LOT: PlaceOrder(ALICE, "BTC-USD", BUY, GTC, LOT + 1, usd(1)),
        ResultCode.QTY_BELOW_MINIMUM: PlaceOrder(ALICE, "BTC-USD", BUY, GTC, 0, usd(1)),
        ResultCode.QTY_ABOVE_MAXIMUM: PlaceOrder(ALICE, "BTC-USD", BUY, GTC, 10**10 + LOT, usd(1)),
        ResultCode.PRICE_NOT_MULTIPLE_OF_TICK: PlaceOrder(ALICE, "BTC-USD", BUY, GTC, LOT, 5),
        ResultCode.PRICE_OUT_OF_RANGE: PlaceOrder(ALICE, "BTC-USD", BUY, GTC, LOT, 0),
        ResultCode.INSUFFICIENT_FUNDS: PlaceOrder(ALICE, "BTC-USD", SELL, GTC, 10**8 + LOT, usd(1)),
    }
    for code, cmd in cases.items():
        assert ex(cmd).code is code, code
    assert ex(PlaceOrder(AccountId(99), "BTC-USD", BUY, GTC, LOT, usd(1))).code is (
        ResultCode.INSUFFICIENT_FUNDS
    )
    assert state_hash(ex.engine) == before


def test_halted_market_takes_cancels_only(ex: Harness) -> None:
    oid = place(ex, ALICE, BUY, 1, 49_000).order_id
    assert ex(SetMarketStatus("BTC-USD", MarketStatus.HALTED)).code is ResultCode.OK
    assert place(ex, BOB, SELL, 1, 49_000).code is ResultCode.MARKET_HALTED
    assert ex(AmendOrder(ALICE, oid, LOT, usd(48_000))).code is ResultCode.MARKET_HALTED
    assert ex(CancelOrder(ALICE, order_id=oid)).code is ResultCode.OK
    assert ex(SetMarketStatus("BTC-USD", MarketStatus.HALTED)).code is ResultCode.NO_CHANGE


def test_deposits_are_idempotent_by_reference(ex: Harness) -> None:
    assert ex(Deposit(ALICE, "BTC", 5, "tx:0")).code is ResultCode.OK
    assert ex(Deposit(ALICE, "BTC", 5, "tx:0")).code is ResultCode.DUPLICATE_REFERENCE
    assert ex(Deposit(ALICE, "DOGE", 5, "tx:1")).code is ResultCode.UNKNOWN_ASSET
    assert ex(Deposit(ALICE, "BTC", 0, "tx:2")).code is ResultCode.AMOUNT_OUT_OF_RANGE
    supply = 21_000_000 * 10**8
    assert ex(Deposit(ALICE, "BTC", supply, "tx:3")).code is ResultCode.BALANCE_LIMIT
    assert ex.engine.balance(ALICE, "BTC") == (10**8 + 5, 0)


def test_withdrawal_holds_then_completes_or_returns(ex: Harness) -> None:
    assert ex(RequestWithdrawal(ALICE, "BTC", 10**9, "w1")).code is ResultCode.INSUFFICIENT_FUNDS
    assert ex(RequestWithdrawal(ALICE, "BTC", 1_000, "w1")).code is ResultCode.OK
    assert ex(RequestWithdrawal(ALICE, "BTC", 1_000, "w1")).code is ResultCode.DUPLICATE_REFERENCE
    assert ex.engine.balance(ALICE, "BTC") == (10**8 - 1_000, 1_000)
    assert ex(CompleteWithdrawal("w1")).code is ResultCode.OK
    assert ex(CompleteWithdrawal("w1")).code is ResultCode.UNKNOWN_REFERENCE
    assert ex.engine.balance(ALICE, "BTC") == (10**8 - 1_000, 0)
    assert ex(RequestWithdrawal(ALICE, "BTC", 500, "w2")).code is ResultCode.OK
    assert ex(CancelWithdrawal("w2")).code is ResultCode.OK
    assert ex(CancelWithdrawal("w2")).code is ResultCode.UNKNOWN_REFERENCE
    assert ex.engine.balance(ALICE, "BTC") == (10**8 - 1_000, 0)
    assert ex.engine.external["BTC"] == -(3 * 10**8) + 1_000


def test_listing_rules(ex: Harness) -> None:
    inexact = Market(
        code="BTC-USD",
        base="BTC",
        quote="USD",
        lot=1,
        tick=1,
        min_qty=1,
        max_qty=10,
        max_price=10,
        maker_fee_bps=0,
        taker_fee_bps=0,
    )
    assert ex(ListMarket(inexact)).code is ResultCode.DUPLICATE_MARKET
    h = Harness(Engine())
    assert h(ListAsset(BTC)).code is ResultCode.OK
    assert h(ListAsset(USD)).code is ResultCode.OK
    assert h(ListAsset(BTC)).code is ResultCode.DUPLICATE_ASSET
    assert h(ListMarket(inexact)).code is ResultCode.INVALID_MARKET  # lot*tick not a whole notional
    reversed_name = Market(
        code="USD-BTC",
        base="BTC",
        quote="USD",
        lot=LOT,
        tick=10**8,
        min_qty=LOT,
        max_qty=LOT,
        max_price=10**8,
        maker_fee_bps=0,
        taker_fee_bps=0,
    )
    assert h(ListMarket(reversed_name)).code is ResultCode.INVALID_MARKET
    unknown = Market(
        code="BTC-EUR",
        base="BTC",
        quote="EUR",
        lot=LOT,
        tick=10**8,
        min_qty=LOT,
        max_qty=LOT,
        max_price=10**8,
        maker_fee_bps=0,
        taker_fee_bps=0,
    )
    assert h(ListMarket(unknown)).code is ResultCode.UNKNOWN_ASSET
    assert h(ListMarket(MARKET)).code is ResultCode.OK


def test_sequence_numbers_must_increase(ex: Harness) -> None:
    with pytest.raises(SequenceError):
        ex.engine.apply(CancelAll(ALICE, "BTC-USD"), ex.engine.seq)
