"""Transparency-log benchmark: appends and inclusion proofs, in-process.

Method: N log entries shaped like the exchange's (a client-signed order of about 230 bytes, then
trades of about 60) are encoded first, untimed; the garbage collector is off while appending and
frozen after setup, as in the core. Appends: ``Tree.extend`` over all of them on a
fresh tree, wall clock, --repeat runs, the median reported. Proofs: P inclusion proofs of
uniformly random leaves under the full tree's size, timed together (``proofs_per_s``); then
each is verified against the root (``verifies_per_s``). A sample of proofs is also rebuilt from
the tree's own tiles and must be identical.

``verify_1m_s`` (replaying a 1,000,000-entry site log with ``stockade verify``) is null until that
command exists.

Usage: .venv/bin/python bench/tlog.py [--leaves N] [--proofs P] [--quick]
Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import time

from stockade.tlog import (
    SignedRequest,
    TileHashes,
    TradeEntry,
    Tree,
    encode_entry,
    hash_tile,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)


def entries(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    seq = 0
    while len(out) < count:
        seq += 1
        envelope = rng.randbytes(230)  # the size of a signed PlaceOrderRequest envelope
        out.append(encode_entry(SignedRequest(seq, rng.randbytes(16), envelope)))
        for _ in range(rng.choice((0, 0, 1, 2))):
            maker = rng.randrange(len(out))
            trade = TradeEntry(seq, len(out), "BTC-USD", 6 * 10**12, 10**5, 0, maker, seq, 1, 2)
            out.append(encode_entry(trade))
    return out[:count]


def time_appends(data: list[bytes], repeat: int) -> tuple[float, Tree]:
    rates, tree = [], Tree()
    for _ in range(repeat):
        tree = Tree()
        gc.disable()
        start = time.perf_counter()
        tree.extend(data)
        elapsed = time.perf_counter() - start
        gc.enable()
        rates.append(len(data) / elapsed)
    rates.sort()
    return rates[len(rates) // 2], tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="200,000 leaves, 20,000 proofs")
    args = parser.parse_args()
    leaves, proofs = (200_000, 20_000) if args.quick else (args.leaves, args.proofs)

    data = entries(leaves, args.seed)
    appends_per_s, tree = time_appends(data, args.repeat)
    size, root = tree.size, tree.root()

    rng = random.Random(args.seed)
    indexes = [rng.randrange(size) for _ in range(proofs)]
    gc.collect()
    gc.freeze()  # as the core does with its restored state: the collector never rescans it
    start = time.perf_counter()
    made = [tree.inclusion_proof(i, size) for i in indexes]
    proofs_per_s = proofs / (time.perf_counter() - start)
    start = time.perf_counter()
    for i, proof in zip(indexes, made, strict=True):
        verify_inclusion(i, size, leaf_hash(data[i]), proof, root)
    verifies_per_s = proofs / (time.perf_counter() - start)
    tiles = TileHashes(size, lambda tile: hash_tile(tree, tile))
    for i, proof in list(zip(indexes, made, strict=True))[:200]:
        assert inclusion_proof(tiles, i, size) == proof, "tiles and memory disagree"

    print(
        json.dumps(
            {
                "bench": "tlog",
                "appends_per_s": round(appends_per_s),
                "proofs_per_s": round(proofs_per_s),
                "verifies_per_s": round(verifies_per_s),
                "verify_1m_s": None,
                "leaves": leaves,
                "proofs": proofs,
                "mean_entry_bytes": round(sum(map(len, data)) / len(data)),
                "repeat": args.repeat,
                "seed": args.seed,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
