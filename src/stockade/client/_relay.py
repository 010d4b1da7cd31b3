"""Reading a relay over HTTP: the checkpoint, tiles and market data. Nothing read here is
trusted: ``LogWatcher`` and ``MarketWatcher`` check it against the log's key."""

from __future__ import annotations

import http.client
import time
from typing import Protocol, TypeVar
from urllib.parse import quote, urlsplit

import msgspec

from stockade.audit import BookView, MarketEvent, Ticker
from stockade.errors import RemoteProtocolError
from stockade.tlog import TileId
from stockade.wire import DEFAULT_TIMEOUT, MAX_TILE_BYTES

#: The most a relay's answer may hold: a tile, or a page of 1000 market events.
MAX_ANSWER = max(MAX_TILE_BYTES, 1 << 20)

READ_CHUNK = 1 << 16

_T = TypeVar("_T")


class RelayError(RemoteProtocolError):
    """The relay did not answer, or answered with an error or something malformed."""

    code = 7011


class LogSource(Protocol):
    """Where a client reads the log from: core over the wire, or any relay."""

    def checkpoint_note(self) -> bytes: ...

    def fetch_tile(self, tile: TileId) -> bytes: ...


class RelayReader:
    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"not an http:// relay URL: {url!r}")
        self.url = url.rstrip("/")
        self._host, self._port = parts.hostname, parts.port or 80
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> bytes:
        """The body of a 200 answer, within ``timeout`` seconds in all (not per read: a relay
        trickling bytes is cut off) and ``MAX_ANSWER`` bytes."""
        deadline = time.monotonic() + self.timeout
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request("GET", self._prefix + path)
            answer = conn.getresponse()
            body = bytearray()
            while len(body) <= MAX_ANSWER and (chunk := answer.read1(READ_CHUNK)):
                body += chunk
                if time.monotonic() > deadline:
                    raise RelayError(f"relay {self.url} too slow to answer {path}", "relay")
        except (OSError, http.client.HTTPException) as exc:
            raise RelayError(f"relay {self.url} unreachable: {exc}", "relay") from None
        finally:
            conn.close()
        if len(body) > MAX_ANSWER:
            raise RelayError(f"relay answer to {path} is over {MAX_ANSWER} bytes", "relay")
        if answer.status != 200:
            name = answer.getheader("X-Error", "")
            raise RelayError(f"relay answered {path} with {answer.status} {name}".strip(), "relay")
        return bytes(body)

    def checkpoint_note(self) -> bytes:
        return self.get("/checkpoint")

    def fetch_tile(self, tile: TileId) -> bytes:
        return self.get("/" + tile.path())

    def book(self, market: str) -> BookView:
        return self._json(f"/markets/{quote(market, safe='')}/book", BookView)

    def ticker(self, market: str) -> Ticker:
        return self._json(f"/markets/{quote(market, safe='')}/ticker", Ticker)

    def events(self, market: str, after: int = 0) -> list[MarketEvent]:
        path = f"/markets/{quote(market, safe='')}/events?after={int(after)}"
        return self._json(path, list[MarketEvent])

    def _json(self, path: str, kind: type[_T]) -> _T:
        try:
            return msgspec.json.decode(self.get(path), type=kind)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a bad str: not a DecodeError
            raise RelayError(f"relay answer to {path} is malformed: {exc}", "relay") from None
