"""A live site for the relay tests (``tests/live.py``) and a hostile proxy to put in front of the
relay."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stockade.client import MarketWatcher
from tests.live import LiveSite, running_site
from tests.processes import http_get


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with running_site(tmp_path_factory.mktemp("live") / "site") as site:
        yield site


Tamper = Callable[[str, bytes], bytes]


@dataclass
class HostileRelay:
    """An HTTP relay in front of the real one that rewrites what it serves: ``tamper(path,
    body)`` for every GET, and for market events the whole list (``events``) before paging."""

    upstream: str
    tamper: Tamper = field(default=lambda _path, body: body)
    events: Callable[[list[dict[str, object]]], list[dict[str, object]]] = field(
        default=lambda events: events
    )
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fetch(self, path: str) -> tuple[int, bytes]:
        if "/events" not in path:
            status, body = http_get(self.upstream, path)
            tampered = self.tamper(path, body)
            return (status if tampered is body else 200), tampered  # it may serve its own
        base, _, query = path.partition("?after=")
        everything: list[dict[str, object]] = []
        while True:
            status, body = http_get(self.upstream, f"{base}?after={len(everything)}")
            page = json.loads(body)
            everything += page
            if status != 200 or len(page) < 1000:
                break
        after = int(query or 0)
        return 200, json.dumps(self.events(everything)[after : after + 1000]).encode()


@pytest.fixture
def hostile(live: LiveSite) -> Iterator[HostileRelay]:
    relay = HostileRelay(live.relay)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = relay.fetch(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    relay.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=relay.server.serve_forever, daemon=True)
    thread.start()
    yield relay
    relay.server.shutdown()
    relay.server.server_close()


def follow(watcher: MarketWatcher) -> None:
    """Take every event the relay serves, each checked, until there are no more."""
    while watcher.poll():
        pass


def site_dir(live: LiveSite) -> Path:
    return live.layout.root
