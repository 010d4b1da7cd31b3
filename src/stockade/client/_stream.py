"""A client of web's stream (``/api/v1/stream``): market data and, with a key, its private
channels, over a blocking WebSocket.

``Stream.messages()`` yields the stream's messages as JSON objects, with one addition: it keeps
each followed market's book from its snapshot and updates, applying the resync rule (an event
whose ``seq`` is not the next one means events were lost: subscribe again, start from the new
snapshot), and yields ``{"type": "book", market, seq, log_index, bids, asks}`` after each change,
``bids`` best first and ``asks`` best first.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Self

import msgspec
from websockets.sync.client import ClientConnection, connect

from stockade.client._http import HttpApi
from stockade.errors import RemoteProtocolError
from stockade.wire import STREAM_AUTH_DOMAIN

Json = dict[str, object]


class StreamError(RemoteProtocolError):
    """The stream refused something this client sent (``name`` says what)."""

    def __init__(self, name: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{name}: {message}", field)
        self.name = name


@dataclass
class _Book:
    seq: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)


class Stream:
    def __init__(self, web_url: str, timeout: float = 10) -> None:
        url = web_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        self._open = contextlib.ExitStack()  # websockets wants its connections in a with block
        opened = connect(url + "/api/v1/stream", open_timeout=timeout)
        self._ws: ClientConnection = self._open.enter_context(opened)
        self.timeout = timeout
        try:
            hello = self._receive()
            if hello.get("type") != "hello" or not isinstance(hello.get("nonce"), str):
                raise StreamError("Unexpected", "the stream did not start with its hello")
        except BaseException:
            self._open.close()
            raise
        self.nonce = base64.b64decode(str(hello["nonce"]))
        self._books: dict[str, _Book] = {}

    def subscribe(
        self, channel: str, market: str | None = None, interval: str | None = None
    ) -> None:
        message: Json = {"op": "subscribe", "channel": channel}
        if market is not None:
            message["market"] = market
        if interval is not None:
            message["interval"] = interval
        self._send(message)

    def authenticate(self, api: HttpApi) -> Json:
        """Open the private channels for ``api``'s key: a grant from core, used by signing this
        connection's nonce with the same key. Returns the ``authenticated`` message."""
        grant = json.loads(msgspec.json.encode(api.stream_grant()))
        signature = api.identity.secret.sign(STREAM_AUTH_DOMAIN, self.nonce)
        self._send(
            {"op": "auth", "grant": grant, "signature": base64.b64encode(signature).decode()}
        )
        for message in self.messages():
            if message["type"] == "authenticated":
                return message
        raise StreamError("Closed", "the stream closed before authenticating")

    def messages(self) -> Iterator[Json]:
        """The stream's messages as they come (a refusal raises ``StreamError``)."""
        while True:
            message = self._receive()
            kind = message.get("type")
            if kind == "error":
                error = message.get("error")
                assert isinstance(error, dict)
                raise StreamError(
                    str(error.get("name")), str(error.get("message")), error.get("field")
                )
            if kind in ("snapshot", "update"):
                book = self._book(message)
                if book is not None:
                    yield book
                continue
            yield message

    def _book(self, message: Json) -> Json | None:
        market = str(message["market"])
        if message["type"] == "snapshot":
            levels = msgspec.convert(
                [message["bids"], message["asks"]], list[list[tuple[int, int]]]
            )
            fresh = _Book(int(str(message["seq"])), dict(levels[0]), dict(levels[1]))
            self._books[market] = fresh
            return _shown(market, fresh, message["log_index"])
        book = self._books.get(market)
        if book is None:
            return None  # waiting for the snapshot a resync asked for
        events = message["events"]
        assert isinstance(events, list)
        for event in events:
            if event["seq"] != book.seq + 1:  # the resync rule
                del self._books[market]
                self.subscribe("book", market)
                return None
            book.seq = event["seq"]
            if event["type"] == "level":
                side = book.bids if event["side"] == "buy" else book.asks
                if event["volume"]:
                    side[event["price"]] = event["volume"]
                else:
                    side.pop(event["price"], None)
        return _shown(market, book, events[-1]["log_index"] if events else None)

    def _send(self, message: Json) -> None:
        self._ws.send(json.dumps(message))

    def _receive(self) -> Json:
        value = json.loads(self._ws.recv(timeout=self.timeout))
        if not isinstance(value, dict):
            raise StreamError("Unexpected", "a stream message is a JSON object")
        return value

    def close(self) -> None:
        self._open.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shown(market: str, book: _Book, log_index: object) -> Json:
    return {
        "type": "book",
        "market": market,
        "seq": book.seq,
        "log_index": log_index,
        "bids": sorted(book.bids.items(), reverse=True),
        "asks": sorted(book.asks.items()),
    }
