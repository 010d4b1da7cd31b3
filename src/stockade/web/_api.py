"""The public HTTP API, ``/api/v1``: JSON in and out, never HTML.

Public endpoints (no signature): server time, site keys, markets with their rules, order books.
Signed endpoints (``wire._http``): the request, exactly as its client signed it, travels to core as
a version-2 envelope; core checks the key, time window, replay and signature, applies it and
answers, and web renders core's answer. Web cannot act for anyone: it holds no user's key, and
core refuses what the user's key did not sign. Each answer to a signed request carries core's own
signed envelope in the ``Stockade-Signed-Reply`` header, so a client can check its receipt (or
refusal) without trusting web.

Errors are ``{"error": {"code", "name", "message", "field", "order_id"}}`` with the codes of
``docs/protocol.md``. A 5xx (``CoreUnavailable``) means the order's state is unknown: query it by
``client_order_id``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from enum import IntEnum
from typing import TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockade.httpkit import BodyTooLarge, read_body, response
from stockade.keys import Identity, generate
from stockade.web._bodies import (
    LogInBody,
    PasskeyChallengeBody,
    PasskeyLogInBody,
    SignUpBody,
    totp_offer,
)
from stockade.web._corelink import CoreAnswer, CoreLink, CoreUnavailable
from stockade.web._openapi import openapi
from stockade.wire import (
    MAX_HTTP_BODY,
    SIGNED_REPLY,
    WINDOW_MS,
    BookRequest,
    ErrorInfo,
    HttpMethod,
    HttpRequest,
    LogInRequest,
    Malformed,
    MarketsRequest,
    NonceSource,
    PasskeyChallengeRequest,
    PasskeyLogInRequest,
    PublicTradesRequest,
    Quota,
    SignUpRequest,
    TotpSecret,
    from_b64url,
    http_envelope,
    seal,
    signature_headers,
)
from stockade.wire import (
    Request as WireRequest,
)
from stockade.wire._errors import field_of
from stockade.wire._http import MAX_PATH, MAX_QUERY

JSON = "application/json"
PRIVATE = {"Cache-Control": "no-store"}
PUBLIC = {"Cache-Control": "public, max-age=1"}

#: HTTP status for each refusal code range or code (``docs/api.md``); anything else is 422.
_STATUS_BY_NAME = {
    "Oversize": 413,
    "Malformed": 400,
    "NonCanonical": 400,
    "UnsupportedVersion": 400,
    "WrongRecipient": 401,
    "UnknownSender": 401,
    "Expired": 401,
    "FromTheFuture": 401,
    "BadEnvelopeSignature": 401,
    "Replayed": 401,
    "Unauthorized": 403,
    "UnknownRoute": 404,
    "Overloaded": 503,
    "UNKNOWN_ORDER": 404,
    "ORDER_NOT_FOUND": 404,
    "UNKNOWN_MARKET": 404,
    "DUPLICATE_CLIENT_ORDER_ID": 409,
    "RATE_LIMITED": 429,
}


_METHODS: dict[str, HttpMethod] = {
    "GET": "GET",
    "POST": "POST",
    "PATCH": "PATCH",
    "DELETE": "DELETE",
}


def plain(value: object) -> object:
    """A reply as JSON-ready values: enums by lower-case name, bytes as base64, each event and
    message with its type name under ``type``."""
    if isinstance(value, msgspec.Struct):
        config = value.__struct_config__
        out: dict[str, object] = {}
        if config.tag is not None and config.tag_field == "k":  # an engine event
            out["type"] = type(value).__name__
        for name in value.__struct_fields__:
            out[name] = plain(getattr(value, name))
        return out
    if isinstance(value, IntEnum):
        return value.name.lower()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def json_response(
    value: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return response(msgspec.json.encode(value), status, JSON, headers or PRIVATE)


def error_response(info: ErrorInfo, headers: dict[str, str] | None = None) -> Response:
    status = _STATUS_BY_NAME.get(info.name, 422)
    return json_response({"error": plain(info)}, status, headers)


def refuse(status: int, name: str, message: str, field: str | None = None) -> Response:
    """A refusal decided by web itself, before anything reached core."""
    return json_response(
        {"error": {"code": 0, "name": name, "message": message, "field": field}}, status
    )


def refuse_route(status: int, name: str, message: str, headers: dict[str, str]) -> Response:
    """The app's own refusals (no such path, wrong method), as JSON like every other."""
    response = refuse(status, name, message)
    response.headers.update(headers)
    return response


def _answer(answer: CoreAnswer, requester: bytes | None = None) -> Response:
    """Core's answer as JSON; to a signed request, with core's signed envelope when core
    addressed it to the requester (a refusal before authentication is addressed to no one)."""
    reply, body = answer.reply, answer.reply.body
    if isinstance(body, TotpSecret):  # the app scans it: a QR code of the URI comes with it
        response = json_response(totp_offer(body.secret, body.uri))
    elif reply.error is not None:
        response = error_response(reply.error)
    else:
        response = json_response(plain(body))
    if requester is not None and answer.recipient == requester:
        response.headers[SIGNED_REPLY] = base64.b64encode(answer.envelope).decode()
    if reply.quota is not None:
        response.headers.update(quota_headers(reply.quota))
    return response


def quota_headers(quota: Quota) -> dict[str, str]:
    """Core's count of the account's budget as the IETF draft's ``RateLimit-*`` headers (whole
    seconds, rounded up), with ``Retry-After`` on a refusal."""
    headers = {
        "RateLimit-Limit": str(quota.limit),
        "RateLimit-Remaining": str(quota.remaining),
        "RateLimit-Reset": str(-(-quota.reset_ms // 1000)),
    }
    if quota.retry_after_ms:
        headers["Retry-After"] = str(-(-quota.retry_after_ms // 1000))
    return headers


def client_note(request: Request) -> str:
    """Where a log-in came from, for its owner's history: the peer's address and the browser's
    name, in printable ASCII, at most 200 characters (core refuses anything else)."""
    peer = request.client.host if request.client else "?"
    agent = request.headers.get("user-agent", "")
    text = f"{peer} {agent}".strip()
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:200]


def _session_key(text: str) -> bytes | Response:
    """A session's public key from its hex, or the refusal if it is not 32 bytes of hex."""
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        return refuse(400, "Malformed", "session_key is 32 bytes in hex", "session_key")
    return key


_sign_up_body = msgspec.json.Decoder(SignUpBody)
_log_in_body = msgspec.json.Decoder(LogInBody)
_passkey_challenge_body = msgspec.json.Decoder(PasskeyChallengeBody)
_passkey_log_in_body = msgspec.json.Decoder(PasskeyLogInBody)
T = TypeVar("T")


async def _json_body(
    request: Request, decoder: msgspec.json.Decoder[T], limit: int = 1024
) -> T | Response:
    """A small JSON body, sent as ``application/json``: no cross-site form can send that type
    without a CORS preflight, which this API never grants (the log-in's CSRF defence)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != JSON:
        return refuse(415, "UnsupportedMediaType", "send application/json", "content-type")
    try:
        raw = await read_body(request, limit)
        return decoder.decode(raw)
    except BodyTooLarge:
        return refuse(413, "Oversize", f"the body is over {limit} bytes", "body")
    except msgspec.ValidationError as exc:
        return refuse(400, "Malformed", str(exc), field_of(str(exc)))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return refuse(400, "Malformed", "the body is not JSON", "body")


class Api:
    """The API's handlers, bound to one link to core and web's own (per-process) identity."""

    def __init__(
        self,
        link: CoreLink,
        auth_link: CoreLink,
        site_info: dict[str, object],
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        identity: Identity | None = None,
    ) -> None:
        self.link = link
        # Log-ins wait tens of milliseconds for their password check: on a connection of their
        # own they never hold up the orders queued behind them on the main one.
        self.auth_link = auth_link
        self.site_info = site_info
        self.clock_ms = clock_ms
        # Public reads go to core under a key made here and never written: core treats a key it
        # never registered as public, so this key can read only what anyone may read.
        self.identity = identity or generate("web")
        self._nonce = NonceSource(secrets.token_bytes(8))
        self._openapi = msgspec.json.encode(openapi())

    def routes(self) -> list[Route]:
        signed = ["GET", "POST", "PATCH", "DELETE"]
        return [
            Route("/api/v1/openapi.json", self.openapi, methods=["GET"]),
            Route("/api/v1/time", self.server_time, methods=["GET"]),
            Route("/api/v1/site", self.site, methods=["GET"]),
            Route("/api/v1/markets", self.markets, methods=["GET"]),
            Route("/api/v1/markets/{market}/book", self.book, methods=["GET"]),
            Route("/api/v1/markets/{market}/trades", self.trades, methods=["GET"]),
            Route("/api/v1/orders", self.signed, methods=signed),
            Route("/api/v1/orders/{rest:path}", self.signed, methods=signed),
            Route("/api/v1/open-orders", self.signed, methods=["GET"]),
            Route("/api/v1/my-trades", self.signed, methods=["GET"]),
            Route("/api/v1/balances", self.signed, methods=["GET"]),
            Route("/api/v1/ledger", self.signed, methods=["GET"]),
            Route("/api/v1/auth/signup", self.sign_up, methods=["POST"]),
            Route("/api/v1/auth/login", self.log_in, methods=["POST"]),
            Route("/api/v1/auth/passkey/challenge", self.passkey_challenge, methods=["POST"]),
            Route("/api/v1/auth/passkey", self.passkey_log_in, methods=["POST"]),
            Route("/api/v1/auth/logout", self.signed, methods=["POST"]),
            Route("/api/v1/keys", self.signed, methods=["GET", "POST"]),
            Route("/api/v1/keys/{key}", self.signed, methods=["DELETE"]),
            Route("/api/v1/stream/grant", self.signed, methods=["POST"]),
            Route("/api/v1/account/logins", self.signed, methods=["GET"]),
            Route("/api/v1/account/2fa", self.signed, methods=["POST"]),
            Route("/api/v1/account/password", self.signed, methods=["POST"]),
            Route("/api/v1/account/2fa/{action}", self.signed, methods=["POST"]),
            Route("/api/v1/account/passkeys", self.signed, methods=["GET", "POST"]),
            Route("/api/v1/account/passkeys/{action}", self.signed, methods=["POST"]),
        ]

    # ------------------------------------------------------------------ public

    async def openapi(self, _request: Request) -> Response:
        return response(self._openapi, media_type=JSON, headers=PUBLIC)

    async def server_time(self, _request: Request) -> Response:
        return json_response(
            {"server_time_ms": self.clock_ms(), "window_ms": WINDOW_MS}, headers={}
        )

    async def site(self, _request: Request) -> Response:
        return json_response(self.site_info, headers=PUBLIC)

    async def markets(self, _request: Request) -> Response:
        return await self._public(MarketsRequest())

    async def book(self, request: Request) -> Response:
        return await self._market_query(request, BookRequest, {"depth": "depth"})

    async def trades(self, request: Request) -> Response:
        params = {"after": "after_trade_id", "limit": "limit"}
        return await self._market_query(request, PublicTradesRequest, params)

    async def _market_query(
        self, request: Request, kind: type[BookRequest | PublicTradesRequest], names: dict[str, str]
    ) -> Response:
        """A public market read from the path's market and integer query parameters (``names``
        maps each to its field), validated exactly as the wire validates it."""
        query = request.query_params
        fields: dict[str, object] = {"market": request.path_params["market"]}
        for name, value in query.multi_items():
            if (
                name not in names
                or names[name] in fields  # a parameter given twice
                or not (value.isascii() and value.isdigit())
                or len(value) > 19
            ):
                return refuse(400, "Malformed", f"parameters: {', '.join(names)}", name[:32])
            fields[names[name]] = int(value)
        try:
            message = msgspec.convert(fields, kind)
        except msgspec.ValidationError as exc:
            return refuse(400, "Malformed", str(exc), field_of(str(exc)))
        return await self._public(message)

    # ------------------------------------------------------------------ accounts

    async def sign_up(self, request: Request) -> Response:
        body = await _json_body(request, _sign_up_body)
        if isinstance(body, Response):
            return body
        return await self._public(SignUpRequest(body.username, body.password), self.auth_link)

    async def log_in(self, request: Request) -> Response:
        body = await _json_body(request, _log_in_body)
        if isinstance(body, Response):
            return body
        key = _session_key(body.session_key)
        if isinstance(key, Response):
            return key
        message = LogInRequest(body.username, body.password, key, body.totp, client_note(request))
        return await self._public(message, self.auth_link)

    async def passkey_challenge(self, request: Request) -> Response:
        body = await _json_body(request, _passkey_challenge_body)
        if isinstance(body, Response):
            return body
        key = _session_key(body.session_key)
        if isinstance(key, Response):
            return key
        return await self._public(PasskeyChallengeRequest(key), self.auth_link)

    async def passkey_log_in(self, request: Request) -> Response:
        body = await _json_body(request, _passkey_log_in_body, 8192)
        if isinstance(body, Response):
            return body
        key = _session_key(body.session_key)
        if isinstance(key, Response):
            return key
        names = ("credential_id", "client_data", "authenticator_data", "signature")
        parts = [from_b64url(getattr(body, name)) for name in names]
        for name, part in zip(names, parts, strict=True):
            if part is None:
                return refuse(400, "Malformed", f"{name} is base64url", name)
        key_id, client_data, data, signature = (p or b"" for p in parts)
        note = client_note(request)
        message = PasskeyLogInRequest(key, key_id, client_data, data, signature, note)
        return await self._public(message, self.auth_link)

    async def ask(self, message: WireRequest, link: CoreLink | None = None) -> CoreAnswer:
        """Core's answer to a request web sends under its own key (public data, log-ins)."""
        link = link or self.link
        nonce = self._nonce()
        envelope = seal(self.identity, link.core_key, message, nonce, self.clock_ms())
        return await link.call(envelope, nonce)

    async def _public(self, message: WireRequest, link: CoreLink | None = None) -> Response:
        """Core's answer as JSON: cacheable for a second when it is public data; a log-in's
        answer (``link`` is the log-in connection) is never stored."""
        try:
            answer = await self.ask(message, link)
        except CoreUnavailable:
            return refuse(503, "CoreUnavailable", "the exchange is not reachable; retry")
        response = _answer(answer)
        if link is None:
            response.headers["Cache-Control"] = PUBLIC["Cache-Control"]
        return response

    # ------------------------------------------------------------------ signed

    async def signed(self, request: Request) -> Response:
        method = _METHODS.get(request.method)
        if method is None:  # Starlette answers HEAD on every GET route; nobody signs a HEAD
            return refuse(405, "MethodNotAllowed", f"{request.method[:8]} is not signed here")
        try:
            key, ts, nonce, signature = signature_headers(request.headers.get)
        except Malformed as exc:
            return refuse(401, "Malformed", exc.message, exc.field)
        now = self.clock_ms()
        if abs(ts - now) > WINDOW_MS:  # core checks again; this spares it the obvious cases
            return refuse(401, "Expired", f"the timestamp is more than {WINDOW_MS} ms off")
        raw_path = request.scope.get("raw_path", b"")
        query = request.scope.get("query_string", b"")
        if len(raw_path) > MAX_PATH or len(query) > MAX_QUERY:
            return refuse(414, "Oversize", "the path or query is too long")
        try:
            body = await read_body(request, MAX_HTTP_BODY)
            path, text = raw_path.decode("ascii"), query.decode("ascii")
            http = HttpRequest(method, path, text, body)
        except BodyTooLarge:
            return refuse(413, "Oversize", f"the body is over {MAX_HTTP_BODY} bytes", "body")
        except UnicodeDecodeError:
            return refuse(400, "Malformed", "the path and query are ASCII")
        envelope = http_envelope(key, self.link.core_key.raw, nonce, ts, http, signature)
        try:
            answer = await self.link.call(envelope, nonce)
        except CoreUnavailable:
            return refuse(503, "CoreUnavailable", "outcome unknown: query the order by client id")
        return _answer(answer, key)
