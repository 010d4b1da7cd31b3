"""``stockade verify``: an auditor's check of the whole log, trusting only the site's public keys.

1. The latest checkpoint must carry the log's signature (and the witnesses' cosignatures the site
   requires) and extend the last checkpoint this auditor kept (``state``). If it provably does
   not, the two signed checkpoints and the proof go to an equivocation file that anyone holding
   the log's key can check.
2. Every entry is fetched (entry bundles) and must hash to the checkpoint's root; if not, each
   entry that differs from the log's own leaf hashes is named.
3. The entries are replayed (``stockade.audit``): signatures, registered keys, and the trades
   and fees the matching rules give.
4. Read from a relay, the relay's market data must be exactly what the replay derives.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stockade.audit import (
    MAX_EVENTS,
    Auditor,
    Finding,
    MarketEvent,
    MarketFeed,
    Report,
    TradeEvent,
    signatures_valid,
)
from stockade.client._log import ForkedLog
from stockade.client._relay import LogSource, RelayError, RelayReader
from stockade.client._sitefile import SiteFile
from stockade.tlog import (
    ENTRIES,
    TILE_WIDTH,
    Checkpoint,
    EntryError,
    TileError,
    TileHashes,
    Tree,
    decode_bundle,
    decode_entry,
    node_hash,
    open_checkpoint,
    subtree_hash,
    tile_for,
    tiles_of,
)

#: From this many entries on, signatures are checked in worker processes (starting them costs
#: about half a second), keeping this many bundles of 256 entries in flight.
PARALLEL_FROM = 50_000
BUNDLES_AHEAD = 16
#: Findings reported per market before the rest are summed up.
MAX_MARKET_FINDINGS = 20


@dataclass
class Verified:
    checkpoint: Checkpoint | None
    report: Report = field(default_factory=Report)
    equivocation: Path | None = None  # where the proof of a fork was written


def verify_log(source: LogSource, site: SiteFile, state: Path | None) -> Verified:
    watcher = site.log_watcher()
    previous = state.read_bytes() if state is not None and state.exists() else None
    if previous is not None:
        watcher.checkpoint = open_checkpoint(previous, site.log).checkpoint
    note = source.checkpoint_note()
    try:
        checkpoint = watcher.accept_checkpoint(note, source.fetch_tile)
    except ForkedLog as exc:
        assert state is not None  # only a kept checkpoint can be contradicted
        assert previous is not None
        proof = state.with_name(f"{state.name}.equivocation")
        proof.write_bytes(_equivocation(previous, note, exc))
        return Verified(None, equivocation=proof)
    operators = {key.raw for key in site.operators.values()}
    if isinstance(source, RelayReader):  # its market data is compared with the replay's
        feed = MarketFeed(site.core_key, operators)
        report = _replay(source, feed.auditor, checkpoint)
        for market in feed.markets:
            report.findings += market_findings(source, feed, market, checkpoint.size)
    else:
        report = _replay(source, Auditor(site.core_key, operators), checkpoint)
    if state is not None:
        state.write_bytes(note)
    return Verified(checkpoint, report)


def _replay(source: LogSource, auditor: Auditor, checkpoint: Checkpoint) -> Report:
    """Hash every entry into a tree and replay it. On a large log the client signatures are
    checked ahead, bundle by bundle, in worker processes, while this one replays."""
    tree, index = Tree(), 0
    for bundle, verdicts in _bundles(source, checkpoint.size):
        tree.extend(bundle)
        for entry, verdict in zip(bundle, verdicts, strict=True):
            auditor.feed(index, entry, verdict)
            index += 1
    report = auditor.finish()
    if tree.root() != checkpoint.root:
        report.findings += _altered(source, checkpoint, tree)
    return report


def _bundles(source: LogSource, size: int) -> Iterator[tuple[list[bytes], list[bool | None]]]:
    """Each entry bundle with its signature verdicts (None: the replay checks it)."""
    tiles = tiles_of(size, ENTRIES)
    if size < PARALLEL_FROM:
        for tile in tiles:
            yield decode_bundle(source.fetch_tile(tile), tile.width), [None] * tile.width
        return
    workers = os.cpu_count() or 2  # this process mostly waits on them
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        ahead: deque[tuple[list[bytes], Future[list[bool | None]]]] = deque()
        for tile in tiles:
            bundle = decode_bundle(source.fetch_tile(tile), tile.width)
            ahead.append((bundle, pool.submit(signatures_valid, bundle)))
            if len(ahead) > BUNDLES_AHEAD:
                first, verdicts = ahead.popleft()
                yield first, verdicts.result()
        while ahead:
            first, verdicts = ahead.popleft()
            yield first, verdicts.result()


def _altered(source: LogSource, checkpoint: Checkpoint, served: Tree) -> list[Finding]:
    """The entries served do not hash to the signed root. If the leaf hashes of the level-0
    tiles do (rehashed here, not taken from higher tiles), each entry that differs from its leaf
    hash is named too."""
    size = checkpoint.size
    message = "the entries served do not hash to the signed root"
    findings = [Finding(size, "entries-differ", message)]
    leaves = _LeafTiles(TileHashes(size, source.fetch_tile))
    try:
        authentic = subtree_hash(leaves, 0, size) == checkpoint.root
    except (TileError, RelayError):
        authentic = False
    if authentic:
        message = "the entry served is not the log's: altered or forged by whoever served it"
        findings += [
            Finding(i, "entry-altered", message)
            for i in range(size)
            if leaves.stored(0, i) != served.stored(0, i)
        ]
    return findings


class _LeafTiles:
    """Hashes of a tree computed from the leaf hashes of its level-0 tiles alone."""

    def __init__(self, tiles: TileHashes) -> None:
        self.tiles = tiles

    def stored(self, level: int, index: int) -> bytes:
        if level == 0:
            return self.tiles.stored(0, index)
        left = self.stored(level - 1, 2 * index)
        return node_hash(left, self.stored(level - 1, 2 * index + 1))


def market_findings(relay: RelayReader, feed: MarketFeed, market: str, size: int) -> list[Finding]:
    """Compare the relay's events for ``market`` (up to the verified size) with the replay's."""
    mine = feed.events(market, 0, len(feed.markets[market].events))
    theirs: list[MarketEvent] = []
    while len(theirs) <= len(mine) + MAX_EVENTS:  # a relay's endless pages end here
        page = relay.events(market, len(theirs))
        theirs += page
        if len(page) < MAX_EVENTS:
            break
    theirs = [e for e in theirs if e.log_index < size]
    where = {event: position for position, event in enumerate(mine)}
    findings = []
    for position, event in enumerate(theirs):
        if position < len(mine) and mine[position] == event:
            continue
        findings.append(_market_finding(relay, size, event, where.get(event)))
    if len(theirs) < len(mine):
        missing = len(mine) - len(theirs)
        message = f"{market}: the relay left out {missing} event(s) the log gives"
        findings.append(Finding(mine[len(theirs)].log_index, "market-data-dropped", message))
    if len(findings) > MAX_MARKET_FINDINGS:
        more = len(findings) - MAX_MARKET_FINDINGS
        findings = findings[:MAX_MARKET_FINDINGS]
        findings.append(Finding(size, "market-data-differs", f"{market}: {more} more"))
    return findings


def _market_finding(
    relay: RelayReader, size: int, event: MarketEvent, position: int | None
) -> Finding:
    where = f"{event.market} event {event.seq}"
    if position is not None:
        message = f"{where} is the log's event {position + 1}, relayed out of order"
        return Finding(event.log_index, "market-data-reordered", message)
    if isinstance(event, TradeEvent):
        message = (
            f"{where}: the relay shows trade {event.trade_id} ({event.qty} at {event.price}) "
            f"that the log does not hold; entry {event.log_index} is "
            f"{_describe(relay, size, event.log_index)}"
        )
        return Finding(event.log_index, "forged-trade", message)
    return Finding(event.log_index, "market-data-forged", f"{where} is not what the log gives")


def _describe(source: LogSource, size: int, index: int) -> str:
    """What the log holds at ``index`` (read again: verify keeps no entries)."""
    try:
        tile = tile_for(size, ENTRIES, index)
        entry = decode_entry(decode_bundle(source.fetch_tile(tile), tile.width)[index % TILE_WIDTH])
    except (TileError, EntryError, RelayError) as exc:
        return f"unreadable ({exc.message})"
    return f"a {type(entry).__name__} at sequence {entry.seq}"


def _equivocation(old: bytes, new: bytes, fork: ForkedLog) -> bytes:
    """Two checkpoints signed by the log's key that cannot both be true, and the consistency
    proof (RFC 6962, base64 lines) that leads to the later root but not to the earlier one."""
    lines = [base64.b64encode(h) for h in fork.proof]
    return b"".join(
        (
            b"stockade equivocation proof: " + fork.message.encode() + b"\n\n",
            b"-- earlier checkpoint\n",
            old,
            b"\n-- later checkpoint\n",
            new,
            b"\n-- consistency proof\n",
            b"".join(line + b"\n" for line in lines),
        )
    )
