"""Run a trained model's ONNX file: the file's own metadata says which pipeline decodes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pictograph.training import get_pipeline
from pictograph.training.base import Prediction
from pictograph.training.onnx_io import read_metadata, session


class NotAPictographModel(ValueError):
    """An ONNX file without the metadata a Pictograph training run writes."""


class TrainedModel:
    """A loaded ONNX model with its classes; ``predict`` runs one RGB image."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.session = session(path, device)
        self.metadata: dict[str, Any] = read_metadata(self.session)
        if "pipeline" not in self.metadata:
            raise NotAPictographModel(f"{path} was not written by a Pictograph training run")
        self.pipeline = get_pipeline(self.metadata["pipeline"])
        self.classes: list[str] = list(self.metadata["classes"])
        self.model_type: str = self.metadata["model_type"]

    def predict(self, image: npt.NDArray[np.uint8], score_threshold: float = 0.5) -> Prediction:
        return self.pipeline.predict(
            self.session, image, self.metadata.get("inference", {}), score_threshold
        )
