"""The blocking client side of a wire connection: sign requests, verify replies, keep them paired.

Requests may be pipelined: ``send`` several, then ``receive`` their replies, which arrive in the
same order. Every reply must be signed by the pinned peer key, addressed to us, fresh, never
replayed, and answer the oldest outstanding request; anything else raises and the channel should be
dropped.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections import deque
from collections.abc import Callable

from stockade.errors import RemoteProtocolError
from stockade.keys import Identity, PublicKey
from stockade.wire._address import Address
from stockade.wire._envelope import (
    MAX_REPLY,
    WINDOW_MS,
    Envelope,
    NonceSource,
    Opener,
    decode_body,
    decode_envelope,
    seal,
)
from stockade.wire._errors import UnexpectedMessage
from stockade.wire._framing import FrameReader, frame
from stockade.wire._messages import (
    ErrorInfo,
    Replies,
    Reply,
    Request,
)
from stockade.wire._replay import ReplayCache

#: Default seconds to wait for a connection or a reply before giving up.
DEFAULT_TIMEOUT = 10.0
_READ_CHUNK = 256 * 1024
#: The recipient of refusals the peer could not address (see ``Core.receive``).
UNADDRESSED = bytes(32)


class PeerRefusedFrame(RemoteProtocolError):
    """The peer refused one of our frames before authenticating it; ``error`` says why."""

    def __init__(self, error: ErrorInfo) -> None:
        super().__init__(f"refused before authentication: {error.name}", error.field)
        self.error = error


def connect(address: Address, timeout: float) -> socket.socket:
    if address.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(str(address.path))
    else:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Channel:
    def __init__(
        self,
        address: Address,
        identity: Identity,
        peer: PublicKey,
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.identity = identity
        self.peer = peer
        self.clock = clock
        self._sock = connect(address, timeout)
        self._nonce = NonceSource(secrets.token_bytes(8))
        self._reader = FrameReader(MAX_REPLY)
        self._replies: deque[Reply] = deque()  # opened, not yet handed out
        self._outstanding: deque[bytes] = deque()
        self._opener = Opener(
            identity.public,
            lambda key: peer if key == peer.raw else None,
            ReplayCache(WINDOW_MS),
            max_size=MAX_REPLY,
        )

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def seal(self, message: Request) -> tuple[bytes, bytes]:
        """A signed envelope for ``message`` and its nonce (which the reply will name)."""
        nonce = self._nonce()
        return seal(self.identity, self.peer, message, nonce, self.now_ms()), nonce

    def send_sealed(self, envelope: bytes, nonce: bytes) -> None:
        # Record the nonce first: a reader thread may see the reply before sendall returns.
        self._outstanding.append(nonce)
        self._sock.sendall(frame(envelope))

    def send(self, message: Request) -> bytes:
        envelope, nonce = self.seal(message)
        self.send_sealed(envelope, nonce)
        return nonce

    def send_many(self, messages: list[Request]) -> None:
        sealed = [self.seal(m) for m in messages]
        self._outstanding.extend(nonce for _, nonce in sealed)
        self._sock.sendall(b"".join(frame(env) for env, _ in sealed))

    def receive(self) -> Reply:
        while not self._replies:
            data = self._sock.recv(_READ_CHUNK)
            if not data:
                raise ConnectionError("the peer closed the connection")
            for payload in self._reader.feed(data):
                self._replies.extend(self._open(payload))
        reply = self._replies.popleft()
        if not self._outstanding or reply.in_reply_to != self._outstanding[0]:
            raise UnexpectedMessage("reply does not answer the oldest outstanding request")
        self._outstanding.popleft()
        return reply

    def _open(self, payload: bytes) -> list[Reply]:
        env = decode_envelope(payload, MAX_REPLY)
        if env.recipient == UNADDRESSED:
            raise self._unauthenticated_refusal(env)
        _, message = self._opener.open(payload, self.now_ms())
        if isinstance(message, Reply):
            return [message]
        if isinstance(message, Replies):
            return message.replies
        raise UnexpectedMessage(f"expected replies, got {type(message).__name__}")

    def _unauthenticated_refusal(self, env: Envelope) -> RemoteProtocolError:
        """The peer refused a frame before it could tell who sent it (a clock too far off, an
        unknown key). Such a refusal names no request, so it cannot say which one failed: the
        connection is unusable and every outstanding request's outcome is unknown."""
        Opener.verify_signature(env, self.peer)
        message = decode_body(env)
        if not isinstance(message, Reply) or message.error is None:
            return UnexpectedMessage("an unaddressed envelope that is not a refusal")
        return PeerRefusedFrame(message.error)

    def call(self, message: Request) -> Reply:
        self.send(message)
        return self.receive()

    @property
    def outstanding(self) -> int:
        return len(self._outstanding)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
