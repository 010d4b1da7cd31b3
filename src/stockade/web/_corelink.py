"""Web's connection to core: forwards signed frames and hands each its reply.

Core answers each connection's frames in the order they came, so replies are matched to requests
first in, first out, and each must name its request's nonce (an unaddressed refusal, which names
none, answers the oldest). Every reply envelope must carry core's signature: web relays what core
said, and a client can check it for itself. A reply that breaks the order ends the connection and
fails every request still waiting (their outcome is unknown: the client asks again by client id).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import cast

from stockade.keys import PublicKey
from stockade.wire import (
    MAX_REPLY,
    MAX_REQUEST,
    UNADDRESSED,
    Address,
    FrameReader,
    Opener,
    Replies,
    Reply,
    WireError,
    decode_body,
    decode_envelope,
    frame,
)

#: Requests one connection may have waiting for core; past it, callers wait for a slot.
MAX_IN_FLIGHT = 4096
CONNECT_TIMEOUT_S = 2.0


class CoreUnavailable(Exception):
    """Core cannot be reached, or the connection failed with the request's outcome unknown."""


@dataclass(frozen=True, slots=True)
class CoreAnswer:
    reply: Reply
    envelope: bytes  # the signed envelope it came in (it may hold replies to other requests)
    recipient: bytes  # the key core addressed it to; UNADDRESSED for a refusal naming no one


class _Pending:
    __slots__ = ("future", "nonce")

    def __init__(self, nonce: bytes, future: asyncio.Future[CoreAnswer]) -> None:
        self.nonce = nonce
        self.future = future


class CoreLink(asyncio.Protocol):
    def __init__(self, address: Address, core_key: PublicKey) -> None:
        self.address = address
        self.core_key = core_key
        self._reader = FrameReader(MAX_REPLY)
        self._pending: deque[_Pending] = deque()
        self._transport: asyncio.Transport | None = None
        self._connecting: asyncio.Lock | None = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    # ------------------------------------------------------------------ sending

    async def call(self, envelope: bytes, nonce: bytes) -> CoreAnswer:
        """Send one signed envelope to core; its reply once core has made it durable."""
        if len(envelope) > MAX_REQUEST:
            raise ValueError("the envelope is over the core's frame limit")  # callers check first
        async with self._slots:
            transport = await self._connected()
            future: asyncio.Future[CoreAnswer] = asyncio.get_running_loop().create_future()
            self._pending.append(_Pending(nonce, future))
            transport.write(frame(envelope))
            return await future

    async def _connected(self) -> asyncio.Transport:
        live = self._live()
        if live is not None:  # the common case, without a lock
            return live
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection attempt at a time; the rest reuse it
            return self._live() or await self._connect()

    def _live(self) -> asyncio.Transport | None:
        return self._transport

    async def _connect(self) -> asyncio.Transport:
        loop = asyncio.get_running_loop()
        try:
            if self.address.scheme == "unix":
                connecting = loop.create_unix_connection(lambda: self, str(self.address.path))
            else:
                connecting = loop.create_connection(
                    lambda: self, self.address.host, self.address.port
                )
            transport, _ = await asyncio.wait_for(connecting, CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise CoreUnavailable(f"cannot reach core: {exc}") from None
        return transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self._transport = cast(asyncio.Transport, transport)
        self._reader = FrameReader(MAX_REPLY)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail_all("the connection to core closed")

    def data_received(self, data: bytes) -> None:
        try:
            for payload in self._reader.feed(data):
                self._deliver(payload)
        except (WireError, CoreUnavailable) as exc:
            self._fail_all(f"core sent a reply that cannot be matched: {exc}")
            if self._transport is not None:
                self._transport.close()

    def _deliver(self, payload: bytes) -> None:
        env = decode_envelope(payload, MAX_REPLY)
        Opener.verify_signature(env, self.core_key)
        message = decode_body(env)
        replies = message.replies if isinstance(message, Replies) else [message]
        for reply in replies:
            if not isinstance(reply, Reply) or not self._pending:
                raise CoreUnavailable("core sent something that answers no request")
            pending = self._pending[0]
            if env.recipient != UNADDRESSED and reply.in_reply_to != pending.nonce:
                raise CoreUnavailable("core's replies are out of order")
            self._pending.popleft()
            if not pending.future.done():
                pending.future.set_result(CoreAnswer(reply, payload, env.recipient))

    def _fail_all(self, reason: str) -> None:
        while self._pending:
            future = self._pending.popleft().future
            if not future.done():
                future.set_exception(CoreUnavailable(reason))
