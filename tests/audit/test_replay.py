"""The auditor's replay: an honest log passes; each way of faking the log is named."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.audit import Auditor, Report
from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.tlog import SignedRequest, TradeEntry, decode_entry, encode_entry
from stockade.wire import (
    AmendOrderRequest,
    CancelAllRequest,
    CancelOrderRequest,
    PlaceOrderRequest,
    Receipt,
    Request,
)
from tests.conftest import fixed_identity
from tests.core.helpers import LOT, PRICE, TICK, CoreHarness


def audit(h: CoreHarness, entries: list[bytes] | None = None) -> Report:
    auditor = Auditor(h.core_identity.public, {h.operator.public.raw})
    for index, data in enumerate(entries if entries is not None else all_entries(h)):
        auditor.feed(index, data)
    return auditor.finish()


def all_entries(h: CoreHarness) -> list[bytes]:
    return h.entries(h.core.log.tree.size)


def traded(h: CoreHarness) -> tuple[Receipt, Receipt]:
    sell = PlaceOrderRequest("BTC-USD", Side.SELL, TimeInForce.GTC, 5 * LOT, PRICE)
    buy = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.IOC, 3 * LOT, PRICE)
    return h.receipt(h.alice, sell), h.receipt(h.bob, buy)


def trade_index(h: CoreHarness) -> int:
    entries = all_entries(h)
    return next(i for i, e in enumerate(entries) if isinstance(decode_entry(e), TradeEntry))


def test_an_honest_log_replays_to_the_same_trades_and_fees() -> None:
    h = CoreHarness()
    traded(h)
    h.receipt(h.alice, AmendOrderRequest(h.journal[-2].seq, LOT, PRICE))
    h.receipt(h.alice, CancelOrderRequest(order_id=h.journal[-3].seq))
    report = audit(h)
    assert report.findings == []
    assert (report.orders, report.trades) == (2, 1)
    assert report.fees["BTC"] > 0
    assert report.fees["USD"] > 0


def test_a_trade_the_engine_did_not_make_is_named() -> None:
    h = CoreHarness()
    traded(h)
    entries = all_entries(h)
    index = trade_index(h)
    trade = decode_entry(entries[index])
    assert isinstance(trade, TradeEntry)
    cheaper = encode_entry(msgspec.structs.replace(trade, price=trade.price - TICK))
    report = audit(h, [*entries[:index], cheaper, *entries[index + 1 :]])
    assert [(f.index, f.kind) for f in report.findings] == [(index, "trade-mismatch")]
    extra = encode_entry(msgspec.structs.replace(trade, trade_id=99))
    report = audit(h, [*entries, extra])
    assert [(f.index, f.kind) for f in report.findings] == [(len(entries), "unbacked-trade")]
    report = audit(h, [*entries[:index], *entries[index + 1 :]])
    assert [f.kind for f in report.findings] == ["missing-trade"]


def test_an_order_no_registered_key_signed_is_named() -> None:
    """A breached core holds the log key, not the users' keys: it cannot log an order for them."""
    h = CoreHarness()
    traded(h)
    entries = all_entries(h)
    alice_order = decode_entry(entries[trade_index(h) - 2])
    assert isinstance(alice_order, SignedRequest)
    mallory = fixed_identity("mallory")
    forged = h.frame(mallory, PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE))
    fake = encode_entry(SignedRequest(h.core.seq + 1, alice_order.user, forged))
    report = audit(h, [*entries, fake])
    assert [f.kind for f in report.findings] == ["unregistered-key"]
    tampered = bytearray(alice_order.envelope)
    tampered[-70] ^= 1
    bad = encode_entry(SignedRequest(h.core.seq + 1, alice_order.user, bytes(tampered)))
    assert [f.kind for f in audit(h, [*entries, bad]).findings] == ["forged-signature"]


orders = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.POST_ONLY]),
    st.integers(1, 8),
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from(list(SelfTrade)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(orders, st.just("cancel-all"), st.just("amend")), max_size=40))
def test_random_order_flow_always_audits_clean(flow: list[object]) -> None:
    h = CoreHarness()
    for step in flow:
        user = h.alice if len(h.journal) % 2 else h.bob
        message: Request
        if step == "cancel-all":
            message = CancelAllRequest("BTC-USD")
        elif step == "amend":
            open_orders = list(h.core.engine.orders.values())
            if not open_orders:
                continue
            o = open_orders[0]
            user = h.alice if o.user == h.accounts["alice"] else h.bob
            message = AmendOrderRequest(o.id, max(LOT, o.remaining - LOT), o.price + TICK)
        else:
            assert isinstance(step, tuple)
            side, tif, lots, ticks, _, stp = step
            message = PlaceOrderRequest(
                "BTC-USD", side, tif, lots * LOT, PRICE + ticks * TICK, None, stp
            )
        h.send(user, message)  # refused ones are not logged
    report = audit(h)
    assert report.findings == []
    assert report.trades == h.core.engine.next_trade_id - 1
