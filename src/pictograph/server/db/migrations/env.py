"""Alembic environment: migrations run online against the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pictograph.server.db.tables import Base


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """Leave out what the pgvector backend adds at start-up (not part of the tables' metadata),
    so autogenerate against such a database does not propose dropping it."""
    if type_ == "column" and name == "embedding" and obj.table.name == "image_embeddings":
        return False
    return not (type_ == "index" and (name or "").startswith("ix_image_embeddings_hnsw_"))


config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
