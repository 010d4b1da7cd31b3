"""The core without I/O: each refusal is precise and changes nothing; the journal replays."""

from __future__ import annotations

import hashlib
from typing import get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.core import Core, JournalCorrupt, JournalRecord, MemoryStorage
from stockade.exchange import Asset, MarketStatus, ResultCode, Side, TimeInForce, Trade
from stockade.wire import (
    CAPABILITIES,
    DOMAIN,
    HTTP_VERSION,
    MAX_REQUEST,
    UNADDRESSED,
    WINDOW_MS,
    WIRE_ERRORS,
    AmendOrderRequest,
    Balances,
    BalancesRequest,
    Book,
    BookRequest,
    CancelAllRequest,
    CancelOrderRequest,
    CoreCommand,
    CreateAccountRequest,
    CreditRequest,
    Envelope,
    ErrorInfo,
    HttpRequest,
    ListAssetRequest,
    MarketsRequest,
    OpenOrdersRequest,
    OperatorRequest,
    OrderInfo,
    OrderRequest,
    Orders,
    PingRequest,
    PlaceOrderRequest,
    Pong,
    RegisterKeyRequest,
    Replies,
    Reply,
    Request,
    RevokeKeyRequest,
    Role,
    SetMarketStatusRequest,
    Status,
    StatusRequest,
    decode_envelope,
    encode_message,
)
from tests.conftest import fixed_identity, fresh_log
from tests.core.helpers import LOT, PRICE, CoreHarness, random_nonce
from tests.wire.test_wire import EXAMPLES

BUY, SELL, GTC = Side.BUY, Side.SELL, TimeInForce.GTC
OPERATOR_KINDS = set(get_args(OperatorRequest))
CORE_KINDS = set(get_args(CoreCommand))
ANYONE = frozenset({Role.OPERATOR, Role.USER, Role.PUBLIC})


def order(side: Side = BUY, lots: int = 10, price: int = PRICE, cid: str | None = None) -> Request:
    return PlaceOrderRequest("BTC-USD", side, GTC, lots * LOT, price, cid)


@pytest.fixture
def h() -> CoreHarness:
    return CoreHarness()


def test_orders_trade_and_receipts_carry_the_events(h: CoreHarness) -> None:
    maker = h.receipt(h.alice, order(SELL, 10))
    taker = h.receipt(h.bob, order(BUY, 4))
    trades = [e for e in taker.events if isinstance(e, Trade)]
    assert [(t.taker_order_id, t.qty) for t in trades] == [(taker.order_id, 4 * LOT)]
    # the receipt keeps the counterparty anonymous; the journal keeps everything
    assert [(t.maker_user, t.maker_order_id, t.maker_fee) for t in trades] == [(0, 0, 0)]
    journaled = [e for e in h.journal[-1].events if isinstance(e, Trade)]
    assert [t.maker_order_id for t in journaled] == [maker.order_id]
    assert all(getattr(e, "user", h.accounts["bob"]) == h.accounts["bob"] for e in taker.events)
    assert maker.seq < taker.seq
    balances = h.ok(h.bob, BalancesRequest())
    assert isinstance(balances, Balances)
    btc = {row.asset: row for row in balances.balances}["BTC"]
    assert btc.available == 10 * 10**8 + 4 * LOT - trades[0].taker_fee


def test_user_requests_act_only_for_the_signing_keys_account(h: CoreHarness) -> None:
    mine = h.receipt(h.alice, order(BUY, 1, cid="a1"))
    before = h.core.state_hash()
    refused = h.error(h.bob, CancelOrderRequest(order_id=mine.order_id))
    assert refused.code == ResultCode.UNKNOWN_ORDER
    assert refused.field == "order_id"
    assert h.core.state_hash() == before
    mine_by_cid = h.ok(h.alice, OrderRequest(client_order_id="a1"))
    assert isinstance(mine_by_cid, OrderInfo)
    assert mine_by_cid.order_id == mine.order_id
    not_bobs = h.send(h.bob, OrderRequest(client_order_id="a1"))
    assert not_bobs.query is not None  # not open for bob: the history is asked, and says no
    answer = not_bobs.query(MemoryStorage())
    assert isinstance(answer, ErrorInfo)
    assert answer.name == "ORDER_NOT_FOUND"
    opened = h.ok(h.alice, OpenOrdersRequest())
    assert isinstance(opened, Orders)
    assert [o.order_id for o in opened.orders] == [mine.order_id]
    bob_open = h.ok(h.bob, OpenOrdersRequest())
    assert isinstance(bob_open, Orders)
    assert bob_open.orders == []


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("alice", CreditRequest(1, "BTC", 10**8, "steal")),
        ("alice", CreateAccountRequest("mine")),
        ("alice", RegisterKeyRequest(2, bytes(32), "x")),
        ("alice", ListAssetRequest(Asset("ZZZ", 0, 5))),
        ("alice", SetMarketStatusRequest("BTC-USD", MarketStatus.HALTED)),
        ("alice", StatusRequest()),
        ("operator", PlaceOrderRequest("BTC-USD", BUY, GTC, LOT, PRICE)),
        ("operator", BalancesRequest()),
    ],
)
def test_capabilities_refuse_what_a_role_may_not_send(
    h: CoreHarness, who: str, message: Request
) -> None:
    before = h.core.state_hash()
    sender = h.alice if who == "alice" else h.operator
    refused = h.error(sender, message)
    assert refused.name == "Unauthorized"
    assert refused.code == 5011
    assert h.core.state_hash() == before


def test_public_reads_are_open_to_every_known_key(h: CoreHarness) -> None:
    h.receipt(h.alice, order(BUY, 3, PRICE - 10 * 10**6))
    book = h.ok(h.bob, BookRequest("BTC-USD", 5))
    assert isinstance(book, Book)
    assert book.bids == [(PRICE - 10 * 10**6, 3 * LOT)]
    assert isinstance(h.ok(h.operator, MarketsRequest()), type(h.ok(h.bob, MarketsRequest())))
    pong = h.ok(h.alice, PingRequest())
    assert isinstance(pong, Pong)
    assert pong.seq == h.core.seq
    status = h.ok(h.operator, StatusRequest())
    assert isinstance(status, Status)
    assert status.invariant_violations == []


def test_strangers_read_only_public_data_and_revoked_keys_nothing(h: CoreHarness) -> None:
    stranger = fixed_identity("stranger")
    assert h.error(stranger, BalancesRequest()).name == "Unauthorized"
    assert isinstance(h.ok(stranger, PingRequest()), Pong)
    h.receipt(h.operator, RevokeKeyRequest(h.bob.public.raw))
    assert h.error(h.bob, BalancesRequest()).name == "UnknownSender"
    assert h.error(h.bob, PingRequest()).name == "UnknownSender"
    again = h.error(h.operator, RegisterKeyRequest(2, h.bob.public.raw, "again"))
    assert again.name == "KEY_ALREADY_REGISTERED"
    operator_as_user = h.error(h.operator, RegisterKeyRequest(1, h.operator.public.raw, "op"))
    assert operator_as_user.name == "KEY_IS_OPERATOR"
    assert h.error(h.operator, RegisterKeyRequest(99, bytes(32), "x")).name == "UNKNOWN_ACCOUNT"
    assert h.error(h.operator, CreditRequest(99, "BTC", 1, "r")).name == "UNKNOWN_ACCOUNT"


def _error_of(h: CoreHarness, data: bytes) -> ErrorInfo:
    before = h.core.state_hash()
    outcome = h.receive(data)
    assert isinstance(outcome.reply, ErrorInfo), outcome.reply
    assert outcome.applied is None
    assert h.core.state_hash() == before
    return outcome.reply


def test_envelope_refusals_are_precise(h: CoreHarness) -> None:
    good = h.frame(h.alice, order())
    env = decode_envelope(good, MAX_REQUEST)
    enc = msgspec.msgpack.encode

    def variant(**changes: object) -> bytes:
        return enc(msgspec.structs.replace(env, **changes))

    flipped = bytearray(env.signature)
    flipped[0] ^= 1
    cases = {
        "BadEnvelopeSignature": variant(signature=bytes(flipped)),
        "WrongRecipient": variant(recipient=h.alice.public.raw),
        "UnsupportedVersion": variant(version=3),
        "Expired": h.frame(h.alice, order(), ts=h.now_ms - WINDOW_MS - 1_000),
        "FromTheFuture": h.frame(h.alice, order(), ts=h.now_ms + WINDOW_MS + 1_000),
        "Oversize": good + bytes(MAX_REQUEST),
        "Malformed": b"\x93\x01\x02\x03",
        # version 1 as a uint8 (0xcc 0x01) instead of the minimal positive fixint (0x01)
        "NonCanonical": good[:1] + b"\xcc" + good[1:],
    }
    for name, data in cases.items():
        error = _error_of(h, data)
        assert error.name == name, (name, error)
        assert WIRE_ERRORS[error.code].__name__ == name


def test_replays_and_messages_from_before_a_restart_are_refused(h: CoreHarness) -> None:
    data = h.frame(h.alice, order())
    assert not isinstance(h.receive(data).reply, ErrorInfo)
    assert _error_of(h, data).name == "Replayed"
    restarted = h.restored(not_before_ms=h.now_ms + 1)
    before = restarted.state_hash()
    outcome = restarted.receive(data, h.now_ms + 2)
    assert isinstance(outcome.reply, ErrorInfo)
    assert outcome.reply.name == "Expired"
    assert restarted.state_hash() == before


def test_message_validation_names_the_field(h: CoreHarness) -> None:
    bad_body = msgspec.msgpack.encode(
        {"t": 1, "market": "BTC-USD", "side": 0, "tif": 0, "qty": -5, "price": PRICE}
    )
    unknown_field = {"t": 11, "extra": 1}
    for body, field in ((bad_body, "qty"), (msgspec.msgpack.encode(unknown_field), "extra")):
        data = _raw_signed(h, body)
        error = _error_of(h, data)
        assert error.name == "Malformed"
        assert error.field == field


def _raw_signed(h: CoreHarness, body: bytes) -> bytes:
    """An envelope with a correct signature over an arbitrary body."""
    nonce = random_nonce()
    h.now_ms += 1
    signed = b"".join(
        (h.alice.public.raw, h.core_identity.public.raw, nonce, h.now_ms.to_bytes(8, "big"), body)
    )
    signature = h.alice.secret.sign(DOMAIN, signed)
    env = Envelope(
        1, h.alice.public.raw, h.core_identity.public.raw, nonce, h.now_ms, body, signature
    )
    return msgspec.msgpack.encode(env)


def test_engine_refusals_carry_result_codes(h: CoreHarness) -> None:
    before = h.core.state_hash()
    cases = [
        (order(lots=10**9), "QTY_ABOVE_MAXIMUM", "qty"),
        (PlaceOrderRequest("BTC-USD", BUY, GTC, LOT + 1, PRICE), "QTY_NOT_MULTIPLE_OF_LOT", "qty"),
        (order(price=PRICE + 1), "PRICE_NOT_MULTIPLE_OF_TICK", "price"),
        (order(lots=10**6, price=10**12), "INSUFFICIENT_FUNDS", None),
        (PlaceOrderRequest("ETH-USD", BUY, GTC, LOT, PRICE), "UNKNOWN_MARKET", "market"),
        (AmendOrderRequest(12345, LOT, PRICE), "UNKNOWN_ORDER", "order_id"),
        (CancelAllRequest("ETH-USD"), "UNKNOWN_MARKET", "market"),
    ]
    for message, name, field in cases:
        error = h.error(h.alice, message)
        assert (error.name, error.field) == (name, field)
        assert error.code == ResultCode[name]
    assert h.core.state_hash() == before


def test_journal_replay_reproduces_the_state(h: CoreHarness) -> None:
    for i in range(30):
        side = BUY if i % 2 else SELL
        h.ok(h.alice if i % 3 else h.bob, order(side, 1 + i % 4, PRICE + (i % 5) * 10**6))
    fresh = h.fresh()
    for applied in h.journal:
        assert fresh.replay(JournalRecord(applied.seq, applied.ts, applied.envelope)) == applied
    assert fresh.state_hash() == h.core.state_hash()
    assert fresh.log.tree.root() == h.core.log.tree.root()
    assert h.restored().state_hash() == h.core.state_hash()


def test_a_forged_journal_row_is_refused_on_replay(h: CoreHarness) -> None:
    h.receipt(h.alice, order(BUY, 2))
    last = h.journal[-1]
    env = decode_envelope(last.envelope, MAX_REQUEST)
    forged_body = encode_message(PlaceOrderRequest("BTC-USD", BUY, GTC, 2000 * LOT, PRICE))
    forged = msgspec.msgpack.encode(msgspec.structs.replace(env, body=forged_body))
    fresh = h.fresh()
    for applied in h.journal[:-1]:
        fresh.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    with pytest.raises(JournalCorrupt, match="signature"):
        fresh.replay(JournalRecord(last.seq, last.ts, forged))
    with pytest.raises(JournalCorrupt, match="not above"):
        fresh.replay(JournalRecord(1, last.ts, last.envelope))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_frames_are_refused_and_change_nothing(data: st.DataObject) -> None:
    h = CoreHarness()
    original = h.frame(h.alice, order(BUY, 1))
    good = bytearray(original)
    mutation = data.draw(st.sampled_from(["flip", "truncate", "insert", "replace"]))
    at = data.draw(st.integers(0, len(good) - 1))
    if mutation == "flip":
        good[at] ^= 1 << data.draw(st.integers(0, 7))
    elif mutation == "truncate":
        del good[at:]
    elif mutation == "insert":
        good[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        good[at : at + 4] = data.draw(st.binary(min_size=4, max_size=4))
    if bytes(good) == original:
        return  # the mutation changed nothing (zeros written over zeros)
    error = _error_of(h, bytes(good))
    assert 5000 <= error.code < 6000


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "t",
                "market",
                "side",
                "tif",
                "qty",
                "price",
                "order_id",
                "client_order_id",
                "account",
                "asset",
                "amount",
                "ref",
                "depth",
                "limit",
                "label",
                "x",
            ]
        ),
        st.one_of(
            st.integers(-(2**63), 2**64 - 1),
            st.text(max_size=40),
            st.binary(max_size=40),
            st.none(),
            st.booleans(),
            st.integers(0, 30),
        ),
        max_size=7,
    )
)
def test_arbitrary_signed_bodies_never_crash_the_core(body: dict[str, object]) -> None:
    h = CoreHarness()
    before = h.core.state_hash()
    outcome = h.receive(_raw_signed(h, msgspec.msgpack.encode(body)))
    assert outcome.reply is not None or outcome.query is not None
    if isinstance(outcome.reply, ErrorInfo) or outcome.applied is None:
        assert h.core.state_hash() == before


REQUESTS = [m for m in EXAMPLES if not isinstance(m, Reply | Replies)]


@pytest.mark.parametrize("message", REQUESTS, ids=lambda m: type(m).__name__)
def test_every_request_kind_refuses_each_kind_of_bad_envelope(message: Request) -> None:
    h = CoreHarness()
    if type(message) in CORE_KINDS:
        sender, intruder = h.core_identity, h.operator
    else:
        sender = h.operator if type(message) in OPERATOR_KINDS else h.alice
        intruder = h.alice if sender is h.operator else h.operator
    good = h.frame(sender, message)
    env = decode_envelope(good, MAX_REQUEST)
    flipped = bytes([env.signature[0] ^ 1]) + env.signature[1:]
    variants = {
        "BadEnvelopeSignature": msgspec.msgpack.encode(
            msgspec.structs.replace(env, signature=flipped)
        ),
        "Expired": h.frame(sender, message, ts=h.now_ms - WINDOW_MS - 1),
        "FromTheFuture": h.frame(sender, message, ts=h.now_ms + WINDOW_MS + 1_000),
        "Oversize": good + bytes(MAX_REQUEST),
        "Malformed": good[: len(good) // 2],
        "UnknownSender": h.frame(h.revoked(), message),
    }
    if CAPABILITIES[type(message)] != ANYONE:
        variants["Unauthorized"] = h.frame(intruder, message)
        variants["Unauthorized "] = h.frame(fixed_identity("nobody"), message)
    for name, data in variants.items():
        assert _error_of(h, data).name == name.strip(), name
    h.receive(good)
    assert _error_of(h, good).name == "Replayed"


def test_text_that_is_not_utf8_is_malformed_and_never_crashes_the_core(h: CoreHarness) -> None:
    """msgspec reports bad UTF-8 in a str field as UnicodeDecodeError, not as a DecodeError:
    it must still be a refusal, for a signed body (v1) and before any signature is checked (v2)."""
    nobody = fixed_identity("nobody")  # a key core never registered: anyone
    body = msgspec.msgpack.encode(BookRequest("BTC-USD", 5)).replace(b"BTC-USD", b"BTC-US\xff")
    v1 = _raw_signed(h, body)
    request = msgspec.msgpack.encode(HttpRequest("GET", "/api/v1/balances", "", b""))
    unsigned = Envelope(
        HTTP_VERSION,
        nobody.public.raw,
        h.core_identity.public.raw,
        bytes(16),
        h.now_ms,
        request.replace(b"balances", b"balance\xff"),
        bytes(64),
    )
    v2 = msgspec.msgpack.encode(unsigned)
    for data in (v1, v2):
        assert _error_of(h, data).name == "Malformed"
    assert isinstance(h.ok(h.alice, BalancesRequest()), Balances)  # and it still serves


def test_refusals_before_authentication_name_no_request(h: CoreHarness) -> None:
    data = h.frame(h.alice, order())
    env = decode_envelope(data, MAX_REQUEST)
    broken = msgspec.msgpack.encode(msgspec.structs.replace(env, signature=bytes(64)))
    outcome = h.receive(broken)  # a copy of alice's frame with a bad signature
    assert (outcome.recipient, outcome.in_reply_to) == (UNADDRESSED, bytes(16))
    assert not isinstance(h.receive(data).reply, ErrorInfo)
    replayed = h.receive(data)
    assert (replayed.recipient, replayed.in_reply_to) == (UNADDRESSED, bytes(16))
    unauthorized = h.send(h.alice, StatusRequest())  # authenticated: answered to alice
    assert (unauthorized.recipient, unauthorized.in_reply_to) != (UNADDRESSED, bytes(16))


def test_a_reused_client_order_id_names_the_existing_order(h: CoreHarness) -> None:
    first = h.receipt(h.alice, order(cid="x-1"))
    refused = h.error(h.alice, order(cid="x-1"))
    assert (refused.name, refused.order_id) == ("DUPLICATE_CLIENT_ORDER_ID", first.order_id)


def _journal_core(h: CoreHarness) -> Core:
    fresh = h.fresh()
    for applied in h.journal:
        fresh.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    return fresh


def test_copied_moved_or_backdated_journal_rows_are_refused(h: CoreHarness) -> None:
    h.receipt(h.alice, order(BUY, 1))
    last = h.journal[-1]
    fresh = _journal_core(h)
    with pytest.raises(JournalCorrupt, match="already used"):  # the same signed order, twice
        fresh.replay(JournalRecord(last.seq + 1, last.ts + 1, last.envelope))
    fresh = _journal_core(h)
    later = last.ts + WINDOW_MS + 1
    with pytest.raises(JournalCorrupt, match="time window"):
        fresh.replay(JournalRecord(last.seq + 1, later, h.frame(h.alice, order(BUY, 2))))
    fresh = _journal_core(h)
    with pytest.raises(JournalCorrupt, match="backwards"):
        fresh.replay(JournalRecord(last.seq + 1, last.ts - 1, h.frame(h.alice, order(BUY, 3))))


def test_snapshots_restore_only_if_this_core_signed_them(h: CoreHarness) -> None:
    h.receipt(h.alice, order(BUY, 1))
    snap = h.core.snapshot(h.now_ms)
    ops = [h.operator.public]
    restored = Core.from_snapshot(h.core_identity, ops, fresh_log(), snap, h.entries, 0)
    assert restored.state_hash() == h.core.state_hash()
    data = h.frame(h.alice, order(BUY, 2))
    assert not isinstance(h.receive(data).reply, ErrorInfo)
    assert restored.receive(data, h.now_ms).reply is not None
    again = Core.from_snapshot(h.core_identity, ops, fresh_log(), snap, h.entries, 0)
    tampered_state = snap.state.replace(b"\x01", b"\x02", 1)
    rehashed = msgspec.structs.replace(
        snap, state=tampered_state, state_hash=hashlib.sha256(tampered_state).digest()
    )
    with pytest.raises(JournalCorrupt, match="not signed by this core"):
        Core.from_snapshot(h.core_identity, ops, fresh_log(), rehashed, h.entries, 0)
    other = Core.new(fixed_identity("other-core"), ops, fresh_log())
    with pytest.raises(JournalCorrupt, match="not signed by this core"):
        Core.from_snapshot(h.core_identity, ops, fresh_log(), other.snapshot(1), h.entries, 0)
    assert again.seq == snap.seq


def test_restored_cores_still_refuse_recent_nonces(h: CoreHarness) -> None:
    data = h.frame(h.alice, order(BUY, 1))
    assert not isinstance(h.receive(data).reply, ErrorInfo)
    ops = [h.operator.public]
    snap = h.core.snapshot(1)
    restored = Core.from_snapshot(h.core_identity, ops, fresh_log(), snap, h.entries, 0)
    outcome = restored.receive(data, h.now_ms)
    assert isinstance(outcome.reply, ErrorInfo)
    assert outcome.reply.name == "Replayed"
