"""Signed envelopes, sans I/O: ``seal`` makes frame payloads, ``Opener.open`` checks them.

An envelope is the msgpack array ``[version, sender, recipient, nonce, ts_ms, body, signature]``.
The signature covers ``DOMAIN || sender || recipient || nonce || ts_ms (8 bytes, big-endian) ||
body`` with the sender's Ed25519 key; naming the recipient stops a message meant for one peer
being replayed to another. ``body`` is the canonical msgpack encoding of one ``Message``.

Version 2 is a signed HTTP request (``_http``): ``body`` is the canonical msgpack of the
``HttpRequest`` as its client sent it, the signature is the client's over its canonical request,
and the message is what ``message_of`` derives from it. Everything else is the same.

``Opener.open`` refuses, cheapest check first, and raises the matching ``WireError``:
size, envelope shape, canonical encoding, version, recipient, sender known, timestamp window,
signature, replay, then the body's shape and canonical encoding. The clock and the nonce are
arguments: this module reads neither.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import msgspec

from stockade.keys import BadSignature, Identity, PublicKey
from stockade.wire._errors import (
    BadEnvelopeSignature,
    Expired,
    FromTheFuture,
    Malformed,
    NonCanonical,
    Oversize,
    UnknownSender,
    UnsupportedVersion,
    WrongRecipient,
    field_of,
)
from stockade.wire._http import HTTP_DOMAIN, HttpRequest, canonical_request, message_of
from stockade.wire._messages import (
    Message,
)
from stockade.wire._replay import ReplayCache

T = TypeVar("T")

VERSION = 1
HTTP_VERSION = 2
DOMAIN = b"stockade/wire/v1\x00"
#: Accept timestamps this far from our clock, either way: wide enough for honest clock drift and
#: network delay, narrow enough that the replay cache only needs to remember a few seconds.
WINDOW_MS = 5_000
#: Largest request envelope: an order is about 200 bytes; 16 KiB leaves room for every request kind.
MAX_REQUEST = 16 * 1024
#: Largest reply envelope: a 1,000-row list of trades or book levels fits well inside 1 MiB.
MAX_REPLY = 1024 * 1024


class NonceSource:
    """Unique 16-byte nonces: a random 8-byte prefix chosen once, then an 8-byte counter.

    Nonces must never repeat for a sender within the replay window; they need not be unpredictable
    (the signature, not the nonce, is what an attacker cannot forge). One system call at start
    instead of one per message.
    """

    def __init__(self, prefix: bytes) -> None:
        if len(prefix) != 8:
            raise ValueError("a nonce prefix is 8 random bytes")
        self._prefix = prefix
        self._counter = 0

    def __call__(self) -> bytes:
        self._counter += 1
        return self._prefix + self._counter.to_bytes(8, "big")


class Envelope(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    version: int
    sender: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    recipient: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
    nonce: Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
    ts: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    body: bytes
    signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(Envelope)
_message_decoder: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)
_http_decoder = msgspec.msgpack.Decoder(HttpRequest)


def encode_message(message: Message) -> bytes:
    return _encoder.encode(message)


def _signed_bytes(sender: bytes, recipient: bytes, nonce: bytes, ts: int, body: bytes) -> bytes:
    return b"".join((sender, recipient, nonce, ts.to_bytes(8, "big"), body))


def seal(
    identity: Identity, recipient: PublicKey, message: Message, nonce: bytes, ts: int
) -> bytes:
    """The canonical bytes of a signed envelope carrying ``message``."""
    body = _encoder.encode(message)
    sender = identity.public.raw
    signature = identity.secret.sign(DOMAIN, _signed_bytes(sender, recipient.raw, nonce, ts, body))
    return _encoder.encode(Envelope(VERSION, sender, recipient.raw, nonce, ts, body, signature))


def decode_envelope(data: bytes, max_size: int) -> Envelope:
    """Parse without checking the signature (used by ``Opener`` and to read the journal)."""
    if len(data) > max_size:
        raise Oversize(f"envelope of {len(data)} bytes exceeds {max_size}")
    try:
        env = _envelope_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a str field's bad UTF-8
        raise Malformed("malformed envelope", untrusted_detail=str(exc)) from None
    if _encoder.encode(env) != data:
        raise NonCanonical("envelope is not canonically encoded")
    if env.version not in (VERSION, HTTP_VERSION):
        raise UnsupportedVersion(
            f"envelope version {env.version} is not {VERSION} or {HTTP_VERSION}"
        )
    return env


def http_envelope(
    sender: bytes, recipient: bytes, nonce: bytes, ts: int, request: HttpRequest, signature: bytes
) -> bytes:
    """The version-2 envelope of a signed HTTP request (its signature is checked on opening)."""
    body = _encoder.encode(request)
    return _encoder.encode(Envelope(HTTP_VERSION, sender, recipient, nonce, ts, body, signature))


def sign_http(
    identity: Identity, recipient: PublicKey, request: HttpRequest, nonce: bytes, ts: int
) -> bytes:
    """A client's signature over ``request`` for the site whose core key is ``recipient``."""
    return identity.secret.sign(HTTP_DOMAIN, canonical_request(request, ts, nonce, recipient.raw))


def verify_http(
    key: PublicKey,
    recipient: bytes,
    request: HttpRequest,
    nonce: bytes,
    ts: int,
    signature: bytes,
) -> bool:
    """Whether ``signature`` is ``key``'s over ``request`` for the site whose core key is
    ``recipient`` (edge checks this before anything reaches web; core checks it again)."""
    try:
        key.verify(HTTP_DOMAIN, canonical_request(request, ts, nonce, recipient), signature)
    except BadSignature:
        return False
    return True


def _strict(decoder: msgspec.msgpack.Decoder[T], data: bytes, what: str) -> T:
    """``data`` as exactly one canonically encoded value, or the refusal naming its field."""
    try:
        value = decoder.decode(data)
    except msgspec.ValidationError as exc:
        field = field_of(str(exc))
        raise Malformed(f"invalid {what}", field=field, untrusted_detail=str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a str field's bad UTF-8
        raise Malformed(f"malformed {what}", untrusted_detail=str(exc)) from None
    if _encoder.encode(value) != data:
        raise NonCanonical(f"{what} is not canonically encoded")
    return value


def _http_request(env: Envelope) -> HttpRequest:
    return _strict(_http_decoder, env.body, "HTTP request")


def decode_body(env: Envelope) -> Message:
    if env.version == HTTP_VERSION:
        return message_of(_http_request(env))
    return _strict(_message_decoder, env.body, "message")


class Opener:
    """Checks envelopes addressed to ``me`` from senders that ``lookup`` knows."""

    def __init__(
        self,
        me: PublicKey,
        lookup: Callable[[bytes], PublicKey | None],
        replay: ReplayCache,
        max_size: int = MAX_REQUEST,
        not_before_ms: int = 0,
    ) -> None:
        self.me = me
        self.lookup = lookup
        self.replay = replay
        self.max_size = max_size
        #: Timestamps before this are refused whatever the window says: set to the process start,
        #: it stops anything captured before a restart from being replayed after it.
        self.not_before_ms = not_before_ms

    def open(self, data: bytes, now_ms: int) -> tuple[Envelope, Message]:
        env = self.authenticate(data, now_ms)
        return env, decode_body(env)

    def authenticate(self, data: bytes, now_ms: int) -> Envelope:
        """The envelope, once it is known to come from ``lookup``'s key, fresh and not replayed.

        Until this returns, nothing in the frame is trusted: an error raised here must not be
        answered as if the claimed sender had sent it.
        """
        env = decode_envelope(data, self.max_size)
        if env.recipient != self.me.raw:
            raise WrongRecipient("envelope is addressed to another identity")
        sender = self.lookup(env.sender)
        if sender is None:
            raise UnknownSender("sender key is not registered")
        if env.ts < now_ms - WINDOW_MS or env.ts < self.not_before_ms:
            raise Expired(f"timestamp is older than {WINDOW_MS} ms or predates this process")
        if env.ts > now_ms + WINDOW_MS:
            raise FromTheFuture(f"timestamp is more than {WINDOW_MS} ms ahead")
        self.verify_signature(env, sender)
        self.replay.check_and_remember(env.sender, env.nonce, now_ms)
        return env

    @staticmethod
    def verify_signature(env: Envelope, sender: PublicKey) -> None:
        if env.version == HTTP_VERSION:
            domain = HTTP_DOMAIN
            signed = canonical_request(_http_request(env), env.ts, env.nonce, env.recipient)
        else:
            domain = DOMAIN
            signed = _signed_bytes(env.sender, env.recipient, env.nonce, env.ts, env.body)
        try:
            sender.verify(domain, signed, env.signature)
        except BadSignature:
            raise BadEnvelopeSignature("signature does not verify") from None
