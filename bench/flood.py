"""Legitimate signed API clients through a flood: edge, no shield, and a challenge-everything one.

Method (open loop, as wrk2 does): one fresh site runs under its supervisor (core on SQLite WAL,
an API-only web, the relay and witness, and edge in front of web). First the *capacity* is
measured: signed orders sent closed-loop through edge over 32 connections for a few seconds.
Then, for each setup (``edge``: clients go to edge; ``none``: straight to web; ``challenge``:
to a shield, run here, that answers every request without a browser cookie with an HTML
challenge, as CoinPayments' did), each kind of attack and each multiple of capacity:

- legitimate clients (one process, 16 keys, from 127.0.0.2) send signed orders at half the
  capacity, each due on a fixed schedule; a success is a 200 with core's signed reply within 1 s
  of when it was due; p50/p99 are of the successes, counted from when each was due;
- attackers (separate processes, 2 of them, each from its own addresses of 127.10.0.0/16 and
  up, at nice 19: in a real attack their CPU is their own) send at the multiple times capacity,
  pipelined on schedule whether answered or not, over 64 connections or more each (``attack_per_s``
  is what they achieved, ``attack_due_per_s`` what was due), one kind per run: ``unsigned``
  (GET /api/v1/markets), ``badsig`` (a legitimate key's id with a wrong signature),
  ``replay`` (one legitimate signed request, captured, sent again and again), ``slow``
  (connections that send a header byte every 0.5 s: the multiple times 20 of them) and
  ``pow`` (anonymous requests that solve every puzzle they are given, each waiting for its
  answer);
- ``leaked_to_web`` counts the attack requests answered by web rather than refused before it
  (edge and the shield mark their refusals with ``Stockade-Refused-By``).

With --quick: one kind (``badsig``) at 10x in each setup. Each run lasts --seconds (1 with
--quick) after a 1 s warm-up, and stops by itself; everything
is on loopback. CPU seconds of core, web, edge, the legitimate process and the attackers are read
from /proc for each run.

Usage: .venv/bin/python bench/flood.py [--quick] [--seconds S] [--multiples 1,2,5,10,20]
Prints one JSON object as its last line: levels (one per setup, kind and multiple) and
edge_min_legit_success_upto_10x, with the capacity and the parameters.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import multiprocessing
import os
import platform
import random
import tempfile
import time
from pathlib import Path

from api_orders import WARMUP_S
from api_orders import worker as legit_worker
from core_wire import UNLIMITED, cpu_seconds, free_port, fund, percentile
from stockade.client import ApiError, HttpApi, read_site_file
from stockade.keys import read_secret
from stockade.site import SiteLayout, Supervisor, init_site, site_children, wait_until_listening
from stockade.wire import (
    HEADERS,
    POW_CHALLENGE_HEADER,
    POW_HEADER,
    HttpRequest,
    parse_address,
    parse_pow_challenge,
    sign_http,
    solve_pow,
)

LEGIT = [f"legit-{i}" for i in range(16)]
KINDS = ("unsigned", "badsig", "replay", "slow", "pow")
SETUPS = ("edge", "none", "challenge")
DEADLINE_S = 1.0
ATTACKERS = 2
REFUSED_BY = b"stockade-refused-by"
_RUNS = itertools.count()


# ---------------------------------------------------------------- attackers


def _source(worker: int, connection: int) -> str:
    return f"127.{10 + worker}.{connection % 256}.{1 + connection // 256}"


def _requests(kind: str, keys: list[str], captured: bytes) -> list[bytes]:
    """What an attacker sends, made in advance so that its CPU goes to sending."""
    return [_request(kind, keys, captured) for _ in range(512 if kind == "badsig" else 1)]


def _request(kind: str, keys: list[str], captured: bytes) -> bytes:
    if kind == "badsig":
        key_h, ts_h, nonce_h, sig_h = HEADERS
        signature = base64.b64encode(os.urandom(64)).decode()
        return (
            f"GET /api/v1/balances HTTP/1.1\r\nHost: x\r\n{key_h}: {random.choice(keys)}\r\n"
            f"{ts_h}: {int(time.time() * 1000)}\r\n{nonce_h}: {os.urandom(16).hex()}\r\n"
            f"{sig_h}: {signature}\r\n\r\n"
        ).encode()
    if kind == "replay":
        return captured
    return b"GET /api/v1/markets HTTP/1.1\r\nHost: x\r\n\r\n"


async def _attack(
    url: str,
    kind: str,
    index: int,
    rate: float,
    seconds: float,
    start_at: float,
    keys: list[str],
    captured: bytes,
) -> dict[str, int]:
    address = parse_address("tcp://" + url.removeprefix("http://"))
    counts = {"sent": 0, "answered": 0, "leaked": 0}
    pool = _requests(kind, keys, captured)
    end = start_at + seconds
    # enough connections that answers taking 100 ms still leave the rate open-loop
    connections = min(1000, max(64, int(rate / 10))) if kind != "slow" else max(1, int(rate))
    interval = connections / rate if kind != "slow" else 0.5
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def one(c: int) -> None:
        due = time.time() + random.random() * interval
        while time.time() < end:
            try:
                reader, writer = await asyncio.open_connection(
                    address.host, address.port, local_addr=(_source(index, c), 0)
                )
            except OSError:
                await asyncio.sleep(0.05)
                continue
            try:
                if kind == "slow":
                    await _dribble(writer, end)
                elif kind == "pow":
                    due = await _solve(reader, writer, pool, counts, due, interval, end)
                else:
                    due = await _flood(reader, writer, pool, counts, due, interval, end)
            except (OSError, RuntimeError, asyncio.IncompleteReadError, TimeoutError):
                pass  # RuntimeError: uvloop's, for a write to a connection edge closed
            finally:
                writer.close()

    await asyncio.gather(*(one(c) for c in range(connections)))
    counts["cpu_ms"] = int(time.process_time() * 1000)
    return counts


async def _dribble(writer: asyncio.StreamWriter, end: float) -> None:
    writer.write(b"GET /api/v1/markets HTTP/1.1\r\n")
    while time.time() < end:
        writer.write(b"X")
        await writer.drain()
        await asyncio.sleep(0.5)


async def _flood(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    pool: list[bytes],
    counts: dict[str, int],
    due: float,
    interval: float,
    end: float,
) -> float:
    """Requests on schedule whether answered or not (pipelined: a flood does not wait); only
    the connection's own back-pressure slows them, once edge stops reading."""
    answers = asyncio.ensure_future(_answers(reader, counts, end))
    try:
        while time.time() < end and not answers.done():
            await asyncio.sleep(max(0.0, due - time.time()))
            due += interval
            writer.write(pool[counts["sent"] % len(pool)])
            counts["sent"] += 1
            await asyncio.wait_for(writer.drain(), max(0.01, end - time.time()))
    finally:
        answers.cancel()
    return due


async def _answers(reader: asyncio.StreamReader, counts: dict[str, int], end: float) -> None:
    while time.time() < end:
        lower = await _answer(reader)
        if lower is None:
            return
        _count(lower, counts)
        if b"connection: close" in lower:
            return


async def _answer(reader: asyncio.StreamReader) -> bytes | None:
    """The next answer's head, lower-cased, once its body is read too; None at the end."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    except (asyncio.IncompleteReadError, TimeoutError, OSError):
        return None
    lower = head.lower()
    length = int(lower.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    await asyncio.wait_for(reader.readexactly(length), 2)
    return lower


async def _solve(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    pool: list[bytes],
    counts: dict[str, int],
    due: float,
    interval: float,
    end: float,
) -> float:
    """A solver reads each answer, for the puzzle it may carry, before its next request."""
    solution = ""
    while time.time() < end:
        await asyncio.sleep(max(0.0, due - time.time()))
        due += interval
        request = pool[0]
        if solution:
            request = request.replace(b"\r\n\r\n", f"\r\n{POW_HEADER}: {solution}\r\n\r\n".encode())
            solution = ""
        writer.write(request)
        counts["sent"] += 1
        lower = await _answer(reader)
        if lower is None:
            break
        _count(lower, counts)
        if POW_CHALLENGE_HEADER.encode() in lower:
            text = lower.split(POW_CHALLENGE_HEADER.encode() + b": ", 1)[1].split(b"\r\n")[0]
            solution = solve_pow(parse_pow_challenge(text.decode())).header()
        if b"connection: close" in lower:
            break
    return due


def _count(lower: bytes, counts: dict[str, int]) -> None:
    counts["answered"] += 1
    if REFUSED_BY not in lower:
        counts["leaked"] += 1


def attacker(
    url: str,
    kind: str,
    index: int,
    rate: float,
    seconds: float,
    start_at: float,
    keys: list[str],
    captured: bytes,
) -> dict[str, int]:
    import resource

    import uvloop

    # A real attack's CPU is on the attackers' machines: here they share ours, so they take
    # only what the defended processes leave (the kernel scheduler's lowest priority).
    os.nice(19)

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    return uvloop.run(_attack(url, kind, index, rate, seconds, start_at, keys, captured))


# ---------------------------------------------------------------- the challenge-everything shield


async def _shield_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    page = b"<!doctype html><title>Checking your browser</title><script>/* ... */</script>"
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            if b"content-length: " in lower:
                length = int(lower.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
            # No request carries the browser cookie the challenge would set: none is forwarded.
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/html\r\n"
                + REFUSED_BY
                + b": shield\r\n"
                + f"content-length: {len(page)}\r\n\r\n".encode()
                + page
            )
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()


def shield(port: int) -> None:
    import uvloop

    async def serve() -> None:
        server = await asyncio.start_server(_shield_connection, "127.0.0.1", port)
        await server.serve_forever()

    uvloop.run(serve())


# ---------------------------------------------------------------- the runs


def _figures(result: dict[str, object], due_count: int) -> dict[str, float]:
    latencies = [v for v in result["latencies"] if v <= DEADLINE_S * 1e6]  # type: ignore[attr-defined]
    return {
        "legit_success": round(len(latencies) / max(1, due_count), 4),
        "legit_p50_ms": round(percentile(latencies, 0.50), 2),
        "legit_p99_ms": round(percentile(latencies, 0.99), 2),
    }


def run_level(
    ctx: multiprocessing.context.SpawnContext,
    layout: SiteLayout,
    url: str,
    kind: str | None,
    multiple: float,
    capacity: float,
    seconds: float,
    pids: dict[str, int],
) -> dict[str, object]:
    info = read_site_file(layout.site_file)
    keys = [read_secret(layout.client_key(n)).public.hex() for n in LEGIT]
    captured = _captured(layout, info.core_key)
    start_at = time.time() + 1.0
    legit_rate = capacity / 2
    total_s = WARMUP_S + seconds
    cpu_before = {name: _cpu(pid) for name, pid in pids.items()}
    with ctx.Pool(1 + ATTACKERS) as pool:
        legit = pool.apply_async(
            legit_worker,
            (
                str(layout.root),
                "legit",
                legit_rate,
                total_s,
                start_at,
                16,
                url,
                "127.0.0.2",
                2.0,
                False,
                tuple(LEGIT),
                f"-{next(_RUNS)}",
            ),
        )
        attacks = []
        if kind is not None:
            per = multiple * capacity / ATTACKERS if kind != "slow" else multiple * 20 / ATTACKERS
            attacks = [
                pool.apply_async(attacker, (url, kind, i, per, total_s, start_at, keys, captured))
                for i in range(ATTACKERS)
            ]
        result = legit.get(timeout=total_s * 5 + 60)
        counts = [a.get(timeout=total_s * 5 + 60) for a in attacks]
    cpu = {name: round(_cpu(pid) - cpu_before[name], 2) for name, pid in pids.items()}
    cpu["legit"] = round(result["cpu_ms"] / 1000, 2)  # type: ignore[operator]
    cpu["attackers"] = round(sum(c["cpu_ms"] for c in counts) / 1000, 2)
    due_count = int(legit_rate * total_s) - int(legit_rate * WARMUP_S)
    return {
        **_figures(result, due_count),
        "leaked_to_web": sum(c["leaked"] for c in counts),
        "attack_sent": sum(c["sent"] for c in counts),
        # what the attackers managed, beside what they were to send (slow: connections held)
        "attack_per_s": round(sum(c["sent"] for c in counts) / total_s),
        "attack_due_per_s": round(multiple * (capacity if kind != "slow" else 20)),
        "attack_answered": sum(c["answered"] for c in counts),
        "legit_errors": result["errors"],
        "cpu_s": cpu,
    }


def _cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (edge's workers are forked from it)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(cpu_seconds(int(child)) for child in children)


def _captured(layout: SiteLayout, core_key: object) -> bytes:
    """A legitimate signed request as an eavesdropper would have captured it."""
    identity = read_secret(layout.client_key(LEGIT[0]))
    request = HttpRequest("GET", "/api/v1/balances", "", b"")
    nonce, ts = os.urandom(16), int(time.time() * 1000)
    signature = sign_http(identity, core_key, request, nonce, ts)  # type: ignore[arg-type]
    values = (identity.public.hex(), str(ts), nonce.hex(), base64.b64encode(signature).decode())
    headers = "".join(f"{k}: {v}\r\n" for k, v in zip(HEADERS, values, strict=True))
    return f"GET /api/v1/balances HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()


def capacity_of(layout: SiteLayout, url: str, seconds: float) -> float:
    """Signed orders a second through ``url`` with 32 connections kept busy."""
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 1.0
    with ctx.Pool(2) as pool:
        jobs = [
            pool.apply_async(
                legit_worker,
                (
                    str(layout.root),
                    f"capacity-{i}",
                    10_000,
                    seconds,
                    start_at,
                    16,
                    url,
                    "127.0.0.3",
                    5.0,
                    True,
                    tuple(LEGIT[i::2]),
                ),
            )
            for i in (1, 2)
        ]
        results = [job.get(timeout=seconds * 5 + 60) for job in jobs]
    done = sum(len(r["latencies"]) for r in results)  # type: ignore[arg-type]
    if not done:
        raise RuntimeError(f"no order passed while measuring capacity: {results[0]['errors']}")
    return done / (seconds - 1.0)  # api_orders counts after its first second


def _edge_knows(url: str, layout: SiteLayout) -> None:
    info = read_site_file(layout.site_file)
    for name in LEGIT:
        with HttpApi(url, read_secret(layout.client_key(name)), info.core_key) as api:
            for _ in range(200):
                try:
                    api.balances()
                    break
                except ApiError as exc:
                    if exc.name != "UnknownKey":
                        raise
                    time.sleep(0.1)


def make_site(root: Path, edge_workers: int) -> SiteLayout:
    """The site: an API-only web, edge with ``edge_workers``, budgets out of reach."""
    init_site(
        root,
        name="flood",
        clients=tuple(LEGIT),
        core_address=f"tcp://127.0.0.1:{free_port()}",
        relay_address=f"tcp://127.0.0.1:{free_port()}",
        witness_address=f"tcp://127.0.0.1:{free_port()}",
        web_address=f"tcp://127.0.0.1:{free_port()}",
        edge_address=f"tcp://127.0.0.1:{free_port()}",
        budget=UNLIMITED,
    )
    layout = SiteLayout(root)
    web_toml = layout.web / "web.toml"
    web_toml.write_text(web_toml.read_text() + "market_data = false\n")
    edge_toml = layout.edge / "edge.toml"
    edge_toml.write_text(edge_toml.read_text().replace("workers = 1", f"workers = {edge_workers}"))
    return layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--multiples", default="1,2,5,10,20")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--edge-workers", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a few levels, under 30 s in all")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    multiples = [10.0] if args.quick else [float(m) for m in args.multiples.split(",")]
    kinds = ["badsig"] if args.quick else args.kinds.split(",")
    wall = time.time()
    with tempfile.TemporaryDirectory(prefix="stockade-flood-") as tmp:
        root = Path(tmp) / "site"
        layout = make_site(root, args.edge_workers)
        supervisor = Supervisor(site_children(layout))
        supervisor.start()
        try:
            info = read_site_file(layout.site_file)
            assert info.web is not None
            assert info.edge is not None
            assert wait_until_listening(info.core_address, 60)
            for url in (info.web, info.edge):
                assert wait_until_listening(parse_address("tcp://" + url[7:]), 60)
            fund(layout, LEGIT)
            _edge_knows(info.edge, layout)
            capacity = capacity_of(layout, info.edge, 2.0 if args.quick else 4.0)
            pids = {n: p for n in ("core", "web", "edge") if (p := supervisor.pid(n)) is not None}
            shield_port = free_port()
            ctx = multiprocessing.get_context("spawn")
            shield_process = ctx.Process(target=shield, args=(shield_port,), daemon=True)
            shield_process.start()
            assert wait_until_listening(parse_address(f"tcp://127.0.0.1:{shield_port}"), 30)
            urls = {
                "edge": info.edge,
                "none": info.web,
                "challenge": f"http://127.0.0.1:{shield_port}",
            }
            levels = []
            for setup in SETUPS:
                # no attack: what legitimate clients get on a calm day (--quick: edge's only)
                quiet = [(None, 0.0)] if setup == "edge" or not args.quick else []
                if setup == "challenge":
                    runs = [*quiet, (kinds[0], multiples[0])]
                else:
                    chosen = kinds[:1] if setup == "none" and args.quick else kinds
                    runs = [*quiet, *((k, m) for k in chosen for m in multiples)]
                for kind, multiple in runs:
                    figures = run_level(
                        ctx, layout, urls[setup], kind, multiple, capacity, seconds, pids
                    )
                    levels.append({"setup": setup, "kind": kind, "multiple": multiple, **figures})
                    print(json.dumps(levels[-1]), flush=True)
            shield_process.terminate()
        finally:
            supervisor.stop()
    edge_levels = [lv for lv in levels if lv["setup"] == "edge" and lv["multiple"] <= 10]
    upto_10 = [lv["legit_success"] for lv in edge_levels]
    print(
        json.dumps(
            {
                "bench": "flood",
                "capacity_per_s": round(capacity),
                "legit_rate_per_s": round(capacity / 2),
                "edge_min_legit_success_upto_10x": min(upto_10, default=None),
                "edge_max_legit_p99_ms_upto_10x": max(
                    (lv["legit_p99_ms"] for lv in edge_levels), default=None
                ),
                "levels": levels,
                "seconds": seconds,
                "warmup_s": WARMUP_S,
                "deadline_s": DEADLINE_S,
                "attackers": ATTACKERS,
                "edge_workers": args.edge_workers,
                "quick": args.quick,
                "wall_s": round(time.time() - wall, 1),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
