"""Each account's statement: every change to its total of an asset, with the fee it paid.

Revision ID: 0004
Revises: 0003

Lines are derived from the events as they are journaled: a database migrated from 0003 has
none for what happened before (the journal still holds it all).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger
    op.create_table(
        "ledger",
        sa.Column("account", big, primary_key=True, autoincrement=False),
        sa.Column("entry", big, primary_key=True, autoincrement=False),
        sa.Column("seq", big, nullable=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("asset", sa.String(10), nullable=False),
        sa.Column("amount", big, nullable=False),
        sa.Column("fee", big, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger")
