"""The Python SDK over the HTTP API: signs each private request, checks core's signed answer.

A request is signed as ``wire._http`` defines; the answer's ``signed_reply`` is core's own signed
envelope, checked here against the site's core key and this request's nonce, so web (or anything
in front of it) cannot alter an answer unseen. Receipts are then checked against the log exactly as
the wire client checks them: the logged entry must be the version-2 envelope this client signed.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar
from urllib.parse import urlsplit

from stockade.client._client import expect
from stockade.client._log import LogWatcher
from stockade.client._sitefile import SITE_FILE, read_site_file
from stockade.errors import RemoteProtocolError
from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.keys import Identity, PublicKey, read_secret
from stockade.wire import (
    HEADERS,
    MAX_REPLY,
    POW_CHALLENGE_HEADER,
    POW_HEADER,
    SIGNED_REPLY,
    Balances,
    HttpMethod,
    HttpRequest,
    Ledger,
    LogIns,
    NonceSource,
    Opener,
    OrderInfo,
    Orders,
    PasskeyChallenge,
    Passkeys,
    PowFormatError,
    Quota,
    Receipt,
    Replies,
    Reply,
    ReplyBody,
    StreamGrant,
    TotpSecret,
    Trades,
    UnexpectedMessage,
    decode_body,
    decode_envelope,
    http_envelope,
    message_of,
    parse_pow_challenge,
    sign_http,
    solve_pow,
    to_b64url,
)

_B = TypeVar("_B", bound=ReplyBody)


class ApiError(RemoteProtocolError):
    """The API refused a request before core answered it (web's own refusal), or answered with
    something that is not JSON. ``status`` is the HTTP status, ``name`` the refusal's name."""

    code = 7100

    def __init__(self, status: int, name: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {name}: {message}", field)
        self.status = status
        self.name = name


#: How many puzzles an unsigned request solves before it gives up.
POW_TRIES = 3


class HttpApi:
    def __init__(
        self,
        base_url: str,
        identity: Identity,
        core_key: PublicKey,
        clock: Callable[[], float] = time.time,
        timeout: float = 10,
        log: LogWatcher | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError("the API's base URL is http://HOST:PORT or https://HOST:PORT")
        connection = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self._conn = connection(parts.hostname, parts.port, timeout=timeout)
        self.identity = identity
        self.core_key = core_key
        self.clock = clock
        self.log = log
        self._nonce = NonceSource(secrets.token_bytes(8))
        #: the account's request budget as core counted it in its last signed reply
        self.quota: Quota | None = None

    @classmethod
    def from_site(cls, site: Path, key_file: Path, timeout: float = 10) -> Self:
        info = read_site_file(site / SITE_FILE)
        if info.api is None:
            raise ValueError("the site file names no edge or web URL")
        return cls(
            info.api, read_secret(key_file), info.core_key, timeout=timeout, log=info.log_watcher()
        )

    # ------------------------------------------------------------------ transport

    def _send(
        self, method: str, target: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, object, str | None]:
        """Status, JSON value and the signed-reply header of one request. An unsigned request
        that an edge under attack answers with a puzzle is sent again with it solved (up to
        ``POW_TRIES`` times, as the difficulty may rise meanwhile); a signed one never is."""
        for _ in range(POW_TRIES):
            self._conn.request(method, target, body or None, headers)
            answer = self._conn.getresponse()
            data = answer.read()
            challenge = answer.getheader(POW_CHALLENGE_HEADER)
            if answer.status != 429 or challenge is None or HEADERS[0] in headers:
                break
            try:
                solution = solve_pow(parse_pow_challenge(challenge))
            except PowFormatError:
                break
            headers = {**headers, POW_HEADER: solution.header()}
        if answer.getheader("Content-Type") != "application/json":
            raise ApiError(answer.status, "NotJson", "the API answered with something else")
        return answer.status, json.loads(data), answer.getheader(SIGNED_REPLY)

    def public(self, path: str) -> object:
        """A public endpoint's JSON, e.g. ``public("/api/v1/markets")``."""
        status, value, _ = self._send("GET", path, b"", {})
        if status != 200:
            raise _refusal(status, value)
        return value

    def sign_up(self, username: str, password: str) -> int:
        """Open an account that logs in with ``username`` and ``password``; its number."""
        return self._account_of("/api/v1/auth/signup", {"username": username, "password": password})

    def log_in(self, username: str, password: str, totp: str | None = None) -> int:
        """Log in with this client's own key as the session's key (a script's session; a
        browser makes a key of its own), with the authenticator's code if two-factor log-in
        is on; the account's number. The key then signs for the account until the session
        ends."""
        body = {
            "username": username,
            "password": password,
            "session_key": self.identity.public.hex(),
        }
        return self._account_of("/api/v1/auth/login", body | ({"totp": totp} if totp else {}))

    def _account_of(self, path: str, body: dict[str, str]) -> int:
        headers = {"Content-Type": "application/json"}
        status, value, _ = self._send("POST", path, json.dumps(body).encode(), headers)
        if (
            status != 200
            or not isinstance(value, dict)
            or not isinstance(value.get("account"), int)
        ):
            raise _refusal(status, value)
        return int(value["account"])

    def signed(
        self, method: HttpMethod, path: str, query: str = "", body: object = None
    ) -> tuple[Reply, HttpRequest, bytes]:
        """Send one signed request: core's reply (checked), the request and the version-2
        envelope this client signed, which is what the log must hold."""
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        request = HttpRequest(method, path, query, raw)
        nonce, ts = self._nonce(), int(self.clock() * 1000)
        signature = sign_http(self.identity, self.core_key, request, nonce, ts)
        headers = self.signature_headers(nonce, ts, signature)
        if raw:
            headers["Content-Type"] = "application/json"
        target = path + (f"?{query}" if query else "")
        status, value, signed_reply = self._send(method, target, raw, headers)
        if signed_reply is None:  # refused before core could tell who signed it
            raise _refusal(status, value)
        reply = self._open(base64.b64decode(signed_reply), nonce)
        self.quota = reply.quota
        me = self.identity.public.raw
        return reply, request, http_envelope(me, self.core_key.raw, nonce, ts, request, signature)

    def signature_headers(self, nonce: bytes, ts: int, signature: bytes) -> dict[str, str]:
        """The headers that carry this client's signature of a request."""
        encoded = base64.b64encode(signature).decode()
        values = (self.identity.public.hex(), str(ts), nonce.hex(), encoded)
        return dict(zip(HEADERS, values, strict=True))

    def _open(self, data: bytes, nonce: bytes) -> Reply:
        env = decode_envelope(data, MAX_REPLY)
        Opener.verify_signature(env, self.core_key)
        if env.recipient != self.identity.public.raw:
            raise UnexpectedMessage("core's reply is addressed to another key")
        message = decode_body(env)
        replies = message.replies if isinstance(message, Replies) else [message]
        for reply in replies:
            if isinstance(reply, Reply) and reply.in_reply_to == nonce:
                return reply
        raise UnexpectedMessage("core's signed reply does not answer this request")

    def call(
        self, method: HttpMethod, path: str, kind: type[_B], query: str = "", body: object = None
    ) -> _B:
        reply, _, _ = self.signed(method, path, query, body)
        return expect(reply, kind)

    def call_logged(
        self, method: HttpMethod, path: str, query: str = "", body: object = None
    ) -> Receipt:
        """A state-changing request whose receipt's log entries are checked against it."""
        reply, request, envelope = self.signed(method, path, query, body)
        receipt = expect(reply, Receipt)
        if self.log is not None:
            self.log.check_receipt(receipt, message_of(request), envelope)
        return receipt

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ trading

    def place_order(
        self,
        market: str,
        side: Side,
        qty: int,
        price: int,
        tif: TimeInForce = TimeInForce.GTC,
        client_order_id: str | None = None,
        stp: SelfTrade = SelfTrade.CANCEL_RESTING,
    ) -> Receipt:
        body: dict[str, object] = {
            "market": market,
            "side": side.name.lower(),
            "qty": qty,
            "price": price,
            "tif": tif.name.lower(),
            "stp": stp.name.lower(),
        }
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        return self.call_logged("POST", "/api/v1/orders", body=body)

    def cancel_order(
        self, order_id: int | None = None, client_order_id: str | None = None
    ) -> Receipt:
        return self.call_logged("DELETE", _order_path(order_id, client_order_id))

    def cancel_all(self, market: str) -> Receipt:
        return self.call_logged("DELETE", "/api/v1/orders", f"market={market}")

    def amend_order(self, order_id: int, qty: int, price: int) -> Receipt:
        return self.call_logged(
            "PATCH", f"/api/v1/orders/{order_id}", body={"qty": qty, "price": price}
        )

    def order(self, order_id: int | None = None, client_order_id: str | None = None) -> OrderInfo:
        return self.call("GET", _order_path(order_id, client_order_id), OrderInfo)

    def open_orders(self, market: str | None = None) -> Orders:
        return self.call("GET", "/api/v1/open-orders", Orders, f"market={market}" if market else "")

    def my_trades(self, market: str | None = None, after: int = 0, limit: int = 100) -> Trades:
        query = "&".join(
            part
            for part in (f"market={market}" if market else "", f"after={after}", f"limit={limit}")
            if part
        )
        return self.call("GET", "/api/v1/my-trades", Trades, query)

    def balances(self) -> dict[str, tuple[int, int]]:
        rows = self.call("GET", "/api/v1/balances", Balances).balances
        return {row.asset: (row.available, row.held) for row in rows}

    def ledger(
        self, asset: str | None = None, after: int = 0, limit: int = 100, latest: bool = False
    ) -> Ledger:
        """The account's statement, oldest first, after entry ``after`` (with ``latest``, its
        last ``limit`` lines): each change to its total of an asset (trades with their fees,
        deposits, withdrawals)."""
        query = f"after={after}&limit={limit}" + (f"&asset={asset}" if asset else "")
        query += "&latest=true" if latest else ""
        return self.call("GET", "/api/v1/ledger", Ledger, query)

    def stream_grant(self) -> StreamGrant:
        """A grant for the stream's private channels (send it as ``{"op": "auth", "grant": G}``
        with ``G`` as this grant's JSON), valid for a few minutes."""
        return self.call("POST", "/api/v1/stream/grant", StreamGrant)

    # ------------------------------------------------------------------ log-in security

    def logins(self, limit: int = 50) -> LogIns:
        """The account's latest log-ins and refused attempts, newest first, and whether a
        log-in needs an authenticator's code."""
        return self.call("GET", "/api/v1/account/logins", LogIns, f"limit={limit}")

    def totp_secret(self) -> TotpSecret:
        """A fresh secret for an authenticator app (signed by a session)."""
        return self.call("POST", "/api/v1/account/2fa/secret", TotpSecret)

    def enable_totp(self, code: str) -> Receipt:
        """Turn two-factor log-in on with the secret ``totp_secret`` showed, on a current code
        made from it."""
        return self.call("POST", "/api/v1/account/2fa", Receipt, body={"code": code})

    def change_password(self, password: str, new_password: str, totp: str | None = None) -> Receipt:
        """Replace the password (signed by a session), with a current code once two-factor
        log-in is on."""
        body = {"password": password, "new_password": new_password}
        if totp is not None:
            body["totp"] = totp
        return self.call("POST", "/api/v1/account/password", Receipt, body=body)

    def disable_totp(self, code: str) -> Receipt:
        return self.call("POST", "/api/v1/account/2fa/off", Receipt, body={"code": code})

    # ------------------------------------------------------------------ passkeys

    def passkey_options(self) -> PasskeyChallenge:
        """A challenge to make a passkey for this session's account, and the passkeys it has
        (for ``navigator.credentials.create``, or any WebAuthn authenticator)."""
        return self.call("POST", "/api/v1/account/passkeys/options", PasskeyChallenge)

    def add_passkey(
        self,
        credential_id: bytes,
        client_data: bytes,
        attestation: bytes,
        name: str,
        totp: str | None = None,
    ) -> Receipt:
        """Add the passkey an authenticator made in answer to ``passkey_options``."""
        body = {
            "credential_id": to_b64url(credential_id),
            "client_data": to_b64url(client_data),
            "attestation": to_b64url(attestation),
            "name": name,
        }
        if totp is not None:
            body["totp"] = totp
        return self.call("POST", "/api/v1/account/passkeys", Receipt, body=body)

    def passkeys(self) -> Passkeys:
        return self.call("GET", "/api/v1/account/passkeys", Passkeys)

    def remove_passkey(self, credential_id: bytes) -> Receipt:
        body = {"credential_id": to_b64url(credential_id)}
        return self.call("POST", "/api/v1/account/passkeys/remove", Receipt, body=body)

    def log_in_with_passkey(self, answer: PasskeyAnswer) -> int:
        """Log in with a passkey, this client's own key as the session's: ``answer`` gets the
        challenge (bound to that key) and returns what the authenticator's ``get`` gave (the
        credential id, clientDataJSON, authenticator data and signature); the account."""
        key = self.identity.public.hex()
        status, value, _ = self._send(
            "POST",
            "/api/v1/auth/passkey/challenge",
            json.dumps({"session_key": key}).encode(),
            {"Content-Type": "application/json"},
        )
        if status != 200 or not isinstance(value, dict):
            raise _refusal(status, value)
        credential_id, client_data, data, signature = answer(base64.b64decode(value["challenge"]))
        body = {
            "session_key": key,
            "credential_id": to_b64url(credential_id),
            "client_data": to_b64url(client_data),
            "authenticator_data": to_b64url(data),
            "signature": to_b64url(signature),
        }
        return self._account_of("/api/v1/auth/passkey", body)


#: What a WebAuthn authenticator's ``get`` gives for a challenge: the credential id,
#: clientDataJSON, authenticator data and signature.
PasskeyAnswer = Callable[[bytes], tuple[bytes, bytes, bytes, bytes]]


def _order_path(order_id: int | None, client_order_id: str | None) -> str:
    if (order_id is None) == (client_order_id is None):
        raise ValueError("name the order by exactly one of order_id and client_order_id")
    if order_id is not None:
        return f"/api/v1/orders/{order_id}"
    return f"/api/v1/orders/by-client-id/{client_order_id}"


def _refusal(status: int, value: object) -> Exception:
    error = value.get("error") if isinstance(value, dict) else None
    if not isinstance(error, dict):
        return ApiError(status, "Unexpected", "the API answered without a signed reply or an error")
    return ApiError(status, str(error.get("name")), str(error.get("message")), error.get("field"))
