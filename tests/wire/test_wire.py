"""Wire encoding: every message round-trips canonically; frames, replays and replies are checked."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.exchange import (
    Asset,
    CloseReason,
    MarketStatus,
    OrderAccepted,
    SelfTrade,
    Side,
    TimeInForce,
)
from stockade.site import BTC_USD
from stockade.wire import (
    MAX_REQUEST,
    MESSAGE_TAGS,
    WINDOW_MS,
    AccountCreated,
    AddKeyRequest,
    AddPasskey,
    AddPasskeyRequest,
    AmendOrderRequest,
    BalanceRow,
    Balances,
    BalancesRequest,
    Book,
    BookRequest,
    CancelAllRequest,
    CancelOrderRequest,
    ChangePasswordRequest,
    CheckpointRequest,
    CreateAccountRequest,
    CreateUser,
    CreditRequest,
    DisableTotpRequest,
    EnableTotpRequest,
    ErrorInfo,
    FrameReader,
    GrantedRead,
    KeyRow,
    Keys,
    KeysRequest,
    Ledger,
    LedgerRequest,
    LedgerRow,
    ListAssetRequest,
    ListMarketRequest,
    LogInRefused,
    LogInRequest,
    LogInRow,
    LogIns,
    LogInsRequest,
    LogOutRequest,
    LogRef,
    Malformed,
    MarketInfo,
    Markets,
    MarketsRequest,
    Message,
    MyTradesRequest,
    NonCanonical,
    Opener,
    OpenOrdersRequest,
    OpenSession,
    OrderInfo,
    OrderRequest,
    Orders,
    Overloaded,
    Oversize,
    PasskeyChallenge,
    PasskeyChallengeRequest,
    PasskeyLogInRequest,
    PasskeyOptionsRequest,
    PasskeyRow,
    Passkeys,
    PasskeysRequest,
    PingRequest,
    PlaceOrderRequest,
    Pong,
    PublicTradeRow,
    PublicTrades,
    PublicTradesRequest,
    Receipt,
    RegisterKeyRequest,
    RemovePasskeyRequest,
    ReplayCache,
    Replayed,
    Replies,
    Reply,
    RevokeKeyRequest,
    RevokeOwnKeyRequest,
    SessionOpened,
    SetMarketStatusRequest,
    SetPassword,
    SignedCheckpointReply,
    SignUpRequest,
    Status,
    StatusRequest,
    StreamGrant,
    StreamGrantRequest,
    TileReply,
    TileRequest,
    TotpSecret,
    TotpSecretRequest,
    TradeRow,
    Trades,
    decode_body,
    decode_envelope,
    frame,
    seal,
)
from tests.conftest import fixed_identity

NONCE = bytes(range(16))
EXAMPLES: list[Message] = [
    PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.FOK, 1000, 5, "c-1", SelfTrade.CANCEL_BOTH),
    CancelOrderRequest(order_id=7),
    CancelAllRequest("BTC-USD"),
    AmendOrderRequest(7, 2000, 10),
    BalancesRequest(),
    OrderRequest(client_order_id="c-1"),
    OpenOrdersRequest("BTC-USD"),
    MyTradesRequest(None, 5, 10),
    BookRequest("BTC-USD", 3),
    MarketsRequest(),
    PingRequest(),
    CreateAccountRequest("desk 1"),
    RegisterKeyRequest(1, bytes(32), "bot"),
    RevokeKeyRequest(bytes(32)),
    CreditRequest(1, "BTC", 5, "tx:1"),
    ListAssetRequest(Asset("BTC", 8, 21 * 10**14)),
    ListMarketRequest(BTC_USD),
    SetMarketStatusRequest("BTC-USD", MarketStatus.HALTED),
    StatusRequest(),
    SignUpRequest("alice.b", "correct horse battery"),
    LogInRequest("alice.b", "correct horse battery", bytes(32)),
    LogOutRequest(),
    PublicTradesRequest("BTC-USD", 0, 20),
    Reply(NONCE, body=PublicTrades("BTC-USD", [PublicTradeRow(1, 2, 3, 4, 5, Side.SELL)])),
    AddKeyRequest(bytes(32), "bot 1"),
    KeysRequest(),
    StreamGrantRequest(),
    GrantedRead(StreamGrant(7, b"k" * 32, b"u" * 16, 10**12, b"s" * 64), OpenOrdersRequest()),
    Reply(NONCE, body=StreamGrant(7, b"k" * 32, b"u" * 16, 10**12, b"s" * 64)),
    RevokeOwnKeyRequest(bytes(32)),
    Reply(NONCE, body=Keys([KeyRow(bytes(32), "session", 4, True, 1_700_000_000_000, True)])),
    CreateUser("alice.b", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"),
    OpenSession("alice.b", bytes(32), 1_700_000_000_000),
    OpenSession("alice.b", bytes(32), 1_700_000_000_000, 56_666_666, 3, "127.0.0.1 Firefox/140"),
    LogInRefused("alice.b", "code_missing", "127.0.0.1"),
    TotpSecretRequest(),
    EnableTotpRequest("123456"),
    DisableTotpRequest("000000"),
    LogInsRequest(10),
    ChangePasswordRequest("the old password", "the new password", "123456"),
    SetPassword(
        "alice.b", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", 9, 1
    ),
    Reply(NONCE, body=TotpSecret("A" * 32, "otpauth://totp/x:alice.b?secret=" + "A" * 32)),
    OpenSession("alice.b", bytes(32), 1, None, None, "", b"c" * 16, 7),
    PasskeyOptionsRequest(),
    AddPasskeyRequest(b"c" * 16, b"{" * 40, b"a" * 40, "my phone", "123456"),
    PasskeysRequest(),
    LedgerRequest("BTC", 5, 10),
    Reply(NONCE, body=Ledger([LedgerRow(1 << 20, 1, 2, "BTC", -5, 1, "trade", "17")])),
    RemovePasskeyRequest(b"c" * 16),
    PasskeyChallengeRequest(bytes(32)),
    PasskeyLogInRequest(bytes(32), b"c" * 16, b"{" * 40, b"d" * 37, b"s" * 70, "127.0.0.1"),
    AddPasskey("alice.b", b"c" * 16, b"k" * 77, 0, "laptop", bytes(32), 5, 1),
    LogInRefused("alice.b", "passkey"),
    Reply(NONCE, body=PasskeyChallenge(bytes(32), "localhost", 60_000, b"\0" * 8, "alice.b", [])),
    Reply(NONCE, body=Passkeys([PasskeyRow(b"c" * 16, "laptop", 3, 9)])),
    Reply(
        NONCE,
        body=LogIns(True, [LogInRow(3, 4, None, "", bytes(32)), LogInRow(5, 6, "code", "x", None)]),
    ),
    Reply(NONCE, body=SessionOpened(5, 6, 1, 1_700_000_000_000, LogRef(7, [b"entry"], None))),
    Reply(NONCE, error=ErrorInfo(5002, "Malformed", "bad", "qty")),
    Reply(
        NONCE,
        body=Receipt(
            3, 4, [OrderAccepted(3, 1, "BTC-USD", Side.BUY, TimeInForce.GTC, 1000, 5, None, 5)], 3
        ),
    ),
    Reply(NONCE, body=AccountCreated(1, 2, 3, LogRef(4, [b"entry"], bytes(32)))),
    CheckpointRequest(),
    TileRequest(-1, 1234, 17),
    Reply(NONCE, body=SignedCheckpointReply(b"origin\n1\nroot\n\n")),
    Reply(NONCE, body=TileReply(bytes(64))),
    Reply(NONCE, body=Balances([BalanceRow("BTC", 1, 2)])),
    Reply(
        NONCE,
        body=OrderInfo(
            1, "BTC-USD", Side.SELL, TimeInForce.GTC, 5, 6, 0, None, False, CloseReason.FILLED
        ),
    ),
    Reply(NONCE, body=Orders([])),
    Reply(NONCE, body=Trades([TradeRow(1, 2, 3, "BTC-USD", 4, Side.BUY, True, 5, 6, 7)])),
    Reply(NONCE, body=Book("BTC-USD", 9, [(5, 6)], [(7, 8)])),
    Reply(NONCE, body=Markets([Asset("BTC", 8, 5)], [MarketInfo(BTC_USD, MarketStatus.OPEN)])),
    Reply(NONCE, body=Pong(1, 2)),
    Reply(NONCE, body=Status(1, 2, 1, 0, 3, 4, [])),
    Replies([Reply(NONCE, body=Pong(1, 2)), Reply(bytes(16), error=ErrorInfo(3000, "X", "y"))]),
]


def test_every_message_type_has_an_example() -> None:
    tags = set()
    for example in EXAMPLES:
        tags.add(example.__struct_config__.tag)
        if isinstance(example, Reply) and example.body is not None:
            tags.add(example.body.__struct_config__.tag)
    assert tags == set(MESSAGE_TAGS)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_messages_round_trip_through_signed_envelopes(message: Message) -> None:
    alice, core = fixed_identity("alice"), fixed_identity("core")
    data = seal(alice, core.public, message, NONCE, 1_000_000)
    opener = Opener(
        core.public,
        lambda k: alice.public if k == alice.public.raw else None,
        ReplayCache(WINDOW_MS),
        max_size=10**6,
    )
    env, decoded = opener.open(data, 1_000_000)
    assert decoded == message
    assert env.sender == alice.public.raw
    with pytest.raises(Replayed):
        opener.open(data, 1_000_001)


def test_bodies_must_be_canonical() -> None:
    alice, core = fixed_identity("alice"), fixed_identity("core")
    env = decode_envelope(seal(alice, core.public, PingRequest(), NONCE, 5), MAX_REQUEST)
    for body, error in (
        (env.body + b"\x00", Malformed),  # trailing bytes
        (b"\x81\xa1t\xcc\x0b", NonCanonical),  # tag 11 as uint8: a non-minimal integer
        (b"\x82\xa1t\x0b\xa1t\x0b", NonCanonical),  # the same key twice
        (b"\x81\xa1t\x63", Malformed),  # an unknown tag
    ):
        with pytest.raises(error):
            decode_body(msgspec.structs.replace(env, body=body))


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(0, 5000), max_size=20),
)
def test_frames_survive_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame(p) for p in payloads)
    reader, got, last = FrameReader(1000), [], 0
    for cut in [*sorted({min(c, len(stream)) for c in cuts}), len(stream)]:
        got += reader.feed(stream[last:cut])
        last = cut
    assert got == payloads
    assert reader.pending == 0


def test_oversize_frames_are_refused_before_buffering() -> None:
    with pytest.raises(Oversize):
        FrameReader(100).feed((101).to_bytes(4, "big"))


def test_replay_cache_forgets_only_after_twice_the_window() -> None:
    cache = ReplayCache(window_ms=1000)
    cache.check_and_remember(b"k", b"n", 0)
    with pytest.raises(Replayed):
        cache.check_and_remember(b"k", b"n", 2000)  # ts 1000 still passes the window at 2000
    cache.check_and_remember(b"k", b"n", 2001)
    assert len(cache) == 1
    restored = ReplayCache(window_ms=1000)
    restored.restore(cache.entries())
    with pytest.raises(Replayed):
        restored.check_and_remember(b"k", b"n", 2002)


def test_replay_cache_is_bounded() -> None:
    cache = ReplayCache(window_ms=1000, capacity=2)
    cache.check_and_remember(b"k", b"1", 0)
    cache.check_and_remember(b"k", b"2", 0)
    with pytest.raises(Overloaded):
        cache.check_and_remember(b"k", b"3", 0)
