"""Durable storage of the core: the journal, snapshots and query tables, on SQLite or PostgreSQL.

``SqlStorage`` serves both databases from one schema (``_schema``) with parameterized statements
only. SQLite runs in WAL mode with ``synchronous=FULL``: a batch is durable when ``write_batch``
returns. One ``SqlStorage`` is used by one thread at a time (the core's writer thread), which is
what makes group commit simple: all that is applied while a batch is being written goes in the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import msgspec
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from stockade.core import _schema as t
from stockade.core._rows import Applied, Row, rows_for
from stockade.exchange import AccountId, CloseReason, OrderId, Side, TimeInForce
from stockade.wire import LedgerRow, LogInRow

MIGRATIONS = Path(__file__).parent.joinpath("migrations")
#: Journal rows fetched per round trip when replaying: large enough to amortize the query,
#: small enough to bound memory while restoring a long journal.
REPLAY_PAGE = 10_000


class JournalRecord(msgspec.Struct, frozen=True):
    seq: int
    ts: int
    envelope: bytes


class Snapshot(msgspec.Struct, frozen=True):
    seq: int
    ts: int
    state_hash: bytes
    state: bytes
    signature: bytes


class SavedCheckpoint(msgspec.Struct, frozen=True):
    """A checkpoint the log signed: saved before it is served, never contradicted after."""

    size: int
    ts: int
    root: bytes
    note: bytes


class StoredOrder(msgspec.Struct, frozen=True):
    order_id: OrderId
    account: AccountId
    market: str
    side: Side
    tif: TimeInForce
    price: int
    qty: int
    remaining: int
    client_order_id: str | None
    open: bool
    close_reason: CloseReason | None
    accepted_seq: int
    updated_seq: int


class StoredTrade(msgspec.Struct, frozen=True):
    trade_id: int
    seq: int
    ts: int
    market: str
    price: int
    qty: int
    quote_amount: int
    taker_side: Side
    maker_order: OrderId
    taker_order: OrderId
    maker_account: AccountId
    taker_account: AccountId
    maker_fee: int
    taker_fee: int


class Storage(Protocol):
    def write_batch(self, batch: list[Applied]) -> None:
        """Write journal rows and their derived rows in one transaction; durable on return."""

    def save_snapshot(self, snapshot: Snapshot) -> None: ...

    def latest_snapshot(self) -> Snapshot | None: ...

    def log_entries(self, start: int, end: int) -> Iterator[bytes]:
        """The log's entries ``start`` to ``end - 1``, in order."""

    def log_size(self) -> int: ...

    def save_checkpoint(self, checkpoint: SavedCheckpoint) -> None: ...

    def latest_checkpoint(self) -> SavedCheckpoint | None: ...

    def journal_after(self, seq: int) -> Iterator[JournalRecord]:
        """Journal records with a sequence number above ``seq``, in order."""

    def last_seq(self) -> int: ...

    def find_order(
        self, account: AccountId, order_id: int | None, client_order_id: str | None
    ) -> StoredOrder | None:
        """An account's order by id, or its most recent order with that client id."""

    def trades_of(
        self,
        account: AccountId | None,
        market: str | None,
        after_trade_id: int,
        limit: int,
        latest: bool = False,
    ) -> list[StoredTrade]:
        """Trades oldest first: an account's (None: everyone's) after ``after_trade_id``, the
        first ``limit`` of them, or with ``latest`` the last ``limit``."""
        ...

    def logins_of(self, account: AccountId, limit: int) -> list[LogInRow]:
        """An account's latest ``limit`` log-ins and refused attempts, newest first."""
        ...

    def ledger_of(
        self, account: AccountId, asset: str | None, after: int, limit: int, latest: bool = False
    ) -> list[LedgerRow]:
        """An account's statement lines (of ``asset``, or all) after entry ``after``, oldest
        first: the first ``limit`` of them, or with ``latest`` the last ``limit``."""
        ...

    def close(self) -> None: ...


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_db_engine(url: str) -> Engine:
    if _is_sqlite(url):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False}, poolclass=sa.pool.StaticPool
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_size=1, max_overflow=0)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]  # a DB-API connection
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # fsync at each commit: durable against power loss
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (``head``: the one ``_schema`` describes)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


class _Statements:
    """The batch writes as plain parameterized SQL for the driver, built from ``_schema``.

    Group commit writes thousands of rows a second; driver-level ``executemany`` skips the
    per-row work of SQLAlchemy's compiler. Only placeholders are formatted in, never values.
    """

    def __init__(self, paramstyle: str) -> None:
        mark = "?" if paramstyle == "qmark" else "%s"
        self.journal = self._insert("journal", [c.name for c in t.journal.columns], mark)
        self.log = self._insert("log_entries", [c.name for c in t.log_entries.columns], mark)
        self.orders = self._insert("orders", [c.name for c in t.orders.columns], mark)
        self.trades = self._insert("trades", [c.name for c in t.trades.columns], mark)
        self.logins = self._insert("logins", [c.name for c in t.logins.columns], mark)
        self.ledger = self._insert("ledger", [c.name for c in t.ledger.columns], mark)
        self.amend = self._update(["price", "qty", "remaining", "updated_seq"], mark)
        self.close = self._update(["remaining", "open", "close_reason", "updated_seq"], mark)

    @staticmethod
    def _insert(table: str, columns: list[str], mark: str) -> tuple[str, list[str]]:
        marks = ", ".join([mark] * len(columns))
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", columns  # noqa: S608

    @staticmethod
    def _update(columns: list[str], mark: str) -> tuple[str, list[str]]:
        sets = ", ".join(f"{c} = {mark}" for c in columns)
        sql = f"UPDATE orders SET {sets} WHERE order_id = {mark}"  # noqa: S608
        return sql, [*columns, "b_order_id"]


def _execute_many(conn: Connection, statement: tuple[str, list[str]], rows: list[Row]) -> None:
    if rows:
        sql, columns = statement
        conn.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


_S = TypeVar("_S", StoredOrder, StoredTrade, LogInRow, LedgerRow)


def _record(row: sa.Row[tuple[object, ...]], kind: type[_S]) -> _S:
    """A result row as a typed record (non-strict: SQLite returns booleans as 0 and 1)."""
    return msgspec.convert({str(k): v for k, v in row._mapping.items()}, kind, strict=False)


class SqlStorage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        migrate(self.engine)
        self._conn: Connection = self.engine.connect()
        self._sql = _Statements(self.engine.dialect.paramstyle)
        self._conn.commit()

    def write_batch(self, batch: list[Applied]) -> None:
        rows = rows_for(batch)
        conn = self._conn
        sql = self._sql
        with conn.begin():
            _execute_many(conn, sql.journal, rows.journal)
            _execute_many(conn, sql.log, rows.log)
            _execute_many(conn, sql.orders, list(rows.order_inserts.values()))
            _execute_many(conn, sql.trades, rows.trades)
            _execute_many(conn, sql.logins, rows.logins)
            _execute_many(conn, sql.ledger, rows.ledger)
            if rows.accounts:
                conn.execute(t.accounts.insert(), rows.accounts)
            for key in rows.keys:
                self._upsert_key(conn, key)
            _execute_many(conn, sql.amend, rows.order_amends)
            _execute_many(conn, sql.close, rows.order_closes)

    @staticmethod
    def _upsert_key(conn: Connection, key: Row) -> None:
        exists = conn.execute(
            sa.select(t.api_keys.c.public_key).where(t.api_keys.c.public_key == key["public_key"])
        ).first()
        if exists is None:
            conn.execute(t.api_keys.insert(), key)
        else:
            conn.execute(
                t.api_keys.update()
                .where(t.api_keys.c.public_key == key["public_key"])
                .values(revoked_seq=key["revoked_seq"])
            )

    def save_snapshot(self, snapshot: Snapshot) -> None:
        with self._conn.begin():
            self._conn.execute(t.snapshots.insert(), msgspec.structs.asdict(snapshot))

    def latest_snapshot(self) -> Snapshot | None:
        with self._conn.begin():
            row = self._conn.execute(
                sa.select(t.snapshots).order_by(t.snapshots.c.seq.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return Snapshot(row.seq, row.ts, row.state_hash, row.state, row.signature)

    def log_entries(self, start: int, end: int) -> Iterator[bytes]:
        c = t.log_entries.c
        while start < end:
            with self._conn.begin():
                page = self._conn.execute(
                    sa.select(c.idx, c.data)
                    .where(c.idx >= start, c.idx < min(end, start + REPLAY_PAGE))
                    .order_by(c.idx)
                ).all()
            for row in page:
                if row.idx != start:
                    raise LookupError(f"log entry {start} is missing")
                yield bytes(row.data)
                start += 1
            if not page:
                raise LookupError(f"log entry {start} is missing")

    def log_size(self) -> int:
        with self._conn.begin():
            value = self._conn.execute(sa.select(sa.func.max(t.log_entries.c.idx))).scalar()
        return 0 if value is None else int(value) + 1

    def save_checkpoint(self, checkpoint: SavedCheckpoint) -> None:
        with self._conn.begin():
            self._conn.execute(t.checkpoints.insert(), msgspec.structs.asdict(checkpoint))

    def latest_checkpoint(self) -> SavedCheckpoint | None:
        with self._conn.begin():
            row = self._conn.execute(
                sa.select(t.checkpoints).order_by(t.checkpoints.c.size.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return SavedCheckpoint(row.size, row.ts, bytes(row.root), bytes(row.note))

    def journal_after(self, seq: int) -> Iterator[JournalRecord]:
        while True:
            with self._conn.begin():
                page = self._conn.execute(
                    sa.select(t.journal)
                    .where(t.journal.c.seq > seq)
                    .order_by(t.journal.c.seq)
                    .limit(REPLAY_PAGE)
                ).all()
            for row in page:
                yield JournalRecord(row.seq, row.ts, bytes(row.envelope))
            if len(page) < REPLAY_PAGE:
                return
            seq = page[-1].seq

    def last_seq(self) -> int:
        with self._conn.begin():
            value = self._conn.execute(sa.select(sa.func.max(t.journal.c.seq))).scalar()
        return int(value or 0)

    def find_order(
        self, account: AccountId, order_id: int | None, client_order_id: str | None
    ) -> StoredOrder | None:
        o = t.orders.c
        query = sa.select(t.orders).where(o.account == account)
        if order_id is not None:
            query = query.where(o.order_id == order_id)
        else:
            query = query.where(o.client_order_id == client_order_id)
        with self._conn.begin():
            row = self._conn.execute(query.order_by(o.order_id.desc()).limit(1)).first()
        return None if row is None else _record(row, StoredOrder)

    def trades_of(
        self,
        account: AccountId | None,
        market: str | None,
        after_trade_id: int,
        limit: int,
        latest: bool = False,
    ) -> list[StoredTrade]:
        c = t.trades.c
        query = sa.select(t.trades).where(c.trade_id > after_trade_id)
        if account is not None:
            query = query.where(sa.or_(c.maker_account == account, c.taker_account == account))
        if market is not None:
            query = query.where(c.market == market)
        order = c.trade_id.desc() if latest else c.trade_id
        with self._conn.begin():
            rows = self._conn.execute(query.order_by(order).limit(limit)).all()
        found = [_record(r, StoredTrade) for r in rows]
        return found[::-1] if latest else found

    def logins_of(self, account: AccountId, limit: int) -> list[LogInRow]:
        c = t.logins.c
        query = (
            sa.select(*(c[name] for name in LogInRow.__struct_fields__))
            .where(c.account == account)
            .order_by(c.seq.desc())
            .limit(limit)
        )
        with self._conn.begin():
            rows: list[sa.Row[tuple[object, ...]]] = list(self._conn.execute(query).all())
        return [_record(r, LogInRow) for r in rows]

    def ledger_of(
        self, account: AccountId, asset: str | None, after: int, limit: int, latest: bool = False
    ) -> list[LedgerRow]:
        c = t.ledger.c
        query = (
            sa.select(*(c[name] for name in LedgerRow.__struct_fields__))
            .where(c.account == account, c.entry > after)
            .order_by(c.entry.desc() if latest else c.entry)
            .limit(limit)
        )
        if asset is not None:
            query = query.where(c.asset == asset)
        with self._conn.begin():
            rows: list[sa.Row[tuple[object, ...]]] = list(self._conn.execute(query).all())
        found = [_record(r, LedgerRow) for r in rows]
        return found[::-1] if latest else found

    def close(self) -> None:
        self._conn.close()
        self.engine.dispose()
