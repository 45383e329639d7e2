"""Similarity search: query latency and recall@10 of both vector backends against exact search.

For each dataset size, on the same vectors and queries, through ``VectorIndex.search()`` (whole
dataset, threshold -1, limit 10, each query in its own session as the search service does):

- **hnsw**: :class:`HnswIndex` over a migrated SQLite database. Build = the first search, which
  fills the index from the rows; save = ``flush()``; load = the first search of a new instance
  (reads the file and compares every key with the rows).
- **pgvector**: :class:`PgvectorIndex` on a pgserver PostgreSQL 16 (default settings, 128 MB
  shared buffers). The rows are written without the ``embedding`` column; ``prepare()`` then
  backfills it and builds the HNSW index (its ``CREATE INDEX`` is timed on its own).
- baselines: numpy brute force over all vectors (also the ground truth of recall@10), and
  pgvector's exact query (the backend's small-scope plan forced on the whole dataset; fewer
  queries, it is slow).

Vectors are 1280-d (the bundled embedder's size), drawn from a mixture of 1,000 Gaussian
clusters (centre + noise of norm 1, L2-normalised): uniform random vectors in high dimension
are unrealistically hard and unrealistically alike. Queries are held-out draws from the same
mixture. ``--sweep`` also prints recall and latency at other HNSW beam widths (ef).

    python benchmarks/bench_search.py                       # 10,000 and 100,000 vectors (~11 min)
    python benchmarks/bench_search.py --sizes 10000         # ~1.5 min
    python benchmarks/bench_search.py --sizes 10000 --backends hnsw --sweep
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import event, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pictograph.server.db.engine import Database  # noqa: E402
from pictograph.server.db.migrate import upgrade  # noqa: E402
from pictograph.server.db.tables import (  # noqa: E402
    Image,
    ImageEmbedding,
    Organization,
    Project,
)
from pictograph.server.search import hnsw_index, pgvector_index  # noqa: E402
from pictograph.server.search.vectors import SimilarityQuery, VectorIndex, index_key  # noqa: E402
from tests.pgvector_server import pgvector_database_url  # noqa: E402

MODEL = "bench-embedder"
K = 10
ROW_BATCH = 2000


def clustered(
    rng: np.random.Generator, centres: npt.NDArray[np.float32], count: int
) -> npt.NDArray[np.float32]:
    dim = centres.shape[1]
    noise = rng.standard_normal((count, dim), dtype=np.float32) / np.sqrt(dim)
    points = centres[rng.integers(0, len(centres), count)] + noise
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def exact_baseline(
    vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32]
) -> tuple[list[set[int]], list[float]]:
    """Ground-truth top-K row numbers per query, and the brute-force latency of each."""
    truth, seconds = [], []
    for query in queries:
        started = time.perf_counter()
        similarities = vectors @ query
        top = np.argpartition(-similarities, K)[:K]
        top = top[np.argsort(-similarities[top])]
        seconds.append(time.perf_counter() - started)
        truth.append(set(top.tolist()))
    return truth, seconds


def write_rows(db: Database, vectors: npt.NDArray[np.float32]) -> tuple[str, str, list[str]]:
    """An organization, a dataset and one image + embedding row per vector."""
    with db.session() as session:
        organization = Organization(name="bench", slug=f"bench-{uuid.uuid4().hex[:8]}")
        session.add(organization)
        session.flush()
        project = Project(organization_id=organization.id, name="bench")
        session.add(project)
        session.flush()
        org_id, project_id = organization.id, project.id
    ids = [str(uuid.uuid4()) for _ in range(len(vectors))]
    for start in range(0, len(ids), ROW_BATCH):
        batch = range(start, min(start + ROW_BATCH, len(ids)))
        with db.session() as session:
            session.execute(
                insert(Image),
                [
                    {"id": ids[i], "project_id": project_id, "organization_id": org_id,
                     "filename": f"{i}.jpg", "storage_key": f"images/{ids[i]}"}
                    for i in batch
                ],
            )  # fmt: skip
            session.execute(
                insert(ImageEmbedding),
                [
                    {"image_id": ids[i], "organization_id": org_id, "project_id": project_id,
                     "model": MODEL, "model_version": "1", "dim": vectors.shape[1],
                     "index_key": index_key(ids[i]), "vector": vectors[i].astype("<f4").tobytes()}
                    for i in batch
                ],
            )  # fmt: skip
    return org_id, project_id, ids


def timed_queries(
    db: Database,
    index: VectorIndex,
    org_id: str,
    project_id: str,
    queries: npt.NDArray[np.float32],
    truth: list[set[int]],
    row_of: dict[str, int],
) -> tuple[float, float, float]:
    """p50 ms, p99 ms and recall@K of the queries through ``index.search()``."""
    seconds, recalls = [], []
    for query, expected in zip(queries, truth):
        similarity_query = SimilarityQuery(org_id, project_id, MODEL, query, None, None, -1.0, K)
        started = time.perf_counter()
        with db.session() as session:
            matches = index.search(session, similarity_query)
        seconds.append(time.perf_counter() - started)
        recalls.append(len({row_of[match.image_id] for match in matches} & expected) / K)
    return percentile(seconds, 50), percentile(seconds, 99), float(np.mean(recalls))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextmanager
def statement_timer(db: Database, prefix: str) -> Iterator[list[float]]:
    """Seconds of every statement starting with ``prefix`` run while inside."""
    spent: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith(prefix):
            spent.append(time.perf_counter() - conn.info["bench_started"])

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)


def row(size: int, backend: str, p50: float, p99: float, recall: float | None, note: str) -> None:
    shown = "" if recall is None else f"{recall:.3f}"
    print(f"{size:>9,} {backend:<16} {p50:>8.2f} {p99:>8.2f} {shown:>9}  {note}", flush=True)


def bench_hnsw(
    size: int, vectors: npt.NDArray, queries: npt.NDArray, truth: list[set[int]], sweep: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        url = f"sqlite:///{Path(folder) / 'pictograph.db'}"
        upgrade(url)
        db = Database(url)
        started = time.perf_counter()
        org_id, project_id, ids = write_rows(db, vectors)
        write = time.perf_counter() - started
        row_of = {image_id: i for i, image_id in enumerate(ids)}
        root = Path(folder) / "vectors"

        def first_search(index: VectorIndex) -> Callable[[], object]:
            return lambda: timed_queries(db, index, org_id, project_id, queries[:1], truth, row_of)

        building = hnsw_index.HnswIndex(root)
        build = timed(first_search(building))  # fills the index from the rows, then saves it
        building.flush()
        megabytes = sum(path.stat().st_size for path in root.rglob("*.usearch")) / 1e6
        index = hnsw_index.HnswIndex(root)
        load = timed(first_search(index))
        p50, p99, recall = timed_queries(db, index, org_id, project_id, queries, truth, row_of)
        note = (
            f"ef {hnsw_index.EXPANSION_SEARCH}; rows written {write:.1f} s, build from rows +"
            f" save {build:.1f} s ({megabytes:.0f} MB file), load + verify {load:.2f} s"
        )
        row(size, "hnsw (sqlite)", p50, p99, recall, note)
        if sweep:  # the oversampled candidate count (K + OVERSAMPLE) is the smallest beam
            default = hnsw_index.EXPANSION_SEARCH
            for ef in (K + hnsw_index.OVERSAMPLE, 64, 256):
                hnsw_index.EXPANSION_SEARCH = ef
                p50, p99, recall = timed_queries(
                    db, index, org_id, project_id, queries, truth, row_of
                )
                row(size, "hnsw (sqlite)", p50, p99, recall, f"ef {ef}")
            hnsw_index.EXPANSION_SEARCH = default
        db.dispose()


def bench_pgvector(
    size: int,
    vectors: npt.NDArray,
    queries: npt.NDArray,
    truth: list[set[int]],
    sweep: bool,
    exact_queries: int,
) -> None:
    db = Database(pgvector_database_url())
    upgrade(db.url)
    index = pgvector_index.PgvectorIndex()
    started = time.perf_counter()
    org_id, project_id, ids = write_rows(db, vectors)
    write = time.perf_counter() - started
    row_of = {image_id: i for i, image_id in enumerate(ids)}
    with statement_timer(db, "CREATE INDEX") as builds:
        with db.session() as session:
            prepare = timed(lambda: index.prepare(session))
    with db.session() as session:
        session.execute(text("ANALYZE"))
    p50, p99, recall = timed_queries(db, index, org_id, project_id, queries, truth, row_of)
    ef = max(pgvector_index.EF_SEARCH_MIN, 2 * K)
    plan = f"ef_search {ef}" if size > pgvector_index.EXACT_SCOPE_MAX else "exact: small scope"
    note = (
        f"{plan}; rows written {write:.1f} s, prepare {prepare:.1f} s"
        f" (backfill {prepare - sum(builds):.1f} s + HNSW build {sum(builds):.1f} s)"
    )
    row(size, "pgvector", p50, p99, recall, note)
    if sweep:
        default = pgvector_index.EF_SEARCH_MIN
        for ef in (20, 40, 200, 400):
            pgvector_index.EF_SEARCH_MIN = ef
            p50, p99, recall = timed_queries(db, index, org_id, project_id, queries, truth, row_of)
            row(size, "pgvector", p50, p99, recall, f"ef_search {ef}")
        pgvector_index.EF_SEARCH_MIN = default
    bound = pgvector_index.EXACT_SCOPE_MAX
    pgvector_index.EXACT_SCOPE_MAX = size  # the small-scope plan on the whole dataset
    count = min(exact_queries, len(queries))
    p50, p99, recall = timed_queries(
        db, index, org_id, project_id, queries[:count], truth[:count], row_of
    )
    pgvector_index.EXACT_SCOPE_MAX = bound
    row(size, "pgvector exact", p50, p99, recall, f"{count} queries; baseline")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["hnsw", "pgvector"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20, help="for pgvector's exact query")
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--sweep", action="store_true", help="also other HNSW beam widths")
    args = parser.parse_args()

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((args.clusters, args.dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    print(f"{'vectors':>9} {'backend':<16} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>9}  notes")
    for size in args.sizes:
        vectors = clustered(rng, centres, size)
        queries = clustered(rng, centres, args.queries)
        truth, seconds = exact_baseline(vectors, queries)
        row(size, "numpy exact", percentile(seconds, 50), percentile(seconds, 99), 1.0,
            "brute force over all vectors; the ground truth")  # fmt: skip
        if "hnsw" in args.backends:
            bench_hnsw(size, vectors, queries, truth, args.sweep)
        if "pgvector" in args.backends:
            bench_pgvector(size, vectors, queries, truth, args.sweep, args.exact_queries)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
