"""The ``classification`` pipeline: a timm image classifier, one label per image.

An image's label is the class covering most of its area (:attr:`Sample.label`); images without
annotations have no label and are left out. The model is timm's ResNet-18, a backbone that
trains reliably from scratch with small batches (batch norm, no squeeze-excite or hard-swish
to tune), trained from scratch unless ``PICTOGRAPH_TIMM_WEIGHTS`` names a timm ``resnet18``
checkpoint; its classifier is replaced when the class count differs.

Images are stretched to ``image_size``² and normalised with the model's ImageNet mean / std.
The ONNX file ends in a softmax: its ``probabilities`` output (N×K) is what ``predict`` returns.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pictograph.training import default_config
from pictograph.training.base import (
    ModelType,
    Prediction,
    Reporter,
    TrainConfig,
    TrainingFailed,
    TrainResult,
)
from pictograph.training.data import Sample, TrainingData
from pictograph.training.images import (
    export_probabilities,
    flip_half,
    load_matching_weights,
    normalise,
    resize_rgb,
    square_input,
)
from pictograph.training.loop import adamw_cosine, seed_everything, train_epochs
from pictograph.training.metrics import classification_metrics
from pictograph.training.onnx_io import session as onnx_session

ARCHITECTURE = "resnet18"
WEIGHTS_ENV = "PICTOGRAPH_TIMM_WEIGHTS"
WEIGHT_DECAY = 1e-4
ONNX_ATOL = 1e-5


def build_model(num_classes: int, reporter: Reporter | None = None) -> Any:
    """ResNet-18 with ``num_classes`` outputs; the user's checkpoint loaded when there is one."""
    import timm

    model = timm.create_model(ARCHITECTURE, pretrained=False, num_classes=num_classes)
    weights = os.environ.get(WEIGHTS_ENV)
    if weights:
        loaded, skipped = load_matching_weights(model, Path(weights))
        if reporter is not None:
            reporter.log(f"{WEIGHTS_ENV}: loaded {loaded} tensors, skipped {skipped}")
    return model


def labelled(samples: Sequence[Sample]) -> list[tuple[Sample, int]]:
    """The samples that have a label, with it."""
    return [(sample, sample.label) for sample in samples if sample.label is not None]


def prepare(
    pairs: Sequence[tuple[Sample, int]], size: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Every image resized once (N×size×size×3 uint8) and its label: decoding and resizing in
    each epoch would cost more than a small model's training step."""
    images = np.stack([resize_rgb(sample.load_rgb(), size, size) for sample, _ in pairs])
    return images, np.array([label for _, label in pairs], dtype=np.int64)


def make_optimizer(model: Any, config: TrainConfig, steps: int) -> tuple[Any, Any]:
    return adamw_cosine(model, config, steps, WEIGHT_DECAY)


class ClassificationPipeline:
    name = "classification"
    model_type: ModelType = "classification"
    defaults = default_config("classification")

    def train(
        self,
        data: TrainingData,
        config: TrainConfig,
        workdir: Path,
        reporter: Reporter,
        device: str,
    ) -> TrainResult:
        import torch

        seed_everything()
        pairs = labelled(data.train)
        if not pairs:
            raise TrainingFailed(
                "No training image has a label: classification learns each image's class from "
                "its annotations (the class covering the most area), and none has any"
            )
        if len(pairs) < len(data.train):
            reporter.log(f"left out {len(data.train) - len(pairs)} training images without a label")
        model = build_model(len(data.classes), reporter).to(device)
        mean, std = model.pretrained_cfg["mean"], model.pretrained_cfg["std"]
        images, labels = prepare(pairs, config.image_size)
        loss = torch.nn.CrossEntropyLoss()

        def step(batch: list[int]) -> dict[str, Any]:
            inputs = torch.from_numpy(normalise(images[batch], mean, std)).to(device)
            (inputs,) = flip_half(inputs)
            return {
                "cross_entropy": loss(model(inputs), torch.from_numpy(labels[batch]).to(device))
            }

        steps = config.epochs * math.ceil(len(pairs) / config.batch_size)
        optimizer, scheduler = make_optimizer(model, config, steps)
        train_epochs(model, optimizer, list(range(len(pairs))), epochs=config.epochs,
                     batch_size=config.batch_size, step=step, reporter=reporter,
                     scheduler=scheduler)  # fmt: skip

        inference = {"image_size": config.image_size, "mean": list(mean), "std": list(std),
                     "resize": "stretch", "output": "probabilities"}  # fmt: skip
        path = workdir / "model.onnx"
        example = square_input(data.test[0].load_rgb(), config.image_size, mean, std)
        diff = export_probabilities(model, example, path, atol=ONNX_ATOL)
        session = onnx_session(path, device)
        reporter.log(f"val: {self.evaluate(session, data.val, inference, len(data.classes))}")
        metrics = self.evaluate(session, data.test, inference, len(data.classes))
        return TrainResult(path, ARCHITECTURE, metrics, diff, inference)

    def evaluate(
        self,
        session: Any,
        samples: Sequence[Sample],
        inference: Mapping[str, Any],
        num_classes: int,
    ) -> dict[str, float]:
        """Accuracy and macro precision / recall / f1 of the ONNX model on the labelled samples."""
        pairs = labelled(samples)
        predicted = [
            int(np.argmax(self.predict(session, sample.load_rgb(), inference, 0.0).class_scores))
            for sample, _ in pairs
        ]
        return classification_metrics(predicted, [label for _, label in pairs], num_classes)

    def predict(
        self,
        session: Any,
        image: npt.NDArray[np.uint8],
        inference: Mapping[str, Any],
        score_threshold: float,
    ) -> Prediction:
        """Every class's probability; ``score_threshold`` is not applied (the caller picks)."""
        inputs = square_input(image, inference["image_size"], inference["mean"], inference["std"])
        (probabilities,) = session.run(None, {"image": inputs})
        return Prediction(class_scores=[float(value) for value in probabilities[0]])


PIPELINE = ClassificationPipeline()
