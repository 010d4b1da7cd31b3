"""Market page render time with a deep book: GET /markets/BTC-USD through web, over loopback.

Method: a fresh site in a temporary directory, core and web as their own processes; one client
rests --orders GTC orders (default 10,000, half bids, half asks, over 500 price levels a side)
through the wire protocol, pipelined. Then --requests page loads are timed one after another,
each a full GET of the market page (web asks core for the markets and the top 20 levels a side,
renders the template, sends it), from request sent to the last byte received. The first 20 loads
warm up and are not counted.

Usage: .venv/bin/python bench/pages.py [--orders N] [--requests N] [--quick]
Prints one JSON object as its last line: p95_ms, p50_ms, requests, orders and the parameters.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import time

from api_orders import core_and_web
from core_wire import percentile
from stockade.client import Client, read_site_file
from stockade.exchange import Side, TimeInForce
from stockade.site import BTC_USD, SiteLayout
from stockade.wire import PlaceOrderRequest, Receipt, parse_address

MID = 60_000 * 10**6
WARMUP = 20


def rest_orders(layout: SiteLayout, name: str, count: int) -> None:
    with Client.from_site(layout.root, layout.client_key(name), timeout=60) as client:
        channel = client.channel
        batch = 500
        for start_at in range(0, count, batch):
            requests = []
            for i in range(start_at, min(count, start_at + batch)):
                side = Side.BUY if i % 2 else Side.SELL
                level = 1 + (i // 2) % 500
                price = (
                    MID - level * BTC_USD.tick if side is Side.BUY else MID + level * BTC_USD.tick
                )
                requests.append(
                    PlaceOrderRequest(BTC_USD.code, side, TimeInForce.GTC, BTC_USD.lot, price)
                )
            channel.send_many(requests)
            for _ in requests:
                reply = channel.receive()
                assert isinstance(reply.body, Receipt), reply.error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="300 loads (under 30 s in all)")
    args = parser.parse_args()
    loads = 300 if args.quick else args.requests
    with core_and_web(["book"]) as (layout, _, _):
        info = read_site_file(layout.site_file)
        assert info.web is not None
        web_at = parse_address("tcp://" + info.web.removeprefix("http://"))
        rest_orders(layout, "book", args.orders)
        conn = http.client.HTTPConnection(web_at.host, web_at.port, timeout=30)
        samples: list[int] = []
        size = 0
        for i in range(loads + WARMUP):
            t0 = time.perf_counter_ns()
            conn.request("GET", "/markets/BTC-USD")
            answer = conn.getresponse()
            body = answer.read()
            elapsed = time.perf_counter_ns() - t0
            assert answer.status == 200, answer.status
            size = len(body)
            if i >= WARMUP:
                samples.append(elapsed // 1000)
        conn.close()
    print(
        json.dumps(
            {
                "bench": "pages",
                "page": "/markets/BTC-USD",
                "p50_ms": round(percentile(samples, 0.50), 2),
                "p95_ms": round(percentile(samples, 0.95), 2),
                "p99_ms": round(percentile(samples, 0.99), 2),
                "requests": len(samples),
                "orders": args.orders,
                "page_bytes": size,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
