"""What a client checks of the log, by default, so that no relay or front end can make it accept
a fact the engine did not produce.

* Every receipt's log entries must be the request as this client signed it (byte for byte), or
  for an operator's private command a commitment that the receipt's salt opens over it, and the
  trades in it must name that entry as the taker's order.
* Every checkpoint must carry the log's signature (and ``need`` witness cosignatures), and be
  consistent with the last one this client accepted: a smaller tree, or a different root for a
  size it saw, is a forked or stale log and is refused.
* An entry is believed only with an inclusion proof under an accepted checkpoint. Proofs are
  computed here from tiles, which are not trusted: a forged tile makes the proof fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stockade.errors import RemoteProtocolError
from stockade.tlog import (
    AccountOpened,
    Checkpoint,
    DepositCredited,
    KeyAdded,
    KeyRemoved,
    LogEntry,
    ProofError,
    SignedRequest,
    TileHashes,
    TileId,
    TradeEntry,
    Verifier,
    check_opening,
    consistency_proof,
    decode_entry,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from stockade.wire import LogRef

FetchTile = Callable[[TileId], bytes]


class LogMismatch(RemoteProtocolError):
    """The log does not hold what the exchange told this client it holds."""

    code = 7010


class StaleCheckpoint(LogMismatch):
    """A validly signed checkpoint older than one already seen: a stale mirror or replay."""


class ForkedLog(LogMismatch):
    """Two validly signed checkpoints that cannot both be true: the log showed two histories."""


@dataclass(frozen=True, slots=True)
class Proven:
    """An entry shown to be in the log under a signed checkpoint."""

    index: int
    entry: LogEntry
    checkpoint: Checkpoint


class LogWatcher:
    """One client's view of the log: the last checkpoint it accepted, and the checks above."""

    def __init__(self, log: Verifier, witnesses: tuple[Verifier, ...] = (), need: int = 0) -> None:
        self.log = log
        self.witnesses = witnesses
        self.need = need
        self.checkpoint: Checkpoint | None = None

    def check_receipt(self, ref: LogRef | None, envelope: bytes) -> list[LogEntry]:
        """The receipt's entries, checked against the request this client sent."""
        if ref is None or not ref.leaves:
            raise LogMismatch("the receipt names no log entry", "log")
        entries = [decode_entry(leaf) for leaf in ref.leaves]
        first = entries[0]
        match first:
            case SignedRequest():
                if first.envelope != envelope:
                    raise LogMismatch("the log entry is not the request this client signed", "log")
            case AccountOpened() | KeyAdded() | KeyRemoved() | DepositCredited():
                if ref.salt is None or not check_opening(first.commitment, ref.salt, envelope):
                    raise LogMismatch("the log entry does not commit to this request", "log")
            case TradeEntry():
                raise LogMismatch("the receipt's first entry is a trade, not the request", "log")
        for trade in entries[1:]:
            if not isinstance(trade, TradeEntry) or trade.taker_leaf != ref.first:
                raise LogMismatch("the receipt holds an entry that is not a trade of it", "log")
        return entries

    def accept_checkpoint(self, note: bytes, fetch: FetchTile) -> Checkpoint:
        """Verify a signed checkpoint and its consistency with the last one accepted."""
        new = open_checkpoint(note, self.log, self.witnesses, self.need).checkpoint
        old = self.checkpoint
        if old is not None:
            if new.size < old.size:
                raise StaleCheckpoint(
                    f"stale checkpoint: size {new.size} after {old.size} was seen", "checkpoint"
                )
            tiles = TileHashes(new.size, fetch)
            try:
                proof = consistency_proof(tiles, old.size, new.size)
                verify_consistency(old.size, new.size, old.root, new.root, proof)
            except ProofError as exc:
                raise ForkedLog(f"the log forked: {exc.message}", "checkpoint") from None
        self.checkpoint = new
        return new

    def prove(self, index: int, leaf: bytes, fetch: FetchTile) -> Proven:
        """Show that ``leaf`` is entry ``index`` of the tree of the accepted checkpoint."""
        checkpoint = self.checkpoint
        if checkpoint is None or index >= checkpoint.size:
            raise LogMismatch(f"no accepted checkpoint covers entry {index} yet", "checkpoint")
        tiles = TileHashes(checkpoint.size, fetch)
        try:
            proof = inclusion_proof(tiles, index, checkpoint.size)
            verify_inclusion(index, checkpoint.size, leaf_hash(leaf), proof, checkpoint.root)
        except ProofError as exc:
            raise LogMismatch(f"entry {index} is not in the log: {exc.message}", "log") from None
        return Proven(index, decode_entry(leaf), checkpoint)
