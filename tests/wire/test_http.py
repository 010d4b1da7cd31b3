"""Signed HTTP requests: each endpoint means one message, everything else is refused precisely, and
the version-2 envelope that carries a request is bound to every byte its client signed."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.keys import generate
from stockade.wire import (
    MAX_REQUEST,
    WINDOW_MS,
    AddKeyRequest,
    AmendOrderRequest,
    BadEnvelopeSignature,
    BalancesRequest,
    CancelAllRequest,
    CancelOrderRequest,
    DisableTotpRequest,
    EnableTotpRequest,
    HttpMethod,
    HttpRequest,
    KeysRequest,
    LogInsRequest,
    LogOutRequest,
    Malformed,
    Message,
    MyTradesRequest,
    Opener,
    OpenOrdersRequest,
    OrderRequest,
    PlaceOrderRequest,
    ReplayCache,
    RevokeOwnKeyRequest,
    SignUpRequest,
    TotpSecretRequest,
    UnknownRoute,
    WireError,
    WrongRecipient,
    decode_body,
    http_envelope,
    message_of,
    sign_http,
)

KEYS = "/api/v1/keys"
ORDER = {"market": "BTC-USD", "side": "sell", "qty": 5000, "price": 6 * 10**10}


def _request(method: HttpMethod, path: str, query: str = "", body: object = None) -> HttpRequest:
    raw = b"" if body is None else json.dumps(body).encode()
    return HttpRequest(method, path, query, raw)


ROUTES: list[tuple[HttpRequest, Message]] = [
    (
        _request("POST", "/api/v1/orders", body=ORDER),
        PlaceOrderRequest("BTC-USD", Side.SELL, TimeInForce.GTC, 5000, 6 * 10**10),
    ),
    (
        _request(
            "POST",
            "/api/v1/orders",
            body={**ORDER, "tif": "post_only", "client_order_id": "a-1", "stp": "cancel_both"},
        ),
        PlaceOrderRequest(
            "BTC-USD",
            Side.SELL,
            TimeInForce.POST_ONLY,
            5000,
            6 * 10**10,
            "a-1",
            SelfTrade.CANCEL_BOTH,
        ),
    ),
    (_request("DELETE", "/api/v1/orders", "market=BTC-USD"), CancelAllRequest("BTC-USD")),
    (_request("GET", "/api/v1/orders/42"), OrderRequest(order_id=42)),
    (_request("DELETE", "/api/v1/orders/42"), CancelOrderRequest(order_id=42)),
    (
        _request("PATCH", "/api/v1/orders/42", body={"qty": 1000, "price": 5}),
        AmendOrderRequest(42, 1000, 5),
    ),
    (
        _request("GET", "/api/v1/orders/by-client-id/a-1"),
        OrderRequest(client_order_id="a-1"),
    ),
    (
        _request("DELETE", "/api/v1/orders/by-client-id/a-1"),
        CancelOrderRequest(client_order_id="a-1"),
    ),
    (_request("GET", "/api/v1/open-orders"), OpenOrdersRequest()),
    (_request("GET", "/api/v1/open-orders", "market=BTC-USD"), OpenOrdersRequest("BTC-USD")),
    (_request("GET", "/api/v1/my-trades"), MyTradesRequest()),
    (
        _request("GET", "/api/v1/my-trades", "latest=true&limit=7"),
        MyTradesRequest(None, 0, 7, True),
    ),
    (_request("GET", "/api/v1/account/logins", "limit=3"), LogInsRequest(3)),
    (_request("POST", "/api/v1/account/2fa", "", {"code": "012345"}), EnableTotpRequest("012345")),
    (
        _request("POST", "/api/v1/account/2fa/off", "", {"code": "999999"}),
        DisableTotpRequest("999999"),
    ),
    (_request("POST", "/api/v1/account/2fa/secret"), TotpSecretRequest()),
    (
        _request("GET", "/api/v1/my-trades", "limit=5&market=BTC-USD&after=9"),
        MyTradesRequest("BTC-USD", 9, 5),
    ),
    (_request("GET", "/api/v1/balances"), BalancesRequest()),
    (_request("POST", "/api/v1/auth/logout"), LogOutRequest()),
    (_request("GET", "/api/v1/keys"), KeysRequest()),
    (
        _request("POST", "/api/v1/keys", body={"public_key": "ab" * 32, "label": "bot 1"}),
        AddKeyRequest(bytes([0xAB]) * 32, "bot 1"),
    ),
    (_request("DELETE", "/api/v1/keys/" + "cd" * 32), RevokeOwnKeyRequest(bytes([0xCD]) * 32)),
]


@pytest.mark.parametrize(("request_", "message"), ROUTES)
def test_each_endpoint_means_one_message(request_: HttpRequest, message: Message) -> None:
    assert message_of(request_) == message


REFUSED: list[tuple[HttpRequest, type[WireError], str | None]] = [
    (_request("GET", "/api/v2/balances"), UnknownRoute, None),
    (_request("GET", "/api/v1/balances/"), UnknownRoute, None),
    (_request("PUT", "/api/v1/balances"), UnknownRoute, None),  # type: ignore[arg-type]
    (_request("POST", "/api/v1/balances"), UnknownRoute, None),
    (_request("GET", "/api/v1/balances", "x=1"), Malformed, "query"),
    (_request("GET", "/api/v1/open-orders", "market=BTC-USD&market=BTC-USD"), Malformed, "market"),
    (_request("GET", "/api/v1/open-orders", "market="), Malformed, "market"),
    (_request("GET", "/api/v1/open-orders", "market=BTC%2DUSD"), Malformed, "market"),
    (_request("GET", "/api/v1/open-orders", "market=btc-usd"), Malformed, "market"),
    (_request("GET", "/api/v1/my-trades", "limit=0"), Malformed, "limit"),
    (_request("GET", "/api/v1/my-trades", "latest=1"), Malformed, "latest"),
    (_request("GET", "/api/v1/account/logins", "limit=0"), Malformed, "limit"),
    (_request("POST", "/api/v1/account/2fa", "", {"code": "12345"}), Malformed, "code"),
    (
        _request("POST", "/api/v1/account/2fa", "", {"code": "123456", "secret": "A"}),
        Malformed,
        "secret",
    ),
    (_request("POST", "/api/v1/account/2fa/secret", "", {}), Malformed, "body"),
    (_request("GET", "/api/v1/my-trades", "limit=-1"), Malformed, "limit"),
    (_request("GET", "/api/v1/my-trades", "after=99999999999999999999"), Malformed, "after"),
    (_request("GET", "/api/v1/balances", body={}), Malformed, "body"),
    (_request("DELETE", "/api/v1/orders"), Malformed, "market"),
    (_request("GET", "/api/v1/orders/0"), Malformed, "order_id"),
    (_request("GET", "/api/v1/orders/007"), Malformed, "order_id"),
    (_request("GET", "/api/v1/orders/x"), Malformed, "order_id"),
    (_request("GET", "/api/v1/orders/by-client-id/no spaces"), Malformed, "client_order_id"),
    (_request("POST", "/api/v1/orders"), Malformed, "body"),
    (_request("POST", "/api/v1/orders", "x=1", ORDER), Malformed, "query"),
    (_request("POST", "/api/v1/orders", body={**ORDER, "extra": 1}), Malformed, None),
    (_request("POST", "/api/v1/orders", body={**ORDER, "side": "SELL"}), Malformed, "side"),
    (_request("POST", "/api/v1/orders", body={**ORDER, "qty": 2**63}), Malformed, "qty"),
    (_request("POST", "/api/v1/orders", body={**ORDER, "qty": 1.5}), Malformed, "qty"),
    (_request("POST", "/api/v1/orders", body={**ORDER, "qty": "5000"}), Malformed, "qty"),
    (_request("POST", "/api/v1/orders", body={**ORDER, "tif": "day"}), Malformed, "tif"),
    (_request("POST", "/api/v1/orders", body=[ORDER]), Malformed, None),
    (HttpRequest("POST", "/api/v1/orders", "", b"{not json"), Malformed, "body"),
    (_request("PATCH", "/api/v1/orders/42", body={"qty": 1}), Malformed, None),
    (_request("POST", "/api/v1/auth/logout", body={}), Malformed, "body"),
    (_request("DELETE", "/api/v1/keys/" + "CD" * 32), Malformed, "public_key"),
    (_request("DELETE", "/api/v1/keys/abc"), Malformed, "public_key"),
    (
        _request("POST", "/api/v1/keys", body={"public_key": "ab", "label": "x"}),
        Malformed,
        "public_key",
    ),
    (
        _request("POST", "/api/v1/keys", body={"public_key": "ab" * 32, "label": "<b>"}),
        Malformed,
        "label",
    ),
]


@pytest.mark.parametrize(("request_", "error", "field"), REFUSED)
def test_everything_else_is_refused_with_its_field(
    request_: HttpRequest, error: type[WireError], field: str | None
) -> None:
    with pytest.raises(error) as refused:
        message_of(request_)
    if field is not None:
        assert refused.value.field == field


SEGMENTS = st.sampled_from(
    ["orders", "by-client-id", "open-orders", "my-trades", "balances", "42", "0", "a-1", "", "x"]
)
QUERY_PARTS = st.sampled_from(
    ["market=BTC-USD", "after=1", "limit=5", "limit=", "x=1", "market", "=", "%41=1", "&"]
)


@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]),
    segments=st.lists(SEGMENTS, max_size=4),
    query=st.lists(QUERY_PARTS, max_size=3).map("&".join),
    body=st.one_of(
        st.just(b""),
        st.binary(max_size=64),
        st.builds(
            lambda d: json.dumps(d).encode(), st.dictionaries(st.text(max_size=8), st.integers())
        ),
        st.builds(lambda qty: json.dumps({**ORDER, "qty": qty}).encode(), st.integers()),
    ),
)
def test_any_request_means_a_valid_message_or_is_refused(
    method: HttpMethod, segments: list[str], query: str, body: bytes
) -> None:
    request = HttpRequest(method, "/api/v1/" + "/".join(segments), query, body)
    try:
        message = message_of(request)
    except WireError:
        return
    # Whatever is accepted is exactly what a wire client could have sent: it re-decodes as is.
    encoded = msgspec.msgpack.encode(message)
    assert msgspec.msgpack.decode(encoded, type=Message) == message


@given(
    side=st.sampled_from(["buy", "sell"]),
    qty=st.integers(1, 2**63 - 1),
    price=st.integers(0, 2**63 - 1),
    tif=st.sampled_from(list(TimeInForce)),
)
def test_an_order_body_means_the_order_it_describes(
    side: str, qty: int, price: int, tif: TimeInForce
) -> None:
    body = {"market": "BTC-USD", "side": side, "qty": qty, "price": price, "tif": tif.name.lower()}
    message = message_of(_request("POST", "/api/v1/orders", body=body))
    assert isinstance(message, PlaceOrderRequest)
    assert (message.side.name.lower(), message.qty, message.price, message.tif) == (
        side,
        qty,
        price,
        tif,
    )


CLIENT, CORE, OTHER = generate("client"), generate("core"), generate("other")
NOW = 1_700_000_000_000


def _opener() -> Opener:
    return Opener(CORE.public, {CLIENT.public.raw: CLIENT.public}.get, ReplayCache(WINDOW_MS))


def _envelope(request: HttpRequest, signed: HttpRequest | None = None, **change: object) -> bytes:
    """The envelope of ``request``, signed over ``signed`` (default: the same) with ``change``
    applied to what was signed: a nonce, time or recipient the envelope then lies about."""
    nonce, ts, recipient = bytes(range(16)), NOW, CORE.public
    signature = sign_http(
        CLIENT,
        change.get("recipient", recipient),  # type: ignore[arg-type]
        signed or request,
        change.get("nonce", nonce),  # type: ignore[arg-type]
        change.get("ts", ts),  # type: ignore[arg-type]
    )
    return http_envelope(CLIENT.public.raw, recipient.raw, nonce, ts, request, signature)


def test_a_signed_request_opens_as_its_message() -> None:
    request = _request("POST", "/api/v1/orders", body=ORDER)
    env = _opener().authenticate(_envelope(request), NOW)
    assert decode_body(env) == message_of(request)
    assert len(_envelope(request)) < MAX_REQUEST


@pytest.mark.parametrize(
    "tampered",
    [
        _request("POST", "/api/v1/orders", body={**ORDER, "side": "buy"}),
        _request("POST", "/api/v1/orders", "market=BTC-USD", body=ORDER),
        _request("PATCH", "/api/v1/orders", body=ORDER),
        _request("POST", "/api/v1/orders/", body=ORDER),
    ],
)
def test_a_request_altered_after_signing_is_refused(tampered: HttpRequest) -> None:
    original = _request("POST", "/api/v1/orders", body=ORDER)
    with pytest.raises(BadEnvelopeSignature):
        _opener().authenticate(_envelope(tampered, signed=original), NOW)


@pytest.mark.parametrize(
    "change", [{"nonce": bytes(16)}, {"ts": NOW - 1}, {"recipient": OTHER.public}]
)
def test_a_signature_over_another_nonce_time_or_site_is_refused(change: dict[str, object]) -> None:
    request = _request("GET", "/api/v1/balances")
    with pytest.raises(BadEnvelopeSignature):
        _opener().authenticate(_envelope(request, **change), NOW)


def test_a_request_signed_for_another_site_is_refused_there() -> None:
    request = _request("GET", "/api/v1/balances")
    other_site = Opener(
        OTHER.public, {CLIENT.public.raw: CLIENT.public}.get, ReplayCache(WINDOW_MS)
    )
    with pytest.raises(WrongRecipient):
        other_site.authenticate(_envelope(request), NOW)


@pytest.mark.parametrize("path", ["/api/v1/orders\n", "/api/v1/ord ers", "/api/v1/\u00e9"])
def test_a_path_with_a_newline_space_or_non_ascii_is_refused_before_its_signature(
    path: str,
) -> None:
    """No field of the canonical request may hold the newline that separates its lines, so no
    two requests can share canonical bytes."""
    request = HttpRequest("POST", path, "", json.dumps(ORDER).encode())
    with pytest.raises(Malformed):
        _opener().authenticate(_envelope(request), NOW)


def test_a_name_with_a_trailing_newline_is_refused() -> None:
    bad = _request("GET", "/api/v1/open-orders", "market=BTC-USD\n")
    with pytest.raises(Malformed):
        message_of(bad)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"username": "alice\n", "password": "x" * 12}, SignUpRequest)
