"""The checks every pipeline's test runs: train on the drawn export, then use the ONNX file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from pictograph.training import MODEL_TYPES
from pictograph.training.predict import TrainedModel
from pictograph.training.worker import EventReporter, run
from tests.training.drawn_dataset import write_export


class Recorder(EventReporter):
    """Collects the worker's events in memory."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.events: list[dict[str, Any]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **json.loads(json.dumps(fields))})


def train_drawn(
    tmp_path: Path, pipeline: str, config: dict[str, Any], images: int = 12, size: int = 96
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the worker in-process on a drawn export; returns (result event, all events)."""
    export = write_export(tmp_path / "export.zip", images=images, size=size)
    recorder = Recorder()
    spec = {
        "pipeline": pipeline,
        "export_path": str(export),
        "workdir": str(tmp_path / "work"),
        "config": config,
        "device": "cpu",
    }
    code = run(spec, recorder)
    errors = [e for e in recorder.events if e["event"] == "error"]
    assert code == 0 and not errors, errors
    epochs = [e for e in recorder.events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, config["epochs"] + 1))
    assert all(e["total"] == config["epochs"] for e in epochs)
    result = recorder.events[-1]
    assert result["event"] == "result"
    assert result["class_mapping"] == {"0": "square", "1": "disc"}
    model = TrainedModel(Path(result["onnx_path"]))
    assert model.classes == ["square", "disc"]
    assert model.model_type == MODEL_TYPES[pipeline]
    return result, recorder.events


def predict_drawn(result: dict[str, Any], size: int = 96) -> Any:
    """Run the exported model on a fresh drawn image; returns the Prediction."""
    from tests.training.drawn_dataset import draw_image

    image, _ = draw_image(np.random.default_rng(99), size)
    model = TrainedModel(Path(result["onnx_path"]))
    return model.predict(np.asarray(image), score_threshold=0.0)
