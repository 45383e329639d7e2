"""The vector backends behind similarity search, on real databases: HnswIndex over SQLite and
PgvectorIndex over PostgreSQL with pgvector (a pgserver started for the test process).

Rows are written the way the indexing job writes them: ``images`` and ``image_embeddings`` in
one transaction that also calls ``index.stored()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import delete, event, insert, text, update

from pictograph.server.db.engine import Database
from pictograph.server.db.migrate import upgrade
from pictograph.server.db.tables import Image, ImageEmbedding, Organization, Project
from pictograph.server.search import hnsw_index, pgvector_index
from pictograph.server.search.backends import make_index
from pictograph.server.search.hnsw_index import HnswIndex
from pictograph.server.search.pgvector_index import PgvectorIndex
from pictograph.server.search.vectors import (
    Match,
    SimilarityQuery,
    StoredVector,
    VectorIndex,
    index_key,
)
from pictograph.server.settings import Settings
from tests.pgvector_server import pgvector_database_url

MODEL = "test-embedder"
DIM = 16


@dataclass
class Dataset:
    organization_id: str
    project_id: str


@dataclass
class Store:
    db: Database
    index: VectorIndex
    root: Path

    def dataset(self, organization_id: str | None = None) -> Dataset:
        """A new project, in a new organization unless one is given."""
        with self.db.session() as session:
            if organization_id is None:
                slug = f"org-{uuid.uuid4().hex[:8]}"
                organization = Organization(name=slug, slug=slug)
                session.add(organization)
                session.flush()
                organization_id = organization.id
            project = Project(organization_id=organization_id, name=uuid.uuid4().hex[:8])
            session.add(project)
            session.flush()
            return Dataset(organization_id, project.id)

    def add(
        self,
        dataset: Dataset,
        vectors: npt.NDArray[np.float32],
        *,
        folder: str = "/",
        model: str = MODEL,
        tell_index: bool = True,
    ) -> list[str]:
        """Images with these embeddings; ``tell_index=False`` writes the rows behind the
        index's back (as another server process would)."""
        ids = [str(uuid.uuid4()) for _ in vectors]
        with self.db.session() as session:
            session.execute(
                insert(Image),
                [
                    {
                        "id": image_id,
                        "project_id": dataset.project_id,
                        "organization_id": dataset.organization_id,
                        "filename": f"{image_id}.jpg",
                        "storage_key": f"images/{image_id}",
                        "virtual_folder_path": folder,
                    }
                    for image_id in ids
                ],
            )
            session.execute(
                insert(ImageEmbedding),
                [
                    {
                        "image_id": image_id,
                        "organization_id": dataset.organization_id,
                        "project_id": dataset.project_id,
                        "model": model,
                        "model_version": "1",
                        "dim": vector.shape[0],
                        "index_key": index_key(image_id),
                        "vector": np.asarray(vector, dtype="<f4").tobytes(),
                    }
                    for image_id, vector in zip(ids, vectors)
                ],
            )
            if tell_index:
                stored = [
                    StoredVector(image_id, index_key(image_id), vector)
                    for image_id, vector in zip(ids, vectors)
                ]
                self.index.stored(session, dataset.project_id, model, stored)
        return ids

    def search(
        self,
        dataset: Dataset,
        vector: npt.NDArray[np.float32],
        *,
        folder: str | None = None,
        exclude: str | None = None,
        threshold: float = -1.0,
        limit: int = 10,
        model: str = MODEL,
        index: VectorIndex | None = None,
    ) -> list[Match]:
        query = SimilarityQuery(
            dataset.organization_id, dataset.project_id, model, vector, folder, exclude,
            threshold, limit,
        )  # fmt: skip
        with self.db.session() as session:
            return (index or self.index).search(session, query)

    def archive(self, image_id: str) -> None:
        with self.db.session() as session:
            session.execute(update(Image).where(Image.id == image_id).values(is_archived=True))


def unit(vectors: npt.NDArray) -> npt.NDArray[np.float32]:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def random_unit(rng: np.random.Generator, count: int, dim: int = DIM) -> npt.NDArray[np.float32]:
    return unit(rng.standard_normal((count, dim)))


def near(vector: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    return unit(vector + 0.01 * rng.standard_normal(vector.shape))


def expected(
    ids: list[str], vectors: npt.NDArray, query: npt.NDArray, threshold: float, limit: int
) -> list[str]:
    similarities = vectors @ query
    order = np.argsort(-similarities)
    return [ids[i] for i in order if similarities[i] >= threshold][:limit]


def migrated(url: str) -> Database:
    upgrade(url)
    return Database(url)


@pytest.fixture(params=["hnsw", "pgvector"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "hnsw":
        db = migrated(f"sqlite:///{tmp_path / 'pictograph.db'}")
        index: VectorIndex = HnswIndex(tmp_path / "vectors")
    else:
        db = migrated(pgvector_database_url())
        index = PgvectorIndex()
    with db.session() as session:
        index.prepare(session)
    yield Store(db, index, tmp_path / "vectors")
    db.dispose()


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


# ───────────── both backends ─────────────


def test_near_duplicate_first_sorted_and_source_excluded(
    store: Store, rng: np.random.Generator
) -> None:
    dataset = store.dataset()
    vectors = random_unit(rng, 60)
    ids = store.add(dataset, vectors)
    [duplicate] = store.add(dataset, near(vectors[0], rng)[None])

    matches = store.search(dataset, vectors[0], exclude=ids[0], limit=20)

    assert matches[0].image_id == duplicate
    assert matches[0].similarity > 0.99
    assert ids[0] not in [match.image_id for match in matches]
    similarities = [match.similarity for match in matches]
    assert similarities == sorted(similarities, reverse=True)
    assert len(matches) == 20


def test_threshold_and_limit_match_exact_search(store: Store, rng: np.random.Generator) -> None:
    dataset = store.dataset()
    vectors = random_unit(rng, 80)
    ids = store.add(dataset, vectors)
    query = unit(vectors[3] + 0.5 * vectors[5])

    for threshold, limit in ((0.3, 50), (-1.0, 7), (0.2, 3)):
        matches = store.search(dataset, query, threshold=threshold, limit=limit)
        assert [match.image_id for match in matches] == expected(
            ids, vectors, query, threshold, limit
        )
        assert all(match.similarity >= threshold for match in matches)
        assert all(
            abs(match.similarity - float(vectors[ids.index(match.image_id)] @ query)) < 1e-4
            for match in matches
        )


def test_archived_images_are_not_returned(store: Store, rng: np.random.Generator) -> None:
    dataset = store.dataset()
    vectors = random_unit(rng, 20)
    ids = store.add(dataset, vectors)
    store.archive(ids[0])

    matches = store.search(dataset, vectors[0])

    assert ids[0] not in [match.image_id for match in matches]
    assert len(matches) == 10


def test_other_projects_organizations_and_models_are_never_returned(
    store: Store, rng: np.random.Generator
) -> None:
    dataset = store.dataset()
    sibling = store.dataset(dataset.organization_id)
    stranger = store.dataset()
    vectors = random_unit(rng, 10)
    ids = store.add(dataset, vectors)
    target = vectors[0]
    store.add(sibling, target[None])
    store.add(stranger, target[None])
    store.add(dataset, target[None], model="another-model")

    matches = store.search(dataset, target, limit=50)

    assert sorted(match.image_id for match in matches) == sorted(ids)
    foreign = Dataset(stranger.organization_id, dataset.project_id)
    assert store.search(foreign, target) == []


def test_folder_scope_covers_the_folder_and_its_subfolders(
    store: Store, rng: np.random.Generator
) -> None:
    dataset = store.dataset()
    placed = {folder: store.add(dataset, random_unit(rng, 4), folder=folder)
              for folder in ("/", "/a", "/a/b", "/ab", "/a_b", "/c")}  # fmt: skip
    query = random_unit(rng, 1)[0]

    def found(folder: str | None) -> set[str]:
        return {match.image_id for match in store.search(dataset, query, folder=folder, limit=100)}

    assert found("/a") == set(placed["/a"] + placed["/a/b"])
    assert found("/a/") == found("/a")
    assert found("/a/b") == set(placed["/a/b"])
    assert found("/a_") == set()
    every = {image_id for ids in placed.values() for image_id in ids}
    assert found("/") == every
    assert found(None) == every


def test_large_folder_scope_is_filtered_from_an_oversampled_search(
    store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the exact-search bound, scopes go through the ANN index and are filtered."""
    monkeypatch.setattr(hnsw_index, "EXACT_SCOPE_MAX", 5)
    monkeypatch.setattr(pgvector_index, "EXACT_SCOPE_MAX", 5)
    dataset = store.dataset()
    inside = random_unit(rng, 40)
    inside_ids = store.add(dataset, inside, folder="/in")
    store.add(dataset, random_unit(rng, 200), folder="/out")
    query = near(inside[0], rng)

    matches = store.search(dataset, query, folder="/in", limit=5)

    assert [match.image_id for match in matches] == expected(inside_ids, inside, query, -1, 5)


# ───────────── HnswIndex: the files are a cache of the rows ─────────────


@pytest.fixture()
def hnsw_store(tmp_path: Path) -> Iterator[Store]:
    db = migrated(f"sqlite:///{tmp_path / 'pictograph.db'}")
    yield Store(db, HnswIndex(tmp_path / "vectors"), tmp_path / "vectors")
    db.dispose()


def test_hnsw_index_is_saved_and_read_back(
    hnsw_store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = hnsw_store
    assert isinstance(store.index, HnswIndex)
    dataset = store.dataset()
    path = store.root / dataset.project_id / f"{MODEL}.usearch"
    vectors = random_unit(rng, 50)
    store.add(dataset, vectors[:40])
    assert not path.exists()  # the first save waits SAVE_INTERVAL_S

    monkeypatch.setattr(hnsw_index, "SAVE_INTERVAL_S", 0.0)
    store.add(dataset, vectors[40:])
    assert path.exists()  # saved once the rows committed
    before = store.search(dataset, vectors[1])
    assert store.search(dataset, vectors[1], index=HnswIndex(store.root)) == before

    path.unlink()
    assert store.search(dataset, vectors[1], index=HnswIndex(store.root)) == before
    assert path.exists()


def test_hnsw_index_catches_up_with_rows_written_elsewhere(
    hnsw_store: Store, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hnsw_index, "CATCH_UP_INTERVAL_S", 0.0)
    store = hnsw_store
    dataset = store.dataset()
    vectors = random_unit(rng, 30)
    ids = store.add(dataset, vectors)
    assert store.search(dataset, vectors[0])[0].image_id == ids[0]

    [hidden] = store.add(dataset, near(vectors[0], rng)[None], tell_index=False)
    assert store.search(dataset, vectors[0], exclude=ids[0])[0].image_id == hidden

    with store.db.session() as session:  # images deleted: their keys leave the index
        session.execute(delete(Image).where(Image.id.in_(ids[:20])))
    matches = store.search(dataset, vectors[0], limit=50)
    assert {match.image_id for match in matches} == set(ids[20:]) | {hidden}


def test_hnsw_index_forgets_vectors_of_a_rolled_back_transaction(
    hnsw_store: Store, rng: np.random.Generator
) -> None:
    store = hnsw_store
    dataset = store.dataset()
    vectors = random_unit(rng, 10)
    store.add(dataset, vectors)
    with pytest.raises(RuntimeError), store.db.session() as session:
        ghost = str(uuid.uuid4())
        store.index.stored(
            session, dataset.project_id, MODEL, [StoredVector(ghost, index_key(ghost), vectors[0])]
        )
        raise RuntimeError("the batch failed")

    assert len(store.search(dataset, vectors[0], limit=50)) == 10


# ───────────── PgvectorIndex: the HNSW index serves large scopes ─────────────


def test_pgvector_uses_its_hnsw_index_for_a_large_scope_and_falls_back_when_short(
    rng: np.random.Generator,
) -> None:
    db = migrated(pgvector_database_url())
    store = Store(db, PgvectorIndex(), Path())
    dataset = store.dataset()
    dim = 64
    spread = random_unit(rng, 6000, dim)
    spread_ids = store.add(dataset, spread, folder="/spread", tell_index=False)
    centre = random_unit(rng, 1, dim)[0]
    cluster = unit(centre + 0.05 * rng.standard_normal((6000, dim)))
    cluster_ids = store.add(dataset, cluster, folder="/cluster", tell_index=False)
    with db.session() as session:  # backfills the column and builds the index over it
        store.index.prepare(session)
        session.execute(text("ANALYZE image_embeddings"))
        session.execute(text("ANALYZE images"))

    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "ORDER BY" in statement:
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    matches = store.search(dataset, cluster[0], limit=10)
    assert matches[0].image_id == cluster_ids[0]
    assert len(statements) == 1  # the index answered; no exact fallback
    [(statement, parameters)] = statements
    with db.engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert f"Index Scan using {pgvector_index.hnsw_index_name(dim)}" in plan

    statements.clear()  # the folder's rows are not among the centre's neighbours: exact answers
    matches = store.search(dataset, centre, folder="/spread", limit=10)
    event.remove(db.engine, "before_cursor_execute", capture)
    assert len(statements) == 2
    assert [match.image_id for match in matches] == expected(spread_ids, spread, centre, -1, 10)
    db.dispose()


# ───────────── choosing the backend ─────────────


def test_make_index_picks_the_backend_the_database_supports(tmp_path: Path) -> None:
    sqlite = Database(f"sqlite:///{tmp_path / 'pictograph.db'}")
    postgres = Database(pgvector_database_url())

    def settings(backend: str) -> Settings:
        return Settings(data_dir=tmp_path, vector_backend=backend)

    assert isinstance(make_index(settings("auto"), sqlite), HnswIndex)
    assert isinstance(make_index(settings("hnsw"), postgres), HnswIndex)
    assert isinstance(make_index(settings("auto"), postgres), PgvectorIndex)
    assert isinstance(make_index(settings("pgvector"), postgres), PgvectorIndex)
    with pytest.raises(RuntimeError, match="PICTOGRAPH_VECTOR_BACKEND=pgvector"):
        make_index(settings("pgvector"), sqlite)
    with pytest.raises(ValueError, match="PICTOGRAPH_VECTOR_BACKEND"):
        make_index(settings("faiss"), sqlite)
    sqlite.dispose()
    postgres.dispose()
