"""Signed orders from client processes over loopback to a running core with durable journaling.

Method (open loop, as wrk2 does): a fresh site is initialised in a temporary directory and its core
started as its own process (SQLite in WAL mode with synchronous=FULL by default, or PostgreSQL with
--database). Each of --clients worker processes has its own API key and account and sends signed
orders on a fixed schedule (--rate in total, spread evenly), from one thread, while a second thread
reads and verifies the signed receipts. Latency is measured from when each order was *due* to when
its receipt (sent only after the journal commit) arrived, so a core that falls behind shows it as
latency instead of silently sending less. Orders are GTC around a mid with one in five crossing, so
trades happen. A warm-up second is excluded.

Usage: .venv/bin/python bench/core_wire.py [--rate N] [--seconds S] [--clients C] [--quick]
Prints one JSON object as its last line: orders_per_s, p50_ms, p99_ms, orders and the parameters.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stockade.client import Client, OperatorClient
from stockade.core import Budget, load_config
from stockade.exchange import Side, TimeInForce
from stockade.keys import read_public
from stockade.site import BTC_USD, SiteLayout, init_site, wait_until_listening
from stockade.site._demo import setup_listing
from stockade.wire import PlaceOrderRequest, Receipt

WARMUP_S = 1.0
MID = 60_000 * 10**6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def order(rng: random.Random, i: int, name: str) -> PlaceOrderRequest:
    side = Side.BUY if i % 2 else Side.SELL
    sign = -1 if side is Side.BUY else 1
    offset = -rng.randint(0, 3) if i % 5 == 0 else rng.randint(1, 50)
    price = MID + sign * offset * BTC_USD.tick
    qty = rng.randint(1, 20) * BTC_USD.lot
    return PlaceOrderRequest(BTC_USD.code, side, TimeInForce.GTC, qty, price, f"{name}-{i}")


def worker(site: str, name: str, rate: float, seconds: float, start_at: float) -> dict[str, object]:
    """Send orders on schedule; return latencies (microseconds) of receipts after the warm-up."""
    sys.setswitchinterval(0.0005)  # the sender thread must not wait 5 ms for the reader's GIL
    layout = SiteLayout(Path(site))
    client = Client.from_site(layout.root, layout.client_key(name), timeout=30)
    channel = client.channel
    rng = random.Random(name)
    total = int(rate * seconds)
    due = [start_at + i / rate for i in range(total)]
    requests = [order(rng, i, name) for i in range(total)]
    latencies: list[int] = []
    errors: dict[str, int] = {}

    def read_replies() -> None:
        for i in range(total):
            reply = channel.receive()
            now = time.time()
            if isinstance(reply.body, Receipt):
                if due[i] - start_at >= WARMUP_S:
                    latencies.append(int((now - due[i]) * 1e6))
            else:
                key = reply.error.name if reply.error else "unexpected"
                errors[key] = errors.get(key, 0) + 1

    reader = threading.Thread(target=read_replies)
    reader.start()
    for i in range(total):
        delay = due[i] - time.time()
        if delay > 0:
            time.sleep(delay)
        channel.send(requests[i])
    reader.join()
    client.close()
    return {"latencies": latencies, "errors": errors}


#: Each account's request budget in the benches: far above what they send, so that core still
#: counts every request (its cost is in the figures) but refuses none.
UNLIMITED = Budget(1_000_000, 1_000_000)


def setup_site(root: Path, clients: list[str], database: str | None) -> SiteLayout:
    init_site(
        root,
        name="bench",
        clients=tuple(clients),
        core_address=f"tcp://127.0.0.1:{free_port()}",
        database=database,
        budget=UNLIMITED,
        edge_address=None,
    )
    return SiteLayout(root)


def fund(layout: SiteLayout, clients: list[str]) -> None:
    with OperatorClient.from_site(layout.root, layout.operator_key("operator")) as op:
        setup_listing(op)
        for name in clients:
            account = op.create_account(name)
            op.register_key(account, read_public(layout.clients / f"{name}.pub")[1], name)
            op.credit(account, "BTC", 100_000 * 10**8, f"{name}-btc")
            op.credit(account, "USD", 10**15, f"{name}-usd")


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000 if ordered else 0.0


def open_loop_figures(results: list[dict[str, object]], measured_s: float) -> dict[str, object]:
    """Throughput, latency percentiles and errors summed over the workers' results."""
    latencies = [v for r in results for v in r["latencies"]]  # type: ignore[attr-defined]
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["errors"].items():  # type: ignore[attr-defined]
            errors[k] = errors.get(k, 0) + v
    return {
        "orders": len(latencies),
        "orders_per_s": round(len(latencies) / measured_s),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "p999_ms": round(percentile(latencies, 0.999), 2),
        "max_ms": round(max(latencies, default=0) / 1000, 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5_000, help="orders per second, in total")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL; default SQLite")
    parser.add_argument("--quick", action="store_true", help="6 seconds (under 30 s in all)")
    args = parser.parse_args()
    seconds = 6 if args.quick else args.seconds
    names = [f"bench-{i}" for i in range(args.clients)]
    with tempfile.TemporaryDirectory(prefix="stockade-bench-") as tmp:
        layout = setup_site(Path(tmp) / "site", names, args.database)
        log = (layout.core / "core.log").open("ab")
        core = subprocess.Popen(
            [sys.executable, "-m", "stockade", "run-core", str(layout.core_config)],
            cwd=layout.core,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_until_listening(load_config(layout.core_config).listen[0], 60)
            fund(layout, names)
            cpu_before = cpu_seconds(core.pid)
            start_at = time.time() + 1.0
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(len(names)) as pool:
                jobs = [
                    pool.apply_async(
                        worker, (str(layout.root), n, args.rate / len(names), seconds, start_at)
                    )
                    for n in names
                ]
                results = [job.get(timeout=seconds * 10 + 120) for job in jobs]
            elapsed = time.time() - start_at
            core_cpu = cpu_seconds(core.pid) - cpu_before
        finally:
            core.terminate()
            core.wait(60)
            log.close()
    print(
        json.dumps(
            {
                "bench": "core_wire",
                **open_loop_figures(results, seconds - WARMUP_S),
                "target_rate": args.rate,
                "seconds": seconds,
                "warmup_s": WARMUP_S,
                "clients": args.clients,
                "database": "postgresql" if args.database else "sqlite (WAL, synchronous=FULL)",
                "core_cpu_s": round(core_cpu, 2),
                "wall_s": round(elapsed, 2),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
