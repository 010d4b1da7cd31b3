"""In-process matching-engine benchmark with ledger holds.

Method: a seeded generator drives a *shadow* engine to build a realistic command list (about 50%
limit GTC, 10% IOC, 25% cancel, 15% amend, prices around a random-walk mid, cancels and amends aimed
at orders that are really open). The same list is then applied to fresh engines restored from the
same starting snapshot: --repeat times with no instrumentation for throughput (wall clock over the
loop; the median run is reported, the machine being a shared VM), then once timing every ``apply``
for the latency percentiles. Generation is not timed. Because the engine is
deterministic, the timed engines end in the shadow engine's exact state; the bench asserts that.

Usage: .venv/bin/python bench/matching.py [--ops N] [--quick] [--seed S]
Prints one JSON object as its last line: ops_per_s, p50_us, p99_us, ops and the run's parameters.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time

from stockade.exchange import (
    MAX_AMOUNT,
    AccountId,
    AmendOrder,
    Asset,
    CancelOrder,
    Command,
    Deposit,
    Engine,
    ListAsset,
    ListMarket,
    Market,
    Order,
    OrderAccepted,
    OrderClosed,
    OrderId,
    PlaceOrder,
    Side,
    TimeInForce,
    audit,
    restore,
    snapshot,
    state_hash,
)

LOT = 1_000  # 0.00001 BTC
TICK = 1_000_000  # $0.01 with USD counted to 8 decimals
MARKET = Market(
    code="BTC-USD",
    base="BTC",
    quote="USD",
    lot=LOT,
    tick=TICK,
    min_qty=LOT,
    max_qty=10**11,
    max_price=10**15,
    maker_fee_bps=10,
    taker_fee_bps=20,
)


class OpenSet:
    """Open order ids with O(1) add, remove and uniform random choice."""

    def __init__(self) -> None:
        self.ids: list[OrderId] = []
        self.pos: dict[OrderId, int] = {}

    def add(self, oid: OrderId) -> None:
        self.pos[oid] = len(self.ids)
        self.ids.append(oid)

    def discard(self, oid: OrderId) -> None:
        i = self.pos.pop(oid, None)
        if i is None:
            return
        last = self.ids.pop()
        if last != oid:
            self.ids[i] = last
            self.pos[last] = i


def setup(users: int) -> Engine:
    engine = Engine()
    cmds: list[Command] = [
        ListAsset(Asset("BTC", 8, 21_000_000 * 10**8)),
        ListAsset(Asset("USD", 8, MAX_AMOUNT)),
        ListMarket(MARKET),
    ]
    for u in range(1, users + 1):
        cmds.append(Deposit(AccountId(u), "BTC", 1_000 * 10**8, f"btc-{u}"))
        cmds.append(Deposit(AccountId(u), "USD", 10**7 * 10**8, f"usd-{u}"))
    for seq, cmd in enumerate(cmds, 1):
        result = engine.apply(cmd, seq)
        assert result.code == 0, (result.code, cmd)
    return engine


def new_order(rng: random.Random, user: AccountId, mid: int, r: float) -> PlaceOrder:
    """A GTC order near the mid (mostly resting, sometimes crossing) or an aggressive IOC."""
    side = Side.BUY if rng.random() < 0.5 else Side.SELL
    sign = -1 if side is Side.BUY else 1
    if r < 0.50:
        tif, offset = TimeInForce.GTC, rng.randint(-2, 40)
    else:
        tif, offset = TimeInForce.IOC, -rng.randint(0, 4)
    qty = rng.randint(1, 50) * LOT
    return PlaceOrder(user, MARKET.code, side, tif, qty, (mid + sign * offset) * TICK)


def change_order(rng: random.Random, order: Order, r: float) -> Command:
    """A cancel, or an amend that either reduces the quantity or moves the price."""
    if r < 0.85 or order.remaining <= LOT:
        return CancelOrder(order.user, order_id=order.id)
    if rng.random() < 0.5:
        qty = rng.randint(1, order.remaining // LOT - 1) * LOT
        return AmendOrder(order.user, order.id, qty, order.price)
    price = max(TICK, order.price + rng.choice((-2, -1, 1, 2)) * TICK)
    return AmendOrder(order.user, order.id, order.remaining, price)


def generate(base: bytes, ops: int, users: int, seed: int) -> tuple[list[Command], bytes]:
    """The command list, built by driving a shadow engine, and the shadow's final state hash."""
    rng = random.Random(seed)
    shadow = restore(base)
    seq = shadow.seq
    open_orders = OpenSet()
    mid = 60_000 * 10**8 // TICK  # in ticks
    commands: list[Command] = []
    for i in range(ops):
        if i % 64 == 0:
            mid += rng.choice((-1, 0, 1))
        r = rng.random()
        cmd: Command
        if r < 0.60 or not open_orders.ids:
            cmd = new_order(rng, AccountId(rng.randint(1, users)), mid, r)
        else:
            oid = open_orders.ids[rng.randrange(len(open_orders.ids))]
            cmd = change_order(rng, shadow.orders[oid], r)
        seq += 1
        result = shadow.apply(cmd, seq)
        assert result.code == 0, (result.code, cmd)
        for event in result.events:
            if isinstance(event, OrderAccepted):
                open_orders.add(event.order_id)
            elif isinstance(event, OrderClosed):
                open_orders.discard(event.order_id)
        commands.append(cmd)
    return commands, state_hash(shadow)


def run_plain(base: bytes, commands: list[Command]) -> tuple[float, Engine]:
    engine = restore(base)
    apply, seq = engine.apply, engine.seq
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    for cmd in commands:
        seq += 1
        apply(cmd, seq)
    elapsed = time.perf_counter() - start
    gc.enable()
    return elapsed, engine


def run_timed(base: bytes, commands: list[Command]) -> tuple[list[int], Engine]:
    engine = restore(base)
    apply, seq, clock = engine.apply, engine.seq, time.perf_counter_ns
    samples = [0] * len(commands)
    gc.collect()
    gc.disable()
    for i, cmd in enumerate(commands):
        seq += 1
        t0 = clock()
        apply(cmd, seq)
        samples[i] = clock() - t0
    gc.enable()
    return samples, engine


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the median is reported")
    parser.add_argument("--quick", action="store_true", help="100,000 ops (under 30 s)")
    args = parser.parse_args()
    ops = 100_000 if args.quick else args.ops

    base = snapshot(setup(args.users))
    t0 = time.perf_counter()
    commands, expected = generate(base, ops, args.users, args.seed)
    generation_s = time.perf_counter() - t0
    runs = []
    for _ in range(args.repeat):
        elapsed, engine = run_plain(base, commands)
        assert state_hash(engine) == expected, "replay diverged from the shadow engine"
        assert not audit(engine), audit(engine)
        runs.append(ops / elapsed)
    runs.sort()
    samples, engine = run_timed(base, commands)
    assert state_hash(engine) == expected
    samples.sort()
    kinds: dict[str, int] = {}
    for cmd in commands:
        name = type(cmd).__name__
        if isinstance(cmd, PlaceOrder):
            name += "." + cmd.tif.name
        kinds[name] = kinds.get(name, 0) + 1
    print(
        json.dumps(
            {
                "bench": "matching",
                "ops": ops,
                "ops_per_s": round(runs[len(runs) // 2]),  # the median run
                "ops_per_s_runs": [round(r) for r in runs],
                "p50_us": round(percentile(samples, 0.50), 2),
                "p99_us": round(percentile(samples, 0.99), 2),
                "p999_us": round(percentile(samples, 0.999), 2),
                "generation_s": round(generation_s, 1),
                "resting_orders_at_end": len(engine.orders),
                "trades": engine.next_trade_id - 1,
                "mix": kinds,
                # mypyc build (scripts/bootstrap) or the interpreted sources (STOCKADE_PURE=1)
                "compiled": str(sys.modules[Engine.__module__].__file__).endswith(".so"),
                "users": args.users,
                "seed": args.seed,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
