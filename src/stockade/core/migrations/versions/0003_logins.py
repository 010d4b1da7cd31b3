"""Log-in history: each session opened and each refused attempt, per account.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger
    op.create_table(
        "logins",
        sa.Column("seq", big, primary_key=True, autoincrement=False),
        sa.Column("ts", big, nullable=False),
        sa.Column("account", big, nullable=False),
        sa.Column("refused", sa.String(16), nullable=True),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("session_key", sa.LargeBinary, nullable=True),
    )
    op.create_index("logins_by_account", "logins", ["account", "seq"])


def downgrade() -> None:
    op.drop_index("logins_by_account", "logins")
    op.drop_table("logins")
