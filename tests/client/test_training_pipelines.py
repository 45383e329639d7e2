"""Every pipeline through the server: train on drawn images, download the ONNX file through the
SDK (MD5 checked), run it with onnxruntime.

Each run is a real training run on the CPU (one epoch at a small image size); the pipeline
itself checked its ONNX outputs against the torch model, and the run's metrics carry the
largest difference. One database is enough here: the run lifecycle is tested on both in
test_training.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pictograph import Client
from pictograph.training import MODEL_TYPES, PIPELINE_TYPES
from pictograph.training.predict import TrainedModel
from pictograph.workflows import train_pipeline
from tests.live_server import LiveServer
from tests.training.drawn_dataset import draw_image, upload_drawn

IMAGE_SIZE = {"rfdetr_detection": 128, "rfdetr_segmentation": 128}
"""Per-pipeline image sizes where the default small one does not fit the architecture."""


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    if live_server.backend != "sqlite":
        pytest.skip("pipelines are exercised on one database")
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def dataset(sdk: Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    name = f"pipelines-{uuid.uuid4().hex[:8]}"
    upload_drawn(sdk, name, tmp_path_factory.mktemp("drawn"), images=6)
    return name


@pytest.mark.parametrize("pipeline", PIPELINE_TYPES)
def test_pipeline_trains_and_its_download_runs(
    sdk: Client, dataset: str, pipeline: str, tmp_path: Path
) -> None:
    config = {"epochs": 1, "batch_size": 2, "image_size": IMAGE_SIZE.get(pipeline, 64)}
    run, model = train_pipeline(
        sdk,
        dataset,
        pipeline=pipeline,
        config=config,
        poll_interval=0.5,
        timeout=600,  # type: ignore[arg-type]
    )
    assert run.status == "completed" and model is not None and model.status == "ready"
    assert model.model_type == MODEL_TYPES[pipeline]
    assert model.class_mapping == {"0": "square", "1": "disc"}
    assert run.metrics["onnx_max_abs_diff"] < 1e-2
    path = sdk.models.download(model.id, tmp_path / f"{pipeline}.onnx")
    loaded = TrainedModel(path)
    assert loaded.metadata["pipeline"] == pipeline and loaded.classes == ["square", "disc"]
    image, _ = draw_image(np.random.default_rng(11), 64)
    answer = loaded.predict(np.asarray(image), score_threshold=0.0)
    if MODEL_TYPES[pipeline] == "classification":
        assert answer.class_scores is not None and len(answer.class_scores) == 2
    elif MODEL_TYPES[pipeline] == "semantic_segmentation":
        assert answer.class_map is not None and answer.class_map.shape == (64, 64)
    else:
        for detection in answer.detections:
            assert 0 <= detection.box[0] <= detection.box[2] <= 64
            if MODEL_TYPES[pipeline] == "instance_segmentation":
                assert detection.mask is not None and detection.mask.shape == (64, 64)


def test_a_ready_detector_auto_labels_a_dataset(sdk: Client, dataset: str, tmp_path: Path) -> None:
    """The model trained above as the batch job's model: its classes are the prompts."""
    from pictograph.exceptions import NotFoundError, ValidationError

    detector = next(
        m for m in sdk.models.list(status="ready", model_type="object_detection", limit=100)
    )
    target = f"label-{uuid.uuid4().hex[:6]}"
    project = sdk.projects.create(target, annotation_types=["bbox", "polygon"])
    image, _ = draw_image(np.random.default_rng(12), 64)
    image.save(tmp_path / "fresh.png")
    sdk.images.upload(project.id, tmp_path / "fresh.png")
    job = sdk.auto_annotate.batch(
        target,
        None,
        [{"name": "square", "output_type": "bbox"}, {"name": "disc", "output_type": "polygon"}],
        model_id=detector.id,
        confidence_threshold=0.0,
        poll_interval=0.3,
        timeout=120,
    )
    assert job.status == "completed" and job.processed_images == 1
    assert job.model == f"trained:{detector.id}" or job.model.startswith(f"trained:{detector.id}")
    with pytest.raises(ValidationError) as unknown:
        sdk.auto_annotate.batch(target, None, [{"name": "cat"}], model_id=detector.id, wait=False)
    assert unknown.value.error_code == "NO_MATCHING_CLASSES"
    classifier = sdk.models.list(status="ready", model_type="classification", limit=1)
    if classifier:
        with pytest.raises(ValidationError):
            sdk.auto_annotate.batch(
                target, None, [{"name": "square"}], model_id=classifier[0].id, wait=False
            )
    with pytest.raises(NotFoundError):
        sdk.auto_annotate.batch(
            target, None, [{"name": "square"}], model_id=str(uuid.uuid4()), wait=False
        )
