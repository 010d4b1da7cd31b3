"""A mirror of the log: its entries, its tree, the checkpoint served and the market feed derived
from the entries. No I/O: its owner pulls checkpoints and entry bundles and feeds them in. The
relay serves it (with witnesses' cosignatures); web streams its market data.

A mirror checks what it takes: a checkpoint must carry the log's signature, and the entries pulled
must hash to that checkpoint's root, or it keeps its last good state. A mirror that skipped these
checks could still not fool a client (clients check the same things); it would only pass on what
they refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stockade.audit import (
    INTERVALS,
    MAX_CANDLES,
    BookView,
    Candle,
    MarketEvent,
    MarketFeed,
    Ticker,
    TradeEvent,
)
from stockade.client._log import FetchTile
from stockade.client._sitefile import SiteFile
from stockade.tlog import (
    ENTRIES,
    TILE_WIDTH,
    Checkpoint,
    CheckpointError,
    Note,
    NoteError,
    SignedCheckpoint,
    TileError,
    TileId,
    Tree,
    Verifier,
    check_tile_within,
    decode_bundle,
    open_checkpoint,
    tile_bytes,
)


class MirrorRefused(Exception):
    """What the log's server sent does not check out; the relay keeps its last good state."""


def newer_checkpoint(
    signed: bytes, log: Verifier, current: Checkpoint | None
) -> SignedCheckpoint | None:
    """``signed``, opened with the log's key if it is newer than ``current``; None if it is
    ``current``; ``MirrorRefused`` if it is not the log's, is older, or forks from it."""
    try:
        opened = open_checkpoint(signed, log)
    except (CheckpointError, NoteError) as exc:
        raise MirrorRefused(f"checkpoint refused: {exc.message}") from None
    checkpoint = opened.checkpoint
    if current is not None and checkpoint.size <= current.size:
        if checkpoint.size < current.size:
            raise MirrorRefused("the log's server went back to an older checkpoint")
        if checkpoint.root != current.root:
            raise MirrorRefused("the log signed two roots for one size")
        return None
    return opened


def pull_entries(fetch: FetchTile, have: int, size: int) -> list[bytes]:
    """The entries from index ``have`` up to ``size``, pulled as entry bundles (a partial
    bundle already read is pulled again whole and its known entries skipped)."""
    new: list[bytes] = []
    for index in range(have // TILE_WIDTH, (size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        try:
            bundle = decode_bundle(fetch(TileId(ENTRIES, index, width)), width)
        except TileError as exc:
            raise MirrorRefused(f"entry bundle {index} refused: {exc.message}") from None
        skip = max(0, have - index * TILE_WIDTH)
        new.extend(bundle[skip:])
    return new


@dataclass(frozen=True)
class MarketView:
    """A market as of the served checkpoint: its book, ticker, how many events it has and, per
    candle width, its latest candle and the candles this checkpoint's trades changed."""

    book: BookView
    ticker: Ticker
    events: int
    latest: dict[int, Candle] = field(default_factory=dict)
    changed: dict[int, list[Candle]] = field(default_factory=dict)

    def candles(self, feed: MarketFeed, width: int, since_ms: int, limit: int) -> list[Candle]:
        """Candles as of this view: the feed's finished ones and this view's latest (the feed
        may have counted trades past this checkpoint in its newest candle)."""
        latest = self.latest.get(width)
        if latest is None:
            return []
        done = feed.candles(self.book.market, width, since_ms, MAX_CANDLES + 1)
        chosen = [c for c in done if c.open_ms < latest.open_ms]
        if latest.open_ms >= since_ms:
            chosen.append(latest)
        return chosen[:limit] if since_ms else chosen[-limit:]


@dataclass(frozen=True)
class Served:
    """What a mirror serves, swapped in whole so a reader never sees half an update: the
    checkpoint (with any witnesses' cosignatures) and every market's view as of it."""

    checkpoint: Checkpoint
    note: Note  # the log's signature, then any witnesses' cosignatures
    markets: dict[str, MarketView]

    def encode(self) -> bytes:
        return self.note.encode()


class LogMirror:
    def __init__(self, site: SiteFile) -> None:
        self.log = site.log
        self.tree = Tree()
        self.entries: list[bytes] = []
        operators = {key.raw for key in site.operators.values()}
        # Signatures are for clients and auditors to check; a mirror only derives the feed.
        self.feed = MarketFeed(site.core_key, operators, check_signatures=False)
        self.served: Served | None = None
        self._last: dict[str, MarketView] = {}  # as of the last checkpoint taken

    @property
    def size(self) -> int:
        """The size of the served tree (entries pulled past it are not served yet)."""
        served = self.served
        return 0 if served is None else served.checkpoint.size

    def advance(self, signed: bytes, fetch: FetchTile) -> Served | None:
        """Take a newer checkpoint from the log's server, pulling the entries it adds. Returns
        what to serve (``publish``; a relay first has witnesses cosign it), or None if the
        checkpoint is the one served; raises ``MirrorRefused`` if it does not verify."""
        served = self.served
        opened = newer_checkpoint(signed, self.log, None if served is None else served.checkpoint)
        if opened is None:
            return None
        checkpoint = opened.checkpoint
        if checkpoint.size < self.tree.size:
            raise MirrorRefused("the log's server went back behind the entries pulled")
        new = pull_entries(fetch, len(self.entries), checkpoint.size)
        tree = self.tree
        start = tree.size
        tree.extend(new)
        if tree.root(checkpoint.size) != checkpoint.root:
            self._truncate(start)
            raise MirrorRefused("the entries served do not hash to the signed root")
        self.entries.extend(new)
        feed = self.feed
        for offset, entry in enumerate(new):
            feed.feed(start + offset, entry)
        markets = {
            code: self._view(code, len(state.events)) for code, state in feed.markets.items()
        }
        self._last = markets
        return Served(checkpoint, opened.note, markets)

    def _view(self, code: str, events: int) -> MarketView:
        feed, last = self.feed, self._last.get(code)
        before = 0 if last is None else last.events
        new = feed.events(code, before, events - before)
        trades = [e for e in new if isinstance(e, TradeEvent)]
        book, ticker = feed.book(code), feed.ticker(code)
        if not trades:
            return MarketView(book, ticker, events, {} if last is None else last.latest)
        changed = {}
        for width in INTERVALS.values():
            start = trades[0].ts - trades[0].ts % width
            newest = feed.candles(code, width)  # the latest MAX_CANDLES
            changed[width] = [c for c in newest if c.open_ms >= start]
        latest = {width: candles[-1] for width, candles in changed.items()}
        return MarketView(book, ticker, events, latest, changed)

    def publish(self, served: Served) -> None:
        """Serve ``served`` from now on (one assignment: readers see the old or the new)."""
        self.served = served

    def events(self, market: str, after: int, limit: int) -> list[MarketEvent]:
        """Events of the served view only: none past its checkpoint."""
        served = self.served
        view = None if served is None else served.markets.get(market)
        if view is None:
            return []
        return self.feed.events(market, after, max(0, min(limit, view.events - after)))

    def _truncate(self, size: int) -> None:
        """Forget leaves appended past ``size`` (entries that did not match the root)."""
        tree = Tree()
        tree.extend(self.entries[:size])
        self.tree = tree

    def tile(self, tile: TileId) -> bytes:
        """A tile of the served tree; ``TileError`` if it has no such tile."""
        check_tile_within(tile, self.size)
        return tile_bytes(self.tree, self.entries, tile)
