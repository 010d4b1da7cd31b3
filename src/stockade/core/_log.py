"""The core's side of the transparency log, sans I/O: which entries each applied command adds,
and signing checkpoints that never contradict an earlier one.

The log is part of the durable state: its entries are written in the same transaction as the
journal rows that produced them, and a checkpoint is signed only over entries already durable and
saved before anyone sees it, so a crash can never make the core sign a different tree of a size
it has signed before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stockade.core._results import CoreCode, core_error
from stockade.core._storage import SavedCheckpoint, Storage
from stockade.errors import LocalProtocolError
from stockade.exchange import Event, OrderAccepted, OrderAmended, OrderClosed, Trade
from stockade.keys import Identity
from stockade.tlog import (
    ED25519,
    ENTRIES,
    TILE_WIDTH,
    Checkpoint,
    LogEntry,
    SignedRequest,
    TileError,
    TileId,
    TradeEntry,
    Tree,
    Verifier,
    check_tile_within,
    commit,
    encode_bundle,
    encode_entry,
    hash_tile,
    pseudonym,
    salt_for,
    sign_text,
    trade_entry,
)
from stockade.wire import (
    CheckpointRequest,
    ErrorInfo,
    SignedCheckpointReply,
    TileReply,
    TileRequest,
)

BLINDING_LABEL = b"stockade/log/blinding/v1"


class LogForked(LocalProtocolError):
    """The core was about to sign, or restored, a tree that contradicts a checkpoint it signed."""


@dataclass(frozen=True, slots=True)
class Logged:
    """What one command added to the log: entries ``first`` onwards, and the salt of its
    commitment, if it made one (only the command's own receipt carries it)."""

    first: int
    leaves: list[bytes]
    salt: bytes | None = None


#: Builds an operator command's entry around the commitment to its signed frame.
CommittedEntry = Callable[[bytes], LogEntry]


class CoreLog:
    def __init__(self, origin: str, key: Identity, tree: Tree | None = None) -> None:
        self.verifier = Verifier(origin, ED25519, key.public.raw)
        self._key = key
        self._blinding = key.secret.derive(BLINDING_LABEL)
        self.tree = tree if tree is not None else Tree()
        #: open orders -> the entry that placed or last amended them, for the trades that name it
        self.order_leaf: dict[int, int] = {}
        self.last: SavedCheckpoint | None = None
        self._pseudonyms: dict[int, bytes] = {}

    @property
    def origin(self) -> str:
        return self.verifier.name

    def pseudonym(self, account: int) -> bytes:
        found = self._pseudonyms.get(account)
        if found is None:  # an HMAC per order would cost more than the rest of the logging
            found = self._pseudonyms[account] = pseudonym(self._blinding, account)
        return found

    # ------------------------------------------------------------------ appending

    def signed_request(
        self, seq: int, envelope: bytes, account: int | None, events: list[Event]
    ) -> Logged:
        """A request logged as its sender signed it, then the trades it made."""
        user = b"" if account is None else self.pseudonym(account)
        first = self.tree.size
        entries: list[LogEntry] = [SignedRequest(seq, user, envelope)]
        for event in events:
            if isinstance(event, (OrderAccepted, OrderAmended)):  # its latest signed terms
                self.order_leaf[event.order_id] = first
            elif isinstance(event, Trade):
                entries.append(self._trade(seq, event))
            elif isinstance(event, OrderClosed):
                self.order_leaf.pop(event.order_id, None)
        return self._append(entries)

    def _trade(self, seq: int, t: Trade) -> TradeEntry:
        leaves = self.order_leaf
        return trade_entry(seq, t, leaves[t.maker_order_id], leaves[t.taker_order_id])

    def committed(self, seq: int, envelope: bytes, make: CommittedEntry) -> Logged:
        """An operator's command about an account, logged as a commitment to its signed frame."""
        salt = salt_for(self._blinding, seq)
        logged = self._append([make(commit(salt, envelope))])
        return Logged(logged.first, logged.leaves, salt)

    def _append(self, entries: list[LogEntry]) -> Logged:
        leaves = [encode_entry(e) for e in entries]
        return Logged(self.tree.extend(leaves), leaves)

    # ------------------------------------------------------------------ checkpoints

    def sign(self, size: int, now_ms: int) -> SavedCheckpoint:
        """Sign the tree of ``size`` entries, which must extend the last checkpoint signed. The
        caller saves it durably, then makes it ``last``: only then may anyone see it."""
        root = self.tree.root(size)
        self.check_extends_last(size)
        checkpoint = Checkpoint(self.origin, size, root)
        note = sign_text(checkpoint.text(), self.origin, self._key.secret, self._key.public.raw)
        return SavedCheckpoint(size, now_ms, root, note.encode())

    def check_extends_last(self, size: int) -> None:
        """Raise ``LogForked`` unless the tree's first ``size`` entries extend the last
        checkpoint: at least as large, and holding it as its prefix."""
        last = self.last
        if last is None:
            return
        if size < last.size:
            raise LogForked(f"refusing to sign size {size} after signing size {last.size}")
        if self.tree.size < last.size or self.tree.root(last.size) != last.root:
            raise LogForked(f"the log no longer holds the tree of size {last.size} it signed")

    # ------------------------------------------------------------------ reads

    def read(
        self, req: CheckpointRequest | TileRequest
    ) -> SignedCheckpointReply | TileReply | ErrorInfo | Callable[[Storage], TileReply]:
        """The last checkpoint, or a tile of its tree (every entry it covers is durable and
        signed for): hash tiles from memory, entry bundles by a query of storage."""
        last = self.last
        if isinstance(req, CheckpointRequest):
            if last is None:
                return core_error(CoreCode.NO_CHECKPOINT, "no checkpoint signed yet")
            return SignedCheckpointReply(last.note)
        tile = TileId(req.level, req.index, req.width)
        try:
            if last is None:
                raise TileError("no checkpoint signed yet")
            check_tile_within(tile, last.size)
        except TileError as exc:
            return core_error(CoreCode.NO_SUCH_TILE, exc.message, "width")
        if req.level != ENTRIES:
            return TileReply(hash_tile(self.tree, tile))
        start, end = req.index * TILE_WIDTH, req.index * TILE_WIDTH + req.width
        return lambda storage: TileReply(encode_bundle(list(storage.log_entries(start, end))))
