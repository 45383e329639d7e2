"""What every training pipeline shares: its configuration, its progress reporter, its result.

A pipeline is one module under :mod:`pictograph.training` exposing ``PIPELINE``, an object with
the :class:`Pipeline` shape. It trains on a :class:`~pictograph.training.data.TrainingData`
(an export already split into train / val / test), reports each epoch through a
:class:`Reporter`, and ends with an ONNX file that it has checked against its own torch model
with onnxruntime, plus metrics on the test split. The same module also knows how to run its
ONNX file (``predict``), so a trained model can auto-label images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime

    from pictograph.training.data import TrainingData

ModelType = Literal[
    "object_detection", "instance_segmentation", "semantic_segmentation", "classification"
]


@dataclass(frozen=True)
class TrainConfig:
    """The documented hyperparameters; every pipeline has its own defaults."""

    epochs: int
    batch_size: int
    learning_rate: float
    image_size: int

    def merged(self, raw: Mapping[str, Any] | None) -> TrainConfig:
        """These defaults overridden by the user's ``config``; unknown keys are ignored (documented).

        Raises ConfigError naming the key when a known key has the wrong type or range.
        """
        values: dict[str, Any] = {}
        for spec in fields(self):
            if raw is None or spec.name not in raw:
                continue
            value = raw[spec.name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(spec.name, f"config.{spec.name} must be a number")
            if spec.name == "learning_rate":
                if not 0 < float(value) <= 10:
                    raise ConfigError(spec.name, "config.learning_rate must be in (0, 10]")
                values[spec.name] = float(value)
                continue
            if float(value) != int(value):
                raise ConfigError(spec.name, f"config.{spec.name} must be a whole number")
            low, high = _INT_RANGES[spec.name]
            if not low <= int(value) <= high:
                raise ConfigError(spec.name, f"config.{spec.name} must be between {low} and {high}")
            values[spec.name] = int(value)
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}


_INT_RANGES = {"epochs": (1, 1000), "batch_size": (1, 512), "image_size": (32, 4096)}


class ConfigError(ValueError):
    """A known ``config`` key with a bad value; ``key`` says which."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class TrainingFailed(RuntimeError):
    """A pipeline could not produce a usable model; the message is shown to the user as is."""


class Reporter(Protocol):
    """Where a pipeline reports while it trains (the worker turns calls into progress events)."""

    def epoch(self, epoch: int, total: int, losses: Mapping[str, float]) -> None:
        """Epoch ``epoch`` (1-based) of ``total`` finished with these mean losses."""

    def log(self, message: str) -> None:
        """A line for the run's log (``pictograph train logs``)."""


@dataclass
class TrainResult:
    """What a pipeline hands back: the checked ONNX file and what describes it."""

    onnx_path: Path
    architecture: str
    """Backbone family, e.g. ``yolox-nano``, ``maskrcnn-resnet50-fpn``."""
    metrics: dict[str, float]
    """On the test split: mAP / mAP50 / precision / recall for detectors, mIoU / pixel_accuracy
    for semantic segmentation, accuracy / precision / recall / f1 for classification."""
    onnx_max_abs_diff: float
    """Largest difference between onnxruntime's and torch's outputs on the check input."""
    inference: dict[str, Any] = field(default_factory=dict)
    """Pre- / post-processing facts the pipeline's ``predict`` needs (input size, mean, std …);
    stored in the ONNX file's metadata with the class names."""


@dataclass(frozen=True)
class Detection:
    """One predicted instance in original-image pixels."""

    class_index: int
    score: float
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2."""
    mask: npt.NDArray[np.bool_] | None = None
    """Full-size instance mask for segmentation models."""


@dataclass(frozen=True)
class Prediction:
    """A model's answer for one image; which fields are set depends on the model type."""

    detections: list[Detection] = field(default_factory=list)
    class_map: npt.NDArray[np.integer[Any]] | None = None
    """Semantic segmentation: H×W class indices, 0 is background, k is class k-1."""
    class_scores: list[float] | None = None
    """Classification: one probability per class."""


class Pipeline(Protocol):
    name: str
    model_type: ModelType
    defaults: TrainConfig

    def train(
        self,
        data: TrainingData,
        config: TrainConfig,
        workdir: Path,
        reporter: Reporter,
        device: str,
    ) -> TrainResult:
        """Train on ``data.train`` (validate on ``data.val``), export and check the ONNX file in
        ``workdir``, evaluate on ``data.test``. ``device`` is ``cpu`` or ``cuda``. Never downloads."""

    def predict(
        self,
        session: onnxruntime.InferenceSession,
        image: npt.NDArray[np.uint8],
        inference: Mapping[str, Any],
        score_threshold: float,
    ) -> Prediction:
        """Run the exported model on one RGB image (H×W×3 uint8)."""
