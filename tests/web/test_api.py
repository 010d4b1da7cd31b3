"""The HTTP API against a running site: real web and core processes over loopback.

Signed requests trade, and their receipts are checked against the log exactly as signed; every
kind of bad request gets its precise JSON error and changes nothing; public reads need no key.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from stockade.client import ApiError, HttpApi, Refused
from stockade.exchange import Side, TimeInForce
from stockade.keys import generate
from stockade.site._defaults import BTC_USD
from stockade.wire import HEADERS, HttpRequest, sign_http
from tests.live import LiveSite
from tests.processes import http_request, stockade

PRICE = 60_000 * 10**6  # $60,000 in micro-dollars
LOT = BTC_USD.lot
ORDERS = "/api/v1/orders"


def _error(body: bytes) -> dict[str, object]:
    value = json.loads(body)
    assert set(value) == {"error"}, value
    error = value["error"]
    assert isinstance(error, dict)
    return error


def test_public_endpoints_answer_json_without_a_key(live: LiveSite) -> None:
    status, headers, body = http_request(live.web, "GET", "/api/v1/markets")
    assert (status, headers["Content-Type"]) == (200, "application/json")
    markets = json.loads(body)
    assert [m["market"]["code"] for m in markets["markets"]] == ["BTC-USD"]
    assert markets["markets"][0]["status"] == "open"
    status, _, body = http_request(live.web, "GET", "/api/v1/site")
    assert json.loads(body)["core_key"] == live.site.core_key.hex()
    status, _, body = http_request(live.web, "GET", "/api/v1/time")
    assert abs(json.loads(body)["server_time_ms"] - time.time() * 1000) < 5_000


def test_signed_orders_trade_and_receipts_match_the_log(live: LiveSite) -> None:
    with live.api("alice") as alice, live.api("bob") as bob:
        before = alice.balances()["USD"]
        resting = alice.place_order(
            "BTC-USD", Side.BUY, 3 * LOT, PRICE, client_order_id="web-rest-1"
        )
        assert resting.order_id is not None
        assert alice.order(client_order_id="web-rest-1").remaining == 3 * LOT
        assert alice.balances()["USD"][1] == before[1] + 3 * LOT * PRICE // 10**8
        taker = bob.place_order("BTC-USD", Side.SELL, LOT, PRICE, tif=TimeInForce.IOC)
        trades = [e for e in taker.events if type(e).__name__ == "Trade"]
        assert [t.qty for t in trades] == [LOT]
        assert alice.order(resting.order_id).remaining == 2 * LOT
        amended = alice.amend_order(resting.order_id, LOT, PRICE)
        assert amended.order_id == resting.order_id
        assert [o.order_id for o in alice.open_orders("BTC-USD").orders] == [resting.order_id]
        alice.cancel_order(client_order_id="web-rest-1")
        assert alice.open_orders().orders == []
        assert alice.balances()["USD"][1] == before[1]
        mine = bob.my_trades("BTC-USD").trades
        assert [t.qty for t in mine][-1] == LOT


def test_the_statement_over_http_adds_up_to_the_balances(live: LiveSite) -> None:
    with live.api("carol") as carol, live.api("bob") as bob:
        carol.place_order("BTC-USD", Side.SELL, LOT, PRICE + 10**8)
        bob.place_order("BTC-USD", Side.BUY, LOT, PRICE + 10**8, tif=TimeInForce.IOC)
        lines, after = [], 0
        while page := carol.ledger(after=after, limit=2).entries:  # in pages of two
            lines += page
            after = page[-1].entry
        totals: dict[str, int] = {}
        for line in lines:
            totals[line.asset] = totals.get(line.asset, 0) + line.amount
        assert totals == {asset: sum(cell) for asset, cell in carol.balances().items()}
        assert {line.kind for line in lines} == {"deposit", "trade"}
        btc = carol.ledger("BTC").entries
        assert (btc[-1].amount, btc[-1].kind) == (-LOT, "trade")  # carol sold one lot
        assert btc == [line for line in lines if line.asset == "BTC"][: len(btc)]
        with pytest.raises(Refused) as refused:
            carol.ledger("btc")
        assert (refused.value.info.name, refused.value.info.field) == ("Malformed", "asset")


def test_public_trades_show_what_traded_and_no_one_who(live: LiveSite) -> None:
    with live.api("alice") as alice, live.api("bob") as bob:
        alice.place_order("BTC-USD", Side.SELL, 2 * LOT, PRICE + 2 * 10**8)
        bob.place_order("BTC-USD", Side.BUY, 2 * LOT, PRICE + 2 * 10**8, tif=TimeInForce.IOC)
    status, _, body = http_request(live.web, "GET", "/api/v1/markets/BTC-USD/trades?limit=1")
    assert status == 200
    (last,) = json.loads(body)["trades"]
    assert set(last) == {"trade_id", "seq", "ts", "price", "qty", "taker_side"}
    assert (last["price"], last["qty"], last["taker_side"]) == (PRICE + 2 * 10**8, 2 * LOT, "buy")
    status, _, body = http_request(
        live.web, "GET", f"/api/v1/markets/BTC-USD/trades?after={last['trade_id'] - 1}"
    )
    assert [t["trade_id"] for t in json.loads(body)["trades"]] == [last["trade_id"]]
    for bad in (
        "?limit=0",
        "?limit=5&limit=6",
        "?after=1&after=2",
        "?after=-1",
        "?before=3",
        "?after=%C2%B2",
    ):
        status, _, body = http_request(live.web, "GET", "/api/v1/markets/BTC-USD/trades" + bad)
        assert (status, _error(body)["name"]) == (400, "Malformed"), bad
    status, _, body = http_request(live.web, "GET", "/api/v1/markets/NO-SUCH/trades")
    assert (status, _error(body)["name"]) == (404, "UNKNOWN_MARKET")


def test_engine_refusals_are_json_errors_with_their_codes(live: LiveSite) -> None:
    with live.api("carol") as carol:
        with pytest.raises(Refused) as refused:
            carol.place_order("BTC-USD", Side.BUY, LOT + 1, PRICE)
        assert refused.value.info.name == "QTY_NOT_MULTIPLE_OF_LOT"
        with pytest.raises(Refused) as refused:
            carol.order(order_id=999_999_999)
        assert refused.value.info.name == "ORDER_NOT_FOUND"
        carol.place_order("BTC-USD", Side.BUY, LOT, PRICE - 10**9, client_order_id="dup")
        with pytest.raises(Refused) as refused:
            carol.place_order("BTC-USD", Side.BUY, LOT, PRICE - 10**9, client_order_id="dup")
        assert refused.value.info.name == "DUPLICATE_CLIENT_ORDER_ID"
        carol.cancel_all("BTC-USD")
        assert carol.open_orders().orders == []


def _signed_headers(
    api: HttpApi, method: str, path: str, query: str, body: bytes, ts: int, nonce: bytes
) -> dict[str, str]:
    request = HttpRequest(method, path, query, body)  # type: ignore[arg-type]
    signature = sign_http(api.identity, api.core_key, request, nonce, ts)
    key, ts_name, nonce_name, sig_name = HEADERS
    return {
        key: api.identity.public.hex(),
        ts_name: str(ts),
        nonce_name: nonce.hex(),
        sig_name: base64.b64encode(signature).decode(),
    }


def _raw(
    live: LiveSite, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, str | None, bytes]:
    status, answer_headers, answer = http_request(
        live.web, method, target, body or None, 10, headers
    )
    return status, answer_headers.get("Content-Type"), answer


def test_bad_requests_get_precise_errors_and_change_nothing(live: LiveSite) -> None:
    with live.api("alice") as alice:
        open_before = alice.open_orders().orders
        balances_before = alice.balances()

        def signed(body: bytes, nonce: int, method: str = "POST", path: str = ORDERS, age: int = 0):
            now = int(time.time() * 1000) - age
            return _signed_headers(alice, method, path, "", body, now, nonce.to_bytes(16, "big"))

        body = json.dumps({"market": "BTC-USD", "side": "buy", "qty": LOT, "price": PRICE}).encode()
        good = signed(body, 1)
        someone = HttpApi(live.web, generate("someone"), live.site.core_key)
        stranger = _signed_headers(
            someone, "POST", ORDERS, "", body, int(time.time() * 1000), bytes(16)
        )
        cases: list[tuple[str, dict[str, str], bytes, int, str]] = [
            ("no signature", {}, body, 401, "Malformed"),
            ("body altered", good, body.replace(b"buy", b"sel"), 401, "BadEnvelopeSignature"),
            ("a key no account holds", stranger, body, 403, "Unauthorized"),
            (
                "alice's key, a stranger's signature",
                {**stranger, HEADERS[0]: good[HEADERS[0]]},
                body,
                401,
                "BadEnvelopeSignature",
            ),
            ("bad base64", {**good, HEADERS[3]: "!!"}, body, 401, "Malformed"),
            ("a minute old", signed(body, 2, age=60_000), body, 401, "Expired"),
            ("a digit that is not ASCII", {**good, HEADERS[1]: "\u00b2"}, body, 401, "Malformed"),
        ]
        for what, headers, sent, status, name in cases:
            got, kind, answer = _raw(live, "POST", ORDERS, headers, sent)
            assert (got, kind) == (status, "application/json"), what
            assert _error(answer)["name"] == name, what
        # unknown JSON field, wrong enum, negative amount: signed correctly, refused by meaning
        for nonce, (bad, field) in enumerate(
            [
                ({"market": "BTC-USD", "side": "buy", "qty": LOT, "price": PRICE, "x": 1}, None),
                ({"market": "BTC-USD", "side": "up", "qty": LOT, "price": PRICE}, "side"),
                ({"market": "BTC-USD", "side": "buy", "qty": -1, "price": PRICE}, "qty"),
            ],
            start=10,
        ):
            raw = json.dumps(bad).encode()
            got, _, answer = _raw(live, "POST", ORDERS, signed(raw, nonce), raw)
            error = _error(answer)
            assert (got, error["name"]) == (400, "Malformed"), bad
            if field is not None:
                assert error["field"] == field
        # an unknown route, signed: 404 UnknownRoute; an oversize body: 413, never reaching core
        nowhere = "/api/v1/orders/x/y"
        got, _, answer = _raw(live, "GET", nowhere, signed(b"", 20, "GET", nowhere))
        assert (got, _error(answer)["name"]) == (404, "UnknownRoute")
        big = b"{" + b" " * 5000 + b"}"
        got, _, answer = _raw(live, "POST", ORDERS, signed(big, 21), big)
        assert (got, _error(answer)["name"]) == (413, "Oversize")
        # the good request goes through once; sent again it is a replay
        got, _, answer = _raw(live, "POST", ORDERS, good, body)
        assert got == 200, answer
        got, _, answer = _raw(live, "POST", ORDERS, good, body)
        assert (got, _error(answer)["name"]) == (401, "Replayed")
        assert len(alice.open_orders().orders) == len(open_before) + 1
        alice.cancel_all("BTC-USD")
        assert alice.balances() == balances_before


def test_refusals_by_web_itself_are_json_too(live: LiveSite) -> None:
    for method, target, status, name in [
        ("GET", "/api/v1/nothing-here", 404, "NotFound"),
        ("PUT", "/api/v1/balances", 405, "MethodNotAllowed"),
        ("GET", "/api/v1/markets/btc-usd/book", 400, "Malformed"),
        ("GET", "/api/v1/markets/BTC-USD/book?depth=0", 400, "Malformed"),
        ("GET", "/api/v1/markets/BTC-USD/book?depth=5&x=1", 400, "Malformed"),
        ("GET", "/api/v1/markets/NO-SUCH/book", 404, "UNKNOWN_MARKET"),
    ]:
        got, kind, body = _raw(live, method, target, {})
        assert (got, kind, _error(body)["name"]) == (status, "application/json", name), target
    # a HEAD (which Starlette routes with every GET) is no signed request: refused, not a crash
    status, _, _ = _raw(live, "HEAD", "/api/v1/balances", {})
    assert status == 405
    # a key core never registered may read public data only: refused, in a reply signed by core
    with HttpApi(live.web, generate("stranger"), live.site.core_key) as stranger:
        with pytest.raises(Refused) as refused:
            stranger.balances()
        assert refused.value.info.name == "Unauthorized"
        assert stranger.public("/api/v1/markets") is not None
    # a revoked key is unknown: refused before authentication, so web's JSON carries no proof
    with live.operator() as op:
        account = op.create_account("revoked")
        leaving = generate("leaving")
        op.register_key(account, leaving.public, "leaving")
        op.revoke_key(leaving.public)
    with HttpApi(live.web, leaving, live.site.core_key) as gone, pytest.raises(ApiError) as error:
        gone.balances()
    assert (error.value.status, error.value.name) == (401, "UnknownSender")


def test_stockade_verify_checks_orders_signed_over_http(live: LiveSite) -> None:
    with live.api("alice") as alice, live.api("bob") as bob:
        alice.place_order("BTC-USD", Side.SELL, LOT, PRICE + 10**8, client_order_id="audited")
        taker = bob.place_order("BTC-USD", Side.BUY, LOT, PRICE + 10**8, tif=TimeInForce.IOC)
    assert taker.log is not None
    live.relay_caught_up(taker.log.first + len(taker.log.leaves))
    done = stockade("verify", str(live.layout.root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every entry verified" in done.stdout
