"""A live site for the relay tests: core, witness and relay under ``stockade up`` on loopback,
with listed markets and three funded users; and a hostile proxy to put in front of the relay."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stockade.client import Client, MarketWatcher, OperatorClient, SiteFile, read_site_file
from stockade.keys import read_public
from stockade.site import SiteLayout, wait_until_listening
from stockade.site._demo import setup_listing
from tests.processes import http_get, new_site, wait_for

USERS = ("alice", "bob", "carol")


@dataclass
class LiveSite:
    layout: SiteLayout
    site: SiteFile
    process: subprocess.Popen[bytes]

    @property
    def relay(self) -> str:
        assert self.site.relay is not None
        return self.site.relay

    def client(self, name: str) -> Client:
        return Client.from_site(self.layout.root, self.layout.client_key(name), timeout=10)

    def operator(self) -> OperatorClient:
        return OperatorClient.from_site(self.layout.root, self.layout.operator_key("operator"))

    def relay_caught_up(self, size: int) -> None:
        """Wait until the relay serves a cosigned checkpoint of at least ``size`` entries."""

        def served() -> bool:
            status, body = http_get(self.relay, "/checkpoint")
            lines = body.decode().split("\n")
            return status == 200 and int(lines[1]) >= size and body.count("\u2014".encode()) >= 2

        wait_for(served, 30, f"the relay to serve size {size}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    layout = new_site(tmp_path_factory.mktemp("live") / "site", clients=USERS)
    with (layout.root / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stockade", "up", str(layout.root)], stdout=log, stderr=log
        )
    running = LiveSite(layout, read_site_file(layout.site_file), process)
    try:
        assert wait_until_listening(running.site.core_address, 60)
        with running.operator() as op:
            setup_listing(op)
            for name in USERS:
                account = op.create_account(name)
                op.register_key(account, read_public(layout.clients / f"{name}.pub")[1], name)
                op.credit(account, "BTC", 100 * 10**8, f"seed-{name}-btc")
                op.credit(account, "USD", 10**7 * 10**6, f"seed-{name}-usd")
        yield running
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)


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


def stockade(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "stockade", *args]
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "250"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def site_dir(live: LiveSite) -> Path:
    return live.layout.root
