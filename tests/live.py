"""A live site: every compartment under ``stockade up`` on loopback ports, with listed markets and
three funded users (alice, bob, carol), each with an API key."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stockade.client import Client, HttpApi, OperatorClient, SiteFile, read_site_file
from stockade.core import Budget
from stockade.keys import read_public, read_secret
from stockade.site import SiteLayout, wait_until_listening
from stockade.site._demo import setup_listing
from stockade.wire import HttpMethod, HttpRequest, parse_address, sign_http
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

    @property
    def web(self) -> str:
        assert self.site.web is not None
        return self.site.web

    @property
    def edge(self) -> str:
        assert self.site.edge is not None
        return self.site.edge

    def api(self, name: str, through_edge: bool = False) -> HttpApi:
        """A client of web itself (the web tests), or of the edge in front of it."""
        url = self.edge if through_edge else self.web
        identity = read_secret(self.layout.client_key(name))
        return HttpApi(url, identity, self.site.core_key, timeout=10, log=self.site.log_watcher())

    def operator(self) -> OperatorClient:
        return OperatorClient.from_site(self.layout.root, self.layout.operator_key("operator"))

    def relay_caught_up(self, size: int) -> None:
        """Wait until the relay serves a cosigned checkpoint of at least ``size`` entries."""

        def served() -> bool:
            status, body = http_get(self.relay, "/checkpoint")
            lines = body.decode().split("\n")
            return status == 200 and int(lines[1]) >= size and body.count("\u2014".encode()) >= 2

        wait_for(served, 30, f"the relay to serve size {size}")


@contextlib.contextmanager
def running_site(
    root: Path,
    budget: Budget | None = None,
    prepare: Callable[[SiteLayout], None] | None = None,
) -> Iterator[LiveSite]:
    """A site up (``stockade up``) with USERS funded; ``prepare`` may change its files first."""
    layout = new_site(root, clients=USERS, budget=budget)
    if prepare is not None:
        prepare(layout)
    with (layout.root / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "stockade", "up", str(layout.root)], stdout=log, stderr=log
        )
    running = LiveSite(layout, read_site_file(layout.site_file), process)
    try:
        assert wait_until_listening(running.site.core_address, 60)
        assert wait_until_listening(parse_address("tcp://" + running.web.split("//")[1]), 60)
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


def signed_raw(
    api: HttpApi, method: HttpMethod, path: str
) -> tuple[str, str, bytes, dict[str, str]]:
    """Method, target, body and headers of a signed request with no body or query, for reading
    web's raw answer."""
    request = HttpRequest(method, path, "", b"")
    nonce, ts = api._nonce(), int(time.time() * 1000)
    signature = sign_http(api.identity, api.core_key, request, nonce, ts)
    return method, path, b"", api.signature_headers(nonce, ts, signature)
