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
from sqlalchemy.sql.expression import Insert

from stockade.core import _schema as t
from stockade.core._rows import Applied, Row, rows_for
from stockade.exchange import AccountId, CloseReason, OrderId, Side, TimeInForce

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

    def journal_after(self, seq: int) -> Iterator[JournalRecord]:
        """Journal records with a sequence number above ``seq``, in order."""

    def last_seq(self) -> int: ...

    def find_order(
        self, account: AccountId, order_id: int | None, client_order_id: str | None
    ) -> StoredOrder | None:
        """An account's order by id, or its most recent order with that client id."""

    def trades_of(
        self, account: AccountId, market: str | None, after_trade_id: int, limit: int
    ) -> list[StoredTrade]: ...

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


_AMEND = (
    t.orders.update()
    .where(t.orders.c.order_id == sa.bindparam("b_order_id"))
    .values(
        price=sa.bindparam("price"),
        qty=sa.bindparam("qty"),
        remaining=sa.bindparam("remaining"),
        updated_seq=sa.bindparam("updated_seq"),
    )
)
_CLOSE = (
    t.orders.update()
    .where(t.orders.c.order_id == sa.bindparam("b_order_id"))
    .values(
        remaining=sa.bindparam("remaining"),
        open=sa.bindparam("open"),
        close_reason=sa.bindparam("close_reason"),
        updated_seq=sa.bindparam("updated_seq"),
    )
)


_S = TypeVar("_S", StoredOrder, StoredTrade)


def _record(row: sa.Row[tuple[object, ...]], kind: type[_S]) -> _S:
    """A result row as a typed record (non-strict: SQLite returns booleans as 0 and 1)."""
    return msgspec.convert({str(k): v for k, v in row._mapping.items()}, kind, strict=False)


class SqlStorage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        migrate(self.engine)
        self._conn: Connection = self.engine.connect()
        self._conn.commit()

    def write_batch(self, batch: list[Applied]) -> None:
        rows = rows_for(batch)
        conn = self._conn
        with conn.begin():
            self._insert(conn, t.journal.insert(), rows.journal)
            self._insert(conn, t.orders.insert(), list(rows.order_inserts.values()))
            self._insert(conn, t.trades.insert(), rows.trades)
            self._insert(conn, t.accounts.insert(), rows.accounts)
            for key in rows.keys:
                self._upsert_key(conn, key)
            if rows.order_amends:
                conn.execute(_AMEND, rows.order_amends)
            if rows.order_closes:
                conn.execute(_CLOSE, rows.order_closes)

    @staticmethod
    def _insert(conn: Connection, statement: Insert, rows: list[Row]) -> None:
        if rows:
            conn.execute(statement, rows)

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
        return None if row is None else Snapshot(row.seq, row.ts, row.state_hash, row.state)

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
        self, account: AccountId, market: str | None, after_trade_id: int, limit: int
    ) -> list[StoredTrade]:
        c = t.trades.c
        query = sa.select(t.trades).where(
            sa.or_(c.maker_account == account, c.taker_account == account),
            c.trade_id > after_trade_id,
        )
        if market is not None:
            query = query.where(c.market == market)
        with self._conn.begin():
            rows = self._conn.execute(query.order_by(c.trade_id).limit(limit)).all()
        return [_record(r, StoredTrade) for r in rows]

    def close(self) -> None:
        self._conn.close()
        self.engine.dispose()
