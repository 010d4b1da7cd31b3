"""Edge's connections to web: a pool of kept-alive HTTP/1.1 connections, one request at a time
on each, and the answer read whole (bounded) with httptools' response parser."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httptools

from stockade.wire import Address

#: Response headers that describe one hop, not the answer: edge sets its own.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"content-length",
        b"te",
        b"trailer",
        b"upgrade",
    }
)
READ_CHUNK = 1 << 16
#: Idle connections kept to web; more are opened while requests are in flight.
KEEP_IDLE = 64


class UpstreamError(Exception):
    """Web did not answer, closed early, or answered with something that is not HTTP."""


class _Stale(UpstreamError):
    """A kept-alive connection web had closed: not a byte of an answer came on it."""


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False
    too_large: bool = False
    limit: int = 0

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body
        if len(self.body) > self.limit:
            self.too_large = True

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class Upstream:
    def __init__(self, web: Address, max_response: int, timeout_s: float = 30.0) -> None:
        self.web = web
        self.max_response = max_response
        self.timeout_s = timeout_s
        self._idle: list[_Connection] = []

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(self.web.host, self.web.port)
        except OSError as exc:
            raise UpstreamError(f"cannot connect to web: {exc.strerror}") from None
        return _Connection(reader, writer)

    async def forward(self, head: bytes, body: bytes, reuse: bool = True) -> Answer:
        """Web's answer to one request (head and body as edge rebuilt them). A kept-alive
        connection that web closed meanwhile is retried once on a new one, as nothing of the
        request reached web on it."""
        reused = reuse and bool(self._idle)
        connection = self._idle.pop() if reused else await self._connect()
        try:
            answer = await asyncio.wait_for(self._exchange(connection, head, body), self.timeout_s)
        except (UpstreamError, OSError, TimeoutError) as exc:
            connection.close()
            if reused and isinstance(exc, _Stale):
                return await self.forward(head, body, reuse=False)
            raise UpstreamError(f"web did not answer: {exc}") from None
        if answer.complete and not _closes(answer) and len(self._idle) < KEEP_IDLE:
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    async def _exchange(self, connection: _Connection, head: bytes, body: bytes) -> Answer:
        connection.writer.write(head + body)
        answer = Answer(limit=self.max_response)
        parser = httptools.HttpResponseParser(answer)
        received = False
        while not answer.complete:
            try:
                data = await connection.reader.read(READ_CHUNK)
            except (ConnectionResetError, BrokenPipeError):
                data = b""  # a closed kept-alive connection may answer a write with a reset
            if not data:
                if not received:
                    raise _Stale("web closed the connection before answering")
                raise UpstreamError("web closed the connection while answering")
            received = True
            try:
                parser.feed_data(data)
            except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
                raise UpstreamError(f"web's answer is not HTTP: {exc}") from None
            if answer.too_large:
                raise UpstreamError(f"web's answer is over {self.max_response} bytes")
        answer.status = parser.get_status_code()
        return answer

    async def tunnel(self, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection of its own for a WebSocket, the upgrade request already sent."""
        connection = await self._connect()
        connection.writer.write(head)
        return connection.reader, connection.writer

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


def _closes(answer: Answer) -> bool:
    return any(
        name.lower() == b"connection" and b"close" in value.lower()
        for name, value in answer.headers
    )
