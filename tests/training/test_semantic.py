"""The sm_pytorch pipeline end to end, that it learns, its thresholding and encoder weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pictograph.training.data import load_export
from pictograph.training.metrics import semantic_metrics
from pictograph.training.predict import TrainedModel
from pictograph.training.semantic import PIPELINE, WEIGHTS_ENV, build_model
from tests.training.pipeline_check import predict_drawn, train_drawn

pytest.importorskip("segmentation_models_pytorch")
torch = pytest.importorskip("torch")


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def epoch(self, epoch: int, total: int, losses: object) -> None:
        raise AssertionError("no epochs here")

    def log(self, message: str) -> None:
        self.lines.append(message)


class FixedSession:
    """Stands in for onnxruntime: returns the given probabilities, records the input."""

    def __init__(self, probabilities: np.ndarray) -> None:
        self.probabilities = probabilities
        self.inputs: dict[str, Any] = {}

    def run(self, names: object, feeds: dict[str, Any]) -> list[np.ndarray]:
        self.inputs = feeds
        return [self.probabilities]


def test_trains_exports_and_predicts(tmp_path: Path) -> None:
    result, events = train_drawn(
        tmp_path, "sm_pytorch", {"epochs": 2, "batch_size": 4, "image_size": 64}
    )
    assert result["architecture"] == "unet-resnet18"
    assert set(result["metrics"]) == {"mIoU", "pixel_accuracy"}
    assert all(0.0 <= value <= 1.0 for value in result["metrics"].values())
    assert result["onnx_max_abs_diff"] < 1e-4
    assert all("cross_entropy" in e["losses"] for e in events if e["event"] == "epoch")
    class_map = predict_drawn(result).class_map
    assert class_map.shape == (96, 96) and class_map.dtype == np.uint8
    assert set(np.unique(class_map)) <= {0, 1, 2}


def test_learns_the_drawn_shapes(tmp_path: Path) -> None:
    """5 epochs on 17 training images: squares, discs and background are told apart (4 epochs
    reached mIoU 0.73, 8 epochs 0.92; an untrained model's is near 0.3)."""
    config = {"epochs": 5, "batch_size": 4, "learning_rate": 3e-3, "image_size": 64}
    result, _ = train_drawn(tmp_path, "sm_pytorch", config, images=24)
    data = load_export(tmp_path / "export.zip", tmp_path / "check")
    model = TrainedModel(Path(result["onnx_path"]))
    predicted = [model.predict(sample.load_rgb(), 0.0).class_map for sample in data.train]
    targets = [sample.class_map() for sample in data.train]
    assert semantic_metrics(predicted, targets, 2)["mIoU"] >= 0.5


def test_image_size_is_rounded_to_a_multiple_of_32(tmp_path: Path) -> None:
    result, events = train_drawn(
        tmp_path, "sm_pytorch", {"epochs": 1, "batch_size": 4, "image_size": 70}
    )
    assert any("rounded to 64" in e.get("message", "") for e in events)
    assert TrainedModel(Path(result["onnx_path"])).metadata["inference"]["image_size"] == 64


def test_predict_resizes_back_and_thresholds() -> None:
    """Left half disc (class 2) at 0.9, right half square (class 1) at 0.4: a 0.5 threshold
    turns the unsure half into background; the map has the image's size."""
    probabilities = np.zeros((1, 3, 32, 32), np.float32)
    probabilities[0, 2, :, :16], probabilities[0, 0, :, :16] = 0.9, 0.1
    probabilities[0, 1, :, 16:], probabilities[0, 0, :, 16:] = 0.4, 0.3
    probabilities[0, 2, :, 16:] = 0.3
    session = FixedSession(probabilities)
    inference = {"image_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3}
    image = np.zeros((48, 80, 3), np.uint8)
    sure = PIPELINE.predict(session, image, inference, 0.5).class_map
    assert session.inputs["image"].shape == (1, 3, 32, 32)
    assert sure.shape == (48, 80)
    assert (sure[:, :30] == 2).all() and (sure[:, 50:] == 0).all()
    everything = PIPELINE.predict(session, image, inference, 0.0).class_map
    assert (everything[:, 50:] == 1).all()


def test_encoder_weights_load_from_a_torchvision_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvision.models import resnet18

    imagenet = resnet18(weights=None)
    torch.save(imagenet.state_dict(), tmp_path / "resnet18.pth")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "resnet18.pth"))
    log = Log()
    model = build_model(2, log)
    total = len(imagenet.state_dict())
    assert log.lines == [f"{WEIGHTS_ENV}: loaded {total - 2} encoder tensors, skipped 2"]
    assert torch.equal(model.encoder.conv1.weight, imagenet.conv1.weight)
