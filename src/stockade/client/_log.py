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

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from stockade.errors import RemoteProtocolError
from stockade.exchange import Trade
from stockade.tlog import (
    ENTRIES,
    TILE_WIDTH,
    AccountOpened,
    Checkpoint,
    CheckpointError,
    DepositCredited,
    InconsistentTrees,
    KeyAdded,
    KeyRemoved,
    LogEntry,
    ProofError,
    SignedRequest,
    TileError,
    TileHashes,
    TileId,
    TradeEntry,
    Verifier,
    check_opening,
    consistency_proof,
    decode_bundle,
    decode_entry,
    inclusion_proof,
    leaf_hash,
    open_checkpoint,
    tile_for,
    tiles_of,
    verify_consistency,
    verify_inclusion,
)
from stockade.wire import (
    AccountCreated,
    CreateAccountRequest,
    CreditRequest,
    Message,
    Receipt,
    RegisterKeyRequest,
    RevokeKeyRequest,
)

FetchTile = Callable[[TileId], bytes]
#: Witnesses cosign about every second while a relay asks them; a checkpoint whose required
#: cosignatures are all older than this is refused as stale (a relay replaying an old view).
MAX_COSIGNATURE_AGE_S = 60.0


class LogMismatch(RemoteProtocolError):
    """The log does not hold what the exchange told this client it holds."""

    code = 7010


class StaleCheckpoint(LogMismatch):
    """A validly signed checkpoint older than one already seen: a stale mirror or replay."""


class NotYetCheckpointed(LogMismatch):
    """No checkpoint covers the entry yet (they are signed about every second): ask again."""


class ForkedLog(LogMismatch):
    """Two validly signed checkpoints that cannot both be true: the log showed two histories.
    ``proof`` holds the consistency proof whose hashes lead to the later root but not the earlier
    one (empty when the two checkpoints have the same size and different roots)."""

    def __init__(self, message: str, proof: list[bytes]) -> None:
        super().__init__(message, "checkpoint")
        self.proof = proof


#: What each operator command about an account must be logged as (the rest: in the clear).
_COMMITTED: dict[type[Message], type[LogEntry]] = {
    CreateAccountRequest: AccountOpened,
    RegisterKeyRequest: KeyAdded,
    RevokeKeyRequest: KeyRemoved,
    CreditRequest: DepositCredited,
}


def log_entries(fetch: FetchTile, size: int) -> Iterator[bytes]:
    """Every entry of the tree of ``size``, from its entry bundles (the caller checks them
    against a signed root)."""
    for tile in tiles_of(size, ENTRIES):
        yield from decode_bundle(fetch(tile), tile.width)


def _check_request_entry(
    entry: LogEntry, request: Message, envelope: bytes, salt: bytes | None
) -> None:
    kind = _COMMITTED.get(type(request), SignedRequest)
    if not isinstance(entry, kind):
        raise LogMismatch(
            f"the request was logged as {type(entry).__name__}, not {kind.__name__}", "log"
        )
    if isinstance(entry, SignedRequest):
        if entry.envelope != envelope:
            raise LogMismatch("the log entry is not the request this client signed", "log")
        return
    assert not isinstance(entry, TradeEntry)
    if salt is None or not check_opening(entry.commitment, salt, envelope):
        raise LogMismatch("the log entry does not commit to this request", "log")
    if isinstance(entry, (KeyAdded, KeyRemoved)):
        assert isinstance(request, (RegisterKeyRequest, RevokeKeyRequest))  # by _COMMITTED
        if entry.public_key != request.public_key:
            raise LogMismatch("the log entry names another key than the request", "log")
    if isinstance(entry, DepositCredited):
        assert isinstance(request, CreditRequest)
        if entry.asset != request.asset:
            raise LogMismatch("the log entry names another asset than the request", "log")


@dataclass(frozen=True, slots=True)
class Proven:
    """An entry shown to be in the log under a signed checkpoint."""

    index: int
    entry: LogEntry
    checkpoint: Checkpoint


class LogWatcher:
    """One client's view of the log: the last checkpoint it accepted, and the checks above."""

    def __init__(
        self,
        log: Verifier,
        witnesses: tuple[Verifier, ...] = (),
        need: int = 0,
        max_age_s: float = MAX_COSIGNATURE_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.witnesses = witnesses
        self.need = need
        self.max_age_s = max_age_s
        self.clock = clock
        self.checkpoint: Checkpoint | None = None
        self._tiles: TileHashes | None = None

    def check_receipt(
        self, receipt: Receipt | AccountCreated, request: Message, envelope: bytes
    ) -> list[LogEntry]:
        """The receipt's entries, checked against the request this client sent: the entry the
        request must produce, at the receipt's sequence number, then exactly its trades."""
        ref = receipt.log
        if ref is None or not ref.leaves:
            raise LogMismatch("the receipt names no log entry", "log")
        entries = [decode_entry(leaf) for leaf in ref.leaves]
        if any(e.seq != receipt.seq for e in entries):
            raise LogMismatch("a log entry is not at the receipt's sequence number", "log")
        _check_request_entry(entries[0], request, envelope, ref.salt)
        trades = [e for e in entries[1:] if isinstance(e, TradeEntry)]
        if len(trades) != len(entries) - 1 or any(t.taker_leaf != ref.first for t in trades):
            raise LogMismatch("the receipt holds an entry that is not a trade of it", "log")
        if isinstance(receipt, Receipt):
            mine = [(e.trade_id, e.price, e.qty) for e in receipt.events if isinstance(e, Trade)]
            if mine != [(t.trade_id, t.price, t.qty) for t in trades]:
                raise LogMismatch("the logged trades are not the receipt's trades", "log")
        return entries

    def accept_checkpoint(self, note: bytes, fetch: FetchTile) -> Checkpoint:
        """Verify a signed checkpoint and its consistency with the last one accepted."""
        # The log's signature first: a fork the log signed is proof against it, cosigned or not
        # (a garbled witness line must not hide it).
        new, old = open_checkpoint(note, self.log).checkpoint, self.checkpoint
        if old is not None:
            if new.size < old.size:
                raise StaleCheckpoint(
                    f"stale checkpoint: size {new.size} after {old.size} was seen", "checkpoint"
                )
            tiles = TileHashes(new.size, fetch)
            proof: list[bytes] = []
            try:
                proof = consistency_proof(tiles, old.size, new.size)
                verify_consistency(old.size, new.size, old.root, new.root, proof)
            except InconsistentTrees as exc:
                raise ForkedLog(f"the log forked: {exc.message}", proof) from None
            except (ProofError, TileError) as exc:  # bad tiles, or a fork they hide: retry
                message = f"consistency with size {old.size} not shown: {exc.message}"
                raise LogMismatch(message, "checkpoint") from None
        self._check_cosigned(open_checkpoint(note, self.log, self.witnesses).cosigners)
        self.checkpoint = new
        return new

    def _check_cosigned(self, cosigners: dict[str, int]) -> None:
        """At least ``need`` witnesses cosigned, the ``need``-th most recent within the age."""
        if len(cosigners) < self.need:
            message = f"the checkpoint carries {len(cosigners)} of the {self.need} cosignatures"
            raise CheckpointError(f"{message} required", "cosignatures")
        if self.need:
            age = sorted(self.clock() - t for t in cosigners.values())[self.need - 1]
            if age > self.max_age_s:
                raise StaleCheckpoint(f"stale checkpoint: cosigned {age:.0f} s ago", "checkpoint")

    def prove_index(self, index: int, fetch: FetchTile) -> Proven:
        """Entry ``index`` as the tiles give it, proven under the accepted checkpoint."""
        checkpoint = self._covering(index)
        tile = tile_for(checkpoint.size, ENTRIES, index)
        try:
            leaf = decode_bundle(fetch(tile), tile.width)[index % TILE_WIDTH]
        except TileError as exc:
            raise LogMismatch(f"entry {index} not served: {exc.message}", "log") from None
        return self.prove(index, leaf, fetch)

    def _covering(self, index: int) -> Checkpoint:
        checkpoint = self.checkpoint
        if checkpoint is None or index >= checkpoint.size:
            message = f"no accepted checkpoint covers entry {index} yet"
            raise NotYetCheckpointed(message, "checkpoint")
        return checkpoint

    def prove(self, index: int, leaf: bytes, fetch: FetchTile) -> Proven:
        """Show that ``leaf`` is entry ``index`` of the tree of the accepted checkpoint."""
        checkpoint = self._covering(index)
        if self._tiles is None or self._tiles.size != checkpoint.size:
            self._tiles = TileHashes(checkpoint.size, fetch)  # tiles are immutable: keep them
        tiles = self._tiles
        try:
            proof = inclusion_proof(tiles, index, checkpoint.size)
            verify_inclusion(index, checkpoint.size, leaf_hash(leaf), proof, checkpoint.root)
        except (ProofError, TileError) as exc:
            self._tiles = None  # a wrong tile must not stay cached for the next proof
            raise LogMismatch(f"entry {index} is not in the log: {exc.message}", "log") from None
        return Proven(index, decode_entry(leaf), checkpoint)
