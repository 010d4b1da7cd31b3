"""Edge's pool to web against a real socket server: a kept-alive connection web closed is retried
once on a new one, but a request web may have acted on (it began to answer) is never sent twice."""

from __future__ import annotations

import asyncio

import pytest

from stockade.edge._upstream import Upstream, UpstreamError
from stockade.wire import parse_address

HEAD = b"POST /api/v1/auth/signup HTTP/1.1\r\nhost: web\r\ncontent-length: 2\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


async def _web(behaviour: list[str]) -> tuple[asyncio.Server, list[bytes], str]:
    """A web that answers each request as ``behaviour`` says, in turn: ``ok`` (and keep the
    connection), ``ok-close`` (answer, then close it), ``half`` (half an answer, then close)."""
    seen: list[bytes] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                seen.append(await reader.readexactly(len(HEAD) + 2))
                if not behaviour:
                    break  # nothing more to answer: close
                what = behaviour.pop(0)
                writer.write(OK if what.startswith("ok") else OK[:20])
                await writer.drain()
                if what != "ok":
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, seen, f"tcp://127.0.0.1:{port}"


def test_a_connection_web_closed_is_retried_once_and_a_half_answer_never_is() -> None:
    async def scenario() -> None:
        server, seen, address = await _web(["ok-close", "ok", "half"])
        upstream = Upstream(parse_address(address), 1 << 20)
        try:
            assert (await upstream.forward(HEAD, b"{}")).status == 200
            await asyncio.sleep(0.1)  # web has closed the kept-alive connection meanwhile
            assert (await upstream.forward(HEAD, b"{}")).status == 200  # retried on a new one
            assert len(seen) == 2  # the closed connection never delivered the request
            with pytest.raises(UpstreamError):
                await upstream.forward(HEAD, b"{}")
            assert len(seen) == 3  # web began to answer: not sent again
        finally:
            upstream.close()
            server.close()

    asyncio.run(scenario())
