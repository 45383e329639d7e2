"""``client.training`` / ``client.models`` / ``train_pipeline`` against the live server.

Real runs: the server trains in its own worker process on drawn images, the SDK downloads
the ONNX file (MD5 checked) and onnxruntime runs it. Validation, credits (pre-charge and
refund), cancellation and the model lifecycle are checked on both databases.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pictograph import Client
from pictograph.exceptions import (
    ApiError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PaymentRequiredError,
    ValidationError,
)
from pictograph.training.predict import TrainedModel
from pictograph.workflows import train_pipeline
from tests.live_server import LiveServer
from tests.training.drawn_dataset import draw_image, upload_drawn

FAST = {"epochs": 1, "batch_size": 4, "image_size": 64}


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> Iterator[Client]:
    with Client(api_key=live_server.api_key, base_url=live_server.base_url) as client:
        yield client


@pytest.fixture(scope="module")
def drawn(sdk: Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A dataset of 8 drawn, annotated images and a completed pictograph export of it."""
    name = f"train-{uuid.uuid4().hex[:8]}"
    upload_drawn(sdk, name, tmp_path_factory.mktemp("drawn"), images=8)
    sdk.exports.create(name, "all", format="pictograph", include_images=True, timeout=120)
    return name


def _ledger(sdk: Client, run_id: str) -> list[tuple[str, int]]:
    return [
        (entry.operation, entry.amount)
        for entry in sdk.credits.history(limit=200)
        if (entry.metadata or {}).get("training_run_id") == run_id
    ]


def test_train_pipeline_produces_a_model_that_onnxruntime_runs(
    sdk: Client, drawn: str, tmp_path: Path
) -> None:
    run, model = train_pipeline(
        sdk, drawn, pipeline="classification", config=FAST, poll_interval=0.5, timeout=300
    )
    assert run.status == "completed" and run.progress == 100
    assert run.current_epoch == run.total_epochs == 1
    assert run.gpu_type == "a10g" and run.gpu_note and "not applicable" in run.gpu_note
    assert run.device == "cpu" and run.training_time_seconds is not None
    assert model is not None and model.status == "ready" and model.id == run.model_id
    assert model.model_type == "classification"
    assert model.class_mapping == {"0": "square", "1": "disc"}
    assert {"accuracy", "precision", "recall", "f1"} <= set(model.metrics or {})
    assert run.metrics["onnx_max_abs_diff"] < 1e-3
    path = sdk.models.download(model.id, tmp_path / "model.onnx")
    assert path.stat().st_size == model.file_size and not (tmp_path / "model.onnx.part").exists()
    loaded = TrainedModel(path)
    image, _ = draw_image(np.random.default_rng(5), 64)
    scores = loaded.predict(np.asarray(image)).class_scores
    assert scores is not None and len(scores) == 2 and abs(sum(scores) - 1) < 1e-4
    logs = sdk.training.logs(run.id)
    assert any(line.startswith("epoch 1/1") for line in logs) and logs[-1].startswith("completed")
    # Pre-charged for the estimate, the unused minutes refunded: net = minutes used × rate.
    entries = _ledger(sdk, run.id)
    assert ("training_a10g", -run.credits_charged) in entries
    used_minutes = max(1, -(-run.training_time_seconds // 60))
    refund = run.credits_charged - used_minutes * 10
    if refund > 0:
        assert ("training_refund_a10g", refund) in entries
        assert run.credits_refunded == refund
    assert run.id in [r.id for r in sdk.training.list(dataset_name=drawn, status="completed")]
    assert model.id in [m.id for m in sdk.models.iter(model_type="classification")]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"pipeline_type": "yolo"}, ["pipeline_type"]),
        ({"gpu_type": "t4"}, ["gpu_type"]),
        ({"config": {"epochs": 0}}, ["config", "epochs"]),
        ({"config": {"learning_rate": "fast"}}, ["config", "learning_rate"]),
        ({"config": []}, ["config"]),
    ],
)
def test_bad_arguments_are_422_naming_the_field(
    live_server: LiveServer, sdk: Client, drawn: str, body: dict, loc: list
) -> None:
    import httpx

    payload = {"dataset_name": drawn, "export_name": "all", "pipeline_type": "yolox", **body}
    response = httpx.post(
        f"{live_server.base_url}/api/v1/developer/training/",
        json=payload,
        headers={"X-API-Key": live_server.api_key},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-len(loc) :] == loc


def test_unknown_keys_in_config_are_ignored_and_defaults_filled(sdk: Client, drawn: str) -> None:
    run = sdk.training.create(
        drawn, "all", pipeline_type="classification", config={**FAST, "mosaic": True}, wait=False
    )
    assert run.config["epochs"] == 1 and run.config["learning_rate"] > 0
    sdk.training.cancel(run.id)


def test_missing_export_or_dataset_is_404(sdk: Client, drawn: str) -> None:
    with pytest.raises(NotFoundError):
        sdk.training.create(drawn, "nope", pipeline_type="yolox", wait=False)
    with pytest.raises(NotFoundError):
        sdk.training.create("no-such-dataset", "all", pipeline_type="yolox", wait=False)


def test_unsuitable_exports_are_refused(sdk: Client, drawn: str, tmp_path: Path) -> None:
    sdk.exports.create(drawn, "coco", format="coco", include_images=True, timeout=120)
    with pytest.raises(ValidationError, match="pictograph-format"):
        sdk.training.create(drawn, "coco", pipeline_type="yolox", wait=False)
    small = f"small-{uuid.uuid4().hex[:6]}"
    upload_drawn(sdk, small, tmp_path, images=3)
    sdk.exports.create(small, "all", include_images=True, status_filter="all", timeout=120)
    with pytest.raises(ValidationError, match="at least 5 images") as caught:
        sdk.training.create(small, "all", pipeline_type="yolox", wait=False)
    assert caught.value.status_code == 422
    sdk.exports.create(small, "none", include_images=True, status_filter="new", timeout=120)
    with pytest.raises(NotFoundError, match="no images"):
        sdk.training.create(small, "none", pipeline_type="yolox", wait=False)


def test_credits_are_checked_before_anything_is_created(sdk: Client, drawn: str) -> None:
    before = len(sdk.training.list(limit=500))
    huge = {"epochs": 1000, "image_size": 4096}
    with pytest.raises(PaymentRequiredError):
        sdk.training.create(drawn, "all", pipeline_type="detectron2", gpu_type="h100", config=huge)
    assert len(sdk.training.list(limit=500)) == before


def test_cancel_stops_the_worker_and_refunds(sdk: Client, drawn: str) -> None:
    run = sdk.training.create(
        drawn,
        "all",
        pipeline_type="classification",
        config={"epochs": 1000, "batch_size": 2, "image_size": 64},
        wait=False,
    )
    assert run.status == "queued" and run.credits_charged > 0
    deadline = time.monotonic() + 120
    while run.current_epoch < 1 and time.monotonic() < deadline:
        time.sleep(0.3)
        run = sdk.training.get(run.id)
    assert run.status == "running" and run.current_epoch >= 1 and run.eta_seconds is not None
    cancelled = sdk.training.cancel(run.id)
    assert cancelled.status == "cancelled"
    deadline = time.monotonic() + 30
    while sdk.training.get(run.id).training_time_seconds is None:
        assert time.monotonic() < deadline, "the worker did not stop"
        time.sleep(0.3)
    settled = sdk.training.get(run.id)
    epochs_then = settled.current_epoch
    time.sleep(2)
    assert sdk.training.get(run.id).current_epoch == epochs_then  # the process is gone
    assert settled.credits_refunded > 0
    assert ("training_refund_a10g", settled.credits_refunded) in _ledger(sdk, run.id)
    model = sdk.models.get(settled.model_id or "")
    assert model.status == "failed"
    with pytest.raises(ConflictError):
        sdk.models.download(model.id, "unused.onnx")
    with pytest.raises(ConflictError):
        sdk.training.cancel(run.id)
    with pytest.raises(ApiError, match="cancelled"):
        sdk.training.wait_for_completion(run.id, poll_interval=0.1, timeout=5)


def test_queued_run_cancelled_before_it_starts_is_refunded_in_full(sdk: Client, drawn: str) -> None:
    runs = [
        sdk.training.create(drawn, "all", pipeline_type="classification", config=FAST, wait=False)
        for _ in range(2)
    ]
    last = sdk.training.cancel(runs[-1].id)  # one training worker: the second is still queued
    sdk.training.cancel(runs[0].id)
    if last.training_time_seconds == 0:
        assert last.credits_refunded == last.credits_charged


def test_a_run_that_cannot_train_fails_cleanly_and_refunds(
    sdk: Client, tmp_path: Path, live_server: LiveServer
) -> None:
    """Images without any box: YOLOX refuses; the run fails with the reason, its model too."""
    name = f"empty-{uuid.uuid4().hex[:6]}"
    project = sdk.projects.create(name, classes=[{"name": "square", "type": "bbox"}])
    for index in range(5):
        image, _ = draw_image(np.random.default_rng(index), 64)
        image.save(tmp_path / f"e{index}.png")
        sdk.images.upload(project.id, tmp_path / f"e{index}.png")
    sdk.exports.create(name, "all", include_images=True, status_filter="all", timeout=120)
    big = {"epochs": 100, "image_size": 640}  # estimated at several minutes; fails at once
    run = sdk.training.create(name, "all", pipeline_type="yolox", config=big, wait=False)
    assert run.estimated_minutes and run.estimated_minutes > 1
    with pytest.raises(ApiError, match="no boxes or polygons"):
        sdk.training.wait_for_completion(run.id, poll_interval=0.3, timeout=300)
    failed = sdk.training.get(run.id)
    assert failed.status == "failed" and "no boxes" in (failed.error_message or "")
    assert sdk.models.get(failed.model_id or "").status == "failed"
    assert failed.credits_refunded == failed.credits_charged - 10  # one minute used, at most
    assert ("training_refund_a10g", failed.credits_refunded) in _ledger(sdk, run.id)


def test_download_checks_the_md5(sdk: Client, live_server: LiveServer, tmp_path: Path) -> None:
    """Bytes changed in storage: the SDK refuses them and leaves nothing behind."""
    model = sdk.models.list(status="ready", limit=1)[0]
    blob = live_server.data_dir / "blobs" / "models" / model.organization_id / f"{model.id}.onnx"
    original = blob.read_bytes()
    try:
        blob.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
        with pytest.raises(ApiError, match="MD5"):
            sdk.models.download(model.id, tmp_path / "bad.onnx")
        assert not list(tmp_path.iterdir())
    finally:
        blob.write_bytes(original)
    assert sdk.models.download(model.id, tmp_path / "good.onnx").read_bytes() == original


def test_models_lifecycle(sdk: Client, drawn: str, live_server: LiveServer) -> None:
    with pytest.raises(NotFoundError):
        sdk.models.get(str(uuid.uuid4()))
    ready = sdk.models.list(status="ready")
    assert ready, "test_train_pipeline… made one"
    model = ready[0]
    viewer_key = sdk.api_keys.create(
        organization_id=model.organization_id, name="viewer", role="viewer"
    ).full_key
    with Client(api_key=viewer_key, base_url=live_server.base_url) as viewer:
        assert viewer.models.get(model.id).id == model.id
        with pytest.raises(ForbiddenError):
            viewer.models.delete(model.id)
    archived = sdk.models.delete(model.id)
    assert archived.status == "archived"
    assert model.id not in [m.id for m in sdk.models.list(limit=500)]
    assert model.id in [m.id for m in sdk.models.list(status="archived", limit=500)]
    with pytest.raises(ValidationError):
        sdk.models.list(status="gone")  # type: ignore[arg-type]
