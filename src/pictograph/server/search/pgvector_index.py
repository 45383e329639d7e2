"""The PostgreSQL vector backend: pgvector's HNSW over an ``embedding`` column of the rows.

The column is added by this backend (not by a migration) and has no fixed dimension, since
models differ; each dimension gets its own partial expression index
(``(embedding::vector(d)) ... WHERE dim = d``), created when that dimension is first stored.
A query reaches that index only when it repeats the expression and the ``dim = d`` predicate.

Queries are planned by the size of their scope: a small scope (a small dataset or folder) is
scored exactly, which is fast and never misses; a large one goes through the index and is
filtered afterwards. pgvector 0.6 has no iterative index scans, so a filtered scan can come back
short; then the exact query answers instead.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

from pictograph.server.search.vectors import (
    Match,
    SimilarityQuery,
    StoredVector,
    VectorIndex,
    folder_filter,
)

EXACT_SCOPE_MAX = 5_000
"""Scopes up to this many images are scored exactly (a sequential pass over their rows)."""
EF_SEARCH_MIN = 100
"""HNSW beam width for small limits: recall@10 0.98 at 10,000 and 1.0 at 100,000 clustered
1280-d vectors, where pgvector's default of 40 gives 0.96 (``bench_search.py --sweep``)."""
EF_SEARCH_MAX = 1000
"""pgvector's upper bound for ``hnsw.ef_search``."""
SETUP_LOCK = 0x70696374_67726170
"""Advisory lock key held while creating the extension, column and indexes, so several server
processes starting at once do not race on them (``IF NOT EXISTS`` alone is not atomic)."""
BACKFILL_BATCH = 500


def create_extension(session: Session) -> None:
    """``CREATE EXTENSION vector`` unless it exists; raises when the server cannot."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK})
    session.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))


def vector_literal(vector: npt.NDArray[np.float32]) -> str:
    """pgvector's text form ``[v1,v2,...]``; nine significant digits round-trip a float32.
    (``%``-formatting in a list is about three times faster than an f-string generator, which
    matters when ``prepare()`` backfills a large table.)"""
    return "[" + ",".join(["%.9g" % value for value in np.asarray(vector).tolist()]) + "]"


def hnsw_index_name(dim: int) -> str:
    return f"ix_image_embeddings_hnsw_{int(dim)}"


class PgvectorIndex(VectorIndex):
    name = "pgvector"

    def __init__(self) -> None:
        self._indexed_dims: set[int] = set()
        self._lock = threading.Lock()

    def prepare(self, session: Session) -> None:
        """Extension, column, backfill of rows written before this backend was chosen, then
        an index for every dimension present (built after the backfill: one bulk build is
        much faster than inserting the rows into an existing graph one by one)."""
        create_extension(session)
        session.execute(
            text("ALTER TABLE image_embeddings ADD COLUMN IF NOT EXISTS embedding vector")
        )
        while True:
            rows = session.execute(
                text(
                    "SELECT image_id, vector FROM image_embeddings"
                    " WHERE embedding IS NULL LIMIT :batch"
                ),
                {"batch": BACKFILL_BATCH},
            ).all()
            if not rows:
                break
            _write_embeddings(
                session, [(image_id, np.frombuffer(raw, dtype="<f4")) for image_id, raw in rows]
            )
        session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        dims = session.scalars(text("SELECT DISTINCT dim FROM image_embeddings")).all()
        for dim in dims:
            _create_hnsw_index(session, dim)
        with self._lock:
            self._indexed_dims.update(dims)

    def stored(
        self, session: Session, project_id: str, model: str, rows: list[StoredVector]
    ) -> None:
        if not rows:
            return
        session.flush()
        for dim in {len(row.vector) for row in rows}:
            self._ensure_hnsw_index(session, dim)
        _write_embeddings(session, [(row.image_id, row.vector) for row in rows])

    def search(self, session: Session, query: SimilarityQuery) -> list[Match]:
        dim = len(query.vector)
        params: dict[str, Any] = {
            "q": vector_literal(query.vector),
            "org": query.organization_id,
            "project": query.project_id,
            "model": query.model,
            "exclude": query.exclude_image_id,
            "limit": query.limit,
        }
        images = _images_in_scope(query, params)
        in_scope = session.scalar(
            text(f"SELECT count(*) FROM (SELECT 1 {images} LIMIT {EXACT_SCOPE_MAX + 1}) AS s"),
            params,
        )
        if not in_scope:
            return []
        scope = _scope_sql(query, params, dim)
        if in_scope > EXACT_SCOPE_MAX and self._has_hnsw_index(session, dim):
            ef_search = min(EF_SEARCH_MAX, max(EF_SEARCH_MIN, 2 * query.limit))
            session.execute(
                text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(ef_search)}
            )
            rows = session.execute(text(_hnsw_sql(scope, dim)), params).all()
            matches = sorted(
                (Match(image_id, float(similarity)) for image_id, similarity in rows),
                key=lambda match: -match.similarity,
            )
            ran_out = len(rows) < query.limit and (
                not matches or matches[-1].similarity >= query.threshold
            )
            if not ran_out:
                return [match for match in matches if match.similarity >= query.threshold]
        rows = session.execute(text(_exact_sql(scope)), params).all()
        return [
            Match(image_id, float(similarity))
            for image_id, similarity in rows
            if similarity >= query.threshold
        ]

    def _has_hnsw_index(self, session: Session, dim: int) -> bool:
        """Whether the dimension's index exists (cached once seen: indexes are never dropped)."""
        with self._lock:
            if dim in self._indexed_dims:
                return True
        if session.scalar(text("SELECT to_regclass(:name)"), {"name": hnsw_index_name(dim)}):
            with self._lock:
                self._indexed_dims.add(dim)
            return True
        return False

    def _ensure_hnsw_index(self, session: Session, dim: int) -> None:
        """Create the dimension's index in the caller's transaction, unless it exists or another
        transaction is creating it right now (try-lock: waiting could deadlock with that
        transaction, which may be waiting for this one's new rows). Not cached here: the
        transaction may still roll back; the next call sees the committed index."""
        if self._has_hnsw_index(session, dim):
            return
        if session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SETUP_LOCK}):
            _create_hnsw_index(session, dim)


def _create_hnsw_index(session: Session, dim: int) -> None:
    dim = int(dim)
    session.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {hnsw_index_name(dim)} ON image_embeddings"
            f" USING hnsw ((embedding::vector({dim})) vector_cosine_ops) WHERE dim = {dim}"
        )
    )


def _write_embeddings(session: Session, rows: list[tuple[str, npt.NDArray[np.float32]]]) -> None:
    session.execute(
        text(
            "UPDATE image_embeddings SET embedding = CAST(:embedding AS vector)"
            " WHERE image_id = :image_id"
        ),
        [{"image_id": image_id, "embedding": vector_literal(vector)} for image_id, vector in rows],
    )


def _image_conditions(query: SimilarityQuery, params: dict[str, Any]) -> list[str]:
    """Conditions on ``images AS i`` of the query's scope (binds into params)."""
    conditions = ["i.project_id = :project", "NOT i.is_archived"]
    scope = folder_filter(query.folder)
    if scope is not None:
        folder, below = scope
        params["folder"] = folder
        params["below"] = _like_escape(below) + "%"
        conditions.append(
            "(i.virtual_folder_path = :folder OR i.virtual_folder_path LIKE :below ESCAPE '\\')"
        )
    return conditions


def _images_in_scope(query: SimilarityQuery, params: dict[str, Any]) -> str:
    """``FROM ... WHERE ...`` of the scope's images: an upper bound of the rows a search scores,
    cheap to count. Counting the join with the embeddings instead hashes the whole dataset and
    costs as much as the search itself; overestimating only sends a scope to the index, whose
    short answer then falls back to the exact query."""
    return "FROM images AS i WHERE " + " AND ".join(_image_conditions(query, params))


def _scope_sql(query: SimilarityQuery, params: dict[str, Any], dim: int) -> str:
    """``FROM ... WHERE ...`` of the answerable rows in the query's scope (binds into params)."""
    conditions = [
        f"e.dim = {int(dim)}",
        "e.project_id = :project",
        "e.organization_id = :org",
        "e.model = :model",
        "e.embedding IS NOT NULL",
        *_image_conditions(query, params),
    ]
    if query.exclude_image_id is not None:
        conditions.append("e.image_id <> :exclude")
    return "FROM image_embeddings AS e JOIN images AS i ON i.id = e.image_id WHERE " + " AND ".join(
        conditions
    )


def _hnsw_sql(scope: str, dim: int) -> str:
    """Nearest rows through the dimension's HNSW index: the ORDER BY repeats the index's
    expression and the scope carries its ``dim = d`` predicate, or the planner cannot use it."""
    distance = f"e.embedding::vector({int(dim)}) <=> CAST(:q AS vector({int(dim)}))"
    return f"SELECT e.image_id, 1 - ({distance}) {scope} ORDER BY {distance} LIMIT :limit"


def _exact_sql(scope: str) -> str:
    """Nearest rows by scoring every row in scope: the distance on the bare column matches no
    index expression, so the planner cannot take the (approximate) HNSW index."""
    distance = "e.embedding <=> CAST(:q AS vector)"
    return f"SELECT e.image_id, 1 - ({distance}) {scope} ORDER BY {distance} LIMIT :limit"


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
