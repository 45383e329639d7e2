"""The engine: its bounded embedding cache, NMS, and which backend serves each role.

Foundation backends are the tiny random models of ``test_foundation`` saved into a models
directory, so the preference order (SAM 3 before the bundled models) runs for real, in the
engine and in a server whose batch job records the model that ran.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pictograph import Client
from pictograph.vision.base import ImageEmbedding, Prediction
from pictograph.vision.engine import EmbeddingCache, VisionEngine, nms
from tests.live_server import running_server
from tests.vision.test_foundation import BUILDERS


def embedding(nbytes: int) -> ImageEmbedding:
    return ImageEmbedding(model="m", image_size=(1, 1), data=None, nbytes=nbytes)


def test_cache_evicts_least_recently_used_by_bytes() -> None:
    cache = EmbeddingCache(max_bytes=100)
    cache.put(("m", "a"), embedding(40))
    cache.put(("m", "b"), embedding(40))
    assert cache.get(("m", "a")) is not None  # a is now the most recent
    cache.put(("m", "c"), embedding(40))
    assert cache.get(("m", "b")) is None and cache.get(("m", "a")) is not None
    assert cache.nbytes == 80 and len(cache) == 2
    cache.put(("m", "huge"), embedding(500))  # larger than the whole cache: not kept
    assert cache.get(("m", "huge")) is None and len(cache) == 2


def test_nms_suppresses_overlaps_within_a_label_only() -> None:
    kept = nms(
        [
            Prediction((0, 0, 10, 10), 0.9, label="car"),
            Prediction((1, 1, 11, 11), 0.8, label="car"),
            Prediction((1, 1, 11, 11), 0.7, label="bus"),
            Prediction((50, 50, 60, 60), 0.6, label="car"),
        ]
    )
    assert [(p.label, p.score) for p in kept] == [("car", 0.9), ("bus", 0.7), ("car", 0.6)]


@pytest.fixture(scope="module")
def foundation_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    for name in ("sam3", "owlv2"):
        (directory / name).mkdir()
        torch.manual_seed(0)
        BUILDERS[name](directory / name)
    return directory


def test_bundled_models_serve_an_empty_models_dir(tmp_path: Path) -> None:
    engine = VisionEngine(tmp_path)
    assert engine.resolve("segment") == "litemedsam"
    assert engine.resolve("text") == "ssd-mobilenet-v2-coco"
    assert engine.resolve("detect") == "ssd-mobilenet-v2-coco"


def test_boxes_only_text_prompts_skip_the_segmenter_unless_a_colour_needs_the_mask(
    tmp_path: Path,
) -> None:
    import skimage.data

    engine = VisionEngine(tmp_path)
    astronaut = skimage.data.astronaut()
    plain = engine.text(astronaut, ["person"], 0.3, need_masks=False)
    assert plain.model == "ssd-mobilenet-v2-coco" and not plain.segmented
    assert plain.predictions and all(p.mask is None for p in plain.predictions)
    assert ("segment", "litemedsam") not in engine._backends

    coloured = engine.text(astronaut, ["white person"], 0.3, need_masks=False)
    assert coloured.model == "ssd-mobilenet-v2-coco+litemedsam" and coloured.segmented
    assert coloured.predictions and all(p.mask is not None for p in coloured.predictions)
    assert engine.text(astronaut, ["green person"], 0.3, need_masks=False).predictions == []


def test_foundation_weights_take_precedence(foundation_dir: Path) -> None:
    engine = VisionEngine(foundation_dir)
    assert engine.resolve("segment") == "sam3" and engine.resolve("text") == "sam3"
    image = np.random.default_rng(0).integers(0, 255, size=(48, 64, 3), dtype=np.uint8)

    first = engine.box("img", lambda: image, (10, 10, 40, 30))
    second = engine.box("img", lambda: image, (5, 5, 20, 20))
    assert (first.model, first.cached, second.cached) == ("sam3", False, True)

    concepts = engine.text(image, ["red square"], 0.0, image_key="img")
    assert concepts.model == "sam3" and not concepts.segmented
    assert all(p.mask is not None and p.mask.shape == (48, 64) for p in concepts.predictions)

    owl = VisionEngine(foundation_dir, choices={"text": "owlv2"})
    boxes_only = owl.text(image, ["red square"], 0.0, need_masks=False)
    assert boxes_only.model == "owlv2" and all(p.mask is None for p in boxes_only.predictions)
    masked = owl.text(image, ["red square"], 0.0, image_key="img")
    assert masked.model == "owlv2+sam3"
    assert all(p.mask is not None for p in masked.predictions)


def test_a_batch_job_records_the_model_that_ran(foundation_dir: Path, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    picture = tmp_path / "a.png"
    PILImage.fromarray(np.full((48, 64, 3), 90, dtype=np.uint8)).save(picture)
    (tmp_path / "data").mkdir()
    with running_server(
        "sqlite", tmp_path / "data", PICTOGRAPH_MODELS_DIR=str(foundation_dir)
    ) as server:
        with Client(api_key=server.api_key, base_url=server.base_url) as sdk:
            assert sdk.auto_annotate.models().active["text"] == "sam3"
            project = sdk.projects.create("tiny", classes=[{"name": "square"}])
            sdk.images.upload(project.id, picture)
            job = sdk.auto_annotate.batch(
                "tiny",
                None,
                None,
                confidence_threshold=0.0,
                dry_run=True,
                poll_interval=0.2,
                timeout=60,
            )
            assert job.model == "sam3" and job.processed_images == 1
