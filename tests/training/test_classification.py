"""The classification pipeline end to end, that it learns, and its label and weight handling."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pictograph.training.base import TrainingFailed
from pictograph.training.classification import PIPELINE, WEIGHTS_ENV, build_model
from pictograph.training.data import load_export
from pictograph.training.predict import TrainedModel
from tests.training.drawn_dataset import write_export
from tests.training.pipeline_check import predict_drawn, train_drawn

pytest.importorskip("timm")
torch = pytest.importorskip("torch")


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def epoch(self, epoch: int, total: int, losses: object) -> None:
        raise AssertionError("no epochs here")

    def log(self, message: str) -> None:
        self.lines.append(message)


def test_trains_exports_and_predicts(tmp_path: Path) -> None:
    result, events = train_drawn(
        tmp_path, "classification", {"epochs": 2, "batch_size": 4, "image_size": 64}
    )
    assert result["architecture"] == "resnet18"
    assert set(result["metrics"]) == {"accuracy", "precision", "recall", "f1"}
    assert all(0.0 <= value <= 1.0 for value in result["metrics"].values())
    assert result["onnx_max_abs_diff"] < 1e-5
    assert all("cross_entropy" in e["losses"] for e in events if e["event"] == "epoch")
    scores = predict_drawn(result).class_scores
    assert len(scores) == 2 and sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_learns_the_drawn_shapes(tmp_path: Path) -> None:
    """8 epochs on 17 training images: the label (colour of the largest shape) is learnt
    (accuracy 1.0 measured); chance is about 0.5."""
    config = {"epochs": 8, "batch_size": 4, "learning_rate": 2e-3, "image_size": 64}
    result, _ = train_drawn(tmp_path, "classification", config, images=24)
    data = load_export(tmp_path / "export.zip", tmp_path / "check")
    model = TrainedModel(Path(result["onnx_path"]))
    labelled = [sample for sample in data.train if sample.label is not None]
    correct = [
        int(np.argmax(model.predict(sample.load_rgb()).class_scores)) == sample.label
        for sample in labelled
    ]
    assert np.mean(correct) >= 0.7


def test_images_without_labels_are_refused(tmp_path: Path) -> None:
    data = load_export(write_export(tmp_path / "export.zip"), tmp_path)
    data.train = [dataclasses.replace(sample, instances=()) for sample in data.train]
    with pytest.raises(TrainingFailed, match="No training image has a label"):
        PIPELINE.train(data, PIPELINE.defaults, tmp_path, Log(), "cpu")


def test_local_weights_load_except_the_classifier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imagenet = build_model(1000)
    torch.save(imagenet.state_dict(), tmp_path / "resnet18.pth")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "resnet18.pth"))
    log = Log()
    model = build_model(2, log)
    total = len(model.state_dict())
    assert log.lines == [f"{WEIGHTS_ENV}: loaded {total - 2} tensors, skipped 2"]
    assert torch.equal(model.state_dict()["conv1.weight"], imagenet.state_dict()["conv1.weight"])


def test_foreign_weights_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.save({"other.weight": torch.zeros(3)}, tmp_path / "other.pth")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "other.pth"))
    with pytest.raises(TrainingFailed, match="No tensor of"):
        build_model(2)
