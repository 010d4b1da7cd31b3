"""Signed API orders over HTTP through web to core, on loopback, with durable journaling.

Method (open loop, as wrk2 does): a fresh site in a temporary directory; its core (SQLite WAL,
synchronous=FULL) and its web compartment run as their own processes. Each of --clients worker
processes has its own API key and account and sends signed ``POST /api/v1/orders`` on a fixed
schedule (--rate in total) over --connections keep-alive HTTP/1.1 connections (one request in
flight per connection, as HTTP/1.1 allows), from asyncio. Each request is signed as a client
must (Ed25519 over the canonical request) just before it is sent. Latency counts from when each
order was *due* to when its response arrived, so a server that falls behind shows it as latency;
an order is counted only if the answer is 200 with core's signed reply. Orders are GTC around a
mid, one in five crossing. The first second is warm-up and not counted.

Usage: .venv/bin/python bench/api_orders.py [--rate N] [--seconds S] [--clients C] [--quick]
Prints one JSON object as its last line: orders_per_s, p50_ms, p99_ms, orders and the parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from core_wire import UNLIMITED, cpu_seconds, free_port, fund, open_loop_figures
from stockade.client import read_site_file
from stockade.keys import read_secret
from stockade.site import BTC_USD, SiteLayout, init_site, wait_until_listening
from stockade.wire import HEADERS, HttpRequest, NonceSource, parse_address, sign_http

WARMUP_S = 1.0
Process = subprocess.Popen[bytes]
MID = 60_000 * 10**6


def order_body(rng: random.Random, i: int, name: str) -> bytes:
    side = "buy" if i % 2 else "sell"
    sign = -1 if side == "buy" else 1
    offset = -rng.randint(0, 3) if i % 5 == 0 else rng.randint(1, 50)
    body = {
        "market": BTC_USD.code,
        "side": side,
        "qty": rng.randint(1, 20) * BTC_USD.lot,
        "price": MID + sign * offset * BTC_USD.tick,
        "client_order_id": f"{name}-{i}",
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def _send_all(
    site: Path,
    name: str,
    rate: float,
    seconds: float,
    start_at: float,
    connections: int,
    target: str | None = None,
    source: str | None = None,
    timeout_s: float = 60.0,
    closed_loop: bool = False,
    keys: tuple[str, ...] = (),
    tag: str = "",
) -> dict[str, object]:
    """Orders on schedule to web (or ``target``), from ``source`` if given; an answer later
    than ``timeout_s`` counts as a ``timeout`` error and its connection is made anew. With
    ``closed_loop``, each connection sends its next order as soon as it has an answer, until
    the schedule's end (to measure what a server can take). ``keys`` names the clients whose
    keys sign, one per connection in turn (default: ``name``'s); ``tag`` makes this run's
    client order ids its own."""
    layout = SiteLayout(site)
    info = read_site_file(layout.site_file)
    url = target or info.web
    assert url is not None
    web = parse_address("tcp://" + url.removeprefix("http://"))
    local = None if source is None else (source, 0)
    identities = [read_secret(layout.client_key(n)) for n in keys or (name,)]
    nonces = NonceSource(os.urandom(8))
    rng = random.Random(name)
    total = int(rate * seconds)
    due = [start_at + i / rate for i in range(total)]
    bodies = [order_body(rng, i, name + tag) for i in range(total)]
    latencies: list[int] = []
    errors: dict[str, int] = {}
    next_index = iter(range(total))
    key_h, ts_h, nonce_h, sig_h = HEADERS

    async def connection(c: int) -> None:
        identity = identities[c % len(identities)]
        key_hex = identity.public.hex()
        reader, writer = await asyncio.open_connection(web.host, web.port, local_addr=local)
        for i in next_index:
            delay = due[i] - time.time()
            if closed_loop and time.time() > due[-1]:
                break
            if delay > 0 and not closed_loop:
                await asyncio.sleep(delay)
            # open loop: latency from when the order was due; closed: from when it was sent
            since = time.time() if closed_loop else due[i]
            body = bodies[i]
            nonce, ts = nonces(), int(time.time() * 1000)
            request = HttpRequest("POST", "/api/v1/orders", "", body)
            signature = base64.b64encode(sign_http(identity, info.core_key, request, nonce, ts))
            writer.write(
                b"POST /api/v1/orders HTTP/1.1\r\nHost: web\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n{key_h}: {key_hex}\r\n{ts_h}: {ts}\r\n".encode()
                + f"{nonce_h}: {nonce.hex()}\r\n{sig_h}: ".encode()
                + signature
                + b"\r\n\r\n"
                + body
            )
            try:
                head = await asyncio.wait_for(_answer(reader), timeout_s)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                kind = "timeout" if isinstance(exc, TimeoutError) else "closed"
                errors[kind] = errors.get(kind, 0) + 1
                writer.close()
                reader, writer = await asyncio.open_connection(web.host, web.port, local_addr=local)
                continue
            now = time.time()
            status = head[9:12]
            if status == b"200" and b"stockade-signed-reply" in head:
                if since - start_at >= WARMUP_S:
                    latencies.append(int((now - since) * 1e6))
            else:
                errors[status.decode()] = errors.get(status.decode(), 0) + 1
        writer.close()

    await asyncio.gather(*(connection(c) for c in range(connections)))
    return {"latencies": latencies, "errors": errors, "cpu_ms": int(time.process_time() * 1000)}


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """The head of one answer, its body read past."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    await reader.readexactly(length)
    return head


def worker(
    site: str,
    name: str,
    rate: float,
    seconds: float,
    start_at: float,
    connections: int,
    target: str | None = None,
    source: str | None = None,
    timeout_s: float = 60.0,
    closed_loop: bool = False,
    keys: tuple[str, ...] = (),
    tag: str = "",
) -> dict[str, object]:
    import uvloop

    sender = _send_all(
        Path(site),
        name,
        rate,
        seconds,
        start_at,
        connections,
        target,
        source,
        timeout_s,
        closed_loop,
        keys,
        tag,
    )
    return uvloop.run(sender)


@contextlib.contextmanager
def core_and_web(
    names: list[str], market_data: bool = True
) -> Iterator[tuple[SiteLayout, subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """A fresh site in a temporary directory with API keys for ``names``, funded, its core and
    web running as their own processes; stopped on leaving. ``market_data=False`` runs an
    API-only web (it does not replay the log for the stream)."""
    with tempfile.TemporaryDirectory(prefix="stockade-bench-") as tmp:
        root = Path(tmp) / "site"
        init_site(
            root,
            name="bench",
            clients=tuple(names),
            core_address=f"tcp://127.0.0.1:{free_port()}",
            web_address=f"tcp://127.0.0.1:{free_port()}",
            budget=UNLIMITED,
            edge_address=None,  # web's own figures; bench/flood.py measures edge
        )
        layout = SiteLayout(root)
        if not market_data:
            config = layout.web / "web.toml"
            config.write_text(config.read_text() + "market_data = false\n")
        info = read_site_file(layout.site_file)
        assert info.web is not None
        core = start(["run-core", str(layout.core_config)], layout.core, layout.core / "core.log")
        web = start(["web", "run", str(layout.web)], layout.web, layout.web / "web.log")
        try:
            assert wait_until_listening(info.core_address, 60)
            assert wait_until_listening(parse_address("tcp://" + info.web[7:]), 60)
            fund(layout, names)
            yield layout, core, web
        finally:
            for process in (web, core):
                process.terminate()
                process.wait(60)


def start(args: list[str], directory: Path, log: Path) -> subprocess.Popen[bytes]:
    """``python -m stockade ARGS`` in ``directory``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "stockade", *args],
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=3_000, help="orders per second, in total")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32, help="per client process")
    parser.add_argument("--quick", action="store_true", help="6 seconds (under 30 s in all)")
    parser.add_argument(
        "--market-data", action="store_true", help="web also follows the log for the stream"
    )
    args = parser.parse_args()
    seconds = 6 if args.quick else args.seconds
    names = [f"bench-{i}" for i in range(args.clients)]
    with core_and_web(names, args.market_data) as (layout, core, web):
        cpu_before = (cpu_seconds(core.pid), cpu_seconds(web.pid))
        start_at = time.time() + 1.5
        ctx = multiprocessing.get_context("spawn")
        per_client = args.rate / len(names)
        with ctx.Pool(len(names)) as pool:
            jobs = [
                pool.apply_async(
                    worker, (str(layout.root), n, per_client, seconds, start_at, args.connections)
                )
                for n in names
            ]
            results = [job.get(timeout=seconds * 10 + 120) for job in jobs]
        elapsed = time.time() - start_at
        core_cpu = cpu_seconds(core.pid) - cpu_before[0]
        web_cpu = cpu_seconds(web.pid) - cpu_before[1]
    print(
        json.dumps(
            {
                "bench": "api_orders",
                **open_loop_figures(results, seconds - WARMUP_S),
                "target_rate": args.rate,
                "seconds": seconds,
                "warmup_s": WARMUP_S,
                "clients": args.clients,
                "web_market_data": args.market_data,
                "connections": args.clients * args.connections,
                "core_cpu_s": round(core_cpu, 2),
                "web_cpu_s": round(web_cpu, 2),
                "wall_s": round(elapsed, 2),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
