"""A client process for the crash drill: places orders until killed, recording every receipt.

Each order has a client order id ``NAME-N``. A receipt is appended to the output file (and flushed)
the moment it arrives. When the core dies, the loader reconnects and re-sends every order it holds
no receipt for, under the same client id: the core either applies it now or refuses it as a
duplicate because it was applied (and journaled) before the crash.

Usage: python -m tests.core.crash_loader SITE KEY_NAME OUTPUT SEED
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from stockade.client import Client
from stockade.exchange import Side, TimeInForce, Trade
from stockade.site import BTC_USD
from stockade.wire import PlaceOrderRequest, Receipt, Request

WINDOW = 16  # requests in flight per connection
PRICE = 60_000 * 10**6


def order(rng: random.Random, cid: str) -> PlaceOrderRequest:
    side = Side.BUY if rng.random() < 0.5 else Side.SELL
    tif = TimeInForce.IOC if rng.random() < 0.3 else TimeInForce.GTC
    offset = rng.randint(-5, 20) * BTC_USD.tick * (-1 if side is Side.BUY else 1)
    return PlaceOrderRequest(
        BTC_USD.code, side, tif, rng.randint(1, 20) * BTC_USD.lot, PRICE + offset, cid
    )


def run(site: Path, name: str, output: Path, seed: int) -> None:
    rng = random.Random(seed)
    unacked: dict[str, Request] = {}
    counter = 0
    with output.open("a") as out:
        while True:
            try:
                client = Client.from_site(site, site / "clients" / f"{name}.key", timeout=5)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                pending = list(unacked.items())  # retries first, same client ids
                while True:
                    while len(pending) < WINDOW:
                        counter += 1
                        cid = f"{name}-{counter}"
                        unacked[cid] = order(rng, cid)
                        pending.append((cid, unacked[cid]))
                    batch, pending = pending[:WINDOW], pending[WINDOW:]
                    client.channel.send_many([req for _, req in batch])
                    for cid, _ in batch:
                        reply = client.channel.receive()
                        trades = []
                        if isinstance(reply.body, Receipt):
                            trades = [e.trade_id for e in reply.body.events if isinstance(e, Trade)]
                            out.write(
                                f"ack {cid} {reply.body.seq} {reply.body.order_id} "
                                f"{','.join(map(str, trades))} .\n"
                            )
                        elif reply.error is not None:
                            out.write(f"refused {cid} {reply.error.name}\n")
                        out.flush()
                        del unacked[cid]
                    time.sleep(0.002)
            except (OSError, ConnectionError):
                client.close()
                time.sleep(0.05)


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
