"""A generated site log: an in-process core (no storage, fixed keys) driven by traders who place
limit orders around a mid price, take with IOC orders and cancel, until the log has N entries.
Used by bench/tlog.py to time ``stockade verify``'s replay on a log shaped like a real one."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from stockade.client import SiteFile
from stockade.core import Core, CoreLog
from stockade.exchange import Side, TimeInForce
from stockade.keys import Identity
from stockade.site import BTC_USD, DEFAULT_ASSETS, DEFAULT_MARKETS
from stockade.tlog import (
    ED25519,
    TileId,
    Tree,
    Verifier,
    decode_bundle,
    encode_bundle,
    tile_bytes,
)
from stockade.wire import (
    AccountCreated,
    CancelOrderRequest,
    CreateAccountRequest,
    CreditRequest,
    ListAssetRequest,
    ListMarketRequest,
    PlaceOrderRequest,
    RegisterKeyRequest,
    Request,
    parse_address,
    seal,
)

ORIGIN = "stockade.invalid/bench/log"
TRADERS = 50
MID = 60_000 * 10**6


def identity(name: str) -> Identity:
    return Identity.from_seed(name, name.encode().ljust(32, b"\0")[:32])


@dataclass
class SiteLog:
    """The log's entries and the public keys an auditor is given, served from memory."""

    site: SiteFile
    entries: list[bytes]
    tree: Tree
    note: bytes

    def checkpoint_note(self) -> bytes:
        return self.note

    def fetch_tile(self, tile: TileId) -> bytes:
        return tile_bytes(self.tree, self.entries, tile)


class _Driver:
    def __init__(self) -> None:
        self.core_id, self.operator = identity("core"), identity("operator")
        self.log = CoreLog(ORIGIN, identity("log"))
        self.core = Core.new(self.core_id, [self.operator.public], self.log)
        self.now_ms, self.nonce = 1_800_000_000_000, 0
        self.entries: list[bytes] = []

    def send(self, sender: Identity, message: Request) -> object:
        self.nonce += 1
        self.now_ms += 1
        data = seal(
            sender, self.core_id.public, message, self.nonce.to_bytes(16, "big"), self.now_ms
        )
        outcome = self.core.receive(data, self.now_ms)
        if outcome.applied is not None:
            self.entries.extend(outcome.applied.leaves)
        return outcome.reply


def generate(size: int, seed: int = 1) -> SiteLog:
    """The site log for (size, seed), made once and cached in the temporary directory (making
    1,000,000 entries takes minutes; the cache holds only the entries, re-hashed on load)."""
    cache = Path(tempfile.gettempdir()) / f"stockade-sitelog-{size}-{seed}-v1.bin"
    if cache.exists():
        data = cache.read_bytes()
        entries = decode_bundle(data[8:], int.from_bytes(data[:8], "big"))
        log = CoreLog(ORIGIN, identity("log"))
        log.tree.extend(entries)
        return SiteLog(_site(), entries, log.tree, log.sign(log.tree.size, 0).note)
    made = _generate(size, seed)
    partial = cache.with_suffix(".tmp")
    partial.write_bytes(len(made.entries).to_bytes(8, "big") + encode_bundle(made.entries))
    partial.replace(cache)
    return made


def _site() -> SiteFile:
    return SiteFile(
        "bench",
        parse_address("tcp://127.0.0.1:1"),  # never dialled: the log is served from memory
        identity("core").public,
        {"operator": identity("operator").public},
        Verifier(ORIGIN, ED25519, identity("log").public.raw),
    )


def _generate(size: int, seed: int) -> SiteLog:
    rng, d = random.Random(seed), _Driver()
    for asset in DEFAULT_ASSETS:
        d.send(d.operator, ListAssetRequest(asset))
    for market in DEFAULT_MARKETS:
        d.send(d.operator, ListMarketRequest(market))
    traders = [identity(f"trader-{i}") for i in range(TRADERS)]
    for trader in traders:
        created = d.send(d.operator, CreateAccountRequest(trader.name))
        assert isinstance(created, AccountCreated)
        d.send(d.operator, RegisterKeyRequest(created.account, trader.public.raw, trader.name))
        for asset, amount in (("BTC", 10**6 * 10**8), ("USD", 10**11 * 10**6)):
            d.send(
                d.operator, CreditRequest(created.account, asset, amount, f"{trader.name}-{asset}")
            )
    lot, tick = BTC_USD.lot, BTC_USD.tick
    while len(d.entries) < size:
        trader, roll = rng.choice(traders), rng.random()
        side = rng.choice((Side.BUY, Side.SELL))
        away = rng.randint(1, 40) * tick * (-1 if side is Side.BUY else 1)
        if roll < 0.55:  # a resting order near the mid
            d.send(
                trader,
                PlaceOrderRequest(
                    BTC_USD.code, side, TimeInForce.GTC, rng.randint(1, 20) * lot, MID + away
                ),
            )
        elif roll < 0.8:  # a taker through the spread
            d.send(
                trader,
                PlaceOrderRequest(
                    BTC_USD.code, side, TimeInForce.IOC, rng.randint(1, 30) * lot, MID - 2 * away
                ),
            )
        else:  # cancel one of the oldest open orders
            orders = d.core.engine.orders
            if orders:
                oid = next(iter(orders))
                owner = orders[oid].user
                d.send(traders[owner - 1], CancelOrderRequest(order_id=oid))
    tree = d.log.tree  # every entry of the last command too: a cut would lose its trades
    return SiteLog(_site(), d.entries, tree, d.log.sign(tree.size, d.now_ms).note)
