"""A change of embedding model re-embeds every image in the background.

The first start finds SigLIP 2 weights in its models directory (a tiny random model built from a
config) and embeds with it; the next start is told to use the bundled EfficientNet-Lite0, and its
start-up sweep re-embeds the stored images, so similarity search compares like with like again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pictograph import Client
from tests.indexing import save
from tests.live_server import start_server

skimage_data = pytest.importorskip("skimage.data")
transformers = pytest.importorskip("transformers")


def wait_for_models(sdk: Client, dataset: str, models: list[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = sdk.search.status(dataset)
        if status.pending_images == 0 and status.models == models:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still {status}, waiting for {models}")
        time.sleep(0.3)


def test_changing_the_model_re_embeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.vision.test_embedders import save_siglip2

    monkeypatch.setenv("PICTOGRAPH_CONFIG_FILE", str(tmp_path / "none.toml"))
    data_dir = tmp_path / "server"
    (data_dir / "models").mkdir(parents=True)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        save_siglip2(data_dir / "models" / "siglip2")
    finally:
        transformers.logging.set_verbosity(verbosity)
    cat = skimage_data.chelsea()
    pictures = [
        save(cat, tmp_path / "cat.jpg"),
        save(cat[:, ::-1].copy(), tmp_path / "cat-mirror.jpg"),
        save(skimage_data.coffee(), tmp_path / "coffee.jpg"),
    ]

    server = start_server(data_dir, None, "sqlite")
    try:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            dataset = sdk.projects.create("reindexed")
            ids = [sdk.images.upload(dataset.id, path).id for path in pictures]
            wait_for_models(sdk, "reindexed", ["siglip2"])
    finally:
        server.stop()

    server = start_server(data_dir, None, "sqlite", PICTOGRAPH_EMBEDDING_MODEL="efficientnet-lite0")
    try:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            wait_for_models(sdk, "reindexed", ["efficientnet-lite0"])
            results = sdk.search.by_similarity(ids[0], threshold=0.0)
            assert [r.image_id for r in results][0] == ids[1]
            assert "cat" in sdk.images.get(ids[0]).image_auto_tags["objects"]
    finally:
        server.stop()
