"""The detectron2 pipeline (torchvision Mask R-CNN) end to end, its ONNX check, its decoding and
its pretrained weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pictograph.training.base import Detection, TrainingFailed
from pictograph.training.maskrcnn import (
    PIPELINE,
    PRETRAINED_ARCHITECTURE,
    WEIGHTS_ENV,
    architecture,
    build_model,
    compare_detections,
    resnet50_model,
)
from tests.training.pipeline_check import predict_drawn, train_drawn

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def epoch(self, epoch: int, total: int, losses: object) -> None:
        raise AssertionError("no epochs here")

    def log(self, message: str) -> None:
        self.lines.append(message)


class FixedSession:
    """Stands in for onnxruntime: returns the given outputs, records the input."""

    def __init__(self, outputs: list[np.ndarray]) -> None:
        self.outputs = outputs
        self.inputs: dict[str, Any] = {}

    def run(self, names: object, feeds: dict[str, Any]) -> list[np.ndarray]:
        self.inputs = feeds
        return self.outputs


def test_trains_exports_and_predicts(tmp_path: Path) -> None:
    result, events = train_drawn(
        tmp_path, "detectron2", {"epochs": 2, "batch_size": 4, "image_size": 96}
    )
    assert result["architecture"] == "maskrcnn-resnet18-fpn"
    keys = {"mAP", "mAP50", "mAP75", "precision", "recall", "mask_mAP", "mask_mAP50"}
    assert set(result["metrics"]) == keys
    assert all(0.0 <= value <= 1.0 for value in result["metrics"].values())
    assert result["onnx_max_abs_diff"] < 1e-3
    losses = [e["losses"] for e in events if e["event"] == "epoch"]
    assert all(
        {"loss_classifier", "loss_mask", "loss_objectness", "loss"} <= set(x) for x in losses
    )
    prediction = predict_drawn(result)
    assert 0 < len(prediction.detections) <= 100
    for found in prediction.detections:
        assert isinstance(found, Detection) and found.class_index in (0, 1)
        x1, y1, x2, y2 = found.box
        assert 0 <= x1 <= x2 <= 96 and 0 <= y1 <= y2 <= 96
        assert found.mask is not None and found.mask.shape == (96, 96)
        assert found.mask.dtype == np.bool_
    scores = [found.score for found in prediction.detections]
    assert scores == sorted(scores, reverse=True)


def test_predict_maps_boxes_and_masks_back_to_the_image() -> None:
    """A 200×100 image is fed at 64×32; boxes and masks come back in its own pixels."""
    mask = np.zeros((2, 1, 32, 64), np.float32)
    mask[0, 0, 8:24, 16:48] = 1.0
    outputs = [
        np.array([[16, 8, 48, 24], [0, 0, 10, 10]], np.float32),
        np.array([2, 1], np.int64),
        np.array([0.9, 0.2], np.float32),
        mask,
    ]
    session = FixedSession(outputs)
    image = np.zeros((100, 200, 3), np.uint8)
    prediction = PIPELINE.predict(session, image, {"image_size": 64}, 0.5)
    assert session.inputs["image"].shape == (3, 32, 64)
    (found,) = prediction.detections
    assert found.class_index == 1 and found.score == pytest.approx(0.9)
    assert found.box == pytest.approx((50.0, 25.0, 150.0, 75.0))
    assert found.mask is not None and found.mask.shape == (100, 200)
    assert found.mask[30:70, 55:145].all() and not found.mask[:20].any()
    assert len(PIPELINE.predict(session, image, {"image_size": 64}, 0.1).detections) == 2


def detections(boxes: list[list[float]], scores: list[float]) -> list[np.ndarray]:
    count = len(scores)
    masks = np.random.default_rng(0).uniform(size=(count, 1, 8, 8)).astype(np.float32)
    return [np.array(boxes, np.float32).reshape(-1, 4), np.ones(count, np.int64),
            np.array(scores, np.float32), masks]  # fmt: skip


def test_onnx_check_matches_detections_in_any_order() -> None:
    """Two detections come back swapped; the third, scoring at the threshold, is missing."""
    torch_out = detections([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 3, 3]], [0.9, 0.5, 0.0105])
    onnx_out = [array[[1, 0]] for array in torch_out]
    onnx_out[0][1, 3] += 1e-4
    assert compare_detections(torch_out, onnx_out) == pytest.approx(1e-4, rel=0.01)


def test_onnx_check_allows_tied_scores_broken_differently() -> None:
    torch_out = detections([[0, 0, 10, 10], [5, 5, 20, 20], [30, 30, 40, 40]], [0.9, 0.4, 0.4])
    onnx_out = [array[[0, 1]] for array in torch_out]
    assert compare_detections(torch_out, onnx_out) == 0.0


def test_onnx_check_refuses_a_confident_missing_detection() -> None:
    torch_out = detections([[0, 0, 10, 10], [5, 5, 20, 20]], [0.9, 0.5])
    onnx_out = detections([[0, 0, 10, 10]], [0.9])
    with pytest.raises(TrainingFailed, match="1 of 2 unmatched, 0 extra"):
        compare_detections(torch_out, onnx_out)


def test_torchvision_checkpoint_loads_except_the_predictors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coco = resnet50_model(90, 96)
    torch.save({"model": coco.state_dict()}, tmp_path / "maskrcnn_coco.pth")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "maskrcnn_coco.pth"))
    log = Log()
    model = build_model(2, 96, log)
    total = len(model.state_dict())
    assert log.lines == [f"{WEIGHTS_ENV}: loaded {total - 6} tensors, skipped 6"]
    assert architecture() == PRETRAINED_ARCHITECTURE
    name = "backbone.body.conv1.weight"
    assert torch.equal(model.state_dict()[name], coco.state_dict()[name])
