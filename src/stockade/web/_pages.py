"""The browser UI: server-rendered pages (Jinja2, autoescaped) and one small script.

Pages carry only public data (markets, books). Everything private is fetched by the page's script
with requests signed by the session's key, which the browser made at log-in and cannot export:
no cookie carries any authority, so there is nothing for a cross-site request to ride on, and the
API's log-in takes only ``application/json``. A strict Content-Security-Policy allows this
origin's script and style files and nothing inline; pages are never cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockade.httpkit import response
from stockade.web._api import Api
from stockade.web._corelink import CoreUnavailable
from stockade.web._proofs import entry_index
from stockade.wire import Book, BookRequest, Markets, MarketsRequest

HERE = Path(__file__).parent
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS: Final = {"Strict-Transport-Security": "max-age=63072000; includeSubDomains"}
_STATIC_TYPES: Final = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def units(minor: int, decimals: int) -> str:
    """An amount in minor units as a decimal string (no float anywhere): at least two decimal
    places, trailing zeros beyond them dropped."""
    sign, value = ("-", -minor) if minor < 0 else ("", minor)
    whole, fraction = divmod(value, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    if decimals >= 2:
        digits = digits.ljust(2, "0")
    return f"{sign}{whole}" + (f".{digits}" if digits else "")


@dataclass(frozen=True)
class _Row:
    code: str
    bid: str | None
    ask: str | None
    status: str


class Pages:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.static = {
            path.name: (path.read_bytes(), _STATIC_TYPES[path.suffix])
            for path in (HERE / "static").iterdir()
            if path.suffix in _STATIC_TYPES
        }

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/markets/{market}", self.market, methods=["GET"]),
            Route("/login", self.login, methods=["GET"]),
            Route("/signup", self.signup, methods=["GET"]),
            Route("/account", self.account, methods=["GET"]),
            Route("/keys", self.keys, methods=["GET"]),
            Route("/security", self.security, methods=["GET"]),
            Route("/log/{index}", self.log_entry, methods=["GET"]),
            Route("/static/{name}", self.static_file, methods=["GET"]),
        ]

    def _render(
        self, request: Request, template: str, status: int = 200, **values: object
    ) -> Response:
        info = self.api.site_info
        html = self.templates.get_template(template).render(
            site_name=info["name"], core_key=info["core_key"], **values
        )
        headers = {**PAGE_HEADERS, **(HSTS if request.url.scheme == "https" else {})}
        return response(html, status, "text/html; charset=utf-8", headers)

    async def _ask(self, message: MarketsRequest | BookRequest) -> object:
        answer = await self.api.ask(message)
        return answer.reply.body if answer.reply.error is None else answer.reply.error

    async def home(self, request: Request) -> Response:
        try:
            markets = await self._ask(MarketsRequest())
            assert isinstance(markets, Markets)
            decimals = {asset.code: asset.decimals for asset in markets.assets}
            rows = []
            for info in markets.markets:
                m = info.market
                book = await self._ask(BookRequest(m.code, 1))
                assert isinstance(book, Book)
                bid = units(book.bids[0][0], decimals[m.quote]) if book.bids else None
                ask = units(book.asks[0][0], decimals[m.quote]) if book.asks else None
                rows.append(_Row(m.code, bid, ask, info.status.name.lower()))
        except CoreUnavailable:
            return self._unavailable(request)
        return self._render(request, "home.html", markets=rows)

    async def market(self, request: Request) -> Response:
        code = request.path_params["market"]
        try:
            markets = await self._ask(MarketsRequest())
            assert isinstance(markets, Markets)
            found = [info.market for info in markets.markets if info.market.code == code]
            if not found:
                return self._render(request, "missing.html", 404, what=f"no market {code}")
            market = found[0]
            book = await self._ask(BookRequest(code, 20))
        except CoreUnavailable:
            return self._unavailable(request)
        assert isinstance(book, Book)
        decimals = {asset.code: asset.decimals for asset in markets.assets}
        base, quote = decimals[market.base], decimals[market.quote]
        return self._render(
            request,
            "market.html",
            market=market,
            base_decimals=base,
            quote_decimals=quote,
            lot=units(market.lot, base),
            tick=units(market.tick, quote),
            asks=[(units(p, quote), units(q, base)) for p, q in reversed(book.asks)],
            bids=[(units(p, quote), units(q, base)) for p, q in book.bids],
        )

    async def login(self, request: Request) -> Response:
        return self._render(request, "login.html", signup=False)

    async def signup(self, request: Request) -> Response:
        return self._render(request, "login.html", signup=True)

    async def account(self, request: Request) -> Response:
        return self._render(request, "account.html")

    async def keys(self, request: Request) -> Response:
        return self._render(request, "keys.html")

    async def security(self, request: Request) -> Response:
        return self._render(request, "security.html")

    async def log_entry(self, request: Request) -> Response:
        """One entry of the log, its proof checked in the browser against the log's key."""
        index = entry_index(request.path_params["index"])
        if index is None:
            return self._render(request, "missing.html", 404, what="no such log entry")
        log_key = self.api.site_info["log"]
        return self._render(request, "log-entry.html", index=index, log_key=log_key)

    async def static_file(self, request: Request) -> Response:
        found = self.static.get(request.path_params["name"])
        if found is None:
            return self._render(request, "missing.html", 404, what="no such file")
        body, media_type = found
        return response(body, 200, media_type, {"Cache-Control": "no-cache"})

    def _unavailable(self, request: Request) -> Response:
        return self._render(request, "missing.html", 503, what="the exchange is not reachable")
