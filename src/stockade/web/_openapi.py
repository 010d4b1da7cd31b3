"""The API's OpenAPI 3.1 document, built from the message types themselves.

Schemas come from msgspec's JSON Schema of the wire types, rewritten the way ``_api.plain``
renders values (enums by lower-case name, array-like rows as objects, message tags dropped, an
event's kind under ``type``), so the document and the answers cannot drift apart unnoticed:
schemathesis checks every answer against it (``tests/web/test_openapi.py``). The committed copy,
``docs/openapi.json``, must equal what ``openapi()`` returns.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import msgspec

from stockade.audit import INTERVALS, MAX_CANDLES, Ticker
from stockade.exchange import EVENT_TAGS, CloseReason, MarketStatus, SelfTrade, Side, TimeInForce
from stockade.web._bodies import (
    CandlePage,
    LogInBody,
    LogProof,
    PasskeyChallengeBody,
    PasskeyLogInBody,
    SignUpBody,
    Tickers,
    TotpOffer,
)
from stockade.wire import (
    HEADERS,
    SIGNED_REPLY,
    WINDOW_MS,
    AccountCreated,
    AmendBody,
    BalanceRow,
    Balances,
    Book,
    CredentialBody,
    ErrorInfo,
    KeyBody,
    Keys,
    Ledger,
    LogIns,
    Markets,
    OrderBody,
    OrderInfo,
    Orders,
    PasskeyBody,
    PasskeyChallenge,
    Passkeys,
    PasswordBody,
    PublicTrades,
    Receipt,
    SessionOpened,
    StreamGrant,
    TotpBody,
    Trades,
)

ENUMS: Final[dict[str, type[IntEnum]]] = {
    e.__name__: e for e in (Side, TimeInForce, SelfTrade, CloseReason, MarketStatus)
}
_REF = "#/components/schemas/{name}"
Json = dict[str, object]


class _Error(msgspec.Struct):
    """Every refusal: ``error`` says which, with a stable code and name (``docs/api.md``)."""

    error: ErrorInfo


class _Time(msgspec.Struct):
    server_time_ms: int
    window_ms: int


class _Site(msgspec.Struct):
    """What a client needs to sign for this site: core's public key (hex) is part of every
    signed request; the log's verifier key and the relay let it check receipts."""

    name: str
    core_key: str
    log: str
    relay: str | None


_BODIES: Final = (
    OrderBody,
    AmendBody,
    SignUpBody,
    LogInBody,
    KeyBody,
    Keys,
    Ledger,
    LogIns,
    AccountCreated,
    SessionOpened,
    Receipt,
    Balances,
    OrderInfo,
    Orders,
    Trades,
    Book,
    Markets,
    PublicTrades,
    Ticker,
    Tickers,
    CandlePage,
    StreamGrant,
    TotpBody,
    PasswordBody,
    TotpOffer,
    LogIns,
    LogProof,
    PasskeyChallenge,
    Passkeys,
    PasskeyBody,
    CredentialBody,
    PasskeyChallengeBody,
    PasskeyLogInBody,
    _Error,
    _Time,
    _Site,
)


def _rewrite(name: str, schema: Json) -> Json:
    enum = ENUMS.get(name)
    if enum is not None:
        return {"title": name, "type": "string", "enum": [m.name.lower() for m in enum]}
    if name == BalanceRow.__name__:  # array-like on the wire, an object in JSON
        items = schema["prefixItems"]
        assert isinstance(items, list)
        fields = BalanceRow.__struct_fields__
        return {
            "title": name,
            "type": "object",
            "properties": dict(zip(fields, items, strict=True)),
            "required": list(fields),
            "additionalProperties": False,
        }
    properties = schema.get("properties")
    if isinstance(properties, dict):
        required = schema.get("required", [])
        assert isinstance(required, list)
        if "t" in properties:  # a message's tag: JSON names the answer by its endpoint
            del properties["t"]
            schema["required"] = [f for f in required if f != "t"]
        if "k" in properties:  # an event's tag: JSON names the event's type instead
            del properties["k"]
            schema["properties"] = {"type": {"enum": [name]}, **properties}
            schema["required"] = ["type", *(f for f in required if f != "k")]
    return schema


def _discriminators(value: object) -> None:
    """Event unions are told apart by ``type`` (the class name) instead of the integer tag."""
    if isinstance(value, dict):
        discriminator = value.get("discriminator")
        if isinstance(discriminator, dict) and discriminator.get("propertyName") == "k":
            mapping = discriminator["mapping"]
            assert isinstance(mapping, dict)
            discriminator["propertyName"] = "type"
            discriminator["mapping"] = {EVENT_TAGS[int(k)].__name__: v for k, v in mapping.items()}
        for item in value.values():
            _discriminators(item)
    elif isinstance(value, list):
        for item in value:
            _discriminators(item)


def _ecma_patterns(value: object) -> None:
    """Python's \\Z (the very end) is ECMAScript's $, the dialect JSON Schema patterns use."""
    if isinstance(value, dict):
        pattern = value.get("pattern")
        if isinstance(pattern, str) and pattern.endswith("\\Z"):
            value["pattern"] = pattern[:-2] + "$"
        for item in value.values():
            _ecma_patterns(item)
    elif isinstance(value, list):
        for item in value:
            _ecma_patterns(item)


def _components() -> Json:
    _, components = msgspec.json.schema_components(_BODIES, ref_template=_REF)
    rewritten: Json = {name: _rewrite(name, schema) for name, schema in components.items()}
    _discriminators(rewritten)
    _ecma_patterns(rewritten)
    return rewritten


def _ref(kind: type) -> Json:
    return {"$ref": _REF.format(name=kind.__name__)}


def _json(kind: type, description: str) -> Json:
    return {"description": description, "content": {"application/json": {"schema": _ref(kind)}}}


_CODE: Final = "^[A-Z][A-Z0-9]{1,9}$"
_ERRORS: Final[Json] = {
    "400": _json(_Error, "Malformed: the request is not valid (``field`` names what)"),
    "401": _json(_Error, "Not authenticated: bad, expired or replayed signature, unknown key"),
    "403": _json(_Error, "Unauthorized: the key may not make this request"),
    "404": _json(_Error, "No such endpoint, order or market"),
    "405": _json(_Error, "Method not allowed on this path"),
    "409": _json(_Error, "client_order_id already used (``order_id`` names that order)"),
    "413": _json(_Error, "The body is over 4096 bytes"),
    "414": _json(_Error, "The path or query is too long"),
    "415": _json(_Error, "Send application/json"),
    "422": _json(_Error, "Refused by the exchange's rules (code and name say which)"),
    "503": _json(_Error, "Core unreachable or overloaded: the outcome is UNKNOWN; query by id"),
}


def _header(description: str) -> Json:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


#: Each account's request budget as core counted it, on every answer to a signed request that
#: core authenticated (the IETF draft's names).
_BUDGET: Final[Json] = {
    "RateLimit-Limit": _header("Requests the account may send at once"),
    "RateLimit-Remaining": _header("Of those, how many are left now"),
    "RateLimit-Reset": _header("Seconds until the whole budget is back"),
}


def _public(summary: str, answer: type, params: tuple[Json, ...] = ()) -> Json:
    responses = {"200": _json(answer, "Done"), **_ERRORS}
    return {"summary": summary, "parameters": list(params), "responses": responses}


def _signed(
    summary: str, answer: type, params: tuple[Json, ...] = (), body: type | None = None
) -> Json:
    done = _json(answer, "Done")
    done["headers"] = {
        SIGNED_REPLY: {
            "description": "core's signed reply envelope (base64): check it yourself",
            "schema": {"type": "string"},
        },
        **_BUDGET,
    }
    spent = _json(_Error, "RATE_LIMITED: the account's request budget is spent; nothing changed")
    spent["headers"] = {**_BUDGET, "Retry-After": _header("Seconds to wait before retrying")}
    operation: Json = {
        "summary": summary,
        "parameters": list(params),
        "security": [{"stockade": []}],
        "responses": {"200": done, "429": spent, **_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = _body(body)
    return operation


def _body(kind: type) -> Json:
    return {"required": True, "content": {"application/json": {"schema": _ref(kind)}}}


def _param(name: str, where: str, schema: Json, required: bool) -> Json:
    return {"name": name, "in": where, "required": required, "schema": schema}


def _int(low: int, high: int = 2**63 - 1) -> Json:
    return {"type": "integer", "minimum": low, "maximum": high}


_MARKET_NAME: Final[Json] = {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}$"}
_CLIENT_ORDER_ID: Final[Json] = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,36}$"}
_PUBLIC_KEY: Final[Json] = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_ORDER_ID: Final = _param("order_id", "path", _int(1), True)
_CLIENT_ID: Final = _param("client_order_id", "path", _CLIENT_ORDER_ID, True)
_MARKET: Final = _param("market", "query", _MARKET_NAME, False)
_MARKET_REQUIRED: Final = _param("market", "query", _MARKET_NAME, True)
_LATEST: Final = _param("latest", "query", {"enum": ["true", "false"]}, False)


def _paths() -> Json:
    return {
        "/api/v1/time": {"get": _public("Server time", _Time)},
        "/api/v1/site": {"get": _public("Site keys", _Site)},
        "/api/v1/markets": {"get": _public("Assets and markets with their rules", Markets)},
        "/api/v1/markets/{market}/book": {
            "get": _public(
                "Order book, aggregated by price",
                Book,
                (
                    _param("market", "path", _MARKET_NAME, True),
                    _param("depth", "query", _int(1, 1000), False),
                ),
            )
        },
        "/api/v1/markets/{market}/trades": {
            "get": _public(
                "Recent trades, oldest first: after a trade id, or else the latest",
                PublicTrades,
                (
                    _param("market", "path", _MARKET_NAME, True),
                    _param("after", "query", _int(0), False),
                    _param("limit", "query", _int(1, 1000), False),
                ),
            )
        },
        "/api/v1/tickers": {
            "get": _public(
                "Every market's ticker, from the log (24 hours up to its clock)", Tickers
            )
        },
        "/api/v1/markets/{market}/ticker": {
            "get": _public(
                "One market's ticker", Ticker, (_param("market", "path", _MARKET_NAME, True),)
            )
        },
        "/api/v1/markets/{market}/candles": {
            "get": _public(
                "Candles (OHLCV): from ``since`` (ms) oldest first, or else the latest",
                CandlePage,
                (
                    _param("market", "path", _MARKET_NAME, True),
                    _param("interval", "query", {"enum": list(INTERVALS)}, False),
                    _param("since", "query", _int(0), False),
                    _param("limit", "query", _int(1, MAX_CANDLES), False),
                ),
            )
        },
        "/api/v1/log/entries/{index}": {
            "get": _public(
                "A log entry as logged, what it says, and its inclusion proof under the latest"
                " checkpoint (404 NotInLogYet until one covers it)",
                LogProof,
                (_param("index", "path", _int(0), True),),
            )
        },
        "/api/v1/orders": {
            "post": _signed("Place an order", Receipt, body=OrderBody),
            "delete": _signed("Cancel all open orders in a market", Receipt, (_MARKET_REQUIRED,)),
        },
        "/api/v1/orders/{order_id}": {
            "get": _signed("One order, open or closed", OrderInfo, (_ORDER_ID,)),
            "delete": _signed("Cancel an order", Receipt, (_ORDER_ID,)),
            "patch": _signed(
                "Amend an order (less at the same price keeps its place)",
                Receipt,
                (_ORDER_ID,),
                AmendBody,
            ),
        },
        "/api/v1/orders/by-client-id/{client_order_id}": {
            "get": _signed("One order by client id", OrderInfo, (_CLIENT_ID,)),
            "delete": _signed("Cancel by client id", Receipt, (_CLIENT_ID,)),
        },
        "/api/v1/open-orders": {"get": _signed("Open orders", Orders, (_MARKET,))},
        "/api/v1/my-trades": {
            "get": _signed(
                "My trades, oldest first: after a trade id, or with latest=true the latest",
                Trades,
                (
                    _MARKET,
                    _param("after", "query", _int(0), False),
                    _param("limit", "query", _int(1, 1000), False),
                    _LATEST,
                ),
            )
        },
        "/api/v1/balances": {"get": _signed("Balances", Balances)},
        "/api/v1/ledger": {
            "get": _signed(
                "My statement, oldest first: each change to my total of an asset, fee included",
                Ledger,
                (
                    _param("asset", "query", {"type": "string", "pattern": _CODE}, False),
                    _param("after", "query", _int(0), False),
                    _param("limit", "query", _int(1, 1000), False),
                    _LATEST,
                ),
            )
        },
        "/api/v1/auth/signup": {
            "post": _public("Open an account with a username and password", AccountCreated)
            | {"requestBody": _body(SignUpBody)}
        },
        "/api/v1/auth/login": {
            "post": _public("Log in: the session key may then sign for the account", SessionOpened)
            | {"requestBody": _body(LogInBody)}
        },
        "/api/v1/auth/passkey/challenge": {
            "post": _public(
                "A challenge to log in with a passkey, bound to the session key to register",
                PasskeyChallenge,
            )
            | {"requestBody": _body(PasskeyChallengeBody)}
        },
        "/api/v1/auth/passkey": {
            "post": _public(
                "Log in with a passkey's answer: the session key may then sign for the account",
                SessionOpened,
            )
            | {"requestBody": _body(PasskeyLogInBody)}
        },
        "/api/v1/auth/logout": {"post": _signed("End the session whose key signs this", Receipt)},
        "/api/v1/stream/grant": {
            "post": _signed(
                "A grant for the stream's private channels (orders, fills, balances), for minutes",
                StreamGrant,
            )
        },
        "/api/v1/account/logins": {
            "get": _signed(
                "My latest log-ins and refused log-in attempts, newest first",
                LogIns,
                (_param("limit", "query", _int(1, 1000), False),),
            )
        },
        "/api/v1/account/2fa/secret": {
            "post": _signed(
                "A fresh two-factor secret and its QR code (sign with a session)", TotpOffer
            )
        },
        "/api/v1/account/2fa": {
            "post": _signed(
                "Turn two-factor log-in on: the secret and a code from it (sign with a session)",
                Receipt,
                body=TotpBody,
            )
        },
        "/api/v1/account/password": {
            "post": _signed(
                "Change my password: the current one, the new one, and a code if two-factor is on"
                " (sign with a session)",
                Receipt,
                body=PasswordBody,
            )
        },
        "/api/v1/account/2fa/off": {
            "post": _signed(
                "Turn two-factor log-in off with a current code (sign with a session)",
                Receipt,
                body=TotpBody,
            )
        },
        "/api/v1/account/passkeys/options": {
            "post": _signed(
                "A challenge to make a passkey for my account, and the passkeys it has"
                " (sign with a session)",
                PasskeyChallenge,
            )
        },
        "/api/v1/account/passkeys": {
            "get": _signed("My passkeys", Passkeys),
            "post": _signed(
                "Add the passkey made for that challenge, with a code if two-factor is on"
                " (sign with a session)",
                Receipt,
                body=PasskeyBody,
            ),
        },
        "/api/v1/account/passkeys/remove": {
            "post": _signed(
                "Remove one of my passkeys (sign with a session)", Receipt, body=CredentialBody
            )
        },
        "/api/v1/keys": {
            "get": _signed("My API keys and sessions", Keys),
            "post": _signed("Add an API key (sign with a session)", Receipt, body=KeyBody),
        },
        "/api/v1/keys/{public_key}": {
            "delete": _signed(
                "Revoke one of my API keys or sessions (sign with a session)",
                Receipt,
                (
                    _param(
                        "public_key", "path", {"type": "string", "pattern": "^[0-9a-f]{64}$"}, True
                    ),
                ),
            )
        },
    }


_SIGNING: Final = f"""Private endpoints take a request signed with the caller's Ed25519 key: the
headers {", ".join(HEADERS)} carry the public key (hex), the time (ms, within {WINDOW_MS} ms of the
server's), a 16-byte nonce (hex, never reused) and the signature (base64) over
``"stockade/http/v1" NUL`` followed by METHOD, PATH, QUERY, hex(sha256(BODY)), TIME, hex(NONCE) and
hex(CORE_KEY) joined by newlines. Amounts are integers in minor units; prices are quote minor
units per whole base unit. See docs/api.md."""


def openapi() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stockade API", "version": "1", "description": _SIGNING},
        "paths": _paths(),
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "stockade": {
                    "type": "apiKey",
                    "in": "header",
                    "name": HEADERS[0],
                    "description": "Ed25519 request signature: see the description above",
                }
            },
        },
    }
