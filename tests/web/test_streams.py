"""Market data streams and their JSON reads against a running site: a WebSocket client keeps a
book from a snapshot and numbered updates and it matches core's own book; trades, tickers and
candles arrive live and agree with the log; bad messages get precise errors and leave the
connection usable; a client that breaks the rules is closed."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import msgspec
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from stockade.audit import INTERVALS
from stockade.client import Stream, StreamError
from stockade.exchange import Side, TimeInForce
from stockade.keys import read_secret
from stockade.site._defaults import BTC_USD
from stockade.web._streams import MAX_MESSAGE, MAX_RATE
from stockade.wire import STREAM_AUTH_DOMAIN
from tests.live import LiveSite
from tests.processes import http_request, wait_for

PRICE = 61_000 * 10**6
LOT = BTC_USD.lot
MARKET = "BTC-USD"


def _url(live: LiveSite) -> str:
    return live.web.replace("http://", "ws://") + "/api/v1/stream"


def _market_data(live: LiveSite) -> None:
    """Wait until web's mirror of the log holds the market (the listing is checkpointed)."""
    wait_for(lambda: _get(live, f"/api/v1/markets/{MARKET}/ticker")[0] == 200, 30, "market data")


def hello(ws: ClientConnection) -> dict[str, object]:
    """The connection's first message: its nonce, which an ``auth`` signs."""
    first = json.loads(ws.recv(timeout=10))
    assert first["type"] == "hello"
    return first


@pytest.fixture
def stream(live: LiveSite) -> Iterator[ClientConnection]:
    _market_data(live)
    with connect(_url(live), open_timeout=10) as ws:
        yield ws


def _get(live: LiveSite, path: str) -> tuple[int, dict[str, object]]:
    status, _, body = http_request(live.web, "GET", path)
    return status, json.loads(body)


def _send(ws: ClientConnection, message: dict[str, object]) -> None:
    ws.send(json.dumps(message))


def _next(ws: ClientConnection, kind: str, timeout: float = 15) -> dict[str, object]:
    """The next message of type ``kind`` (others, e.g. updates already in flight, are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["type"] == kind:
            return message


def _book_from_stream(ws: ClientConnection, until: float) -> dict[str, object]:
    """Follow ``book`` from its snapshot, applying updates, enforcing the resync rule."""
    snapshot = _next(ws, "snapshot")
    seq = int(str(snapshot["seq"]))
    sides = {
        "buy": dict(snapshot["bids"]),
        "sell": dict(snapshot["asks"]),
    }
    while time.monotonic() < until:
        try:
            message = json.loads(ws.recv(timeout=max(0.01, until - time.monotonic())))
        except TimeoutError:
            break
        if message["type"] != "update":
            continue
        for event in message["events"]:
            assert event["seq"] == seq + 1, "the stream skipped an event"
            seq = event["seq"]
            if event["type"] == "level":
                levels = sides[event["side"]]
                if event["volume"]:
                    levels[event["price"]] = event["volume"]
                else:
                    levels.pop(event["price"], None)
    return {"seq": seq, **sides}


def test_a_book_kept_from_snapshot_and_updates_is_cores_book(
    live: LiveSite, stream: ClientConnection
) -> None:
    _send(stream, {"op": "subscribe", "channel": "book", "market": MARKET})
    assert _next(stream, "subscribed")["channel"] == "book"
    with live.api("alice") as alice, live.api("bob") as bob:
        for i in range(6):
            alice.place_order(MARKET, Side.BUY, LOT, PRICE - i * 10**6)
            bob.place_order(MARKET, Side.SELL, LOT, PRICE + (i + 1) * 10**6)
        bob.place_order(MARKET, Side.SELL, 2 * LOT, PRICE - 10**6, tif=TimeInForce.IOC)
        kept = _book_from_stream(stream, time.monotonic() + 4)
        status, book = _get(live, f"/api/v1/markets/{MARKET}/book?depth=50")
    assert status == 200
    assert sorted(kept["buy"].items(), reverse=True) == [tuple(b) for b in book["bids"]]
    assert sorted(kept["sell"].items()) == [tuple(a) for a in book["asks"]]


def test_trades_tickers_and_candles_arrive_live_and_agree(
    live: LiveSite, stream: ClientConnection
) -> None:
    for channel in ("trades", "ticker"):
        _send(stream, {"op": "subscribe", "channel": channel, "market": MARKET})
    _send(stream, {"op": "subscribe", "channel": "candles", "market": MARKET, "interval": "1m"})
    before = _next(stream, "ticker")["ticker"]
    assert isinstance(before, dict)
    with live.api("carol") as carol, live.api("bob") as bob:
        resting = carol.place_order(MARKET, Side.SELL, 3 * LOT, PRICE + 500 * 10**6)
        bob.place_order(MARKET, Side.BUY, 3 * LOT, PRICE + 500 * 10**6, tif=TimeInForce.IOC)
    trades: list[dict[str, object]] = []
    while not trades:
        trades = [t for t in _next(stream, "trades")["trades"] if t["price"] == PRICE + 500 * 10**6]
    trade = trades[0]
    assert (trade["qty"], trade["taker_side"]) == (3 * LOT, "buy")
    assert isinstance(trade["log_index"], int)
    assert isinstance(trade["seq"], int)
    assert abs(int(str(trade["ts"])) - time.time() * 1000) < 30_000
    assert resting.log is not None
    assert int(str(trade["log_index"])) > resting.log.first
    ticker = _next(stream, "ticker")["ticker"]
    assert isinstance(ticker, dict)
    assert ticker["last"] == PRICE + 500 * 10**6
    assert ticker["trades"] > before["trades"]
    assert ticker["volume_24h"] >= 3 * LOT
    candle = _next(stream, "candles")
    open_ms = int(str(trade["ts"])) - int(str(trade["ts"])) % INTERVALS["1m"]
    latest = candle["candles"][-1]
    assert latest[0] == open_ms
    assert latest[4] == PRICE + 500 * 10**6
    # the JSON reads say the same
    status, page = _get(live, f"/api/v1/markets/{MARKET}/candles?interval=1m&limit=5")
    assert status == 200
    assert page["candles"][-1][0] == open_ms
    status, one = _get(live, f"/api/v1/markets/{MARKET}/ticker")
    assert status == 200
    assert one["trades"] >= ticker["trades"]


@pytest.mark.parametrize(
    ("message", "name", "field"),
    [
        ("not json", "Malformed", None),
        ('{"op": "subscribe", "channel": "book"}', "Malformed", "market"),
        ('{"op": "subscribe", "channel": "depth", "market": "BTC-USD"}', "Malformed", "channel"),
        ('{"op": "subscribe", "channel": "book", "market": "NOPE-USD"}', "UnknownMarket", "market"),
        ('{"op": "subscribe", "channel": "book", "market": "btc-usd"}', "Malformed", "market"),
        ('{"op": "subscribe", "channel": "candles", "market": "BTC-USD"}', "Malformed", "interval"),
        ('{"op": "subscribe", "channel": "book", "market": "BTC-USD", "x": 1}', "Malformed", "x"),
        ('{"op": "delete"}', "Malformed", None),
    ],
)
def test_bad_messages_get_precise_errors_and_the_stream_goes_on(
    stream: ClientConnection, message: str, name: str, field: str | None
) -> None:
    stream.send(message)
    error = _next(stream, "error")["error"]
    assert isinstance(error, dict)
    assert error["name"] == name
    if field is not None:
        assert error["field"] == field
    _send(stream, {"op": "ping"})
    assert isinstance(_next(stream, "pong")["server_time_ms"], int)


def test_rule_breakers_are_closed_with_a_reason(live: LiveSite) -> None:
    _market_data(live)
    with connect(_url(live)) as ws:
        ws.send("x" * (MAX_MESSAGE + 1))
        assert _next(ws, "error")["error"]["name"] == "Oversize"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
    with connect(_url(live)) as ws, pytest.raises(ConnectionClosed) as closed:
        _flood(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "TooManyMessages")


def _flood(ws: ClientConnection) -> None:
    """Pings past the rate limit, then read until the server closes (it must, within 5 s)."""
    for _ in range(MAX_RATE * 3):
        _send(ws, {"op": "ping"})
    while True:
        ws.recv(timeout=5)


@pytest.mark.parametrize(
    "query",
    ["interval=2m", "limit=0", "limit=1001", "since=-1", "limit=1&limit=2", "since=%C2%B2", "x=1"],
)
def test_bad_candle_queries_are_refused_as_json(live: LiveSite, query: str) -> None:
    _market_data(live)
    status, body = _get(live, f"/api/v1/markets/{MARKET}/candles?{query}")
    assert status == 400
    assert body["error"]["name"] == "Malformed"
    status, body = _get(live, "/api/v1/markets/NOPE-USD/candles")
    assert status == 404
    assert body["error"]["name"] == "UnknownMarket"


def _grant_json(live: LiveSite, name: str) -> dict[str, object]:
    with live.api(name) as api:
        return json.loads(msgspec.json.encode(api.stream_grant()))


def _signed_for(live: LiveSite, name: str, nonce: bytes) -> str:
    """``name``'s key's signature of a connection's nonce, as ``auth`` takes it."""
    signature = read_secret(live.layout.client_key(name)).secret.sign(STREAM_AUTH_DOMAIN, nonce)
    return base64.b64encode(signature).decode()


def test_private_channels_push_a_users_orders_fills_and_balances(
    live: LiveSite, stream: ClientConnection
) -> None:
    nonce = base64.b64decode(str(hello(stream)["nonce"]))
    _send(stream, {"op": "subscribe", "channel": "orders"})
    assert _next(stream, "error")["error"]["name"] == "NotAuthenticated"
    grant = _grant_json(live, "alice")
    _send(stream, {"op": "auth", "grant": grant, "signature": _signed_for(live, "bob", nonce)})
    assert _next(stream, "error")["error"]["field"] == "signature"  # not the grant's key
    other = _signed_for(live, "alice", bytes(16))  # the grant's key, another connection's nonce
    _send(stream, {"op": "auth", "grant": grant, "signature": other})
    assert _next(stream, "error")["error"]["field"] == "signature"
    _send(stream, {"op": "auth", "grant": grant})
    assert _next(stream, "error")["error"]["field"] == "signature"  # a grant alone opens nothing
    _send(stream, {"op": "auth", "grant": grant, "signature": _signed_for(live, "alice", nonce)})
    assert _next(stream, "authenticated")["expires_ms"] == grant["expires_ms"]
    for channel in ("orders", "fills", "balances"):
        _send(stream, {"op": "subscribe", "channel": channel})
    assert isinstance(_next(stream, "orders")["orders"], list)
    assert isinstance(_next(stream, "balances")["balances"], list)
    with live.api("alice") as alice, live.api("bob") as bob:
        price = PRICE - 900 * 10**6
        resting = alice.place_order(MARKET, Side.BUY, 2 * LOT, price, client_order_id="ws-1")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # pushed when the log shows the order
            orders = _next(stream, "orders")["orders"]
            if any(o["order_id"] == resting.order_id for o in orders):
                break
        else:
            raise AssertionError("the new order was not pushed")
        held = {b["asset"]: b["held"] for b in _next(stream, "balances")["balances"]}
        assert held["USD"] >= 2 * LOT * price // 10**8
        before = alice.my_trades(MARKET).trades
        after = before[-1].trade_id if before else 0
        bob.place_order(MARKET, Side.SELL, 2 * LOT, price, tif=TimeInForce.IOC)
        made = alice.my_trades(MARKET, after=after).trades  # alice's bids, best first, filled
        assert made
        pushed: list[dict[str, object]] = []
        while len(pushed) < len(made):
            pushed += [t for t in _next(stream, "fills")["trades"] if t["trade_id"] > after]
    assert [(t["trade_id"], t["qty"], t["side"], t["maker"]) for t in pushed] == [
        (t.trade_id, t.qty, "buy", True) for t in made
    ]


def test_a_forged_or_altered_grant_opens_nothing(live: LiveSite, stream: ClientConnection) -> None:
    grant = _grant_json(live, "carol")
    signature = _signed_for(live, "carol", base64.b64decode(str(hello(stream)["nonce"])))
    for field, value in (("account", 1), ("expires_ms", int(str(grant["expires_ms"])) + 1)):
        _send(stream, {"op": "auth", "grant": {**grant, field: value}, "signature": signature})
        error = _next(stream, "error")["error"]
        assert (error["name"], error["field"]) == ("BAD_GRANT", "grant")
    _send(stream, {"op": "subscribe", "channel": "balances"})
    assert _next(stream, "error")["error"]["name"] == "NotAuthenticated"
    _send(stream, {"op": "subscribe", "channel": "balances", "market": MARKET})
    assert _next(stream, "error")["error"]["field"] == "market"


def test_the_sdk_stream_keeps_a_book_and_follows_private_channels(live: LiveSite) -> None:
    _market_data(live)
    with live.api("carol") as carol, Stream(live.web) as stream:
        stream.authenticate(carol)
        stream.subscribe("book", MARKET)
        stream.subscribe("orders")
        messages = stream.messages()
        first = next(m for m in messages if m["type"] == "book")
        price = PRICE - 3_000 * 10**6
        placed = carol.place_order(MARKET, Side.BUY, 3 * LOT, price, client_order_id="sdk-1")
        seen_order = seen_level = False
        deadline = time.monotonic() + 20
        while not (seen_order and seen_level) and time.monotonic() < deadline:
            message = next(messages)
            if message["type"] == "orders":
                seen_order |= any(o["order_id"] == placed.order_id for o in message["orders"])
            elif message["type"] == "book":
                assert message["seq"] >= first["seq"]
                seen_level |= dict(message["bids"]).get(price, 0) >= 3 * LOT
        carol.cancel_order(placed.order_id)
    assert seen_order
    assert seen_level
    with Stream(live.web) as stream:
        stream.subscribe("book", "NOPE-USD")
        with pytest.raises(StreamError) as refused:
            next(stream.messages())
    assert refused.value.name == "UnknownMarket"
