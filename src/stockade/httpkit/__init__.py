"""Shared HTTP plumbing for the compartments that serve HTTP (witness, relay; later web, edge):
bounded body reads, plain responses with safe headers, and one way to run an app under uvicorn.
It holds no state and imports no compartment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http import HTTPStatus

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Lifespan

from stockade.wire import Address

#: Headers on every response: nothing is sniffed, framed or referred.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


class BodyTooLarge(Exception):
    """The request body is over the endpoint's limit."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused once it passes ``limit`` bytes (the header is not trusted)."""
    declared = request.headers.get("content-length", "0")
    if not (declared.isascii() and declared.isdigit()) or int(declared) > limit:
        raise BodyTooLarge(f"the body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"the body is over {limit} bytes")
    return bytes(body)


def response(
    body: bytes | str,
    status: int = 200,
    media_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Response:
    # The content type is set as given (Starlette would append a charset to any text/ type).
    return Response(body, status, {**SAFE_HEADERS, **(headers or {}), "Content-Type": media_type})


def error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """A plain-text error whose first word is the machine-readable name of the refusal."""
    return response(f"{name}: {message}\n", status, headers={"X-Error": name, **(headers or {})})


#: How an app words a refusal: status, machine-readable name, message, extra headers.
Refusal = Callable[[int, str, str, dict[str, str]], Response]


def application(
    routes: Sequence[BaseRoute],
    lifespan: Lifespan[Starlette] | None = None,
    refusal: Refusal = error,
) -> Starlette:
    """An app whose own refusals (no such route, wrong method) have the shape of ours, worded by
    ``refusal``, and that never redirects: each resource has one path."""

    async def http_exception(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        name = HTTPStatus(exc.status_code).phrase.replace(" ", "")
        return refusal(exc.status_code, name, str(exc.detail), dict(exc.headers or {}))

    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_exception}
    )
    app.router.redirect_slashes = False
    return app


def serve(app: ASGIApp, listen: Address) -> None:
    """Run ``app`` on ``listen`` (tcp) until SIGTERM or SIGINT; uvicorn's access log is off."""
    if listen.scheme != "tcp":
        raise ValueError("HTTP is served on tcp://HOST:PORT")
    config = uvicorn.Config(
        app,
        host=listen.host,
        port=listen.port,
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=False,
    )
    uvicorn.Server(config).run()
