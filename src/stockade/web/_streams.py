"""Public market data over WebSocket (``/api/v1/stream``) and as JSON (tickers, candles).

Everything here comes from web's mirror of the log (``_feed``), so each message carries the
market's event ``seq`` and the ``log_index`` of the entry behind it, the numbers the relay serves
and any replay of the log recomputes. Channels, per market: ``book`` (a snapshot, then every
market event in order, level changes and trades, numbered without gaps), ``trades``, ``ticker``
and ``candles`` (per interval).

The resync rule (``docs/api.md``): a ``book`` update whose first event's ``seq`` is not one past
the last one applied means events were lost; subscribe again and start from the new snapshot.

Bounded everywhere: a client's message is at most ``MAX_MESSAGE`` bytes and ``MAX_RATE`` a
second, a connection holds at most ``MAX_SUBSCRIPTIONS``, an instance at most
``MAX_CONNECTIONS``; a client that does not read its messages is disconnected (code 1013,
``SlowConsumer``) rather than buffered without end.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar, get_args

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from stockade.audit import (
    INTERVALS,
    MAX_EVENTS,
    Candle,
    MarketEvent,
    Ticker,
    TradeEvent,
)
from stockade.client import LogMirror, MarketView, Served
from stockade.web._api import PUBLIC, json_response, refuse
from stockade.web._bodies import CandlePage, CandlesQuery, Interval, Tickers
from stockade.web._private import (
    PRIVATE_CHANNELS,
    PrivateState,
    PrivateStreams,
    Refusal,
    error_message,
)
from stockade.wire import MarketName, StreamGrant
from stockade.wire._errors import field_of

log = logging.getLogger("stockade.web")

MAX_MESSAGE = 1024
MAX_RATE = 20  # client messages a second, on average
MAX_SUBSCRIPTIONS = 64
MAX_CONNECTIONS = 2000
#: Messages waiting for one slow client before it is disconnected.
MAX_QUEUED = 512
CLOSE_TIMEOUT_S = 5.0
#: How long one message may take to leave: a client whose socket stays full longer is cut off.
SEND_TIMEOUT_S = 10.0
#: How a connection's tasks end when its client goes: not worth a log line.
_GONE = (WebSocketDisconnect, TimeoutError, OSError, RuntimeError)
#: WebSocket close codes: the client broke a rule; the client did not keep up (try again later).
POLICY_VIOLATION, SLOW_CONSUMER = 1008, 1013
#: Refusals after which the connection is closed (the rest leave it open).
FATAL = ("TooManyMessages", "Oversize")
#: Trades sent with a ``trades`` subscription, the latest first found scanning back this far.
RECENT_TRADES = 50
SCAN_BACK = 5000

Channel = Literal["book", "trades", "ticker", "candles", "orders", "fills", "balances"]
T = TypeVar("T")


class _Op(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="op"):
    pass


class Subscribe(_Op, frozen=True, tag="subscribe"):
    """Start a channel (again: a fresh snapshot, the resync)."""

    channel: Channel
    market: MarketName | None = None  # the public channels' market; private ones take none
    interval: Interval | None = None  # candles only


class Unsubscribe(_Op, frozen=True, tag="unsubscribe"):
    channel: Channel
    market: MarketName | None = None
    interval: Interval | None = None


class Auth(_Op, frozen=True, tag="auth"):
    """A stream grant (``POST /api/v1/stream/grant``), for the private channels, and the
    grant's key's signature over ``STREAM_AUTH_DOMAIN`` and this connection's nonce."""

    grant: StreamGrant
    signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


class Ping(_Op, frozen=True, tag="ping"):
    pass


ClientMessage = Annotated[
    Subscribe | Unsubscribe | Auth | Ping, msgspec.Meta(title="ClientMessage")
]
_decode = msgspec.json.Decoder(ClientMessage).decode
_encode = msgspec.json.Encoder().encode
Key = tuple[str, str | None, Interval | None]  # channel, market, interval


def _key(message: Subscribe | Unsubscribe) -> Key:
    if (message.channel in PRIVATE_CHANNELS) == (message.market is not None):
        raise Refusal("Malformed", "market channels take a market; private ones none", "market")
    if (message.channel == "candles") != (message.interval is not None):
        raise Refusal("Malformed", "candles take an interval; other channels none", "interval")
    return message.channel, message.market, message.interval


class _Connection:
    """One client: what it follows and the messages waiting for it."""

    def __init__(self, websocket: WebSocket, clock: Callable[[], float]) -> None:
        self.websocket = websocket
        self.keys: set[Key] = set()
        self.private = PrivateState()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUED)
        self.nonce = secrets.token_bytes(16)  # what an ``auth`` must sign, on this connection
        self.clock = clock
        self.closing: tuple[int, str] | None = None  # the close code and reason, once decided
        self._allowance, self._at = float(MAX_RATE), clock()

    def push(self, data: bytes) -> bool:
        """Queue ``data``; False once the client stopped reading (it is then disconnected)."""
        if self.closing is not None:
            return False
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.close(SLOW_CONSUMER, "SlowConsumer")
            return False
        return True

    def within_rate(self) -> bool:
        """A token bucket: ``MAX_RATE`` a second, bursts of as many."""
        now = self.clock()
        self._allowance = min(MAX_RATE, self._allowance + (now - self._at) * MAX_RATE)
        self._at = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    def close(self, code: int, reason: str, last: bytes | None = None) -> None:
        """Send nothing more that is queued; ``last`` if given, then close."""
        if self.closing is not None:
            return
        self.closing = code, reason
        while not self.queue.empty():
            self.queue.get_nowait()
        if last is not None:
            self.queue.put_nowait(last)
        self.queue.put_nowait(None)

    async def send_all(self) -> None:
        """The connection's writer: queued messages in order, then the close."""
        while (data := await self.queue.get()) is not None:
            await asyncio.wait_for(self.websocket.send_text(data.decode()), SEND_TIMEOUT_S)
        code, reason = self.closing or (1000, "")
        await self.websocket.close(code, reason)


class Hub:
    """Who follows what, and the fan-out of each new view of the log to them. Runs on the event
    loop: the follower hands it views with ``advanced``."""

    def __init__(
        self,
        mirror: LogMirror,
        private: PrivateStreams,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mirror = mirror
        self.private = private
        self.clock = clock
        self.served: Served | None = None
        self.followers: dict[Key, set[_Connection]] = {}
        self.connections: set[_Connection] = set()
        #: Sockets with a handler, dropped or not: what the cap counts, since a dropped client's
        #: socket stays open until its last send or close times out.
        self.sockets = 0
        self._recent: dict[str, tuple[int, bytes]] = {}  # market -> (events, its latest trades)
        self._delivered: dict[str, int] = {}  # market -> events sent to its followers

    # ------------------------------------------------------------------ views

    def advanced(self, served: Served) -> None:
        previous = self.served
        self.served = served
        for code, view in served.markets.items():
            before = view.events if previous is None else self._delivered.get(code, 0)
            self._delivered[code] = view.events
            if view.events > before:
                self._fan_out(code, view, self._events(code, before, view.events))
        if previous is not None:
            start, end = previous.checkpoint.size, served.checkpoint.size
            self.private.advanced(self.connections, self.mirror.entries, start, end)

    def _events(self, code: str, after: int, upto: int) -> list[MarketEvent]:
        feed, out = self.mirror.feed, []
        while after < upto:
            page = feed.events(code, after, min(MAX_EVENTS, upto - after))
            out.extend(page)
            after += len(page)
        return out

    def _fan_out(self, code: str, view: MarketView, events: list[MarketEvent]) -> None:
        trades = [e for e in events if isinstance(e, TradeEvent)]
        messages: dict[Key, list[bytes]] = {
            ("book", code, None): [
                _encode({"channel": "book", "type": "update", "market": code, "events": chunk})
                for chunk in _chunks(events)
            ],
        }
        if trades:  # in the order a client wants them: events, then what follows from them
            messages["trades", code, None] = [_trades(code, chunk) for chunk in _chunks(trades)]
        messages["ticker", code, None] = [_ticker(view.ticker)]
        for name in get_args(Interval):
            width = INTERVALS[name]
            if view.changed.get(width):
                messages["candles", code, name] = [_candles(code, name, view, view.changed[width])]
        for key, datas in messages.items():
            for connection in list(self.followers.get(key, ())):
                for data in datas:
                    if not connection.push(data):
                        self.drop(connection, SLOW_CONSUMER, "SlowConsumer")
                        break

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, connection: _Connection, message: Subscribe) -> list[bytes]:
        """Follow ``message``'s channel; the messages that start it (a snapshot)."""
        key = _key(message)
        started = _encode({"type": "subscribed", **msgspec.structs.asdict(message)})
        if message.market is None:
            self.private.subscribe(connection, message.channel)
            return [started]
        view = self._view(message.market)
        if key not in connection.keys and len(connection.keys) >= MAX_SUBSCRIPTIONS:
            raise Refusal("TooManySubscriptions", f"at most {MAX_SUBSCRIPTIONS}")
        connection.keys.add(key)
        self.followers.setdefault(key, set()).add(connection)
        return [started, *self._start(key, view)]

    def unsubscribe(self, connection: _Connection, message: Unsubscribe) -> list[bytes]:
        key = _key(message)
        self.private.unsubscribe(connection, message.channel)
        connection.keys.discard(key)
        self.followers.get(key, set()).discard(connection)
        return [_encode({"type": "unsubscribed", **msgspec.structs.asdict(message)})]

    def drop(
        self, connection: _Connection, code: int, reason: str, last: bytes | None = None
    ) -> None:
        """Stop sending ``connection`` anything new and close it."""
        for key in connection.keys:
            self.followers.get(key, set()).discard(connection)
        connection.keys.clear()
        self.connections.discard(connection)
        connection.close(code, reason, last)

    def _view(self, market: str) -> MarketView:
        if self.served is None:
            raise Refusal("MarketDataNotReady", "no checkpoint pulled yet; retry")
        view = self.served.markets.get(market)
        if view is None:
            raise Refusal("UnknownMarket", f"no market {market}", "market")
        return view

    def _start(self, key: Key, view: MarketView) -> list[bytes]:
        channel, _, interval = key
        code = view.book.market
        if channel == "book":
            book = view.book
            return [
                _encode({"channel": "book", "type": "snapshot", **msgspec.structs.asdict(book)})
            ]
        if channel == "ticker":
            return [_ticker(view.ticker)]
        if channel == "trades":  # one scan per market and view, however many subscribe
            cached = self._recent.get(code)
            if cached is None or cached[0] != view.events:
                cached = self._recent[code] = (
                    view.events,
                    _trades(code, self._recent_trades(code, view.events)),
                )
            return [cached[1]]
        assert interval is not None
        latest = view.latest.get(INTERVALS[interval])
        return [_candles(code, interval, view, [] if latest is None else [latest])]

    def _recent_trades(self, code: str, upto: int) -> list[TradeEvent]:
        after = max(0, upto - SCAN_BACK)
        trades = [e for e in self._events(code, after, upto) if isinstance(e, TradeEvent)]
        return trades[-RECENT_TRADES:]

    # ------------------------------------------------------------------ JSON reads

    def routes(self) -> list[Route | WebSocketRoute]:
        return [
            Route("/api/v1/tickers", self.tickers, methods=["GET"]),
            Route("/api/v1/markets/{market}/ticker", self.ticker, methods=["GET"]),
            Route("/api/v1/markets/{market}/candles", self.candles, methods=["GET"]),
            WebSocketRoute("/api/v1/stream", self.stream),
        ]

    async def tickers(self, _request: Request) -> Response:
        served = self.served
        if served is None:
            return _refused(503, Refusal("MarketDataNotReady", "no checkpoint yet; retry"))
        return _json(Tickers([view.ticker for view in served.markets.values()]))

    async def ticker(self, request: Request) -> Response:
        try:
            view = self._view(request.path_params["market"])
        except Refusal as exc:
            return _refused(_status(exc), exc)
        return _json(view.ticker)

    async def candles(self, request: Request) -> Response:
        """``?interval=1m&since=MS&limit=N``: candles opening at or after ``since`` (oldest
        first), or without ``since`` the latest ``limit`` (default 100, at most 1000)."""
        try:
            query = _candles_query(request.query_params.multi_items())
            view = self._view(request.path_params["market"])
        except Refusal as exc:
            return _refused(_status(exc), exc)
        width = INTERVALS[query.interval]
        chosen = view.candles(self.mirror.feed, width, query.since, query.limit)
        return _json(_candle_page(request.path_params["market"], query.interval, view, chosen))

    # ------------------------------------------------------------------ WebSocket

    async def stream(self, websocket: WebSocket) -> None:
        if self.sockets >= MAX_CONNECTIONS:
            await websocket.close(code=1013, reason="TooManyConnections")
            return
        self.sockets += 1
        try:
            await websocket.accept()
            await self._follow(_Connection(websocket, self.clock))
        finally:
            self.sockets -= 1

    async def _follow(self, connection: _Connection) -> None:
        """Read the client's messages and write its queue until either ends: the client left,
        or was dropped and its close went out, or a send timed out. Then the socket goes."""
        self.connections.add(connection)
        hello = {"type": "hello", "nonce": base64.b64encode(connection.nonce).decode()}
        connection.push(_encode(hello))
        serving = asyncio.create_task(self._serve(connection))
        sending = asyncio.create_task(connection.send_all())
        try:
            await asyncio.wait({serving, sending}, return_when=asyncio.FIRST_COMPLETED)
            self.drop(connection, 1000, "")
            await asyncio.wait({sending}, timeout=CLOSE_TIMEOUT_S)  # the close, if it can go
        finally:  # cancelled too (a shutdown): nothing of this connection outlives it
            self.drop(connection, 1000, "")
            for task in (serving, sending):
                task.cancel()
            outcomes = await asyncio.gather(serving, sending, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, _GONE):
                log.warning("stream connection ended by %r", outcome)

    async def _serve(self, connection: _Connection) -> None:
        """Answer the client's messages until it leaves or is dropped."""
        websocket = connection.websocket
        while connection.closing is None:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            try:
                replies = self._answer(connection, frame.get("text"))
            except Refusal as exc:
                if exc.name in FATAL:
                    self.drop(
                        connection,
                        POLICY_VIOLATION,
                        exc.name,
                        error_message(exc.name, exc.message, exc.field),
                    )
                    continue
                replies = [error_message(exc.name, exc.message, exc.field)]
            for data in replies:
                if not connection.push(data):
                    self.drop(connection, SLOW_CONSUMER, "SlowConsumer")
                    break

    def _answer(self, connection: _Connection, text: str | None) -> list[bytes]:
        if not connection.within_rate():
            raise Refusal("TooManyMessages", f"at most {MAX_RATE} messages a second")
        if text is None:
            raise Refusal("Malformed", "send JSON text frames")
        if len(text) > MAX_MESSAGE:
            raise Refusal("Oversize", f"a message is at most {MAX_MESSAGE} bytes")
        try:
            message = _decode(text)
        except msgspec.ValidationError as exc:
            raise Refusal("Malformed", str(exc), field_of(str(exc))) from None
        except msgspec.DecodeError:
            raise Refusal("Malformed", "the message is not JSON") from None
        if isinstance(message, Subscribe):
            return self.subscribe(connection, message)
        if isinstance(message, Unsubscribe):
            return self.unsubscribe(connection, message)
        if isinstance(message, Auth):
            return self.private.auth(connection, message.grant, message.signature)
        return [_encode({"type": "pong", "server_time_ms": time.time_ns() // 1_000_000})]


def _candles_query(items: list[tuple[str, str]]) -> CandlesQuery:
    """The query, each parameter at most once, numbers in ASCII digits."""
    fields: dict[str, object] = {}
    for name, value in items:
        if name not in CandlesQuery.__struct_fields__ or name in fields:
            raise Refusal("Malformed", "parameters: interval, since, limit", name[:32])
        numeric = name != "interval"
        if numeric and not (value.isascii() and value.isdigit() and len(value) <= 19):
            raise Refusal("Malformed", f"{name} is a whole number", name)
        fields[name] = int(value) if numeric else value
    try:
        return msgspec.convert(fields, CandlesQuery)
    except msgspec.ValidationError as exc:
        raise Refusal("Malformed", str(exc), field_of(str(exc))) from None


def _candle_page(
    code: str, interval: Interval, view: MarketView, candles: list[Candle]
) -> CandlePage:
    return CandlePage(code, interval, view.book.seq, view.book.log_index, candles)


def _candles(code: str, interval: Interval, view: MarketView, candles: list[Candle]) -> bytes:
    page = msgspec.structs.asdict(_candle_page(code, interval, view, candles))
    return _encode({"channel": "candles", "type": "candles", **page})


def _trades(code: str, trades: list[TradeEvent]) -> bytes:
    return _encode({"channel": "trades", "type": "trades", "market": code, "trades": trades})


def _ticker(ticker: Ticker) -> bytes:
    return _encode({"channel": "ticker", "type": "ticker", "ticker": ticker})


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[i : i + MAX_EVENTS] for i in range(0, len(items), MAX_EVENTS)]


def _status(exc: Refusal) -> int:
    return {"UnknownMarket": 404, "MarketDataNotReady": 503}.get(exc.name, 400)


def _json(value: object) -> Response:
    return json_response(value, headers=PUBLIC)


def _refused(status: int, exc: Refusal) -> Response:
    response = refuse(status, exc.name, exc.message, exc.field)
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response
