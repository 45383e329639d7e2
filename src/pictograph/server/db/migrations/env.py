"""Alembic environment: migrations run online against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pictograph.server.db.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
