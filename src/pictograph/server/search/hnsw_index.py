"""The embedded vector backend: a usearch HNSW index per (dataset, model), in memory and on disk.

The ``image_embeddings`` rows are the source of truth; an index is a cache of them. A few
datasets stay in memory (least recently used ones are saved and dropped); each is saved to
``<root>/<project_id>/<model>.usearch`` by an atomic rename. An index is brought in step with
its rows when it is loaded (a full comparison of keys) and then before a search at most every
``CATCH_UP_INTERVAL_S`` (a fingerprint of the rows — their count and a checksum of their keys —
against the index's), so rows that another server process wrote, deleted images, a stale or
missing file, or a crash before a save all heal from the database; nothing needs a separate
rebuild step. This process's own writes reach the index at once, through ``stored()``.

Candidates that the index returns are checked against the database (archived, excluded, the
query's organization, project and model) before they are returned, so a key that the index
still holds after its row went away is never an answer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, and_, event, func, or_, select
from sqlalchemy.orm import Session
from usearch.index import Index

from pictograph.server.db.tables import Image, ImageEmbedding
from pictograph.server.search.vectors import (
    Match,
    SimilarityQuery,
    StoredVector,
    VectorIndex,
    folder_filter,
)

logger = logging.getLogger("pictograph.search.hnsw")

EXPANSION_SEARCH = 128
"""HNSW beam width (ef) of a search: recall@10 0.98 at 10,000 and 1.0 at 100,000 clustered 1280-d
vectors (``benchmarks/bench_search.py --sweep``: 0.96 at ef 42-64). A search asking for more
candidates widens it to that count."""
OVERSAMPLE = 32
"""Candidates asked for beyond ``limit``: room for the excluded image, archived images and keys
whose rows are gone, so one HNSW search is usually enough."""
EXACT_SCOPE_MAX = 20_000
"""A folder scope with at most this many images is searched exactly over its own vectors: HNSW
then would need to oversample by the inverse of the folder's share of the dataset."""
REBUILD_FRACTION = 0.25
"""Removed keys leave tombstones that slow HNSW down; past this share of the index, rebuild."""
SAVE_INTERVAL_S = 5.0
"""Saves are at least this far apart (and ten times the last save's duration): a save writes
the whole index, and a crash before one only costs a catch-up from the rows."""
DB_CHUNK = 1000
"""Keys per ``IN (...)`` list, well under every database's bound-parameter limit."""
CATCH_UP_INTERVAL_S = 2.0
"""How stale the index may be towards rows written by other processes. The fingerprint reads
every row of the dataset (about 1 ms per 1,000 on SQLite), too slow to run on every search."""
KEY_CHECKSUM_MODULUS = 1_000_003
"""The key checksum sums ``index_key % this``, which no database's integer sum overflows."""


@dataclass(eq=False)
class _Dataset:
    """One (project, model) index and what keeps it in step with the rows and the file."""

    project_id: str
    model: str
    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    index: Index | None = None
    checksum: int = 0
    """Sum of ``key % KEY_CHECKSUM_MODULUS`` over the index's keys (its side of the fingerprint)."""
    verified: bool = False
    """Whether every key was compared with the rows since the index was loaded."""
    checked_at: float = 0.0
    """When the rows' fingerprint was last compared with the index's."""
    unsaved: int = 0
    """Vectors added or removed since the file was written."""
    saved_at: float = field(default_factory=time.monotonic)
    save_seconds: float = 0.0


class HnswIndex(VectorIndex):
    name = "hnsw"

    def __init__(self, root: Path, *, max_datasets: int = 4) -> None:
        self.root = root
        self.max_datasets = max_datasets
        self._datasets: OrderedDict[tuple[str, str], _Dataset] = OrderedDict()
        self._lock = threading.Lock()
        self._pending_key = f"pictograph.hnsw.pending.{id(self)}"

    # -- the VectorIndex interface ------------------------------------------------------------

    def stored(
        self, session: Session, project_id: str, model: str, rows: list[StoredVector]
    ) -> None:
        """Add the vectors now, so searches see them as soon as the rows commit; the file is
        written after the commit (not inside the caller's write transaction) when a save is due.

        The index is loaded from its file but not compared with the rows here: a full catch-up
        could take minutes and would hold the caller's transaction; the next search does it."""
        if not rows:
            return
        keys = np.array([row.key for row in rows], dtype=np.uint64)
        vectors = np.stack([np.asarray(row.vector, dtype=np.float32) for row in rows])
        dataset = self._dataset(project_id, model)
        with dataset.lock:
            index = self._loaded(dataset, vectors.shape[1])
            _remove(dataset, index, keys[index.contains(keys)])  # a re-embedded image
            _add(dataset, index, keys, vectors)
        pending = session.info.setdefault(self._pending_key, set())
        if not pending:
            event.listen(session, "after_commit", self._save_pending, once=True)
        pending.add(dataset)

    def search(self, session: Session, query: SimilarityQuery) -> list[Match]:
        vector = np.asarray(query.vector, dtype=np.float32)
        dataset = self._dataset(query.project_id, query.model)
        with dataset.lock:
            index = self._catch_up(session, dataset, self._loaded(dataset, vector.shape[0]))
            self._save_if_due(dataset)
            if len(index) == 0:
                return []
            scope = folder_filter(query.folder)
            if scope is None:
                return _search_dataset(session, index, query, vector)
            keys, image_ids = _scope(session, query, scope)
            if len(keys) <= EXACT_SCOPE_MAX:
                return _search_exact(index, query, vector, keys, image_ids)
            return _search_scope(index, query, vector, keys, image_ids)

    def flush(self) -> None:
        """Write every index with unsaved changes (at shutdown)."""
        with self._lock:
            datasets = list(self._datasets.values())
        for dataset in datasets:
            with dataset.lock:
                _save(dataset)

    # -- datasets in memory -------------------------------------------------------------------

    def _dataset(self, project_id: str, model: str) -> _Dataset:
        """The dataset's slot (most recently used now); the least recently used beyond
        ``max_datasets`` are saved and dropped from memory."""
        slot = (project_id, model)
        with self._lock:
            dataset = self._datasets.get(slot)
            if dataset is None:
                path = self.root / project_id / f"{quote(model, safe='')}.usearch"
                dataset = self._datasets[slot] = _Dataset(project_id, model, path)
            self._datasets.move_to_end(slot)
            evicted = []
            while len(self._datasets) > self.max_datasets:
                evicted.append(self._datasets.popitem(last=False)[1])
        for old in evicted:
            with old.lock:
                _save(old)
                old.index = None
        return dataset

    def _loaded(self, dataset: _Dataset, dim: int) -> Index:
        """The dataset's index in memory: as it was, from its file, or a new empty one (then
        filled from the rows by the catch-up)."""
        index = dataset.index
        if index is not None and index.ndim == dim:
            return index
        index = _read(dataset.path, dim)
        if index is None:
            index = _new_index(dim)
        keys = np.asarray(index.keys, dtype=np.uint64)
        dataset.index = index
        dataset.checksum = _checksum(keys)
        dataset.verified = False
        dataset.unsaved = 0
        dataset.saved_at = time.monotonic()
        return index

    def _catch_up(self, session: Session, dataset: _Dataset, index: Index) -> Index:
        """Bring the index in step with the rows: by comparing every key after a load, then
        cheaply (a fingerprint) at most every ``CATCH_UP_INTERVAL_S``. Rows the index lacks are
        added from their stored vectors; keys whose rows are gone are removed, or the index
        rebuilt if they are many. Returns the index (a new one after a rebuild)."""
        in_step = _rows_of(dataset, index.ndim)
        if dataset.verified:
            if time.monotonic() - dataset.checked_at < CATCH_UP_INTERVAL_S:
                return index
            dataset.checked_at = time.monotonic()
            count, checksum = session.execute(
                select(
                    func.count(), func.sum(ImageEmbedding.index_key % KEY_CHECKSUM_MODULUS)
                ).where(in_step)
            ).one()
            if count == len(index) and int(checksum or 0) == dataset.checksum:
                return index
        db_keys = np.fromiter(
            session.scalars(select(ImageEmbedding.index_key).where(in_step)), dtype=np.uint64
        )
        index_keys = np.asarray(index.keys, dtype=np.uint64)
        stale = np.setdiff1d(index_keys, db_keys, assume_unique=True)
        if len(stale) > REBUILD_FRACTION * max(len(index_keys), 1):
            logger.info(
                "rebuilding the %s index of dataset %s: %d of %d keys have no rows",
                dataset.model, dataset.project_id, len(stale), len(index_keys),
            )  # fmt: skip
            index = dataset.index = _new_index(index.ndim)
            dataset.checksum = 0
            dataset.unsaved += len(index_keys)
            missing = db_keys
        else:
            _remove(dataset, index, stale)
            missing = np.setdiff1d(db_keys, index_keys, assume_unique=True)
        for start in range(0, len(missing), DB_CHUNK):
            chunk = [int(key) for key in missing[start : start + DB_CHUNK]]
            found = session.execute(
                select(ImageEmbedding.index_key, ImageEmbedding.vector).where(
                    in_step, ImageEmbedding.index_key.in_(chunk)
                )
            ).all()
            if found:
                keys = np.array([key for key, _ in found], dtype=np.uint64)
                vectors = np.stack([np.frombuffer(raw, dtype="<f4") for _, raw in found])
                _add(dataset, index, keys, vectors)
        dataset.verified = True
        dataset.checked_at = time.monotonic()
        return index

    # -- saving -------------------------------------------------------------------------------

    def _save_pending(self, session: Session) -> None:
        for dataset in session.info.pop(self._pending_key, ()):
            with dataset.lock:
                self._save_if_due(dataset)

    @staticmethod
    def _save_if_due(dataset: _Dataset) -> None:
        waited = time.monotonic() - dataset.saved_at
        if dataset.unsaved and waited >= max(SAVE_INTERVAL_S, 10 * dataset.save_seconds):
            _save(dataset)


# -- index helpers (callers hold the dataset's lock) ---------------------------------------------


def _new_index(dim: int) -> Index:
    index = Index(ndim=dim, metric="cos", dtype="f32")
    index.expansion_search = EXPANSION_SEARCH
    return index


def _read(path: Path, dim: int) -> Index | None:
    """The saved index, unless it is missing, unreadable or of another dimension."""
    if not path.exists():
        return None
    try:
        index = Index.restore(str(path))
    except Exception:  # a torn or foreign file is rebuilt from the rows
        logger.warning("cannot read %s; rebuilding it from the database", path, exc_info=True)
        return None
    if index is None or index.ndim != dim:
        return None
    index.expansion_search = EXPANSION_SEARCH
    return index


def _save(dataset: _Dataset) -> None:
    """Write the index to a temporary file and rename it over the old one, so a reader (or a
    crash) never sees half a file."""
    if dataset.index is None or not dataset.unsaved:
        return
    started = time.monotonic()
    dataset.path.parent.mkdir(parents=True, exist_ok=True)
    temporary = dataset.path.with_name(f".{dataset.path.name}.{uuid.uuid4().hex}.tmp")
    try:
        dataset.index.save(str(temporary))
        os.replace(temporary, dataset.path)
    finally:
        temporary.unlink(missing_ok=True)
    dataset.unsaved = 0
    dataset.saved_at = time.monotonic()
    dataset.save_seconds = dataset.saved_at - started


def _checksum(keys: npt.NDArray[np.uint64]) -> int:
    return int((keys % KEY_CHECKSUM_MODULUS).sum())


def _add(
    dataset: _Dataset, index: Index, keys: npt.NDArray[np.uint64], vectors: npt.NDArray
) -> None:
    index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32))
    dataset.checksum += _checksum(keys)
    dataset.unsaved += len(keys)


def _remove(dataset: _Dataset, index: Index, keys: npt.NDArray[np.uint64]) -> None:
    if len(keys):
        index.remove(keys)
        dataset.checksum -= _checksum(keys)
        dataset.unsaved += len(keys)


# -- queries ---------------------------------------------------------------------------------------


def _rows_of(dataset: _Dataset, dim: int) -> ColumnElement[bool]:
    """The rows an index mirrors: its dataset's, from its model, of its dimension."""
    return and_(
        ImageEmbedding.project_id == dataset.project_id,
        ImageEmbedding.model == dataset.model,
        ImageEmbedding.dim == dim,
    )


def _answerable(query: SimilarityQuery) -> list[ColumnElement[bool]]:
    """Conditions on ImageEmbedding joined to Image that a returned image must meet, besides
    being in the query's project (see :func:`_live` for why that one is apart)."""
    conditions = [
        ImageEmbedding.organization_id == query.organization_id,
        ImageEmbedding.model == query.model,
        Image.is_archived.is_(False),
    ]
    if query.exclude_image_id is not None:
        conditions.append(ImageEmbedding.image_id != query.exclude_image_id)
    return conditions


def _live(session: Session, query: SimilarityQuery, keys: Iterable[int]) -> dict[int, str]:
    """Which candidate keys may be answered, with their image ids. The project is compared
    here rather than in SQL: given an equality on an indexed ``project_id``, SQLite (without
    ANALYZE statistics) walks the whole dataset instead of looking the few keys up."""
    wanted = [int(key) for key in keys]
    live: dict[int, str] = {}
    for start in range(0, len(wanted), DB_CHUNK):
        rows = session.execute(
            select(
                ImageEmbedding.index_key,
                ImageEmbedding.image_id,
                ImageEmbedding.project_id,
                Image.project_id,
            )
            .join(Image, Image.id == ImageEmbedding.image_id)
            .where(
                ImageEmbedding.index_key.in_(wanted[start : start + DB_CHUNK]), *_answerable(query)
            )
        )
        live.update(
            (key, image_id)
            for key, image_id, embedding_project, image_project in rows
            if embedding_project == image_project == query.project_id
        )
    return live


def _scope(
    session: Session, query: SimilarityQuery, scope: tuple[str, str]
) -> tuple[npt.NDArray[np.uint64], list[str]]:
    """Keys and image ids of the answerable images in a folder and below it."""
    folder, below = scope
    rows = session.execute(
        select(ImageEmbedding.index_key, ImageEmbedding.image_id)
        .join(Image, Image.id == ImageEmbedding.image_id)
        .where(
            *_answerable(query),
            ImageEmbedding.project_id == query.project_id,
            Image.project_id == query.project_id,
            or_(
                Image.virtual_folder_path == folder,
                Image.virtual_folder_path.startswith(below, autoescape=True),
            ),
        )
    ).all()
    keys = np.array([key for key, _ in rows], dtype=np.uint64)
    return keys, [image_id for _, image_id in rows]


def _candidates(
    index: Index, vector: npt.NDArray[np.float32], count: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
    """HNSW neighbours, best first, with their cosine similarity."""
    index.expansion_search = max(EXPANSION_SEARCH, count)
    found = index.search(vector, count)
    return np.asarray(found.keys, dtype=np.uint64), 1.0 - np.asarray(found.distances)


def _search_dataset(
    session: Session, index: Index, query: SimilarityQuery, vector: npt.NDArray[np.float32]
) -> list[Match]:
    """Oversampled HNSW over the whole dataset, candidates checked against the database."""
    count = min(len(index), query.limit + OVERSAMPLE)
    return _oversampled(index, query, vector, count, lambda keys: _live(session, query, keys))


def _oversampled(
    index: Index,
    query: SimilarityQuery,
    vector: npt.NDArray[np.float32],
    count: int,
    resolve: Callable[[list[int]], dict[int, str]],
) -> list[Match]:
    """HNSW candidates mapped to image ids by ``resolve`` (keys it leaves out are not in scope);
    asks for four times as many while too few survive and the last one still met the threshold."""
    resolved: dict[int, str] = {}
    checked: set[int] = set()
    while True:
        keys, similarities = _candidates(index, vector, count)
        above = similarities >= query.threshold
        kept = list(zip(keys[above].tolist(), similarities[above].tolist()))
        new = [key for key, _ in kept if key not in checked]
        resolved.update(resolve(new))
        checked.update(new)
        matches = [Match(resolved[key], float(sim)) for key, sim in kept if key in resolved]
        if len(matches) >= query.limit or count >= len(index) or not above.all():
            return matches[: query.limit]
        count = min(len(index), count * 4)


def _search_exact(
    index: Index,
    query: SimilarityQuery,
    vector: npt.NDArray[np.float32],
    keys: npt.NDArray[np.uint64],
    image_ids: list[str],
) -> list[Match]:
    """Every in-scope vector scored; they are read from the index in chunks, since usearch
    builds one array per key and stacking a long tuple of them is slow."""
    present = index.contains(keys) if len(keys) else np.zeros(0, dtype=bool)
    keys = keys[present]
    ids = [image_id for image_id, kept in zip(image_ids, present.tolist()) if kept]
    if not len(keys):
        return []
    vectors = np.empty((len(keys), index.ndim), dtype=np.float32)
    for start in range(0, len(keys), 4096):
        vectors[start : start + 4096] = np.vstack(index.get(keys[start : start + 4096]))
    norms = np.linalg.norm(vectors, axis=1) * float(np.linalg.norm(vector))
    similarities = vectors @ vector / np.maximum(norms, 1e-12)
    top = min(query.limit, len(keys))
    best = np.argpartition(-similarities, top - 1)[:top]
    best = best[np.argsort(-similarities[best], kind="stable")]
    return [
        Match(ids[i], float(similarities[i]))
        for i in best.tolist()
        if similarities[i] >= query.threshold
    ]


def _search_scope(
    index: Index,
    query: SimilarityQuery,
    vector: npt.NDArray[np.float32],
    keys: npt.NDArray[np.uint64],
    image_ids: list[str],
) -> list[Match]:
    """A large folder: HNSW oversampled by the inverse of the folder's share of the dataset,
    candidates kept when they are in the folder's (already checked) keys."""
    in_scope = dict(zip(keys.tolist(), image_ids))
    share = len(in_scope) / len(index)
    count = min(len(index), int((query.limit + OVERSAMPLE) / share) + 1)
    return _oversampled(
        index, query, vector, count, lambda found: {k: in_scope[k] for k in found if k in in_scope}
    )