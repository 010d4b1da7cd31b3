"""The auditor's replay: an honest log passes; each way of faking the log is named."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.audit import Auditor, Report
from stockade.audit import _replay as replay
from stockade.client import LogMismatch, LogWatcher
from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.tlog import (
    DepositCredited,
    KeyAdded,
    SignedRequest,
    TradeEntry,
    commit,
    decode_entry,
    encode_entry,
)
from stockade.wire import (
    AmendOrderRequest,
    CancelAllRequest,
    CancelOrderRequest,
    CreditRequest,
    LogRef,
    PlaceOrderRequest,
    Receipt,
    Request,
)
from tests.conftest import fixed_identity
from tests.core.helpers import LOT, PRICE, TICK, CoreHarness, log_in, sign_up
from tests.core.server_fixture import log_verifier


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


flows = st.lists(st.one_of(orders, st.just("cancel-all"), st.just("amend")), max_size=40)


def run_flow(h: CoreHarness, flow: list[object]) -> None:
    """Alice and Bob take turns placing, amending and cancelling; refusals are not logged."""
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


@settings(max_examples=40, deadline=None)
@given(flows)
def test_random_order_flow_always_audits_clean(flow: list[object]) -> None:
    h = CoreHarness()
    run_flow(h, flow)
    report = audit(h)
    assert report.findings == []
    assert report.trades == h.core.engine.next_trade_id - 1


def test_an_amend_that_crosses_is_logged_and_audited_as_the_taker() -> None:
    h = CoreHarness()
    buy = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, 2 * LOT, PRICE - TICK)
    resting = h.receipt(h.alice, buy)
    h.receipt(h.bob, PlaceOrderRequest("BTC-USD", Side.SELL, TimeInForce.GTC, 2 * LOT, PRICE))
    assert resting.order_id is not None
    amend = AmendOrderRequest(resting.order_id, 2 * LOT, PRICE)
    envelope = h.frame(h.alice, amend)
    crossed = h.receive(envelope).reply
    assert isinstance(crossed, Receipt)
    assert crossed.log is not None
    trade = decode_entry(crossed.log.leaves[1])
    assert isinstance(trade, TradeEntry)
    assert trade.taker_leaf == crossed.log.first  # the amend's signed terms back the trade
    LogWatcher(log_verifier()).check_receipt(crossed, amend, envelope)
    assert audit(h).findings == []


def test_a_request_logged_twice_is_named() -> None:
    h = CoreHarness()
    traded(h)
    entries = all_entries(h)
    first = decode_entry(entries[trade_index(h) - 1])
    assert isinstance(first, SignedRequest)
    again = encode_entry(msgspec.structs.replace(first, seq=h.core.seq + 1))
    assert [f.kind for f in audit(h, [*entries, again]).findings] == ["replayed-request"]


def test_a_key_moved_to_another_account_is_named() -> None:
    h = CoreHarness()
    entries = all_entries(h)
    added = [decode_entry(e) for e in entries]
    keys = [e for e in added if isinstance(e, KeyAdded)]
    moved = msgspec.structs.replace(keys[0], user=keys[1].user, seq=h.core.seq + 1)
    assert [f.kind for f in audit(h, [*entries, encode_entry(moved)]).findings] == [
        "key-reassigned"
    ]


def test_the_replay_keeps_funding_past_the_supply_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Top-ups count against an asset's total; the replay withdraws surpluses to go on."""
    monkeypatch.setattr(replay, "TOP_UP", 1 << 62)  # the second top-up of an asset hits the cap
    h = CoreHarness()
    for _ in range(3):
        traded(h)
    report = audit(h)
    assert report.findings == []
    assert report.trades == h.core.engine.next_trade_id - 1 > 2


def test_a_receipt_logged_as_the_wrong_kind_is_refused() -> None:
    h = CoreHarness()
    order = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE)
    envelope = h.frame(h.alice, order)
    receipt = h.receive(envelope).reply
    assert isinstance(receipt, Receipt)
    assert receipt.log is not None
    watcher = LogWatcher(log_verifier())
    watcher.check_receipt(receipt, order, envelope)
    salt = bytes(32)
    hidden = DepositCredited(receipt.seq, b"u" * 16, "BTC", bytes(32), commit(salt, envelope))
    forged = msgspec.structs.replace(
        receipt, log=LogRef(receipt.log.first, [encode_entry(hidden)], salt)
    )
    with pytest.raises(LogMismatch, match="logged as DepositCredited"):
        watcher.check_receipt(forged, order, envelope)
    other_seq = msgspec.structs.replace(receipt, seq=receipt.seq + 1)
    with pytest.raises(LogMismatch, match="sequence number"):
        watcher.check_receipt(other_seq, order, envelope)


def test_core_vouches_for_sign_ups_and_sessions_but_never_for_money() -> None:
    h = CoreHarness()
    sign_up(h, "kim")
    session = fixed_identity("kim-session")
    log_in(h, "kim", session)
    order = PlaceOrderRequest("BTC-USD", Side.SELL, TimeInForce.GTC, LOT, PRICE)
    kim = h.core.registry.credentials["kim"].account
    h.ok(h.operator, CreditRequest(kim, "BTC", 10**8, "kim-btc"))
    h.receipt(session, order)  # a browser order, signed by a key core registered at log-in
    entries = all_entries(h)
    assert audit(h, entries).findings == []
    # the same credit, as if core had vouched for it alone: refused
    index = next(i for i, e in enumerate(entries) if isinstance(decode_entry(e), DepositCredited))
    credit = decode_entry(entries[index])
    assert isinstance(credit, DepositCredited)
    forged = msgspec.structs.replace(credit, operator=h.core_identity.public.raw)
    entries[index] = encode_entry(forged)
    kinds = [f.kind for f in audit(h, entries).findings]
    assert kinds[0] == "unknown-operator"
