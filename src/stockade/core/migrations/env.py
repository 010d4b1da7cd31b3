"""Alembic environment: runs on the connection the core hands over (never opens its own)."""

from __future__ import annotations

from alembic import context

from stockade.core._schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
