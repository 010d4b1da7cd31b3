"""How each log-in logged in: with a password (and code) or a passkey.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("logins", sa.Column("method", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("logins") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("method")
