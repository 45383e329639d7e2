"""Search through the live server on PostgreSQL with pgvector (a ``pgserver`` PostgreSQL, since
the CI database has no ``vector`` extension): the server picks the pgvector backend by itself,
stores vectors in its ``embedding`` column and answers similarity and tag queries from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from pictograph import Client
from tests.indexing import save, wait_indexed
from tests.live_server import LiveServer, start_server
from tests.pgvector_server import pgvector_database_url

skimage_data = pytest.importorskip("skimage.data")
pytest.importorskip("pgserver")


@pytest.fixture(scope="module")
def pgvector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("pgvector-server"), pgvector_database_url(), "pgvector"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def sdk(
    pgvector_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    monkeypatch.setenv("PICTOGRAPH_CONFIG_FILE", str(tmp_path / "none.toml"))
    with Client(api_key=pgvector_server.api_key, base_url=pgvector_server.base_url) as client:
        yield client


def test_similarity_and_tags_on_pgvector(
    sdk: Client, pgvector_server: LiveServer, tmp_path: Path
) -> None:
    chelsea, astronaut = skimage_data.chelsea(), skimage_data.astronaut()
    pictures = {
        "chelsea.jpg": chelsea,
        "chelsea-mirror.jpg": np.ascontiguousarray(chelsea[:, ::-1]),
        "astronaut.jpg": astronaut,
        "astronaut-small.jpg": np.asarray(PILImage.fromarray(astronaut).resize((256, 256))),
        "coffee.jpg": skimage_data.coffee(),
        "rocket.jpg": skimage_data.rocket(),
    }
    dataset = sdk.projects.create("pgvector-photos")
    ids = {
        name: sdk.images.upload(dataset.id, save(pixels, tmp_path / name)).id
        for name, pixels in pictures.items()
    }
    wait_indexed(sdk, dataset.name)

    results = sdk.search.by_similarity(ids["chelsea.jpg"], threshold=0.0)
    assert results[0].image_id == ids["chelsea-mirror.jpg"]
    assert len(results) == len(ids) - 1
    assert [r.similarity for r in results] == sorted((r.similarity for r in results), reverse=True)
    small = sdk.search.by_similarity(ids["astronaut.jpg"], threshold=0.0, limit=1)
    assert [r.image_id for r in small] == [ids["astronaut-small.jpg"]]
    assert ids["chelsea.jpg"] in {r.image_id for r in sdk.search.by_tag(objects=["cat"])}

    import psycopg

    url = pgvector_server.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM image_embeddings WHERE embedding IS NOT NULL"
        ).fetchone()
    assert stored == (len(ids),)  # the pgvector backend served these, not an HNSW file
    assert not (pgvector_server.data_dir / "vectors").exists()
