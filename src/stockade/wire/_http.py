"""HTTP-signed requests, sans I/O: what an API client or a browser signs, and the message it means.

A private API request is signed by the caller's Ed25519 key (an API key, or the browser's
per-session key) over the *canonical request*::

    "stockade/http/v1" NUL                      (then, joined by LF, no LF at the end:)
    METHOD LF PATH LF QUERY LF hex(sha256(BODY)) LF TS_MS LF hex(NONCE) LF hex(CORE_KEY)

with the key, timestamp, nonce and signature in the ``Stockade-*`` headers (``HEADERS``). Naming
the core's public key stops a request signed for one site being replayed at another.

``web`` (and, before it, ``edge``) turns such a request into a wire envelope of version 2 whose body
is the ``HttpRequest`` exactly as signed; ``core`` checks it like any envelope and journals and logs
those exact bytes, so an API order carries its client's own signature into the transparency log and
an auditor re-derives the message from them with ``message_of``, the one translation there is.

The translation is strict: an unknown route or query parameter, a repeated parameter, a body where
none belongs, an unknown JSON field, a wrong type or an out-of-range value is ``Malformed`` (naming
the field) or ``UnknownRoute``. Amounts are JSON integers in minor units, as on the wire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
from collections.abc import Callable
from typing import Annotated, Final, Literal, TypeVar

import msgspec

from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.wire._accounts import (
    AddKeyRequest,
    AddPasskeyRequest,
    ChangePasswordRequest,
    DisableTotpRequest,
    EnableTotpRequest,
    KeysRequest,
    LogInsRequest,
    LogOutRequest,
    PasskeyOptionsRequest,
    PasskeysRequest,
    RemovePasskeyRequest,
    RevokeOwnKeyRequest,
    TotpSecretRequest,
)
from stockade.wire._base import (
    Amount,
    ClientOrderId,
    Label,
    MarketName,
    Password,
    TotpCode,
)
from stockade.wire._errors import Malformed, UnknownRoute, field_of
from stockade.wire._messages import (
    AmendOrderRequest,
    BalancesRequest,
    CancelAllRequest,
    CancelOrderRequest,
    LedgerRequest,
    Message,
    MyTradesRequest,
    OpenOrdersRequest,
    OrderRequest,
    PlaceOrderRequest,
    StreamGrantRequest,
)

HTTP_DOMAIN: Final = b"stockade/http/v1\x00"
#: The request headers that carry the signature (values: hex key, decimal ms, hex nonce, base64).
HEADERS: Final = (
    "stockade-key",
    "stockade-timestamp",
    "stockade-nonce",
    "stockade-signature",
)
#: The response header in which the API returns core's signed reply envelope (base64).
SIGNED_REPLY: Final = "stockade-signed-reply"
API_PREFIX: Final = "/api/v1/"
#: Largest signed body: an order is about 150 bytes of JSON.
MAX_HTTP_BODY: Final = 4096
MAX_PATH: Final = 256
MAX_QUERY: Final = 512

HttpMethod = Literal["GET", "POST", "PATCH", "DELETE"]


class HttpRequest(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A signed HTTP request as its client sent it: the body of a version-2 envelope."""

    method: HttpMethod
    # visible ASCII only: no space, no control character, so no field of the canonical
    # request can hold the newline that separates them
    path: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATH, pattern=r"^[!-~]+\Z")]
    query: Annotated[str, msgspec.Meta(max_length=MAX_QUERY, pattern=r"^[!-~]*\Z")]
    body: Annotated[bytes, msgspec.Meta(max_length=MAX_HTTP_BODY)]


def _hex_header(get: Callable[[str], str | None], name: str, size: int) -> bytes:
    value = get(name)
    if value is None:
        raise Malformed(f"the {name} header is missing", field=name)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size or value != raw.hex():
        raise Malformed(f"{name} is {size} bytes in lower-case hex", field=name)
    return raw


def signature_headers(get: Callable[[str], str | None]) -> tuple[bytes, int, bytes, bytes]:
    """The key, timestamp (ms), nonce and signature of a signed request, read with ``get``
    (a header lookup by lower-case name); ``Malformed``, naming the header, if one is not
    exactly what ``HEADERS`` says."""
    key_name, ts_name, nonce_name, signature_name = HEADERS
    key = _hex_header(get, key_name, 32)
    ts = get(ts_name) or ""
    if not (ts.isascii() and ts.isdigit()) or len(ts) > 15:
        raise Malformed(f"{ts_name} is milliseconds since the Unix epoch", field=ts_name)
    nonce = _hex_header(get, nonce_name, 16)
    try:
        signature = base64.b64decode(get(signature_name) or "", validate=True)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != 64:
        raise Malformed(f"{signature_name} is 64 bytes in base64", field=signature_name)
    return key, int(ts), nonce, signature


def canonical_request(request: HttpRequest, ts_ms: int, nonce: bytes, recipient: bytes) -> bytes:
    """The bytes a client signs (after ``HTTP_DOMAIN``) for ``request``."""
    lines = (
        request.method,
        request.path,
        request.query,
        hashlib.sha256(request.body).hexdigest(),
        str(ts_ms),
        nonce.hex(),
        recipient.hex(),
    )
    return "\n".join(lines).encode()


# ---------------------------------------------------------------- JSON bodies

_Names = Literal["buy", "sell"]


class OrderBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/orders``. ``tif`` is ``gtc``, ``ioc``, ``fok``, ``post_only`` or ``market``
    (then ``price`` is the protection bound, 0 for the default); ``stp`` is ``cancel_resting``,
    ``cancel_taker`` or ``cancel_both``."""

    market: MarketName
    side: _Names
    qty: Amount
    price: Amount = 0
    tif: Literal["gtc", "ioc", "fok", "post_only", "market"] = "gtc"
    client_order_id: ClientOrderId | None = None
    stp: Literal["cancel_resting", "cancel_taker", "cancel_both"] = "cancel_resting"


class KeyBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/keys``: an API key's public half (hex) and a label (signed by a session),
    with a current authenticator code once two-factor log-in is on."""

    public_key: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}\Z")]
    label: Label
    totp: TotpCode | None = None


class TotpBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/account/2fa`` and ``.../2fa/off``: a code from the authenticator (to turn
    it on, made from the secret ``POST .../2fa/secret`` showed)."""

    code: TotpCode


class PasswordBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/account/password``: the current password, the new one, and a current
    authenticator code once two-factor log-in is on."""

    password: Password
    new_password: Password
    totp: TotpCode | None = None


#: Bytes in a JSON body as WebAuthn's JSON carries them: base64url without padding.
B64Url = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,2800}\Z")]


def to_b64url(raw: bytes) -> str:
    """``raw`` as unpadded base64url, as WebAuthn's JSON carries bytes."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes | None:
    """The bytes of unpadded base64url ``text``; None if it is not that."""
    if len(text) % 4 == 1 or not text.isascii() or text.strip(_B64URL_ALPHABET):
        return None
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL_ALPHABET: Final = string.ascii_letters + string.digits + "-_"


class PasskeyBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/account/passkeys``: what ``navigator.credentials.create`` gave, in
    base64url (the credential's raw id, clientDataJSON, attestationObject), a name for the
    passkey, and a current authenticator code once two-factor log-in is on."""

    credential_id: B64Url
    client_data: B64Url
    attestation: B64Url
    name: Label
    totp: TotpCode | None = None


class CredentialBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/account/passkeys/remove``: the passkey's credential id, base64url."""

    credential_id: B64Url


class AmendBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``PATCH /api/v1/orders/{id}``: the order's new remaining quantity and price."""

    qty: Amount
    price: Amount


_order_body = msgspec.json.Decoder(OrderBody)
_amend_body = msgspec.json.Decoder(AmendBody)
_key_body = msgspec.json.Decoder(KeyBody)
_totp_body = msgspec.json.Decoder(TotpBody)
_password_body = msgspec.json.Decoder(PasswordBody)
_passkey_body = msgspec.json.Decoder(PasskeyBody)
_credential_body = msgspec.json.Decoder(CredentialBody)
_message: msgspec.msgpack.Decoder[Message] = msgspec.msgpack.Decoder(Message)
_encoder = msgspec.msgpack.Encoder()


T = TypeVar("T")


def _json(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    if not body:
        raise Malformed("this request needs a JSON body", field="body")
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise Malformed("invalid body", field_of(str(exc)), untrusted_detail=str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise Malformed("body is not JSON", "body", untrusted_detail=str(exc)) from None


def _query(query: str, allowed: frozenset[str]) -> dict[str, str]:
    """``k=v&k=v`` with known keys, each at most once, values free of escapes (every value the
    API takes is plain ASCII of a restricted alphabet, so nothing ever needs percent-encoding)."""
    params: dict[str, str] = {}
    if not query:
        return params
    for part in query.split("&"):
        key, eq, value = part.partition("=")
        if not eq or key not in allowed:
            raise Malformed(f"unknown query parameter {key[:32]!r}", field="query")
        if key in params:
            raise Malformed(f"query parameter {key} given twice", field=key)
        if not value or "%" in value or "+" in value:
            raise Malformed(f"query parameter {key} needs a plain value", field=key)
        params[key] = value
    return params


def _integer(params: dict[str, str], key: str, default: int) -> int:
    value = params.get(key)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        raise Malformed(f"{key} is a decimal integer", field=key)
    return int(value)


def _latest(params: dict[str, str]) -> bool:
    latest = params.get("latest", "false")
    if latest not in ("true", "false"):
        raise Malformed("latest is true or false", field="latest")
    return latest == "true"


def _order_id(segment: str) -> int:
    if (
        not (segment.isascii() and segment.isdigit())
        or len(segment) > 19
        or segment.startswith("0")
    ):
        raise Malformed("an order id is a positive decimal integer", field="order_id")
    return int(segment)


def _place(body: bytes) -> PlaceOrderRequest:
    order = _json(_order_body, body)
    return PlaceOrderRequest(
        order.market,
        Side.BUY if order.side == "buy" else Side.SELL,
        TimeInForce[order.tif.upper()],
        order.qty,
        order.price,
        order.client_order_id,
        SelfTrade[order.stp.upper()],
    )


_NO_PARAMS: Final = frozenset[str]()
_MARKET: Final = frozenset({"market"})
_TRADES: Final = frozenset({"market", "after", "limit", "latest"})


#: The query parameters each signed endpoint takes; every other endpoint takes none.
_PARAMS: Final[dict[tuple[str, tuple[str, ...]], frozenset[str]]] = {
    ("DELETE", ("orders",)): _MARKET,
    ("GET", ("open-orders",)): _MARKET,
    ("GET", ("my-trades",)): _TRADES,
    ("GET", ("account", "logins")): frozenset({"limit"}),
    ("GET", ("ledger",)): frozenset({"asset", "after", "limit", "latest"}),
}


def _orders(request: HttpRequest, parts: tuple[str, ...], params: dict[str, str]) -> Message | None:
    """The order endpoints: /orders, /orders/{id}, /orders/by-client-id/{cid}."""
    match request.method, parts:
        case "POST", ("orders",):
            return _place(request.body)
        case "DELETE", ("orders",):
            if "market" not in params:
                raise Malformed("cancelling all orders needs ?market=", field="market")
            return CancelAllRequest(params["market"])
        case "GET", ("orders", "by-client-id", cid):
            return OrderRequest(client_order_id=cid)
        case "DELETE", ("orders", "by-client-id", cid):
            return CancelOrderRequest(client_order_id=cid)
        case "GET", ("orders", oid):
            return OrderRequest(order_id=_order_id(oid))
        case "DELETE", ("orders", oid):
            return CancelOrderRequest(order_id=_order_id(oid))
        case "PATCH", ("orders", oid):
            amend = _json(_amend_body, request.body)
            return AmendOrderRequest(_order_id(oid), amend.qty, amend.price)
    return None


def _account(
    request: HttpRequest, parts: tuple[str, ...], params: dict[str, str]
) -> Message | None:
    """What the account holds and who may act for it: orders, trades, balances, keys."""
    match request.method, parts:
        case "GET", ("open-orders",):
            return OpenOrdersRequest(params.get("market"))
        case "GET", ("my-trades",):
            after, limit = _integer(params, "after", 0), _integer(params, "limit", 100)
            return MyTradesRequest(params.get("market"), after, limit, _latest(params))
        case "GET", ("balances",):
            return BalancesRequest()
        case "GET", ("ledger",):
            after, limit = _integer(params, "after", 0), _integer(params, "limit", 100)
            return LedgerRequest(params.get("asset"), after, limit, _latest(params))
        case "POST", ("auth", "logout"):
            return LogOutRequest()
        case "POST", ("keys",):
            key = _json(_key_body, request.body)
            return AddKeyRequest(bytes.fromhex(key.public_key), key.label, key.totp)
        case "GET", ("keys",):
            return KeysRequest()
        case "POST", ("stream", "grant"):
            return StreamGrantRequest()
        case "DELETE", ("keys", public_key):
            if len(public_key) != 64 or public_key.strip("0123456789abcdef"):
                raise Malformed("a key is 64 lower-case hex digits", field="public_key")
            return RevokeOwnKeyRequest(bytes.fromhex(public_key))
    return None


def _security(
    request: HttpRequest, parts: tuple[str, ...], params: dict[str, str]
) -> Message | None:
    """How the account's owner logs in: two-factor log-in, and the log-in history."""
    match request.method, parts:
        case "GET", ("account", "logins"):
            return LogInsRequest(_integer(params, "limit", 50))
        case "POST", ("account", "2fa", "secret"):
            return TotpSecretRequest()
        case "POST", ("account", "2fa"):
            return EnableTotpRequest(_json(_totp_body, request.body).code)
        case "POST", ("account", "password"):
            body = _json(_password_body, request.body)
            return ChangePasswordRequest(body.password, body.new_password, body.totp)
        case "POST", ("account", "2fa", "off"):
            return DisableTotpRequest(_json(_totp_body, request.body).code)
        case "POST", ("account", "passkeys", "options"):
            return PasskeyOptionsRequest()
        case "GET", ("account", "passkeys"):
            return PasskeysRequest()
        case "POST", ("account", "passkeys"):
            made = _json(_passkey_body, request.body)
            fields = (made.credential_id, made.client_data, made.attestation)
            key_id, client_data, attestation = (_bytes(f) for f in fields)
            return AddPasskeyRequest(key_id, client_data, attestation, made.name, made.totp)
        case "POST", ("account", "passkeys", "remove"):
            return RemovePasskeyRequest(_bytes(_json(_credential_body, request.body).credential_id))
    return None


def _bytes(text: str) -> bytes:
    raw = from_b64url(text)
    if raw is None:
        raise Malformed("not base64url", field="body")
    return raw


def _translate(request: HttpRequest, parts: tuple[str, ...], params: dict[str, str]) -> Message:
    route = {"orders": _orders, "account": _security}.get(parts[0], _account)
    message = route(request, parts, params)
    if message is None:
        raise UnknownRoute(f"no signed endpoint {request.method} {request.path[:64]}")
    return message


_BODIES: Final = (
    ("orders",),
    ("keys",),
    ("account", "2fa"),
    ("account", "2fa", "off"),
    ("account", "password"),
    ("account", "passkeys"),
    ("account", "passkeys", "remove"),
)


def _takes_body(method: str, parts: tuple[str, ...]) -> bool:
    """Only placing an order (POST /orders), amending one (PATCH /orders/{id}), adding an API
    key (POST /keys), turning two-factor log-in on or off, changing the password and adding or
    removing a passkey send JSON."""
    if method == "POST":
        return parts in _BODIES
    return method == "PATCH" and len(parts) == 2 and parts[0] == "orders"


def message_of(request: HttpRequest) -> Message:
    """The wire message a signed HTTP request asks for, validated exactly as a wire body is."""
    method = request.method
    if not request.path.startswith(API_PREFIX):
        raise UnknownRoute("not an API path")
    parts = tuple(request.path[len(API_PREFIX) :].split("/"))
    if request.body and not _takes_body(method, parts):
        raise Malformed(f"{method} {request.path[:64]} takes no body", field="body")
    params = _query(request.query, _PARAMS.get((method, parts), _NO_PARAMS))
    try:
        message = _translate(request, parts, params)
    except ValueError as exc:  # a message's own __post_init__ check
        raise Malformed(str(exc)) from None
    # Built from parsed parts, the message has not met its field constraints (msgspec checks those
    # when decoding): a round trip through the wire decoder applies every one of them.
    try:
        return _message.decode(_encoder.encode(message))
    except msgspec.ValidationError as exc:
        field = field_of(str(exc))
        raise Malformed("invalid request", field, untrusted_detail=str(exc)) from None
