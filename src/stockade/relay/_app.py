"""The relay's HTTP face: the log as C2SP tlog-tiles static resources, and market data as JSON.

    GET /checkpoint                        the signed checkpoint, with witnesses' cosignatures
    GET /tile/<L>/<N>[.p/<W>]              hash tiles; /tile/entries/... entry bundles
    GET /markets                           tickers of every market
    GET /markets/<M>/book                  the top of the book, with its event seq and log index
    GET /markets/<M>/events?after=S        trades and level changes after event S (at most 1000)
    GET /markets/<M>/ticker

Tiles are immutable and cached for a year; the checkpoint for a second.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockade.audit import MAX_EVENTS
from stockade.client import MarketView
from stockade.httpkit import application, error, response
from stockade.relay._mirror import Mirror
from stockade.relay._puller import Puller
from stockade.tlog import TileError, parse_tile_path

IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
SHORT = {"Cache-Control": "public, max-age=1"}
JSON = "application/json"


def _json(value: object, headers: dict[str, str] | None = None) -> Response:
    return response(msgspec.json.encode(value), media_type=JSON, headers=headers or SHORT)


def relay_app(mirror: Mirror, puller: Puller | None = None) -> Starlette:
    async def checkpoint(_request: Request) -> Response:
        served = mirror.served
        if served is None:
            return error(503, "NoCheckpoint", "no checkpoint pulled yet", {"Retry-After": "1"})
        return response(served.encode(), headers=SHORT)

    async def tile(request: Request) -> Response:
        try:
            tile_id = parse_tile_path("tile/" + request.path_params["path"])
            data = mirror.tile(tile_id)
        except TileError as exc:
            return error(404, "NoSuchTile", exc.message)
        return response(data, media_type="application/octet-stream", headers=IMMUTABLE)

    def views() -> dict[str, MarketView]:
        served = mirror.served
        return {} if served is None else served.markets

    def unknown_market() -> Response:
        return error(404, "UnknownMarket", "no such market")

    async def markets(_request: Request) -> Response:
        return _json([view.ticker for view in views().values()])

    async def book(request: Request) -> Response:
        view = views().get(request.path_params["market"])
        return unknown_market() if view is None else _json(view.book)

    async def ticker(request: Request) -> Response:
        view = views().get(request.path_params["market"])
        return unknown_market() if view is None else _json(view.ticker)

    async def events(request: Request) -> Response:
        code = request.path_params["market"]
        if code not in views():
            return unknown_market()
        after = request.query_params.get("after", "0")
        if not (after.isascii() and after.isdigit()) or len(after) > 18:
            return error(400, "BadParameter", "after is an event sequence number")
        return _json(mirror.events(code, int(after), MAX_EVENTS))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if puller is not None:
            thread = threading.Thread(target=puller.run, args=(stop,), name="puller", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)

    routes = [
        Route("/checkpoint", checkpoint, methods=["GET"]),
        Route("/tile/{path:path}", tile, methods=["GET"]),
        Route("/markets", markets, methods=["GET"]),
        Route("/markets/{market}/book", book, methods=["GET"]),
        Route("/markets/{market}/ticker", ticker, methods=["GET"]),
        Route("/markets/{market}/events", events, methods=["GET"]),
    ]
    return application(routes, lifespan)
