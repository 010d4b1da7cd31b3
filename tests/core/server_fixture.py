"""A real core server on loopback, run in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stockade.client import Client, LogWatcher, OperatorClient
from stockade.core import CoreConfig, CoreServer, SqlStorage, now_ms, restore_core
from stockade.keys import Identity, write_public, write_secret
from stockade.site import DEFAULT_ASSETS, DEFAULT_MARKETS
from stockade.tlog import ED25519, Verifier
from stockade.wire import Address
from tests.conftest import TEST_ORIGIN, fixed_identity


@dataclass
class Running:
    server: CoreServer
    address: Address
    core_identity: Identity
    operator: Identity
    loop: asyncio.AbstractEventLoop

    def client(self, identity: Identity) -> Client:
        return Client(self.address, identity, self.core_identity.public, log=log_watcher())

    def operator_client(self) -> OperatorClient:
        key = self.core_identity.public
        return OperatorClient(self.address, self.operator, key, log=log_watcher())


def log_verifier() -> Verifier:
    return Verifier(TEST_ORIGIN, ED25519, fixed_identity("log").public.raw)


def log_watcher() -> LogWatcher:
    """What a client of the test core checks receipts and checkpoints against."""
    return LogWatcher(log_verifier())


def make_config(directory: Path, database: str) -> CoreConfig:
    core_identity, operator = fixed_identity("core"), fixed_identity("operator")
    directory.mkdir(parents=True, exist_ok=True)
    key, log_key = directory / "core.key", directory / "log.key"
    if not key.exists():
        write_secret(key, core_identity)
        write_secret(log_key, fixed_identity("log"))
        write_public(directory / "operator.pub", "operator", operator.public)
    return CoreConfig(
        directory=directory,
        listen=(Address("tcp", "127.0.0.1", 0),),
        database=database,
        identity=key,
        operators=(directory / "operator.pub",),
        log_key=log_key,
        log_origin=TEST_ORIGIN,
    )


@contextmanager
def running_core(config: CoreConfig, unix: Path | None = None) -> Iterator[Running]:
    storage = SqlStorage(config.database)
    core = restore_core(config, storage, now_ms() - 1)
    server = CoreServer(core, storage, now_ms)
    loop = asyncio.new_event_loop()
    addresses = [Address("tcp", "127.0.0.1", 0)] + ([Address("unix", path=unix)] if unix else [])
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            await server.start(addresses)
            ready.set()
            try:
                await server.wait()
            finally:
                await server.shutdown()

        loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    port = server.bound_ports()[0]
    try:
        yield Running(
            server,
            Address("tcp", "127.0.0.1", port),
            fixed_identity("core"),
            fixed_identity("operator"),
            loop,
        )
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(20)
        loop.close()
        storage.close()


def list_defaults(op: OperatorClient) -> None:
    for asset in DEFAULT_ASSETS:
        op.list_asset(asset)
    for market in DEFAULT_MARKETS:
        op.list_market(market)


def open_account(op: OperatorClient, user: Identity, btc: int, usd: int) -> int:
    account = op.create_account(user.name)
    op.register_key(account, user.public, user.name)
    op.credit(account, "BTC", btc, f"fund-{user.name}-btc")
    op.credit(account, "USD", usd, f"fund-{user.name}-usd")
    return account
