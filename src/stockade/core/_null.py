"""``MemoryStorage``: the in-memory ``Storage``, for tests of callers and for throwaway cores.

It keeps the same rows as ``SqlStorage`` (built by the same ``rows_for``) in dicts, so the storage
suite holds it to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from stockade.core._rows import Applied, Row, rows_for
from stockade.core._storage import (
    JournalRecord,
    SavedCheckpoint,
    Snapshot,
    StoredOrder,
    StoredTrade,
)
from stockade.exchange import AccountId
from stockade.wire import LedgerRow, LogInRow


class MemoryStorage:
    def __init__(self) -> None:
        self.journal: dict[int, JournalRecord] = {}
        self.snapshots: dict[int, Snapshot] = {}
        self.orders: dict[object, Row] = {}
        self.trades: list[StoredTrade] = []
        self.accounts: list[Row] = []
        self.keys: dict[object, Row] = {}
        self.log: list[bytes] = []
        self.checkpoints: list[SavedCheckpoint] = []
        self.logins: list[Row] = []
        self.ledger: list[Row] = []

    def write_batch(self, batch: list[Applied]) -> None:
        rows = rows_for(batch)
        records = [msgspec.convert(r, JournalRecord) for r in rows.journal]
        if any(r.seq in self.journal for r in records):
            raise ValueError("journal sequence number already written")
        self.journal.update((r.seq, r) for r in records)
        self.orders.update((oid, dict(row)) for oid, row in rows.order_inserts.items())
        for update in rows.order_amends + rows.order_closes:
            change = dict(update)
            self.orders[change.pop("b_order_id")].update(change)
        self.trades += [msgspec.convert(t, StoredTrade) for t in rows.trades]
        self.accounts += rows.accounts
        self.keys.update((k["public_key"], k) for k in rows.keys)
        self.logins += rows.logins
        self.ledger += rows.ledger
        for row in rows.log:
            if row["idx"] != len(self.log):
                raise ValueError("log entries must be written in order, without gaps")
            self.log.append(bytes(row["data"]))  # type: ignore[arg-type]  # a bytes column

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshots[snapshot.seq] = snapshot

    def latest_snapshot(self) -> Snapshot | None:
        return self.snapshots[max(self.snapshots)] if self.snapshots else None

    def log_entries(self, start: int, end: int) -> Iterator[bytes]:
        if end > len(self.log):
            raise LookupError(f"log entry {len(self.log)} is missing")
        yield from self.log[start:end]

    def log_size(self) -> int:
        return len(self.log)

    def save_checkpoint(self, checkpoint: SavedCheckpoint) -> None:
        self.checkpoints.append(checkpoint)

    def latest_checkpoint(self) -> SavedCheckpoint | None:
        return max(self.checkpoints, key=lambda c: c.size, default=None)

    def journal_after(self, seq: int) -> Iterator[JournalRecord]:
        for s in sorted(k for k in self.journal if k > seq):
            yield self.journal[s]

    def last_seq(self) -> int:
        return max(self.journal, default=0)

    def find_order(
        self, account: AccountId, order_id: int | None, client_order_id: str | None
    ) -> StoredOrder | None:
        key, wanted = (
            ("order_id", order_id) if order_id is not None else ("client_order_id", client_order_id)
        )
        found = [
            msgspec.convert(o, StoredOrder)
            for o in self.orders.values()
            if o["account"] == account and o[key] == wanted
        ]
        return max(found, key=lambda o: o.order_id) if found else None

    def trades_of(
        self,
        account: AccountId | None,
        market: str | None,
        after_trade_id: int,
        limit: int,
        latest: bool = False,
    ) -> list[StoredTrade]:
        found = [
            t
            for t in sorted(self.trades, key=lambda t: t.trade_id)
            if t.trade_id > after_trade_id
            and account in (None, t.maker_account, t.taker_account)
            and market in (None, t.market)
        ]
        return found[-limit:] if latest else found[:limit]

    def logins_of(self, account: AccountId, limit: int) -> list[LogInRow]:
        mine = [row for row in self.logins if row["account"] == account][::-1][:limit]
        return [
            msgspec.convert({k: r[k] for k in LogInRow.__struct_fields__}, LogInRow) for r in mine
        ]

    def ledger_of(
        self, account: AccountId, asset: str | None, after: int, limit: int, latest: bool = False
    ) -> list[LedgerRow]:
        mine = sorted(
            (r for r in self.ledger if r["account"] == account and asset in (None, r["asset"])),
            key=lambda r: int(r["entry"] or 0),
        )
        fields = LedgerRow.__struct_fields__
        found = [
            msgspec.convert({k: r[k] for k in fields}, LedgerRow)
            for r in mine
            if int(r["entry"] or 0) > after
        ]
        return found[-limit:] if latest else found[:limit]

    def close(self) -> None:
        pass
