"""The core's database schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core).

``journal`` is the source of truth: every accepted command's signed envelope, by sequence number.
``snapshots`` hold the engine and registry state at a sequence number, so a restart replays only
the journal after the latest one. The other tables are derived from the events of journaled
commands, written in the same transaction as their journal rows, and exist for queries: they are
never read to rebuild state. ``log_entries`` is the transparency log, written with the journal
rows that produced it; ``checkpoints`` are the log's signed statements, each saved before it is
served. ``logins`` is each account's log-in history: sessions opened and attempts refused.
``ledger`` is each account's statement: every change to its total of an asset (trades with
their fees, deposits, withdrawals), derived from the events like ``trades``.
Alembic migrations in ``migrations/`` create exactly this schema.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
)

metadata = MetaData()

journal = Table(
    "journal",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("envelope", LargeBinary, nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("state_hash", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),  # the core's, over seq and state_hash
    Column("state", LargeBinary, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account", BigInteger, primary_key=True, autoincrement=False),
    Column("label", String(64), nullable=False),
    Column("created_seq", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("public_key", LargeBinary, primary_key=True),
    Column("account", BigInteger, nullable=False, index=True),
    Column("label", String(64), nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("revoked_seq", BigInteger, nullable=True),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", BigInteger, nullable=False),
    Column("market", String(21), nullable=False),
    Column("side", SmallInteger, nullable=False),
    Column("tif", SmallInteger, nullable=False),
    # Prices and amounts are bounded by 2**63 - 1 (exchange.MAX_AMOUNT): they fit BIGINT.
    Column("price", BigInteger, nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("client_order_id", String(36), nullable=True),
    Column("open", Boolean, nullable=False),
    Column("close_reason", SmallInteger, nullable=True),
    Column("accepted_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Index("orders_by_client_id", "account", "client_order_id"),
    Index("orders_by_account", "account", "order_id"),
)

trades = Table(
    "trades",
    metadata,
    Column("trade_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("market", String(21), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("qty", BigInteger, nullable=False),
    Column("quote_amount", BigInteger, nullable=False),
    Column("taker_side", SmallInteger, nullable=False),
    Column("maker_order", BigInteger, nullable=False),
    Column("taker_order", BigInteger, nullable=False),
    Column("maker_account", BigInteger, nullable=False),
    Column("taker_account", BigInteger, nullable=False),
    Column("maker_fee", BigInteger, nullable=False),
    Column("taker_fee", BigInteger, nullable=False),
    Index("trades_by_maker", "maker_account", "trade_id"),
    Index("trades_by_taker", "taker_account", "trade_id"),
    Index("trades_by_market", "market", "trade_id"),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),  # the journal row whose command added it
    Column("data", LargeBinary, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", LargeBinary, nullable=False),  # the signed note, as served
)

logins = Table(
    "logins",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("account", BigInteger, nullable=False),
    Column("refused", String(16), nullable=True),  # None: a session opened
    Column("client", String(200), nullable=False),
    Column("session_key", LargeBinary, nullable=True),
    Column("method", String(8), nullable=True),  # password or passkey; None before 0005
    Index("logins_by_account", "account", "seq"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("account", BigInteger, primary_key=True, autoincrement=False),
    # seq << 20 | the line's number within its command: the statement's order and paging key
    Column("entry", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("asset", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),  # signed, fee included
    Column("fee", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("ref", String(100), nullable=False),
)

#: Bumped by each migration; checked at start so a core never runs on a schema it does not know.
SCHEMA_REVISION = "0005"
