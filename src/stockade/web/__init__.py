"""The web compartment: the exchange's public face, the HTTP API and the browser UI.

It holds no secret: no database credential, no user's key, and toward core only a key it makes at
start. Signed requests pass through it exactly as their clients signed them, so a compromised web
can drop or delay requests but never forge one (``tests/web/test_breach.py``).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from stockade.client import LogMirror, SiteFile
from stockade.httpkit import application, serve
from stockade.web._api import Api, refuse_route
from stockade.web._config import CONFIG_FILE, ConfigError, WebConfig, load_config, render_config
from stockade.web._corelink import CoreLink
from stockade.web._feed import LogFollower
from stockade.web._openapi import openapi
from stockade.web._pages import Pages
from stockade.web._private import PrivateStreams
from stockade.web._proofs import Proofs
from stockade.web._streams import Hub


def site_info(site: SiteFile) -> dict[str, object]:
    """What a client needs to sign for this site, all public."""
    return {
        "name": site.name,
        "core_key": site.core_key.hex(),
        "log": site.log.encode(),
        "relay": site.relay,
    }


def web_app(site: SiteFile, market_data: bool = True) -> Starlette:
    """The app; with ``market_data``, it follows core's log and serves tickers, candles, the
    stream (``/api/v1/stream``) and entries with their proofs, else those paths are not served
    here."""

    def link() -> CoreLink:
        return CoreLink(site.core_address, site.core_key)

    api = Api(link(), link(), site_info(site))
    routes = [*api.routes(), *Pages(api).routes()]
    if not market_data:
        return application(routes, refusal=refuse_route)
    mirror = LogMirror(site)
    hub = Hub(mirror, PrivateStreams(site.core_key, api.ask, api.clock_ms))
    follower = LogFollower(site, mirror, hub.advanced)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        follower.start(asyncio.get_running_loop())
        yield
        follower.stop()

    followed = [*hub.routes(), *Proofs(mirror).routes()]
    return application([*routes, *followed], lifespan=lifespan, refusal=refuse_route)


def main(config_path: Path) -> None:
    config = load_config(config_path)
    serve(web_app(config.site, config.market_data), config.listen)


__all__ = [
    "CONFIG_FILE",
    "ConfigError",
    "WebConfig",
    "load_config",
    "main",
    "openapi",
    "render_config",
    "site_info",
    "web_app",
]
