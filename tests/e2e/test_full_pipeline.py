"""``full_pipeline`` end to end on the live server: a folder in, a working ONNX model out.

The folder holds drawn scenes, each with a cat pasted at a random place and size on a noisy
background (scikit-image's ``chelsea``), so the bundled COCO detector can label them. The
workflow uploads them, auto-annotates ``cat`` boxes with the bundled model, accepts the
drafts, exports, trains YOLOX for two epochs on the CPU, and the test downloads the model
and runs it with onnxruntime.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pictograph import Client
from pictograph.training.predict import TrainedModel
from pictograph.workflows import full_pipeline
from tests.live_server import LiveServer

SIZE = (192, 144)


def cat_scenes(folder: Path, count: int, seed: int = 3) -> list[Path]:
    import skimage.data

    cat = Image.fromarray(skimage.data.chelsea())
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        noise = rng.integers(90, 170, size=(SIZE[1], SIZE[0], 3)).astype(np.uint8)
        scene = Image.fromarray(noise)
        width = int(rng.integers(90, 130))
        pasted = cat.resize((width, int(width * cat.height / cat.width)))
        if rng.random() < 0.5:
            pasted = pasted.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        x = int(rng.integers(0, SIZE[0] - pasted.width))
        y = int(rng.integers(0, SIZE[1] - pasted.height))
        scene.paste(pasted, (x, y))
        paths.append(folder / f"scene{index:02d}.jpg")
        scene.save(paths[-1], quality=92)
    return paths


@pytest.fixture()
def sqlite_server(live_server: LiveServer) -> LiveServer:
    if live_server.backend != "sqlite":
        pytest.skip("one database is enough for the end-to-end run")
    return live_server


def test_folder_to_trained_yolox(sqlite_server: LiveServer, tmp_path: Path) -> None:
    folder = tmp_path / "scenes"
    cat_scenes(folder, 8)
    with Client(api_key=sqlite_server.api_key, base_url=sqlite_server.base_url) as client:
        report = full_pipeline(
            client,
            dataset_name="e2e-cats",
            folder=folder,
            classes=[("cat", "bbox")],
            pipeline="yolox",
            train_config={"epochs": 2, "batch_size": 4, "image_size": 128},
            train_timeout=600,
        )
        assert report.upload.images_uploaded == 8
        assert report.annotate is not None and report.annotate.images_processed == 8
        assert report.annotate.annotations_added >= 6  # the detector finds (nearly) every cat
        assert report.training_error is None, report.training_error
        assert report.success and report.credit_skip_reason is None
        run, model = report.training_run, report.model
        assert run is not None and run.status == "completed" and run.pipeline_type == "yolox"
        assert model is not None and model.class_mapping == {"0": "cat"}
        path = client.models.download(model.id, tmp_path / "cats.onnx")
    detector = TrainedModel(path)
    scene = np.asarray(Image.open(folder / "scene00.jpg").convert("RGB"))
    prediction = detector.predict(scene, score_threshold=0.0)
    assert prediction.detections, "an ONNX model that runs returns candidate boxes"
    for detection in prediction.detections:
        x1, y1, x2, y2 = detection.box
        assert 0 <= x1 <= x2 <= SIZE[0] and 0 <= y1 <= y2 <= SIZE[1]
        assert detection.class_index == 0


def test_credit_gate_stops_before_paid_phases(sqlite_server: LiveServer, tmp_path: Path) -> None:
    cat_scenes(tmp_path / "few", 2)
    with Client(api_key=sqlite_server.api_key, base_url=sqlite_server.base_url) as client:
        balance = client.credits.balance().credits_remaining
        report = full_pipeline(
            client,
            dataset_name="e2e-gate",
            folder=tmp_path / "few",
            classes=[("cat", "bbox")],
            pipeline="yolox",
            min_credits=balance + 1,
        )
        assert report.upload.images_uploaded == 2
        assert report.credit_skip_reason and "Insufficient credits" in report.credit_skip_reason
        assert report.annotate is None and report.training_run is None and not report.success
        assert client.credits.balance().credits_remaining == balance


def test_bad_pipeline_is_refused_before_any_upload(
    sqlite_server: LiveServer, tmp_path: Path
) -> None:
    from pictograph.exceptions import ValidationError

    with Client(api_key=sqlite_server.api_key, base_url=sqlite_server.base_url) as client:
        with pytest.raises(ValidationError) as caught:
            full_pipeline(
                client, dataset_name="e2e-bad", folder=tmp_path, classes=[("cat", "bbox")],
                pipeline="yolov8",  # type: ignore[arg-type]
            )  # fmt: skip
        assert caught.value.errors[0]["loc"] == ["pipeline"]
        assert "e2e-bad" not in [d.name for d in client.datasets.list(limit=1000)]
