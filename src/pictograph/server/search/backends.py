"""Choosing the vector backend from ``PICTOGRAPH_VECTOR_BACKEND`` (``settings.vector_backend``)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError

from pictograph.server.db.engine import Database
from pictograph.server.search.hnsw_index import HnswIndex
from pictograph.server.search.pgvector_index import PgvectorIndex, create_extension
from pictograph.server.search.vectors import VectorIndex
from pictograph.server.settings import Settings

logger = logging.getLogger("pictograph.search")


def make_index(settings: Settings, db: Database) -> VectorIndex:
    """The configured backend; ``auto`` takes pgvector when the database is PostgreSQL and the
    ``vector`` extension exists or can be created, else the embedded HNSW files. The caller
    still runs ``prepare()`` once at start-up."""
    choice = settings.vector_backend
    if choice == "hnsw":
        return HnswIndex(settings.data_dir / "vectors")
    if choice == "pgvector":
        problem = _pgvector_problem(db)
        if problem is not None:
            raise RuntimeError(f"PICTOGRAPH_VECTOR_BACKEND=pgvector, but {problem}")
        return PgvectorIndex()
    if choice == "auto":
        problem = _pgvector_problem(db)
        if problem is None:
            logger.info("vector index: pgvector (PostgreSQL with the vector extension)")
            return PgvectorIndex()
        logger.info("vector index: hnsw files under the data directory (%s)", problem)
        return HnswIndex(settings.data_dir / "vectors")
    raise ValueError(f"PICTOGRAPH_VECTOR_BACKEND must be auto, hnsw or pgvector, not {choice!r}")


def _pgvector_problem(db: Database) -> str | None:
    """Why pgvector cannot serve this database, or None when it can."""
    if db.engine.dialect.name != "postgresql":
        return f"the database is {db.engine.dialect.name}, not PostgreSQL"
    try:
        with db.session() as session:
            create_extension(session)
    except DBAPIError as error:
        return f"the vector extension cannot be created: {error.orig}"
    return None
