"""The initial core schema: journal, snapshots, accounts, API keys, orders, trades.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger
    op.create_table(
        "journal",
        sa.Column("seq", big, primary_key=True, autoincrement=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "snapshots",
        sa.Column("seq", big, primary_key=True, autoincrement=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("state_hash", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "accounts",
        sa.Column("account", big, primary_key=True, autoincrement=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_seq", big, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("public_key", sa.LargeBinary, primary_key=True),
        sa.Column("account", big, nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("created_seq", big, nullable=False),
        sa.Column("revoked_seq", big, nullable=True),
    )
    op.create_index("ix_api_keys_account", "api_keys", ["account"])
    op.create_table(
        "orders",
        sa.Column("order_id", big, primary_key=True, autoincrement=False),
        sa.Column("account", big, nullable=False),
        sa.Column("market", sa.String(21), nullable=False),
        sa.Column("side", sa.SmallInteger, nullable=False),
        sa.Column("tif", sa.SmallInteger, nullable=False),
        sa.Column("price", big, nullable=False),
        sa.Column("qty", big, nullable=False),
        sa.Column("remaining", big, nullable=False),
        sa.Column("client_order_id", sa.String(36), nullable=True),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("close_reason", sa.SmallInteger, nullable=True),
        sa.Column("accepted_seq", big, nullable=False),
        sa.Column("updated_seq", big, nullable=False),
    )
    op.create_index("orders_by_client_id", "orders", ["account", "client_order_id"])
    op.create_index("orders_by_account", "orders", ["account", "order_id"])
    op.create_table(
        "trades",
        sa.Column("trade_id", big, primary_key=True, autoincrement=False),
        sa.Column("seq", big, nullable=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("market", sa.String(21), nullable=False),
        sa.Column("price", big, nullable=False),
        sa.Column("qty", big, nullable=False),
        sa.Column("quote_amount", big, nullable=False),
        sa.Column("taker_side", sa.SmallInteger, nullable=False),
        sa.Column("maker_order", big, nullable=False),
        sa.Column("taker_order", big, nullable=False),
        sa.Column("maker_account", big, nullable=False),
        sa.Column("taker_account", big, nullable=False),
        sa.Column("maker_fee", big, nullable=False),
        sa.Column("taker_fee", big, nullable=False),
    )
    op.create_index("trades_by_maker", "trades", ["maker_account", "trade_id"])
    op.create_index("trades_by_taker", "trades", ["taker_account", "trade_id"])
    op.create_index("trades_by_market", "trades", ["market", "trade_id"])


def downgrade() -> None:
    for table in ("trades", "orders", "api_keys", "accounts", "snapshots", "journal"):
        op.drop_table(table)
